# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import json
import logging
from collections import defaultdict
from decimal import Decimal

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tools import SQL

from odoo.addons.halo_helpdesk_billing.constants import (
    BILLING_USER,
    IN_RUN,
    TIMESHEET_MODEL,
    UNBILLED,
    WORK_MODELS,
)

from ...services import charges
from .. import halo_money_thread as money_thread
from ..halo_engine import BILLING_ENGINE, BILLING_RUN
from .res_company import DEFAULT_LINE_TEMPLATE

_logger = logging.getLogger(__name__)

# Invoice lines created, linked and posted together (see _halo_invoice_chunks): about 50
# itemised invoices of 100 charges, or 500 summarised ones
CHUNK_LINES = 5000
# the lines a summarised invoice is counted as (a few products and prices, each on one line)
SUMMARY_INVOICE_LINES = 10
# Charges inserted by one statement (see _halo_insert_lines)
INSERT_CHUNK = 10000
# Journal items a run adds before it refreshes the tables' statistics (see _halo_keep_statistics)
STATISTICS_MIN_ROWS = 5000

# The work a billing run collects: model -> date field
SOURCES = {work.model: work.date_field for work in WORK_MODELS}
# A run being worked in background jobs (see halo_billing_run_chunk.py)
RUNNING_STATES = ("previewing", "invoicing")
CHUNK_SCOPE_KEY = "halo_billing_chunk_scope"


class _ChunkScope:
    """The customers one chunk works on, as a context value JSON cannot carry: a client
    cannot narrow (or widen) what the engine does by sending a context key."""

    __slots__ = ("no_partner", "partner_ids")

    def __init__(self, partner_ids, no_partner=False):
        self.partner_ids = list(partner_ids)
        self.no_partner = no_partner


