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


class HaloBillingRun(models.Model):
    """The month-end moment: gather unbilled work up to a cut-off date, preview it per
    customer with explanations, exclude/defer/adjust, then create customer invoices.

    draft → previewed (charges collected and claimed) → invoiced; or cancelled, which
    releases every charge (once any posted invoice is credited in full). Work is claimed by a unique ``claim_key`` on the charge, so the
    database refuses to put the same work in two open runs or to bill it twice.
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
            ("previewed", "Previewed"),
            ("invoiced", "Invoiced"),
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

    # Written by the run's actions only (preview, create invoices, cancel): a run set back
    # from invoiced to previewed would invoice its charges again.
    _halo_engine_fields = frozenset({"state", "name", "line_ids", "invoice_ids"})

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

    def _halo_set_state(self, state):
        """The run's actions move it between states."""
        BILLING_ENGINE.on(self).write({"state": state})

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
        """Collect the unbilled work up to the cut-off date, price it and claim it."""
        for run in self:
            if run.state not in ("draft", "previewed"):
                raise UserError(self.env._("Only draft or previewed runs can be previewed."))
            run._halo_collect()
            run._halo_set_state("previewed")
        return True

    def action_create_invoices(self):
        """Create (and post, per company setting) the customer invoices of the run."""
        for run in self:
            if run.state != "previewed":
                raise UserError(self.env._("Preview billing run %(run)s first.", run=run.name))
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
        return self.invoice_ids._get_records_action(name=self.env._("Invoices"))

    def action_cancel(self):
        """Cancel the run and release its charges (their work is unbilled again); what it
        consumed from contracts is given back by reversal entries. A run whose posted invoices
        were all credited in full can be cancelled."""
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
        rated_rows, ratings, fresh = self._halo_rate_for_run(lines)
        run_charges = self._halo_prepare_timesheet_charges(lines, fresh) if lines else []
        run_charges += self._halo_prepare_mileage_charges(sources["halo.mileage"])
        run_charges += self._halo_prepare_expense_charges(sources["halo.expense"])
        run_charges += self._halo_prepare_item_charges(sources["halo.ticket.item"])
        self._halo_apply_contracts(run_charges)
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
    def _halo_chunk_partner_ids(self):
        """Hook: the customers one background chunk of the run is limited to (see
        halo_billing_run_jobs), or None when the whole run is worked at once."""
        return None

    def _halo_create_invoices(self):
        self.ensure_one()
        charges = self._halo_read_charges()
        if not charges:
            raise UserError(self.env._("Billing run %(run)s has no charge to invoice.", run=self.name))
        if any(charge.error for charge in charges):
            raise UserError(self.env._("Fix or exclude the charges with problems first."))
        RunLine = self.env["halo.billing.run.line"]
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
            groups[self._halo_invoice_key(charge, settings[charge.partner_id]["grouping"])].append(charge)
        descriptions = {}
        by_template = defaultdict(list)
        for charge in charges:
            if settings[charge.partner_id]["layout"] == "itemised":
                by_template[settings[charge.partner_id]["template"]].append(charge.id)
        for template, ids in by_template.items():
            descriptions.update(self._halo_render_descriptions(RunLine.browse(ids), template))
        products = self.env["product.product"].browse(
            {charge.product_id for charge in charges if charge.product_id}
        )
        accounting = self._halo_line_accounting(products, partners)
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
        move_vals, line_maps, itemised = [], [], []
        for group in groups:
            layout = settings[group[0].partner_id]["layout"]
            vals, line_map = self._halo_prepare_invoice_vals(group, layout, descriptions, names)
            self._halo_complete_line_vals(vals, accounting)
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
