# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import json
import logging
from collections import defaultdict, namedtuple
from decimal import Decimal

import psycopg2

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tools import SQL, float_round, format_date

from odoo.addons.halo_helpdesk_billing.constants import (
    BILLING_USER,
    IN_RUN,
    TIMED_KINDS,
    UNBILLED,
    WORK_MODELS,
    WORK_TABLES,
)

from ...services import line_template
from ..halo_engine import BILLING_ENGINE, BILLING_RUN
from .res_company import DEFAULT_LINE_TEMPLATE, line_template_message

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

# A charge of a run as read for invoicing (see HaloBillingRun._halo_read_charges)
Charge = namedtuple(
    "Charge", "id partner_id ticket_id contract_id product_id kind parts error analytic_distribution"
)

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
        default="draft", required=True, readonly=True, copy=False, tracking=True, index=True,
    )
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date_cutoff = fields.Date(
        string="Cut-off Date", required=True, default=fields.Date.context_today, tracking=True,
        help="Work done on or before this date is billed.",
    )
    date_invoice = fields.Date(
        string="Invoice Date", default=fields.Date.context_today,
        help="Date of the invoices created by this run.",
    )
    partner_ids = fields.Many2many(
        comodel_name="res.partner", string="Customers",
        help="Leave empty to bill every customer with unbilled work.",
    )
    user_id = fields.Many2one(
        comodel_name="res.users", string="Responsible", default=lambda self: self.env.user
    )
    line_ids = fields.One2many(
        comodel_name="halo.billing.run.line", inverse_name="run_id", string="Charges"
    )
    invoice_ids = fields.One2many(
        comodel_name="account.move", inverse_name="halo_run_id", string="Invoices"
    )
    note = fields.Html()
    halo_rebill_move_id = fields.Many2one(
        comodel_name="account.move", string="Re-bills", readonly=True, copy=False,
        index="btree_not_null",
        help="The invoice, credited in full, whose work this run bills again (and only that work).",
    )
    line_count = fields.Integer(compute="_compute_totals")
    error_count = fields.Integer(compute="_compute_totals")
    invoice_count = fields.Integer(compute="_compute_totals")
    amount_total = fields.Monetary(
        string="Total to Invoice", compute="_compute_totals", groups=BILLING_USER,
        help="The included charges in the company's currency: charges in a customer's billing "
        "currency are converted at the rate of the run's invoice date (today until it is set); "
        "the charges and their invoices keep their own currency.",
    )

    @api.depends("line_ids.amount", "line_ids.state", "line_ids.currency_id", "invoice_ids", "date_invoice")
    def _compute_totals(self):
        Rating = self.env["halo.rating"]
        totals = defaultdict(lambda: (0, Decimal(0)))
        for run, state, currency, count, amount in self.env["halo.billing.run.line"]._read_group(
            [("run_id", "in", self.ids)], ["run_id", "state", "currency_id"], ["__count", "amount:sum"]
        ):
            if currency and currency != run.company_id.currency_id:
                rate = Rating._halo_fx_rate(currency, run.company_id.currency_id, run.company_id, run._halo_fx_date())
                amount = Rating._halo_fx_amount(amount, rate, run.company_id.currency_id)
            old_count, old_amount = totals[run.id, state]
            totals[run.id, state] = (old_count + count, old_amount + Decimal(str(amount)))
        errors = dict(self.env["halo.billing.run.line"]._read_group(
            [("run_id", "in", self.ids), ("error", "!=", False)], ["run_id"], ["__count"]
        ))
        invoices = dict(self.env["account.move"]._read_group(
            [("halo_run_id", "in", self.ids)], ["halo_run_id"], ["__count"]
        ))
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
                vals.get("state", "draft") != "draft" or vals.get("name", "/") != "/"
                or vals.get("line_ids") or vals.get("invoice_ids")
            ):
                raise AccessError(self.env._(
                    "A billing run starts as a draft with no charges; its name, state, charges and "
                    "invoices are set by its actions."
                ))
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
            raise AccessError(self.env._(
                "%(fields)s of a billing run change through its actions only (preview, create "
                "invoices, cancel).", fields=", ".join(sorted(engine_fields)),
            ))
        for run in self:
            if "company_id" in vals and run.state != "draft" and vals["company_id"] != run.company_id.id:
                raise UserError(self.env._(
                    "Billing run %(run)s has collected work; its company cannot change.", run=run.name))
            if run.state in ("invoiced", "cancelled") and {"date_cutoff", "date_invoice", "partner_ids"} & set(vals):
                raise UserError(self.env._(
                    "Billing run %(run)s is closed; what it billed cannot change.", run=run.name))

    def _halo_set_state(self, state):
        """The run's actions move it between states."""
        BILLING_ENGINE.on(self).write({"state": state})

    @api.ondelete(at_uninstall=False)
    def _unlink_except_invoiced(self):
        for run in self:
            if run.state == "invoiced" or run.invoice_ids:
                raise UserError(self.env._(
                    "Billing run %(run)s has invoices and cannot be deleted.", run=run.name
                ))
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
                raise UserError(self.env._(
                    "Billing run %(run)s could not create its invoices; nothing was billed and the "
                    "run can be retried. Error: %(error)s", run=run.name, error=err,
                )) from err
        return self.invoice_ids._get_records_action(name=self.env._("Invoices"))

    def action_cancel(self):
        """Cancel the run and release its charges (their work is unbilled again); what it
        consumed from contracts is given back by reversal entries. A run whose posted invoices
        were all credited in full can be cancelled."""
        for run in self:
            # an invoice credited in full released its work already (see account_move_correction)
            if run.invoice_ids.filtered(lambda move: move.state == "posted" and not move.halo_released_by_id):
                raise UserError(self.env._(
                    "Billing run %(run)s has posted invoices; credit them in full with credit notes "
                    "(Credit and re-bill, or Reverse) before cancelling the run.", run=run.name,
                ))
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
            domain &= Domain("id", "in", self.env["halo.billing.run.line"].sudo().search([
                ("invoice_id", "=", self.halo_rebill_move_id.id), ("res_model", "=", model),
            ]).mapped("res_id"))
        return domain

    def _halo_collect(self):
        self.ensure_one()
        sources = {
            model: self.env[model].sudo().search(self._halo_source_domain(model), order="id")
            for model in SOURCES
        }
        vals_list = []
        lines = sources["account.analytic.line"]
        Rating = self.env["halo.rating"]
        rated_rows, ratings, fresh = [], {}, {}
        if lines:
            self.env["account.analytic.line"].flush_model(["halo_rating_data"])
            # not rated yet, priced in another currency than the customer's now, or priced from
            # a converted version at another day's rate
            self.env.cr.execute(SQL(
                """SELECT l.id, l.halo_rating_data IS NULL, l.halo_rating_data->>'currency_id',
                          l.halo_rating_data->'fx'->>'date', COALESCE(t.commercial_partner_id, t.partner_id),
                          l.halo_ticket_id, l.halo_versions_known
                     FROM account_analytic_line l JOIN helpdesk_ticket t ON t.id = l.halo_ticket_id
                    WHERE l.id = ANY(%s)""",
                lines.ids))
            fx_date = fields.Date.to_string(self._halo_fx_date())
            missing, known_of = defaultdict(list), {}
            for line_id, unrated, currency_id, rated_fx_date, partner_id, ticket_id, known in self.env.cr.fetchall():
                if unrated or (rated_fx_date and rated_fx_date != fx_date) \
                        or str(self._halo_billing_currency(partner_id).id) != (currency_id or str(self.currency_id.id)):
                    missing[ticket_id].append(line_id)
                    if known:
                        known_of[ticket_id] = min(known, known_of.get(ticket_id, known))
            # priced again in the billing currency or at the run's conversion date, with the
            # versions the work knew (a version added since does not re-price it); a ticket's
            # lines together (its rounding groups)
            by_known = defaultdict(list)
            for ticket_id, line_ids in missing.items():
                by_known[known_of.get(ticket_id)] += line_ids
            for known, line_ids in by_known.items():
                # rated here, stored below together with the claim (one pass over the lines)
                known_rows, known_ratings = Rating._halo_rate_timesheet_rows(
                    self.env["account.analytic.line"].browse(line_ids), known=known,
                    fx_date=self._halo_fx_date())
                rated_rows += known_rows
                ratings.update(known_ratings)
            fresh = {row.id: Rating._halo_timesheet_values(row, ratings[row.id])
                     for row in rated_rows if row.id in ratings}
            vals_list += self._halo_prepare_timesheet_charges(lines, fresh)
        vals_list += self._halo_prepare_mileage_charges(sources["halo.mileage"])
        vals_list += self._halo_prepare_expense_charges(sources["halo.expense"])
        vals_list += self._halo_prepare_item_charges(sources["halo.ticket.item"])
        self._halo_apply_contracts(vals_list)
        for vals in vals_list:
            vals["run_id"] = self.id
            if vals.get("error"):
                vals["state"] = "excluded"
        new_lines, included = self._halo_insert_lines(vals_list)
        claimed = set()
        if rated_rows:
            claimed = {vals["res_id"] for vals in vals_list
                       if vals["res_model"] == "account.analytic.line" and vals["res_id"] in fresh
                       and self._halo_claim_key(vals)}
            Rating._halo_store_timesheet_ratings(rated_rows, ratings, claim=(self.id, claimed))
        self._halo_mark_sources(included, self.id, skip={"account.analytic.line": claimed})
        if self.error_count and self._halo_chunk_partner_ids() is None:
            self.message_post(body=self.env._(
                "%(count)s charges cannot be billed as they are (see the Problems filter).",
                count=self.error_count,
            ))
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
            cache[partner_id] = partner._halo_billing_currency(self.company_id) if partner_id \
                else self.company_id.currency_id
        return cache[partner_id]

    # Columns of halo_billing_run_line written by the bulk insert, with their SQL array types.
    _HALO_LINE_COLUMNS = {
        "run_id": "int", "company_id": "int", "partner_id": "int", "ticket_id": "int", "contract_id": "int",
        "kind": "varchar", "res_model": "varchar", "res_id": "int", "date": "date", "user_id": "int",
        "rate_id": "int", "product_id": "int", "name": "text", "note": "text", "quantity": "float8",
        "uom_name": "varchar", "unit_price": "numeric", "amount": "numeric", "rated_amount": "numeric",
        "cost": "numeric", "explanation": "text", "parts": "jsonb", "analytic_distribution": "jsonb",
        "error": "varchar", "state": "varchar", "currency_id": "int",
    }

    def _halo_insert_lines(self, vals_list):
        """Create the charges with bulk INSERTs (ORM creation of 100,000 charges took most of a
        preview). Included charges claim their work in the same statements: the partial unique
        index on ``claim_key`` refuses work already held by another open run or invoiced.
        Returns (all new charges, the included ones) in the input order.

        The rows travel as JSON documents read by ``json_to_recordset`` (PostgreSQL parses them
        several times faster than the same values as one array parameter per column), in
        chunks of ``INSERT_CHUNK`` rows to bound the memory they take."""
        self.ensure_one()
        Line = self.env["halo.billing.run.line"]
        if not vals_list:
            return Line, Line
        Line.flush_model()
        names = list(self._HALO_LINE_COLUMNS) + ["claim_key"]
        types = dict(self._HALO_LINE_COLUMNS, claim_key="varchar")
        identifiers = SQL(", ").join(SQL.identifier(name) for name in names)
        values = SQL(", ").join(SQL("v.%s", SQL.identifier(name)) for name in names)
        typed = SQL(", ").join(SQL("%s %s", SQL.identifier(name), SQL(types[name])) for name in names)
        ids, claims = [], []
        try:
            with self.env.cr.savepoint():
                for start in range(0, len(vals_list), INSERT_CHUNK):
                    rows = [self._halo_line_row(vals) for vals in vals_list[start:start + INSERT_CHUNK]]
                    claims += [row["claim_key"] for row in rows]
                    self.env.cr.execute(SQL(
                        """INSERT INTO halo_billing_run_line (%(names)s, create_uid, write_uid, create_date,
                                                              write_date, price_adjusted)
                           SELECT %(values)s, %(uid)s, %(uid)s, now() at time zone 'UTC',
                                  now() at time zone 'UTC', false
                             FROM ROWS FROM (json_to_recordset(%(rows)s::json) AS (%(typed)s))
                                  WITH ORDINALITY AS v(%(names)s, position)
                         ORDER BY v.position
                        RETURNING id""",
                        names=identifiers, values=values, uid=self.env.uid, typed=typed,
                        rows=json.dumps(rows),
                    ))
                    ids += [row[0] for row in self.env.cr.fetchall()]
        except psycopg2.errors.UniqueViolation as err:
            raise UserError(self.env._(
                "Some of this work was put in another billing run at the same time; preview again."
            )) from err
        Line.invalidate_model()
        self.invalidate_recordset(["line_ids"])
        included = [line_id for line_id, claim in zip(ids, claims, strict=True) if claim]
        return Line.browse(ids), Line.browse(included)

    def _halo_line_row(self, vals):
        """One charge as a row of :meth:`_halo_insert_lines` (JSON-ready values)."""
        vals.setdefault("company_id", self.company_id.id)
        vals.setdefault("state", "included")
        vals.setdefault("currency_id", self._halo_billing_currency(vals.get("partner_id")).id)
        row = {}
        for column, kind in self._HALO_LINE_COLUMNS.items():
            value = vals.get(column)
            if value is False or (kind == "int" and not value):
                value = None
            elif kind == "date" and value:
                value = fields.Date.to_string(value)
            row[column] = value
        row["claim_key"] = self._halo_claim_key(vals)
        return row

    @api.model
    def _halo_claim_key(self, vals):
        """The key by which an included charge claims its work (None: it claims nothing)."""
        if vals.get("state", "included") != "included" or vals.get("error"):
            return None
        return f"{vals['res_model']},{vals['res_id']}"

    def _halo_mark_sources(self, lines, run_id, skip=None):
        """Put the work of ``lines`` in run ``run_id`` (or out of any run with ``False``):
        one UPDATE per kind of work, its billing state following. ``skip`` holds work ids per
        model that were already put in the run."""
        if not lines:
            return
        self.env.cr.execute(SQL(
            "SELECT res_model, array_agg(res_id) FROM halo_billing_run_line WHERE id = ANY(%s) GROUP BY res_model",
            lines.ids,
        ))
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

    def _halo_charge_base(self, record, kind, ticket, date, user):
        customer = ticket.commercial_partner_id or ticket.partner_id
        return {
            "partner_id": customer.id,
            "ticket_id": ticket.id,
            "kind": kind,
            "res_model": record._name,
            "res_id": record.id,
            "date": date,
            "user_id": user.id,
        }

    def _halo_prepare_timesheet_charges(self, lines, fresh=None):
        """Hook: run-line values for actions and travel time (from their stored rating, or the
        not yet stored ``fresh`` one: ``{line_id: halo.rating._halo_timesheet_values()}``),
        read in one query."""
        fresh = fresh or {}
        self.env["account.analytic.line"].flush_model()
        self.env.cr.execute(SQL(
            """SELECT l.id, l.halo_ticket_id, COALESCE(t.commercial_partner_id, t.partner_id), l.halo_kind,
                      l.halo_charge_rate_id, r.product_id, l.halo_rating_data, l.halo_rating_explanation,
                      l.halo_billable_hours, l.date, l.user_id, l.name, l.halo_invoice_note, l.halo_billable,
                      l.account_id, l.amount
                 FROM account_analytic_line l
                 JOIN helpdesk_ticket t ON t.id = l.halo_ticket_id
            LEFT JOIN halo_charge_rate r ON r.id = l.halo_charge_rate_id
                WHERE l.id = ANY(%s) ORDER BY l.id""",
            lines.ids,
        ))
        labels = {"normal": "", "ooh": self.env._("out of hours"), "holiday": self.env._("holiday")}
        surcharge_label = self.env._("surcharge")
        hour = self.env._("h")
        vals_list = []
        for (line_id, ticket_id, customer_id, kind, rate_id, product_id, data, explanation, hours, date,
             user_id, name, note, billable, account_id, cost) in self.env.cr.fetchall():
            if line_id in fresh:
                hours, _amount, explanation, data, _version = fresh[line_id]
            data = data or {}
            segments = data.get("segments") or []
            no_charge = billable == "no_charge"
            parts = []
            for seg in segments:
                unit_price = 0.0 if no_charge else float(seg["unit_price"])
                amount = 0.0 if no_charge else float(seg["amount"])
                parts.append({
                    "label": labels.get(seg["kind"], seg["kind"]), "kind": seg["kind"],
                    "quantity": float(seg["quantity"]), "seconds": seg["seconds"],
                    "unit_price": unit_price, "amount": amount, "coverage": "payg", "contract_id": False,
                })
            surcharge = float(data.get("surcharge") or 0)
            if surcharge and not no_charge:
                parts.append({
                    "label": surcharge_label, "kind": "surcharge", "quantity": 1.0, "seconds": 0,
                    "unit_price": surcharge, "amount": surcharge, "coverage": "payg", "contract_id": False,
                })
            amount = sum(part["amount"] for part in parts)
            hours = hours or 0.0
            vals = {
                "partner_id": customer_id, "ticket_id": ticket_id,
                "kind": "travel" if kind == "travel" else "labour",
                "res_model": "account.analytic.line", "res_id": line_id, "date": date, "user_id": user_id,
                "rate_id": rate_id, "product_id": product_id, "name": name, "note": note,
                "quantity": hours, "uom_name": hour,
                "unit_price": amount / hours if hours else 0.0,
                "amount": amount, "rated_amount": amount, "cost": -(cost or 0.0),
                "explanation": explanation, "parts": parts,
                # the timesheet's project account; other analytic plans are not carried
                "analytic_distribution": {str(account_id): 100.0} if account_id else False,
            }
            if not segments:
                vals["error"] = explanation or self.env._("Not rated.")
            vals_list.append(vals)
        return vals_list

    def _halo_prepare_mileage_charges(self, trips):
        vals_list = []
        results = self.env["halo.rating"]._rate_mileage(trips, fx_date=self._halo_fx_date())
        product = self.env.ref("halo_helpdesk_billing.product_mileage", raise_if_not_found=False)
        for trip in trips:
            result = results[trip.id]
            vals = self._halo_charge_base(trip, "mileage", trip.ticket_id, trip.date, trip.user_id)
            vals.update({"product_id": product.id if product else False,
                         "name": self.env._("Mileage %(from)s → %(to)s", **{
                             "from": trip.location_from or "", "to": trip.location_to or ""}).strip(),
                         # the unit the trip is priced per (a km trip at a per-mile price: mi)
                         "note": trip.note, "uom_name": self.env["halo.rating"]._halo_mileage_price(trip)[1]})
            self._halo_charge_from_result(vals, result, trip.unit)
            vals_list.append(vals)
        self._halo_store_results(trips, results)
        return vals_list

    def _halo_prepare_expense_charges(self, expenses):
        vals_list = []
        results = self.env["halo.rating"]._rate_expenses(expenses, fx_date=self._halo_fx_date())
        default = self.env.ref("halo_helpdesk_billing.product_expense", raise_if_not_found=False)
        for expense in expenses:
            result = results[expense.id]
            vals = self._halo_charge_base(expense, "expense", expense.ticket_id, expense.date, expense.user_id)
            vals.update({
                "product_id": (expense.type_id.product_id or default).id,
                "name": " - ".join(filter(None, [expense.type_id.name, expense.description])),
                "uom_name": self.env._("unit"),
                # what it cost the company: the amount paid less the reclaimable taxes
                "cost": expense.currency_id._convert(
                    float(self.env["halo.rating"]._halo_expense_net(expense)[0]), self.currency_id,
                    self.company_id, expense.date),
            })
            self._halo_charge_from_result(vals, result, "")
            vals_list.append(vals)
        self._halo_store_results(expenses, results)
        return vals_list

    def _halo_prepare_item_charges(self, items):
        vals_list = []
        for item in items:
            vals = self._halo_charge_base(item, "item", item.ticket_id, item.date, item.user_id)
            currency = self._halo_billing_currency(vals["partner_id"])
            unit_price, note = item.unit_price, ""
            if currency != self.currency_id:
                Rating = self.env["halo.rating"]
                rate = Rating._halo_fx_rate(self.currency_id, currency, self.company_id, self._halo_fx_date())
                unit_price = float(Rating._halo_fx_amount(item.unit_price, rate, currency))
                note = self.env._(" (converted from %(price)s at %(rate)s %(from_currency)s→%(target)s, rate of %(date)s)",
                                  price=self.currency_id.format(item.unit_price), rate=rate,
                                  from_currency=self.currency_id.name, target=currency.name, date=self._halo_fx_date())
            amount = float_round(unit_price * item.quantity, precision_rounding=currency.rounding)
            vals.update({
                "product_id": item.product_id.id,
                "name": item.name,
                "quantity": item.quantity,
                "uom_name": item.product_id.uom_id.name or self.env._("unit"),
                "unit_price": unit_price,
                "amount": amount,
                "rated_amount": amount,
                "cost": item.unit_cost * item.quantity,
                "explanation": self.env._(
                    "%(qty)s × %(price)s", qty=item.quantity, price=currency.format(unit_price)) + note,
                "parts": [{"label": "", "kind": "item", "quantity": item.quantity, "seconds": 0,
                           "unit_price": unit_price, "amount": amount, "coverage": "payg",
                           "contract_id": False}],
            })
            vals_list.append(vals)
        self._halo_store_amounts(items, [(vals["amount"], vals["explanation"]) for vals in vals_list])
        if items:
            # the currency of the stored amounts (the customer's)
            self.env.cr.execute(SQL(
                """UPDATE halo_ticket_item AS w SET halo_amount_currency_id = v.currency
                     FROM unnest(%s::int[], %s::int[]) AS v(id, currency) WHERE w.id = v.id""",
                items.ids, [self._halo_billing_currency(vals["partner_id"]).id for vals in vals_list]))
            items.invalidate_recordset(["halo_amount_currency_id"])
        return vals_list

    def _halo_charge_from_result(self, vals, result, unit):
        if isinstance(result, Exception):
            vals.update({"error": str(result), "quantity": 0, "amount": 0, "explanation": str(result),
                         "parts": []})
            return
        quantity, unit_price, amount = float(result.quantity), float(result.unit_price), float(result.amount)
        currency = self._halo_billing_currency(vals["partner_id"])
        line_amount = float_round(quantity * unit_price, precision_rounding=currency.rounding)
        parts = [{"label": "", "kind": vals["kind"], "quantity": quantity, "seconds": 0,
                  "unit_price": unit_price, "amount": line_amount, "coverage": "payg", "contract_id": False}]
        if amount - line_amount > 0.0001:
            parts.append({"label": self.env._("surcharge"), "kind": "surcharge", "quantity": 1.0, "seconds": 0,
                          "unit_price": amount - line_amount, "amount": amount - line_amount,
                          "coverage": "payg", "contract_id": False})
        vals.update({"quantity": quantity, "unit_price": amount / quantity if quantity else 0.0,
                     "amount": amount, "rated_amount": amount, "explanation": result.explanation,
                     "parts": parts})

    def _halo_store_results(self, records, results):
        """Keep each charge's amount and explanation on its work (for the ticket and reports)."""
        priced = records.filtered(lambda record: not isinstance(results[record.id], Exception))
        self.env["halo.rating"]._halo_store_work_ratings(priced, results)

    def _halo_store_amounts(self, records, values):
        """Write ``(amount, explanation)`` pairs on ``records`` (mileage, expenses, items) in one
        UPDATE; the billing engine owns these fields, so no ORM write per record."""
        if not records:
            return
        records.flush_model(["halo_amount", "halo_explanation"])
        self.env.cr.execute(SQL(
            """UPDATE %s AS w SET halo_amount = v.amount, halo_explanation = v.explanation
                 FROM unnest(%s::int[], %s::numeric[], %s::text[]) AS v(id, amount, explanation)
                WHERE w.id = v.id""",
            SQL.identifier(WORK_TABLES[records._name]), records.ids,
            [amount for amount, _text in values], [text for _amount, text in values],
        ))
        records.invalidate_recordset(["halo_amount", "halo_explanation"])

    def _halo_apply_contracts(self, vals_list):
        """Let customer contracts cover charges (included, prepay hours or money, PAYG beyond)."""
        Contract = self.env.get("halo.contract")
        if Contract is None or not hasattr(Contract, "_halo_allocate_charges"):
            return
        tickets = self.env["helpdesk.ticket"].sudo().browse(
            {vals["ticket_id"] for vals in vals_list if vals.get("ticket_id")})
        site_of = {ticket.id: ticket.partner_id.id for ticket in tickets}
        charges = [
            {"key": index, "partner_id": vals["partner_id"], "date": vals["date"], "kind": vals["kind"],
             "rate_id": vals.get("rate_id") or False, "hours": vals.get("quantity") or 0.0
             if vals["kind"] in TIMED_KINDS else 0.0, "amount": vals.get("amount") or 0.0,
             # the ticket's partner: a site contract covers its site's work
             "work_partner_id": site_of.get(vals.get("ticket_id")) or vals["partner_id"],
             "segments": self._halo_charge_segments(vals),
             "currency_id": self._halo_billing_currency(vals["partner_id"]).id}
            for index, vals in enumerate(vals_list) if not vals.get("error")
        ]
        allocations = Contract.sudo()._halo_allocate_charges(charges, self.company_id) if charges else {}
        for index, parts in allocations.items():
            vals = vals_list[index]
            covered = [part for part in parts if part["mode"] != "payg"]
            if not covered:
                continue
            vals["contract_id"] = covered[0]["contract_id"]
            if any(part["mode"] == "blocked" for part in parts):
                vals["error"] = "; ".join(part["explanation"] for part in parts if part["mode"] == "blocked")
                continue
            vals["parts"] = self._halo_split_parts(vals, parts)
            vals["amount"] = sum(part["amount"] for part in vals["parts"])
            vals["unit_price"] = vals["amount"] / vals["quantity"] if vals.get("quantity") else vals["amount"]
            vals["explanation"] = "\n".join(
                [vals.get("explanation") or ""] + [part["explanation"] for part in parts if part.get("explanation")]
            ).strip()

    @staticmethod
    def _halo_charge_segments(vals):
        """Hours per kind of time (normal / ooh / holiday) of a timesheet charge."""
        segments = defaultdict(float)
        for part in vals.get("parts") or []:
            if part.get("kind") in ("normal", "ooh", "holiday"):
                segments[part["kind"]] += part.get("quantity") or 0.0
        return dict(segments)

    def _halo_split_parts(self, vals, allocation):
        """Turn a contract allocation into invoice parts: covered parts at zero, PAYG at the rate."""
        total_hours = vals.get("quantity") or 0.0
        total_amount = vals.get("amount") or 0.0
        parts = []
        for part in allocation:
            if part["mode"] == "payg":
                share = (part["hours"] / total_hours) if total_hours else (part["amount"] / total_amount if total_amount else 1)
                for original in vals["parts"]:
                    parts.append(dict(original,
                                      quantity=float_round(original["quantity"] * share, 4),
                                      seconds=round((original.get("seconds") or 0) * share),
                                      amount=float_round(original["amount"] * share,
                                                         precision_rounding=self.currency_id.rounding)))
            else:
                # billed at zero; "hours" and "value" say what the contract's balance pays for
                parts.append({"label": part.get("explanation") or part["mode"], "kind": "covered",
                              "quantity": part["hours"] or 1.0, "seconds": round(part["hours"] * 3600),
                              "unit_price": 0.0, "amount": 0.0, "coverage": part["mode"],
                              "contract_id": part["contract_id"], "hours": part["hours"],
                              "consumed": part.get("consumed", part["hours"]),
                              # in the contract's currency (the balance's)
                              "value": part.get("balance_amount", part["amount"])})
        return parts

    # ------------------------------------------------------------------ claims
    def _halo_claim_lines(self, lines):
        """Claim the work of ``lines`` for this run again (database-enforced, all or nothing)."""
        if not lines:
            return
        self.env["halo.billing.run.line"].flush_model()
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(SQL(
                    "UPDATE halo_billing_run_line SET claim_key = res_model || ',' || res_id, state = 'included' "
                    "WHERE id = ANY(%s)", lines.ids,
                ))
        except psycopg2.errors.UniqueViolation as err:
            raise UserError(self.env._(
                "Some of this work is already in another open billing run or was already invoiced; "
                "preview again to leave it out."
            )) from err
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
            self.env.cr.execute(SQL(
                "UPDATE halo_billing_run_line SET claim_key = NULL, state = %s WHERE id = ANY(%s)",
                line_state, ids))
        lines.invalidate_recordset(["claim_key", "state"])
        self._halo_mark_sources(lines, False)

    # ------------------------------------------------------------------ invoicing
    def _halo_invoice_key(self, charge, grouping):
        if grouping == "ticket":
            return (charge.partner_id, charge.ticket_id)
        if grouping == "contract":
            return (charge.partner_id, charge.contract_id)
        return (charge.partner_id,)

    def _halo_settings(self, partner):
        company = self.company_id
        partner = partner.with_company(company)
        return {
            "grouping": partner.halo_invoice_grouping or company.halo_invoice_grouping or "customer",
            "layout": partner.halo_invoice_layout or company.halo_invoice_layout or "itemised",
            "template": partner.halo_line_template or company.halo_line_template or DEFAULT_LINE_TEMPLATE,
        }

    def _halo_read_charges(self):
        """The included charges of the run as plain rows, in one query (invoicing 100,000
        charges through the ORM cost more than creating the invoices)."""
        self.env["halo.billing.run.line"].flush_model()
        self.env.cr.execute(SQL(
            """SELECT id, partner_id, ticket_id, contract_id, product_id, kind, parts, error,
                      analytic_distribution
                 FROM halo_billing_run_line
                WHERE run_id = %s AND state = 'included' AND invoice_line_id IS NULL
                      AND (%s::int[] IS NULL OR partner_id = ANY(%s::int[]))
             ORDER BY partner_id, ticket_id, date, id""",
            self.id, self._halo_chunk_partner_ids(), self._halo_chunk_partner_ids(),
        ))
        return [Charge(*row) for row in self.env.cr.fetchall()]

    def _halo_chunk_partner_ids(self):
        """Hook: the customers one background chunk of the run is limited to (see
        halo_billing_run_jobs), or None when the whole run is worked at once."""
        return None

    def _halo_render_descriptions(self, lines, template):
        """Itemised line descriptions from the template (``services.line_template``: Odoo's
        inline template syntax, placeholders that only read fields of the charge). The
        template is parsed once per run; the charges' values are read in batch and handed to
        it as plain values, never as records."""
        try:
            parsed = line_template.parse(template)
        except line_template.TemplateError as err:
            raise UserError(self.env._(
                "The invoice line template cannot be used: %(error)s",
                error=line_template_message(self.env, err))) from err
        lang_env = self.with_context(lang=self.env.user.lang).env

        def date_format(value, env=lang_env):
            return format_date(env, value)

        values_of = self._halo_template_values(lines, line_template.values_needed(parsed))
        result = {}
        for line in lines:
            try:
                text = parsed.render(values_of[line.id], date_format)
            except (line_template.TemplateError, TypeError, ValueError) as err:
                error = (line_template_message(self.env, err)
                         if isinstance(err, line_template.TemplateError) else err)
                raise UserError(self.env._(
                    "The invoice line template failed on %(charge)s: %(error)s",
                    charge=line.name or line.kind_label, error=error)) from err
            text = text.strip() or line.name or line.kind_label
            if line.note:
                text = f"{text}\n{line.note}"
            result[line.id] = text
        return result

    @api.model
    def _halo_template_values(self, lines, needed):
        """``{line_id: {field: value}}``: the plain values a line template reads (only the
        fields of ``line_template.SCHEMA`` it names); a linked record is a dict of its fields
        (with its ``id``, so that it is true) or ``False``."""
        scalars = [name for name, subfields in needed.items() if line_template.SCHEMA[name] is None]
        relations = {name: sorted(subfields) for name, subfields in needed.items()
                     if line_template.SCHEMA[name] is not None}
        lines.fetch(scalars + list(relations))
        records = {}
        for name, subfields in relations.items():
            linked = lines[name]
            if subfields:
                linked.fetch(subfields)
            records[name] = {
                record.id: dict({sub: record[sub] for sub in subfields}, id=record.id)
                for record in linked
            }
        result = {}
        for line in lines:
            values = {name: line[name] for name in scalars}
            for name in relations:
                record = line[name]
                values[name] = records[name][record.id] if record else False
            result[line.id] = values
        return result

    def _halo_create_invoices(self):
        self.ensure_one()
        charges = self._halo_read_charges()
        if not charges:
            raise UserError(self.env._("Billing run %(run)s has no charge to invoice.", run=self.name))
        if any(charge.error for charge in charges):
            raise UserError(self.env._("Fix or exclude the charges with problems first."))
        RunLine = self.env["halo.billing.run.line"]
        # customer billing settings are per company (company-dependent fields): the run's
        partners = self.env["res.partner"].with_company(self.company_id).browse(
            {charge.partner_id for charge in charges})
        partners.fetch(["halo_invoice_grouping", "halo_invoice_layout", "halo_line_template",
                        "property_account_position_id"])
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
        products = self.env["product.product"].browse({charge.product_id for charge in charges if charge.product_id})
        accounting = self._halo_line_accounting(products, partners)
        names = {
            "product": {product.id: product.display_name for product in products},
            "ticket": {ticket.id: f"{ticket.number} {ticket.name}" for ticket in self.env["helpdesk.ticket"].browse(
                {charge.ticket_id for charge in charges if charge.ticket_id})},
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
            self.message_post(body=self.env._(
                "%(count)s invoices created.", count=len(moves)))
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
        self.env.cr.execute("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = 'account_move_line'::regclass")
        return (self.env.cr.fetchone()[0], 0)

    def _halo_create_invoice_chunk(self, groups, settings, descriptions, names, accounting):
        """Create, link and post the invoices of some charge groups (one chunk, see
        :meth:`_halo_invoice_chunks`)."""
        RunLine = self.env["halo.billing.run.line"]
        move_vals, line_maps, copies = [], [], []
        for group in groups:
            layout = settings[group[0].partner_id]["layout"]
            vals, line_map = self._halo_prepare_invoice_vals(group, layout, descriptions, names)
            self._halo_complete_line_vals(vals, accounting)
            copies.append(self._halo_split_copies(vals) if layout == "itemised" else [])
            move_vals.append(vals)
            line_maps.append(line_map)
        # New draft lines have no analytic lines to re-synchronise: Odoo's own key skips that
        # per-line inverse at creation (it is not kept for posting, which creates them).
        Move = self.env["account.move"].with_context(
            default_move_type="out_invoice", check_move_validity=False, skip_analytic_sync=True,
            **{BILLING_RUN.key: BILLING_RUN},
        )
        # An invoice that gets copied lines is created without Odoo's tax and payment-term
        # lines: Odoo makes them once, for all those invoices in one batch, when the copies are
        # added (see _halo_add_copies), instead of making them now and rewriting each one then.
        created = {}
        for deferred in (True, False):
            indexes = [index for index, move_copies in enumerate(copies) if bool(move_copies) == deferred]
            if indexes:
                batch = Move.with_context(skip_invoice_sync=deferred).create([move_vals[i] for i in indexes])
                created.update(zip(indexes, batch.ids, strict=True))
        moves = self.env["account.move"].browse([created[index] for index in range(len(move_vals))])
        if any(copies):
            self._halo_add_copies(moves, copies)
        run_line_ids, invoice_line_ids, move_ids = [], [], []
        for move, line_map in zip(moves, line_maps, strict=True):
            invoice_lines = move.invoice_line_ids.sorted(lambda aml: (aml.sequence, aml.id))
            for charge_ids, invoice_line in zip(line_map, invoice_lines, strict=True):
                for run_line_id in charge_ids:
                    run_line_ids.append(run_line_id)
                    invoice_line_ids.append(invoice_line.id)
                    move_ids.append(move.id)
        self.env.cr.execute(SQL(
            """UPDATE halo_billing_run_line AS l
                  SET invoice_line_id = v.aml, invoice_id = v.move
                 FROM unnest(%s::int[], %s::int[], %s::int[]) AS v(id, aml, move)
                WHERE l.id = v.id AND l.invoice_line_id IS NULL""",
            run_line_ids, invoice_line_ids, move_ids,
        ))
        RunLine.invalidate_model(["invoice_line_id", "invoice_id"])
        # what each itemised line bills, for the billing analysis (kept on credit notes): lines
        # copied in bulk took their prototype's kind
        self.env["account.move.line"].flush_model()
        self.env.cr.execute(SQL(
            """UPDATE account_move_line AS aml SET halo_kind = l.kind
                 FROM halo_billing_run_line AS l
                WHERE aml.move_id = ANY(%s) AND l.id = aml.halo_run_line_id
                  AND aml.halo_kind IS DISTINCT FROM l.kind""",
            moves.ids,
        ))
        self.env["account.move.line"].invalidate_model(["halo_kind"])
        if self.company_id.halo_post_invoices:
            # analytic lines copied in bulk (account_move_line_bulk_analytic), and no invoice
            # sync pass around the state change (account_move_bulk_lines.write)
            BILLING_RUN.on(moves).action_post()
        move_ids = moves.ids
        self.env.flush_all()
        self.env.invalidate_all()
        return self.env["account.move"].browse(move_ids)

    def _halo_split_copies(self, move_vals):
        """Take out of ``move_vals`` the itemised lines that can be copies of another line of
        the invoice (same accounting values, see ``account.move._halo_bulk_add_lines``);
        returns them as ``[(sequence of the line to copy, line values)]``."""
        commands = move_vals["invoice_line_ids"]
        # only lines whose accounting values are fully known here (_halo_complete_line_vals)
        known = [command[2] for command in commands if "account_id" in command[2]]
        created, copies = self.env["account.move"]._halo_group_copies(known)
        if not copies:
            return []
        copied = {id(vals) for _index, vals in copies}
        move_vals["invoice_line_ids"] = [command for command in commands if id(command[2]) not in copied]
        return [(created[index]["sequence"], vals) for index, vals in copies]

    def _halo_add_copies(self, moves, copies):
        """Add the split-off lines to the created invoices: copied in bulk from the line they
        share their accounting values with or, if Odoo's line turned out not copyable, created
        through the ORM."""
        Move = self.env["account.move"]
        bulk, through_orm = [], {}
        for move, move_copies in zip(moves, copies, strict=True):
            if not move_copies:
                continue
            by_sequence = {line.sequence: line for line in move.invoice_line_ids}
            prototypes = {sequence: by_sequence[sequence] for sequence, _vals in move_copies}
            if all(Move._halo_bulk_line_copyable(line) for line in prototypes.values()):
                bulk.extend((prototypes[sequence].id, vals) for sequence, vals in move_copies)
            else:
                through_orm[move] = [Command.create(vals) for _sequence, vals in move_copies]
        if bulk:
            moves.with_context(skip_analytic_sync=True)._halo_bulk_add_lines(bulk)
        for move, commands in through_orm.items():
            BILLING_RUN.on(move).with_context(check_move_validity=False, skip_analytic_sync=True).write(
                {"invoice_line_ids": commands})

    def _halo_prepare_invoice_vals(self, charges, layout, descriptions, names):
        """Hook: values of one invoice and, in the same order as its lines, the ids of the
        charges each invoice line bills. ``charges`` are the run's plain rows
        (:meth:`_halo_read_charges`); ``names`` holds product and ticket labels."""
        invoice_lines, line_map = [], []
        Product = self.env["product.product"]
        if layout == "itemised":
            for charge in charges:
                for index, part in enumerate(charge.parts or []):
                    label = descriptions[charge.id]
                    if part.get("label"):
                        label = f"{label} ({part['label']})"
                    quantity, price = self._halo_line_price(part["quantity"], part["unit_price"], part["amount"])
                    vals = self._halo_prepare_invoice_line_vals(
                        Product.browse(charge.product_id), label, quantity, price,
                        charge.analytic_distribution,
                    )
                    vals["halo_run_line_id"] = charge.id
                    vals["halo_kind"] = charge.kind
                    invoice_lines.append(vals)
                    line_map.append([charge.id] if index == 0 else [])
        else:
            by_ticket = layout == "summary_ticket"
            buckets = {}
            for charge in charges:
                for part in charge.parts or []:
                    key = (charge.ticket_id if by_ticket else False, charge.product_id,
                           round(part["unit_price"], 4), part.get("label") or "", part.get("coverage"))
                    bucket = buckets.setdefault(key, {"seconds": 0, "quantity": 0.0, "ids": [],
                                                      "kind": charge.kind, "amount": 0.0})
                    bucket["seconds"] += part.get("seconds") or 0
                    bucket["quantity"] += part["quantity"]
                    bucket["amount"] += part.get("amount") or 0.0
                    if not bucket["ids"] or bucket["ids"][-1] != charge.id:
                        bucket["ids"].append(charge.id)
            for (ticket_id, product_id, unit_price, part_label, _coverage), bucket in buckets.items():
                timed = bucket["kind"] in TIMED_KINDS and bucket["seconds"]
                quantity = bucket["seconds"] / 3600.0 if timed else bucket["quantity"]
                label = names["product"].get(product_id, "")
                if by_ticket and ticket_id:
                    label = f"{names['ticket'][ticket_id]}: {label}"
                if part_label:
                    label = f"{label} ({part_label})"
                quantity, price = self._halo_line_price(round(quantity, 4), unit_price, bucket["amount"])
                line_vals = self._halo_prepare_invoice_line_vals(
                    Product.browse(product_id), label, quantity, price, False,
                )
                line_vals["halo_kind"] = bucket["kind"]
                invoice_lines.append(line_vals)
                line_map.append(bucket["ids"])
        vals = {
            "move_type": "out_invoice",
            "partner_id": charges[0].partner_id,
            "company_id": self.company_id.id,
            "currency_id": self._halo_billing_currency(charges[0].partner_id).id,
            "invoice_date": self.date_invoice or fields.Date.context_today(self),
            "invoice_origin": self.name,
            "halo_run_id": self.id,
            "invoice_line_ids": [
                Command.create(dict(vals, sequence=sequence)) for sequence, vals in enumerate(invoice_lines, 1)
            ],
        }
        return vals, line_map

    def _halo_line_price(self, quantity, unit_price, amount):
        """(quantity, unit price) of an invoice line that bills exactly ``amount``: the quantity
        as the invoice stores it (its unit precision) and the rated price when they make the
        amount, else the price that does (a rounding group's remainder, summed charges: the
        invoice then adds up to the charges, and to the preview)."""
        digits = self.env["decimal.precision"].precision_get("Product Unit")
        stored = float_round(quantity, precision_digits=digits)
        if not stored or self.currency_id.is_zero(self.currency_id.round(stored * unit_price) - amount):
            return stored, unit_price
        return stored, amount / stored

    def _halo_line_accounting(self, products, partners):
        """Per (product, partner): income account, taxes after the fiscal position and the base
        tax tags of an invoice line, computed once for the whole run."""
        result = {}
        Position = self.env["account.fiscal.position"].with_company(self.company_id)
        positions = {partner.id: Position._get_fiscal_position(partner) for partner in partners}
        for product in products:
            accounts = product.product_tmpl_id.with_company(self.company_id).get_product_accounts()
            taxes = product.taxes_id.filtered(lambda tax, c=self.company_id: tax.company_id in c.parent_ids)
            for partner in partners:
                position = positions[partner.id]
                mapped = position.map_tax(taxes) if position else taxes
                account = position.map_account(accounts["income"]) if position else accounts["income"]
                tags = mapped.invoice_repartition_line_ids.filtered(
                    lambda rep: rep.repartition_type == "base").tag_ids
                result[(product.id, partner.id)] = {
                    "account": account, "taxes": mapped, "tags": tags, "position": position,
                    "simple": all(not tax.price_include and tax.amount_type in ("percent", "fixed")
                                  for tax in mapped),
                }
        return result

    def _halo_complete_line_vals(self, move_vals, accounting):
        """Give invoice lines the values Odoo would otherwise compute and then rewrite line by line
        (account, taxes, balance, tax tags), when they are known for sure: company currency and
        tax-excluded prices. Anything else is left to Odoo's own computation."""
        partner_id = move_vals["partner_id"]
        currency = self.currency_id
        if move_vals.get("currency_id", currency.id) != currency.id:
            # another currency: Odoo converts the balances itself
            return
        for command in move_vals["invoice_line_ids"]:
            vals = command[2]
            info = accounting.get((vals.get("product_id"), partner_id))
            if not info or not info["simple"] or not info["account"]:
                continue
            subtotal = currency.round(vals["quantity"] * vals["price_unit"])
            vals.update({
                "account_id": info["account"].id,
                "tax_ids": [Command.set(info["taxes"].ids)],
                "tax_tag_ids": [Command.set(info["tags"].ids)],
                "amount_currency": -subtotal,
                "balance": -subtotal,
            })
        if accounting and any(info["position"] for info in accounting.values()):
            position = next(info["position"] for (_product, partner), info in accounting.items()
                            if partner == partner_id)
            if position:
                move_vals["fiscal_position_id"] = position.id

    def _halo_prepare_invoice_line_vals(self, product, name, quantity, price_unit, analytic):
        """Hook: one invoice line (taxes come from the product and the fiscal position)."""
        vals = {
            "product_id": product.id,
            "name": name,
            "quantity": quantity,
            "price_unit": price_unit,
        }
        if analytic:
            vals["analytic_distribution"] = analytic
        return vals