class HaloBillingRun(models.Model):
    """The month-end moment: gather unbilled work up to a cut-off date, preview it per
    customer with explanations, exclude/defer/adjust, then create customer invoices.

    draft → previewed (charges collected and claimed) → invoiced; or cancelled, which
    releases every charge (once any posted invoice is credited in full). Work is claimed by a unique ``claim_key`` on the charge, so the
    database refuses to put the same work in two open runs or to bill it twice.

    A run of more than one chunk of work (``services.billing_chunks``) is previewed and
    invoiced in background jobs (OCA ``queue_job``), one per chunk of whole customers
    (``halo.billing.run.chunk``: the plan, each chunk's job), while the run shows its state
    (previewing, invoicing, finished with problems) and progress; each chunk runs the run's own
    engine limited to its customers, and a small job after each chunk finishes the run once
    all are done (:meth:`_halo_job_check_done`). The charges are built by
    ``halo.billing.charge.builder`` and the invoices' values by ``halo.billing.invoice.builder``.
    """

    _name = "halo.billing.run"
    _description = "Helpdesk Billing Run"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "date_cutoff desc, id desc"
    _check_company_auto = True

    name = fields.Char(required=True, readonly=True, copy=False, default="/")
    state = fields.Selection(
        selection=[
            ("draft", "Draft"),
            ("previewing", "Previewing"),
            ("previewed", "Previewed"),
            ("invoicing", "Invoicing"),
            ("invoiced", "Invoiced"),
            ("done_with_problems", "Finished with problems"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date_cutoff = fields.Date(
        string="Cut-off Date",
        required=True,
        default=fields.Date.context_today,
        tracking=True,
        help="Work done on or before this date is billed.",
    )
    date_invoice = fields.Date(
        string="Invoice Date",
        default=fields.Date.context_today,
        help="Date of the invoices created by this run.",
    )
    partner_ids = fields.Many2many(
        comodel_name="res.partner",
        string="Customers",
        help="Leave empty to bill every customer with unbilled work.",
    )
    user_id = fields.Many2one(
        comodel_name="res.users", string="Responsible", default=lambda self: self.env.user
    )
    line_ids = fields.One2many(comodel_name="halo.billing.run.line", inverse_name="run_id", string="Charges")
    invoice_ids = fields.One2many(comodel_name="account.move", inverse_name="halo_run_id", string="Invoices")
    note = fields.Html()
    halo_rebill_move_id = fields.Many2one(
        comodel_name="account.move",
        string="Re-bills",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The invoice, credited in full, whose work this run bills again (and only that work).",
    )
    line_count = fields.Integer(compute="_compute_totals")
    error_count = fields.Integer(compute="_compute_totals")
    invoice_count = fields.Integer(compute="_compute_totals")
    amount_total = fields.Monetary(
        string="Total to Invoice",
        compute="_compute_totals",
        groups=BILLING_USER,
        help="The included charges in the company's currency: charges in a customer's billing "
        "currency are converted at the rate of the run's invoice date (today until it is set); "
        "the charges and their invoices keep their own currency.",
    )
    # ------------------------------------------------------------------ background work (chunks, progress)
    halo_chunk_ids = fields.One2many(
        comodel_name="halo.billing.run.chunk",
        inverse_name="run_id",
        string="Background Jobs",
        readonly=True,
    )
    halo_job_kind = fields.Selection(
        selection=[("preview", "Preview"), ("invoice", "Create invoices")],
        string="Background Work",
        readonly=True,
        copy=False,
    )
    halo_job_started = fields.Datetime(string="Started", readonly=True, copy=False)
    halo_job_ended = fields.Datetime(string="Ended", readonly=True, copy=False)
    halo_chunk_total = fields.Integer(string="Chunks", compute="_compute_halo_progress")
    halo_chunk_done = fields.Integer(string="Chunks Done", compute="_compute_halo_progress")
    halo_chunk_failed = fields.Integer(string="Chunks Failed", compute="_compute_halo_progress")
    halo_charge_total = fields.Integer(string="Charges to Work", compute="_compute_halo_progress")
    halo_charge_done = fields.Integer(string="Charges Worked", compute="_compute_halo_progress")
    halo_progress = fields.Float(string="Progress", compute="_compute_halo_progress")
    halo_elapsed = fields.Char(string="Elapsed", compute="_compute_halo_progress")
    halo_estimate = fields.Char(string="Time Left (estimate)", compute="_compute_halo_progress")
    halo_problem_partner_ids = fields.Many2many(
        comodel_name="res.partner",
        string="Customers to Look At",
        compute="_compute_halo_progress",
        help="Customers whose chunk kept failing: nothing of theirs was previewed or invoiced by "
        "the last background work. Fix the cause and preview or create invoices again.",
    )

    # ------------------------------------------------------------------ chatter (messages carry money)
    def _mail_get_operation_for_mail_message_operation(self, message_operation):
        return money_thread.read_needs_write(
            self.env,
            super()._mail_get_operation_for_mail_message_operation(message_operation),
            message_operation,
        )

    def _notify_get_recipients(self, message, msg_vals=False, **kwargs):
        recipients = super()._notify_get_recipients(message, msg_vals=msg_vals, **kwargs)
        return money_thread.billing_recipients(self.env, recipients, message, msg_vals)

    @api.depends("line_ids.amount", "line_ids.state", "line_ids.currency_id", "invoice_ids", "date_invoice")
    def _compute_totals(self):
        Rating = self.env["halo.rating"]
        totals = defaultdict(lambda: (0, Decimal(0)))
        for run, state, currency, count, amount in self.env["halo.billing.run.line"]._read_group(
            [("run_id", "in", self.ids)], ["run_id", "state", "currency_id"], ["__count", "amount:sum"]
        ):
            if currency and currency != run.company_id.currency_id:
                rate = Rating._halo_fx_rate(
                    currency, run.company_id.currency_id, run.company_id, run._halo_fx_date()
                )
                amount = Rating._halo_fx_amount(amount, rate, run.company_id.currency_id)
            old_count, old_amount = totals[run.id, state]
            totals[run.id, state] = (old_count + count, old_amount + Decimal(str(amount)))
        errors = dict(
            self.env["halo.billing.run.line"]._read_group(
                [("run_id", "in", self.ids), ("error", "!=", False)], ["run_id"], ["__count"]
            )
        )
        invoices = dict(
            self.env["account.move"]._read_group(
                [("halo_run_id", "in", self.ids)], ["halo_run_id"], ["__count"]
            )
        )
        for run in self:
            count, amount = totals.get((run.id, "included"), (0, Decimal(0)))
            run.line_count = count
            run.amount_total = float(amount)
            run.error_count = errors.get(run, 0)
            run.invoice_count = invoices.get(run, 0)

    @api.depends("halo_chunk_ids.state", "halo_job_started", "halo_job_ended")
    def _compute_halo_progress(self):
        now = fields.Datetime.now()
        for run in self:
            # progress is shown to whoever reads the run (the chunks themselves: billing users)
            chunks = run.sudo().halo_chunk_ids
            done = chunks.filtered(lambda chunk: chunk.state != "pending")
            failed = chunks.filtered(lambda chunk: chunk.state == "failed")
            run.halo_chunk_total = len(chunks)
            run.halo_chunk_done = len(done)
            run.halo_chunk_failed = len(failed)
            run.halo_charge_total = sum(chunks.mapped("charge_count"))
            run.halo_charge_done = sum(done.mapped("charge_count"))
            run.halo_progress = (
                100.0 * run.halo_charge_done / run.halo_charge_total if run.halo_charge_total else 0.0
            )
            run.halo_problem_partner_ids = failed.partner_ids.ids
            elapsed = (
                ((run.halo_job_ended or now) - run.halo_job_started).total_seconds()
                if run.halo_job_started
                else 0
            )
            run.halo_elapsed = _duration(elapsed) if run.halo_job_started else False
            if run.state in RUNNING_STATES and run.halo_charge_done and run.halo_charge_total:
                left = elapsed * (run.halo_charge_total - run.halo_charge_done) / run.halo_charge_done
                run.halo_estimate = _duration(left)
            else:
                run.halo_estimate = False

    # Written by the run's actions only (preview, create invoices, cancel) and its background
    # work: a run set back from invoiced to previewed would invoice its charges again.
    _halo_engine_fields = frozenset(
        {
            "state",
            "name",
            "line_ids",
            "invoice_ids",
            "halo_chunk_ids",
            "halo_job_kind",
            "halo_job_started",
            "halo_job_ended",
        }
    )

    @api.model_create_multi
    def create(self, vals_list):
        engine = BILLING_ENGINE.is_set(self.env)
        for vals in vals_list:
            if not engine and (
                vals.get("state", "draft") != "draft"
                or vals.get("name", "/") != "/"
                or vals.get("line_ids")
                or vals.get("invoice_ids")
            ):
                raise AccessError(
                    self.env._(
                        "A billing run starts as a draft with no charges; its name, state, charges and "
                        "invoices are set by its actions."
                    )
                )
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("halo.billing.run") or "/"
        return super().create(vals_list)

    def write(self, vals):
        if not BILLING_ENGINE.is_set(self.env):
            self._halo_check_user_write(vals)
        return super().write(vals)

    def _halo_check_user_write(self, vals):
        """What a billing user may write: not the engine's fields, not the company once the run
        has collected work, and not what it bills once it is invoiced or cancelled."""
        engine_fields = self._halo_engine_fields.intersection(vals)
        if engine_fields:
            raise AccessError(
                self.env._(
                    "%(fields)s of a billing run change through its actions only (preview, create "
                    "invoices, cancel).",
                    fields=", ".join(sorted(engine_fields)),
                )
            )
        for run in self:
            if "company_id" in vals and run.state != "draft" and vals["company_id"] != run.company_id.id:
                raise UserError(
                    self.env._(
                        "Billing run %(run)s has collected work; its company cannot change.", run=run.name
                    )
                )
            if run.state in ("invoiced", "cancelled") and {
                "date_cutoff",
                "date_invoice",
                "partner_ids",
            } & set(vals):
                raise UserError(
                    self.env._("Billing run %(run)s is closed; what it billed cannot change.", run=run.name)
                )
        for run in self:
            if run.state in RUNNING_STATES + ("done_with_problems",) and {
                "date_cutoff",
                "date_invoice",
                "partner_ids",
                "company_id",
            } & set(vals):
                raise UserError(
                    self.env._(
                        "Billing run %(run)s is being worked or partly invoiced; what it bills cannot "
                        "change.",
                        run=run.name,
                    )
                )

    def _halo_set_state(self, state):
        """The run's actions move it between states (a chunk works on part of the run: the
        run's state is set once, when all are done)."""
        if self._halo_chunk_partner_ids() is not None:
            return
        BILLING_ENGINE.on(self).write({"state": state})

    def _halo_check_not_running(self):
        self.filtered(lambda run: run.state in RUNNING_STATES).sudo().halo_chunk_ids._halo_reconcile_chunks()
        for run in self:
            if run.state in RUNNING_STATES:
                raise UserError(
                    self.env._(
                        "Billing run %(run)s is being worked in the background; wait until it ends.",
                        run=run.name,
                    )
                )

    def _halo_check_invoiceable(self):
        """What the engine refuses for the whole run, refused before any job is enqueued."""
        self.env.cr.execute(
            SQL(
                """SELECT 1 FROM halo_billing_run_line
                WHERE run_id = %s AND state = 'included' AND invoice_line_id IS NULL
                      AND error IS NOT NULL LIMIT 1""",
                self.id,
            )
        )
        if self.env.cr.fetchone():
            raise UserError(self.env._("Fix or exclude the charges with problems first."))

    @api.ondelete(at_uninstall=False)
    def _unlink_except_invoiced(self):
        for run in self:
            if run.state == "invoiced" or run.invoice_ids:
                raise UserError(
                    self.env._("Billing run %(run)s has invoices and cannot be deleted.", run=run.name)
                )
        self._halo_release_lines(self.line_ids, "deferred")

    # ------------------------------------------------------------------ actions
    def action_preview(self):
        """Collect the unbilled work up to the cut-off date, price it and claim it: at once for
        a small run, in background chunks otherwise."""
        self._halo_check_not_running()
        Chunk = self.env["halo.billing.run.chunk"]
        at_once = self.browse()
        for run in self:
            if run.state not in ("draft", "previewed"):
                raise UserError(self.env._("Only draft or previewed runs can be previewed."))
            counts = Chunk._halo_preview_counts(run)
            if Chunk._halo_in_background(counts):
                Chunk._halo_enqueue(run, "preview", counts)
            else:
                at_once |= run
        for run in at_once:
            run._halo_collect()
            run._halo_set_state("previewed")
        return True

    def action_create_invoices(self):
        """Create (and post, per company setting) the customer invoices of the run: at once for
        a small run, in background chunks otherwise. A run that finished with problems
        invoices what is left (its failed customers)."""
        self._halo_check_not_running()
        Chunk = self.env["halo.billing.run.chunk"]
        at_once = self.browse()
        for run in self:
            if run.state not in ("previewed", "done_with_problems"):
                raise UserError(self.env._("Preview billing run %(run)s first.", run=run.name))
            counts = Chunk._halo_invoice_counts(run)
            if not counts:
                raise UserError(self.env._("Billing run %(run)s has no charge to invoice.", run=run.name))
            if run.state == "done_with_problems":
                run._halo_set_state("previewed")
            if Chunk._halo_in_background(counts):
                run._halo_check_invoiceable()
                Chunk._halo_enqueue(run, "invoice", counts)
            else:
                at_once |= run
        if not at_once:
            return True
        for run in at_once:
            try:
                with self.env.cr.savepoint():
                    run._halo_create_invoices()
            except (UserError, psycopg2.Error):
                raise
            except Exception as err:  # noqa: BLE001 - shown to the user; nothing is kept
                _logger.exception("Billing run %s failed to create invoices", run.name)
                raise UserError(
                    self.env._(
                        "Billing run %(run)s could not create its invoices; nothing was billed and the "
                        "run can be retried. Error: %(error)s",
                        run=run.name,
                        error=err,
                    )
                ) from err
        return at_once.invoice_ids._get_records_action(name=self.env._("Invoices"))

    def action_cancel(self):
        """Cancel the run and release its charges (their work is unbilled again); what it
        consumed from contracts is given back by reversal entries. A run whose posted invoices
        were all credited in full can be cancelled."""
        self._halo_check_not_running()
        for run in self:
            # an invoice credited in full released its work already (see the credit notes in account_move.py)
            if run.invoice_ids.filtered(lambda move: move.state == "posted" and not move.halo_released_by_id):
                raise UserError(
                    self.env._(
                        "Billing run %(run)s has posted invoices; credit them in full with credit notes "
                        "(Credit and re-bill, or Reverse) before cancelling the run.",
                        run=run.name,
                    )
                )
            run.invoice_ids.filtered(lambda move: move.state == "draft").with_context(
                force_delete=True
            ).unlink()
            run._halo_release_lines(run.line_ids, run.line_ids.mapped("state"))
            if "halo.contract" in self.env:
                self.env["halo.contract"]._halo_release_consumption(run)
            run._halo_set_state("cancelled")
        return True

    def action_open_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "halo_helpdesk_billing.halo_billing_run_line_action"
        )
        action["domain"] = [("run_id", "=", self.id)]
        action["context"] = {"search_default_group_partner": 1, "default_run_id": self.id}
        return action

    def action_open_invoices(self):
        self.ensure_one()
        action = self.invoice_ids._get_records_action(name=self.env._("Invoices of %(run)s", run=self.name))
        if len(self.invoice_ids) != 1:
            # the customer-invoice list (customer, dates, totals, status), not the journal entries'
            action["views"] = [(self.env.ref("account.view_out_invoice_tree").id, "list"), (False, "form")]
            action["view_mode"] = "list,form"
            # the list shows its Customer and Invoice Date columns for customer invoices only
            action["context"] = {"default_move_type": "out_invoice", "create": False}
        return action

    def action_halo_check_jobs(self):
        """Button of a run being worked: take note of jobs that died for good."""
        # it reads and writes the run's chunks as superuser: billing staff of the run only
        if not self.env.su and not self.env.user.has_group(BILLING_USER):
            raise AccessError(self.env._("Only billing users can check a billing run's jobs."))
        self.check_access("write")
        self._halo_check_stuck()
        return True

    # ------------------------------------------------------------------ collecting
    def _halo_source_domain(self, model):
        """Hook: the unbilled work of ``model`` this run bills."""
        self.ensure_one()
        date_field = SOURCES[model]
        domain = Domain("halo_billing_state", "=", "unbilled") & Domain(date_field, "<=", self.date_cutoff)
        domain &= Domain("company_id", "=", self.company_id.id)
        if model == "account.analytic.line":
            domain &= Domain("halo_ticket_id", "!=", False) & Domain("halo_running", "=", False)
            partner_field = "halo_ticket_id.commercial_partner_id"
        else:
            partner_field = "partner_id"
        if self.partner_ids:
            domain &= Domain(partner_field, "in", self.partner_ids.commercial_partner_id.ids)
        if self.halo_rebill_move_id:
            domain &= Domain(
                "id",
                "in",
                self.env["halo.billing.run.line"]
                .sudo()
                .search(
                    [
                        ("invoice_id", "=", self.halo_rebill_move_id.id),
                        ("res_model", "=", model),
                    ]
                )
                .mapped("res_id"),
            )
        scope = self._halo_chunk_scope()
        if scope is not None:
            chunk = Domain(partner_field, "in", scope.partner_ids)
            if scope.no_partner:
                chunk |= Domain(partner_field, "=", False)
            domain &= chunk
        return domain

    def _halo_collect(self):
        """The preview's pipeline: the work's charges, built per kind of work, covered by
        contracts, stored, and their work claimed."""
        self.ensure_one()
        sources = {
            model: self.env[model].sudo().search(self._halo_source_domain(model), order="id")
            for model in SOURCES
        }
        lines = sources[TIMESHEET_MODEL]
        Builder = self.env["halo.billing.charge.builder"]
        rated_rows, ratings, fresh = Builder._halo_rate_for_run(self, lines)
        run_charges = Builder._halo_prepare_timesheet_charges(self, lines, fresh) if lines else []
        run_charges += Builder._halo_prepare_mileage_charges(self, sources["halo.mileage"])
        run_charges += Builder._halo_prepare_expense_charges(self, sources["halo.expense"])
        run_charges += Builder._halo_prepare_item_charges(self, sources["halo.ticket.item"])
        Builder._halo_apply_contracts(self, run_charges)
        for charge in run_charges:
            charge.run_id = self.id
            if charge.error:
                charge.state = "excluded"
        new_lines, included = self._halo_insert_lines(
            [self._halo_charge_row(charge) for charge in run_charges]
        )
        claimed = set()
        if rated_rows:
            claimed = {
                charge.res_id
                for charge in run_charges
                if charge.res_model == TIMESHEET_MODEL and charge.res_id in fresh and charge.claim_key
            }
            self.env["halo.rating"]._halo_store_timesheet_ratings(
                rated_rows, ratings, claim=(self.id, claimed)
            )
        self._halo_mark_sources(included, self.id, skip={TIMESHEET_MODEL: claimed})
        if self.error_count and self._halo_chunk_partner_ids() is None:
            self.message_post(
                body=self.env._(
                    "%(count)s charges cannot be billed as they are (see the Problems filter).",
                    count=self.error_count,
                )
            )
        return new_lines

    def _halo_fx_date(self):
        """Prices in another currency than the customer's are converted at this day's rate."""
        self.ensure_one()
        return self.date_invoice or fields.Date.context_today(self)

    def _halo_billing_currency(self, partner_id):
        """The currency ``partner_id`` is invoiced in by this run's company (cached per run)."""
        cache = self.env.cr.cache.setdefault(("halo_billing_currency", self.id), {})
        if partner_id not in cache:
            partner = self.env["res.partner"].browse(partner_id)
            cache[partner_id] = (
                partner._halo_billing_currency(self.company_id) if partner_id else self.company_id.currency_id
            )
        return cache[partner_id]

    # Columns of halo_billing_run_line written by the bulk insert, with their SQL array types.

    def _halo_insert_lines(self, rows):
        """Create the charges with bulk INSERTs (ORM creation of 100,000 charges took most of a
        preview); ``rows`` are ``services.charges.Charge.row()`` dicts (see
        :meth:`_halo_charge_row`). Included charges claim their work in the same statements: the
        partial unique index on ``claim_key`` refuses work already held by another open run or
        invoiced. Returns (all new charges, the included ones) in the input order.

        The rows travel as JSON documents read by ``json_to_recordset`` (PostgreSQL parses them
        several times faster than the same values as one array parameter per column), in
        chunks of ``INSERT_CHUNK`` rows to bound the memory they take."""
        self.ensure_one()
        Line = self.env["halo.billing.run.line"]
        if not rows:
            return Line, Line
        Line.flush_model()
        types = dict(charges.COLUMNS, claim_key="varchar")
        names = list(types)
        identifiers = SQL(", ").join(SQL.identifier(name) for name in names)
        values = SQL(", ").join(SQL("v.%s", SQL.identifier(name)) for name in names)
        typed = SQL(", ").join(SQL("%s %s", SQL.identifier(name), SQL(types[name])) for name in names)
        ids = []
        try:
            with self.env.cr.savepoint():
                for start in range(0, len(rows), INSERT_CHUNK):
                    self.env.cr.execute(
                        SQL(
                            """INSERT INTO halo_billing_run_line (%(names)s, create_uid, write_uid, create_date,
                                                              write_date, price_adjusted)
                           SELECT %(values)s, %(uid)s, %(uid)s, now() at time zone 'UTC',
                                  now() at time zone 'UTC', false
                             FROM ROWS FROM (json_to_recordset(%(rows)s::json) AS (%(typed)s))
                                  WITH ORDINALITY AS v(%(names)s, position)
                         ORDER BY v.position
                        RETURNING id""",
                            names=identifiers,
                            values=values,
                            uid=self.env.uid,
                            typed=typed,
                            rows=json.dumps(rows[start : start + INSERT_CHUNK]),
                        )
                    )
                    ids += [row[0] for row in self.env.cr.fetchall()]
        except psycopg2.errors.UniqueViolation as err:
            raise UserError(
                self.env._(
                    "Some of this work was put in another billing run at the same time; preview again."
                )
            ) from err
        Line.invalidate_model()
        self.invalidate_recordset(["line_ids"])
        included = [line_id for line_id, row in zip(ids, rows, strict=True) if row["claim_key"]]
        return Line.browse(ids), Line.browse(included)

    def _halo_charge_row(self, charge):
        """One charge as a row of :meth:`_halo_insert_lines`, with the run's defaults (company,
        the customer's billing currency)."""
        if not charge.company_id:
            charge.company_id = self.company_id.id
        if not charge.currency_id:
            charge.currency_id = self._halo_billing_currency(charge.partner_id).id
        return charge.row()

    def _halo_mark_sources(self, lines, run_id, skip=None):
        """Put the work of ``lines`` in run ``run_id`` (or out of any run with ``False``):
        one UPDATE per kind of work, its billing state following. ``skip`` holds work ids per
        model that were already put in the run."""
        if not lines:
            return
        self.env.cr.execute(
            SQL(
                "SELECT res_model, array_agg(res_id) FROM halo_billing_run_line WHERE id = ANY(%s) GROUP BY res_model",
                lines.ids,
            )
        )
        for res_model, res_ids in self.env.cr.fetchall():
            if skip and skip.get(res_model):
                res_ids = [res_id for res_id in res_ids if res_id not in skip[res_model]]
                if not res_ids:
                    continue
            if run_id:
                self.env[res_model]._halo_write_billing_state(IN_RUN, res_ids, run_id=run_id)
            else:
                # (work another run has taken since the charge let it go stays in that run)
                self.env[res_model]._halo_write_billing_state(UNBILLED, res_ids, held_by=lines.run_id.ids)

    # ------------------------------------------------------------------ claims
    def _halo_claim_lines(self, lines):
        """Claim the work of ``lines`` for this run again (database-enforced, all or nothing)."""
        if not lines:
            return
        self.env["halo.billing.run.line"].flush_model()
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        "UPDATE halo_billing_run_line SET claim_key = res_model || ',' || res_id, state = 'included' "
                        "WHERE id = ANY(%s)",
                        lines.ids,
                    )
                )
        except psycopg2.errors.UniqueViolation as err:
            raise UserError(
                self.env._(
                    "Some of this work is already in another open billing run or was already invoiced; "
                    "preview again to leave it out."
                )
            ) from err
        lines.invalidate_recordset(["claim_key", "state"])
        self._halo_mark_sources(lines, self.id)

    def _halo_release_lines(self, lines, state):
        """Release the work of ``lines`` (unbilled again) and mark them ``state``."""
        lines = lines.filtered(lambda line: not line.invoice_id)
        if not lines:
            return
        states = state if isinstance(state, list) else [state] * len(lines)
        by_state = defaultdict(list)
        for line, line_state in zip(lines, states, strict=False):
            by_state[line_state if line_state != "included" else "deferred"].append(line.id)
        self.env["halo.billing.run.line"].flush_model()
        for line_state, ids in by_state.items():
            self.env.cr.execute(
                SQL(
                    "UPDATE halo_billing_run_line SET claim_key = NULL, state = %s WHERE id = ANY(%s)",
                    line_state,
                    ids,
                )
            )
        lines.invalidate_recordset(["claim_key", "state"])
        self._halo_mark_sources(lines, False)

    # ------------------------------------------------------------------ invoicing
    def _halo_chunk_scope(self):
        scope = self.env.context.get(CHUNK_SCOPE_KEY)
        return scope if isinstance(scope, _ChunkScope) else None

    def _halo_chunk_partner_ids(self):
        """The customers one background chunk of the run is limited to (see
        ``halo.billing.run.chunk._halo_job_run``), or None when the whole run is worked at once."""
        scope = self._halo_chunk_scope()
        return scope.partner_ids if scope else None

    def _halo_settings(self, partner):
        """The invoicing settings of ``partner`` in the run's company (grouping, layout, line
        template), the company's where the customer has none."""
        company = self.company_id
        partner = partner.with_company(company)
        return {
            "grouping": partner.halo_invoice_grouping or company.halo_invoice_grouping or "customer",
            "layout": partner.halo_invoice_layout or company.halo_invoice_layout or "itemised",
            "template": partner.halo_line_template or company.halo_line_template or DEFAULT_LINE_TEMPLATE,
        }

    def _halo_read_charges(self):
        """The included charges of the run still to invoice, as ``services.charges.Charge`` of
        ``INVOICE_COLUMNS``, in one query (invoicing 100,000 charges through the ORM cost more
        than creating the invoices)."""
        self.env["halo.billing.run.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT %s
                 FROM halo_billing_run_line
                WHERE run_id = %s AND state = 'included' AND invoice_line_id IS NULL
                      AND (%s::int[] IS NULL OR partner_id = ANY(%s::int[]))
             ORDER BY partner_id, ticket_id, date, id""",
                SQL(", ").join(SQL.identifier(name) for name in charges.INVOICE_COLUMNS),
                self.id,
                self._halo_chunk_partner_ids(),
                self._halo_chunk_partner_ids(),
            )
        )
        return [charges.invoice_charge(row) for row in self.env.cr.fetchall()]

    def _halo_create_invoices(self):
        self.ensure_one()
        charges = self._halo_read_charges()
        if not charges:
            raise UserError(self.env._("Billing run %(run)s has no charge to invoice.", run=self.name))
        if any(charge.error for charge in charges):
            raise UserError(self.env._("Fix or exclude the charges with problems first."))
        RunLine = self.env["halo.billing.run.line"]
        Builder = self.env["halo.billing.invoice.builder"]
        # customer billing settings are per company (company-dependent fields): the run's
        partners = (
            self.env["res.partner"]
            .with_company(self.company_id)
            .browse({charge.partner_id for charge in charges})
        )
        partners.fetch(
            [
                "halo_invoice_grouping",
                "halo_invoice_layout",
                "halo_line_template",
                "property_account_position_id",
            ]
        )
        settings = {partner.id: self._halo_settings(partner) for partner in partners}
        groups = defaultdict(list)
        for charge in charges:
            grouping = settings[charge.partner_id]["grouping"]
            groups[Builder._halo_invoice_key(self, charge, grouping)].append(charge)
        descriptions = {}
        by_template = defaultdict(list)
        for charge in charges:
            if settings[charge.partner_id]["layout"] == "itemised":
                by_template[settings[charge.partner_id]["template"]].append(charge.id)
        for template, ids in by_template.items():
            descriptions.update(Builder._halo_render_descriptions(self, RunLine.browse(ids), template))
        products = self.env["product.product"].browse(
            {charge.product_id for charge in charges if charge.product_id}
        )
        accounting = Builder._halo_line_accounting(self, products, partners)
        names = {
            "product": {product.id: product.display_name for product in products},
            "ticket": {
                ticket.id: f"{ticket.number} {ticket.name}"
                for ticket in self.env["helpdesk.ticket"].browse(
                    {charge.ticket_id for charge in charges if charge.ticket_id}
                )
            },
        }
        moves = self.env["account.move"]
        group_list = list(groups.values())
        statistics = self._halo_keep_statistics()
        for chunk_groups in self._halo_invoice_chunks(group_list, settings):
            chunk = self._halo_create_invoice_chunk(chunk_groups, settings, descriptions, names, accounting)
            moves |= chunk
            statistics = self._halo_keep_statistics(statistics, len(chunk.line_ids))
        self._halo_set_state("invoiced")
        covered = RunLine.browse([charge.id for charge in charges if charge.contract_id])
        if covered and hasattr(self.env.get("halo.contract"), "_halo_commit_consumption"):
            self.env["halo.contract"].sudo()._halo_commit_consumption(covered)
        if self._halo_chunk_partner_ids() is None:
            self.message_post(body=self.env._("%(count)s invoices created.", count=len(moves)))
        return moves

    @api.model
    def _halo_invoice_chunks(self, group_list, settings):
        """The invoices' charge groups, in chunks of about ``CHUNK_LINES`` invoice lines: Odoo
        makes and posts a chunk's invoices in one batch (its cost per call is spread over more
        invoices), while its cache does not grow with the whole run."""
        chunk, lines = [], 0
        for group in group_list:
            chunk.append(group)
            itemised = settings[group[0].partner_id]["layout"] == "itemised"
            lines += len(group) if itemised else SUMMARY_INVOICE_LINES
            if lines >= CHUNK_LINES:
                yield chunk
                chunk, lines = [], 0
        if chunk:
            yield chunk

    def _halo_keep_statistics(self, statistics=None, added=0):
        """Refresh PostgreSQL's statistics of the journal tables once the run has added more
        journal items than they held when last analysed.

        PostgreSQL checks each foreign key to a journal item (taxes, tags, analytic lines, the
        charges' invoice lines) with a plan made from the table's statistics; a run that adds
        100,000 lines to a table analysed with a few thousand keeps a plan for a small table, a
        sequential scan that grows with every line added. One run in a fresh database measured
        0.8 s, then 3.0 s, for the same 5,525 relation rows. ANALYZE sees the run's own
        uncommitted rows, so the plans are made again for the table's real size; doubling the
        threshold each time keeps it to a few ANALYZE per run. Without the right to analyse
        (not the tables' owner) PostgreSQL only warns and the run goes on.

        :return: ``(rows when last analysed, rows added since)`` to pass back after each chunk.
        """
        if statistics is not None:
            rows, since = statistics[0], statistics[1] + added
            if since <= max(rows, STATISTICS_MIN_ROWS):
                return (rows, since)
            self.env.flush_all()
            self.env.cr.execute("ANALYZE account_move, account_move_line")
        self.env.cr.execute(
            "SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = 'account_move_line'::regclass"
        )
        return (self.env.cr.fetchone()[0], 0)

    def _halo_create_invoice_chunk(self, groups, settings, descriptions, names, accounting):
        """Create, link and post the invoices of some charge groups (one chunk, see
        :meth:`_halo_invoice_chunks`)."""
        RunLine = self.env["halo.billing.run.line"]
        Builder = self.env["halo.billing.invoice.builder"]
        move_vals, line_maps, itemised = [], [], []
        for group in groups:
            layout = settings[group[0].partner_id]["layout"]
            vals, line_map = Builder._halo_prepare_invoice_vals(self, group, layout, descriptions, names)
            Builder._halo_complete_line_vals(self, vals, accounting)
            itemised.append(layout == "itemised")
            move_vals.append(vals)
            line_maps.append(line_map)
        # New draft lines have no analytic lines to re-synchronise: Odoo's own key skips that
        # per-line inverse at creation (it is not kept for posting, which creates them).
        create_context = {
            "default_move_type": "out_invoice",
            "check_move_validity": False,
            "skip_analytic_sync": True,
            BILLING_RUN.key: BILLING_RUN,
        }
        # the lines of itemised invoices that share their accounting values may be copied in
        # bulk (models/bulk_line_copy/account_move.py), unless the company switched that off
        moves = self.env["account.move"]._halo_create_invoices_with_lines(move_vals, itemised, create_context)
        run_line_ids, invoice_line_ids, move_ids = [], [], []
        for move, line_map in zip(moves, line_maps, strict=True):
            invoice_lines = move.invoice_line_ids.sorted(lambda aml: (aml.sequence, aml.id))
            for charge_ids, invoice_line in zip(line_map, invoice_lines, strict=True):
                for run_line_id in charge_ids:
                    run_line_ids.append(run_line_id)
                    invoice_line_ids.append(invoice_line.id)
                    move_ids.append(move.id)
        self.env.cr.execute(
            SQL(
                """UPDATE halo_billing_run_line AS l
                  SET invoice_line_id = v.aml, invoice_id = v.move
                 FROM unnest(%s::int[], %s::int[], %s::int[]) AS v(id, aml, move)
                WHERE l.id = v.id AND l.invoice_line_id IS NULL""",
                run_line_ids,
                invoice_line_ids,
                move_ids,
            )
        )
        RunLine.invalidate_model(["invoice_line_id", "invoice_id"])
        # what each itemised line bills, for the billing analysis (kept on credit notes): lines
        # copied in bulk took their prototype's kind
        self.env["account.move.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE account_move_line AS aml SET halo_kind = l.kind
                 FROM halo_billing_run_line AS l
                WHERE aml.move_id = ANY(%s) AND l.id = aml.halo_run_line_id
                  AND aml.halo_kind IS DISTINCT FROM l.kind""",
                moves.ids,
            )
        )
        self.env["account.move.line"].invalidate_model(["halo_kind"])
        if self.company_id.halo_post_invoices:
            # analytic lines copied in bulk, and no invoice sync pass around the state change
            # (models/bulk_line_copy/), where the copy is on
            BILLING_RUN.on(moves).action_post()
        move_ids = moves.ids
        self.env.flush_all()
        self.env.invalidate_all()
        return self.env["account.move"].browse(move_ids)

    # ------------------------------------------------------------------ background work: completion
    def _halo_job_check_done(self):
        """Job: finish the run once all its chunks are done (one of these jobs follows each
        chunk; the first to see every chunk done finishes the run, the others do nothing)."""
        self.ensure_one()
        # concurrent checks queue on the run's row; the later one then sees the run finished
        self.env.cr.execute(SQL("SELECT id FROM halo_billing_run WHERE id = %s FOR NO KEY UPDATE", self.id))
        self.invalidate_recordset()
        if self.state not in RUNNING_STATES:
            return False
        chunks = self.halo_chunk_ids
        if not chunks or any(chunk.state == "pending" for chunk in chunks):
            return False
        failed = chunks.filtered(lambda chunk: chunk.state == "failed")
        run = self.with_company(self.company_id)
        if self.halo_job_kind == "preview":
            state = "previewed"
            body = self.env._("Preview done: %(count)s charges to invoice.", count=run.line_count)
            if run.error_count:
                body += " " + self.env._(
                    "%(count)s charges cannot be billed as they are (see the Problems filter).",
                    count=run.error_count,
                )
        else:
            state = "done_with_problems" if failed else "invoiced"
            body = self.env._("%(count)s invoices created.", count=run.invoice_count)
        if failed:
            body += " " + self.env._(
                "%(count)s chunks kept failing; nothing was done for these customers: %(names)s.",
                count=len(failed),
                names=", ".join(failed.partner_ids.mapped("display_name"))
                + (" " + self.env._("(work without customer)") if any(failed.mapped("no_partner")) else ""),
            )
        BILLING_ENGINE.on(self).write({"halo_job_ended": fields.Datetime.now()})
        self._halo_set_state(state)
        partners = self.user_id.partner_id
        self.message_post(body=body, partner_ids=partners.ids, subtype_xmlid="mail.mt_comment")
        if failed and self.user_id:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=self.user_id.id,
                summary=self.env._("Billing run finished with problems"),
                note=body,
            )
        if self.user_id:
            self.user_id._bus_send(
                "simple_notification",
                {
                    "type": "warning" if failed else "success",
                    "title": self.name,
                    "message": body,
                    "sticky": bool(failed),
                },
            )
        return True

    def _halo_check_stuck(self):
        """Note the chunks whose jobs died for good, and finish runs whose chunks are all done
        (their completion job was lost)."""
        self.sudo().halo_chunk_ids._halo_reconcile_chunks()
        for run in self.filtered(lambda run: run.state in RUNNING_STATES):
            chunks = run.sudo().halo_chunk_ids
            if chunks and all(chunk.state != "pending" for chunk in chunks):
                run.sudo()._halo_job_check_done()

    @api.model
    def _cron_halo_check_jobs(self):
        """Cron: what the *Check jobs* button does, for every run being worked in the background,
        so that a run whose jobs died for good (queue_job gave up on them without the on-fail
        hook) or whose completion check was lost does not stay "being worked" until someone
        clicks: its failed chunks are noted and a run whose chunks are all done is finished.
        One run at a time, committed after each (a run a chunk is finishing right now is
        skipped: its own check finishes it)."""
        runs = self.sudo().search([("state", "in", RUNNING_STATES)], order="id")
        for index, run in enumerate(runs, 1):
            if not run.try_lock_for_update(allow_referencing=True):
                continue
            run._halo_check_stuck()
            self.env["ir.cron"]._commit_progress(1, remaining=len(runs) - index)


def _duration(seconds):
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
