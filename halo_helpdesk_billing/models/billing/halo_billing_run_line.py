# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from odoo.addons.halo_helpdesk_billing.constants import (
    BILLING_MANAGER,
    BILLING_USER,
    CHARGE_KINDS,
    CONSUMING_MODES,
    TIMED_KINDS,
)

from ...services import charges
from ..halo_engine import BILLING_ENGINE

_logger = logging.getLogger(__name__)


class HaloBillingRunLine(models.Model):
    """One charge of a billing run: a piece of recorded work with its price and explanation.

    ``res_model``/``res_id`` point at the work. While the charge is included in an open run,
    or once it is invoiced (until its invoice is credited in full, see ``credit_note_id``),
    ``claim_key`` holds ``"model,id"``; a partial unique index makes the database refuse a
    second claim, so the same work can never be in two open runs or be billed twice.
    ``parts`` holds the invoice lines of the charge (normal / out-of-hours / holiday time, a
    surcharge, contract coverage): ``services.charges.Part`` values as JSON; the columns of a
    charge are ``services.charges.Charge``'s.
    """

    _name = "halo.billing.run.line"
    _description = "Helpdesk Billing Run Charge"
    _order = "run_id, partner_id, ticket_id, date, id"
    _check_company_auto = True

    run_id = fields.Many2one(comodel_name="halo.billing.run", required=True, index=True, ondelete="cascade")
    run_state = fields.Selection(related="run_id.state", string="Run State")
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        readonly=True,
        default=lambda self: self.env.company.currency_id,
        help="Currency of the amounts: the currency the customer is invoiced in.",
    )
    partner_id = fields.Many2one(comodel_name="res.partner", string="Customer", required=True, index=True)
    ticket_id = fields.Many2one(comodel_name="helpdesk.ticket", index="btree_not_null")
    contract_id = fields.Many2one(comodel_name="halo.contract", index="btree_not_null")
    kind = fields.Selection(selection=CHARGE_KINDS, required=True)
    kind_label = fields.Char(compute="_compute_kind_label")
    res_model = fields.Char(string="Source Model", required=True)
    res_id = fields.Integer(string="Source Record", required=True)
    claim_key = fields.Char(
        copy=False,
        readonly=True,
        help="Set while the charge holds its source (included in an open run, or invoiced).",
    )
    date = fields.Date()
    user_id = fields.Many2one(comodel_name="res.users", string="Technician")
    rate_id = fields.Many2one(comodel_name="halo.charge.rate", string="Charge Rate")
    product_id = fields.Many2one(comodel_name="product.product")
    name = fields.Text(string="Description")
    note = fields.Text(string="Invoice Note")
    # Quantities of different units (hours, km, items) are never added together: group rows
    # show the per-unit totals below instead.
    quantity = fields.Float(digits=(16, 4), aggregator=False)
    uom_name = fields.Char(string="Unit")
    qty_hours = fields.Float(
        string="Hours",
        compute="_compute_qty_per_unit",
        digits=(16, 2),
        aggregator="sum",
        help="Hours of labour and travel of an included charge (zero when excluded or deferred).",
    )
    qty_km = fields.Float(
        string="km",
        compute="_compute_qty_per_unit",
        digits=(16, 1),
        aggregator="sum",
        help="Kilometres of mileage of an included charge.",
    )
    qty_mi = fields.Float(
        string="mi",
        compute="_compute_qty_per_unit",
        digits=(16, 1),
        aggregator="sum",
        help="Miles of mileage of an included charge.",
    )
    qty_units = fields.Float(
        string="Units",
        compute="_compute_qty_per_unit",
        digits=(16, 2),
        aggregator="sum",
        help="Items, expenses and contract lines of an included charge.",
    )
    unit_price = fields.Monetary(groups=BILLING_USER)
    amount = fields.Monetary(groups=BILLING_USER)
    amount_included = fields.Monetary(
        string="Billed",
        compute="_compute_amount_included",
        groups=BILLING_USER,
        aggregator="sum",
        help="The amount if the charge is included in the run (excluded and deferred charges "
        "are not billed and count zero in the totals).",
    )
    rated_amount = fields.Monetary(
        groups=BILLING_USER, readonly=True, help="Amount before any manual adjustment."
    )
    cost = fields.Monetary(groups=BILLING_MANAGER)
    explanation = fields.Text(groups=BILLING_USER)
    parts = fields.Json(groups=BILLING_USER)
    analytic_distribution = fields.Json()
    error = fields.Char(readonly=True, help="Why this charge cannot be invoiced as it is.")
    state = fields.Selection(
        selection=[
            ("included", "Included"),
            ("excluded", "Excluded"),
            ("deferred", "Deferred"),
        ],
        default="included",
        required=True,
    )
    price_adjusted = fields.Boolean(readonly=True)
    adjust_reason = fields.Char(string="Adjustment Reason", readonly=True)
    invoice_line_id = fields.Many2one(comodel_name="account.move.line", readonly=True, copy=False)
    invoice_id = fields.Many2one(
        comodel_name="account.move", readonly=True, copy=False, index="btree_not_null"
    )
    credit_note_id = fields.Many2one(
        comodel_name="account.move",
        string="Credited By",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The credit note that credited this charge's invoice in full; its work was released "
        "for billing again and the charge no longer holds it.",
    )

    repriced = fields.Boolean(
        string="Re-priced",
        compute="_compute_repriced",
        search="_search_repriced",
        help="The work's rating changed since it was first rated (see the re-rating audit).",
    )

    _unique_claim = models.UniqueIndex(
        "(claim_key) WHERE claim_key IS NOT NULL",
        "This work is already in another open billing run or was already invoiced.",
    )

    # Which charges count in each per-unit quantity: (kinds, unit or None, kinds excluded).
    _HALO_QTY_UNITS = {
        "qty_hours": (TIMED_KINDS, None),
        "qty_km": (("mileage",), "km"),
        "qty_mi": (("mileage",), "mi"),
        "qty_units": (None, None),
    }
    _HALO_COUNTED_KINDS = (*TIMED_KINDS, "mileage")

    def _halo_qty_belongs(self, fname):
        kinds, unit = self._HALO_QTY_UNITS[fname]
        if kinds is None:
            return self.kind not in self._HALO_COUNTED_KINDS
        return self.kind in kinds and (unit is None or self.uom_name == unit)

    @api.depends("kind", "quantity", "uom_name", "state")
    def _compute_qty_per_unit(self):
        for line in self:
            included = line.state == "included"
            for fname in self._HALO_QTY_UNITS:
                line[fname] = line.quantity if included and line._halo_qty_belongs(fname) else 0.0

    @api.depends("amount", "state")
    def _compute_amount_included(self):
        for line in self:
            line.amount_included = line.amount if line.state == "included" else 0.0

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        """Group rows of the preview: the amount and the per-unit quantities of the included
        charges only (an excluded or deferred charge is not billed, so it does not count)."""
        fname, _sep, func = aggregate_spec.partition(":")
        if func != "sum" or (
            fname not in ("amount", "amount_included") and fname not in self._HALO_QTY_UNITS
        ):
            return super()._read_group_select(aggregate_spec, query)
        included = SQL("%s = 'included'", self._field_to_sql(self._table, "state", query))
        if fname in ("amount", "amount_included"):
            return SQL(
                "COALESCE(SUM(%s) FILTER (WHERE %s), 0)",
                self._field_to_sql(self._table, "amount", query),
                included,
            )
        kind = self._field_to_sql(self._table, "kind", query)
        kinds, unit = self._HALO_QTY_UNITS[fname]
        if kinds is None:
            condition = SQL("%s NOT IN %s", kind, self._HALO_COUNTED_KINDS)
        else:
            condition = SQL("%s IN %s", kind, kinds)
        if unit:
            condition = SQL(
                "%s AND %s = %s", condition, self._field_to_sql(self._table, "uom_name", query), unit
            )
        return SQL(
            "COALESCE(SUM(%s) FILTER (WHERE %s AND %s), 0)",
            self._field_to_sql(self._table, "quantity", query),
            included,
            condition,
        )

    @api.depends("kind")
    def _compute_kind_label(self):
        labels = dict(CHARGE_KINDS)
        for line in self:
            line.kind_label = labels.get(line.kind, "")

    # What a billing user may change on a charge of an open run; everything else is the billing
    # engine's (amounts and parts through the adjust wizard, the state through exclude / defer /
    # include, the claim and invoice through the run).
    _halo_user_fields = frozenset({"name", "note"})

    @api.model_create_multi
    def create(self, vals_list):
        # Charges are made by the billing run (previewing) only: a charge made by hand would
        # bill, and mark as invoiced, work it never claimed.
        if not BILLING_ENGINE.is_set(self.env):
            raise AccessError(self.env._("Charges are created by previewing a billing run only."))
        if any(vals.get("credit_note_id") for vals in vals_list):
            raise AccessError(self.env._("Only a credit note of its invoice releases a charge."))
        return super().create(vals_list)

    def write(self, vals):
        if "credit_note_id" in vals:
            raise AccessError(self.env._("Only a credit note of its invoice releases a charge."))
        if not BILLING_ENGINE.is_set(self.env):
            engine_fields = set(vals) - self._halo_user_fields
            if engine_fields:
                raise AccessError(
                    self.env._(
                        "The charges of a billing run change through the run's actions only (exclude, "
                        "defer, include, adjust with a reason); %(fields)s cannot be written directly.",
                        fields=", ".join(sorted(engine_fields)),
                    )
                )
            self._check_run_editable()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_open_or_invoiced(self):
        """A charge of an open run holds its work ("in run"), an invoiced one is the record of
        what was billed: only charges of cancelled runs can be deleted (deleting a run removes
        its charges after releasing them)."""
        for line in self:
            if line.invoice_id or line.run_id.state != "cancelled":
                raise UserError(
                    self.env._(
                        "Charge %(charge)s of billing run %(run)s cannot be deleted; exclude or defer "
                        "it, or cancel the run.",
                        charge=line.name or line.kind_label,
                        run=line.run_id.name,
                    )
                )

    def _compute_repriced(self):
        audited = set(
            self.env["halo.rating.audit"]
            .sudo()
            .search(
                [
                    (
                        "line_id",
                        "in",
                        self.filtered(lambda line: line.res_model == "account.analytic.line").mapped(
                            "res_id"
                        ),
                    ),
                ]
            )
            .line_id.ids
        )
        for line in self:
            line.repriced = line.res_model == "account.analytic.line" and line.res_id in audited

    def _search_repriced(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return NotImplemented
        audited = self.env["halo.rating.audit"].sudo().search([]).line_id.ids
        domain = [("res_model", "=", "account.analytic.line"), ("res_id", "in", audited)]
        return domain if (operator == "=") == value else ["!", *domain]

    def _source(self):
        self.ensure_one()
        return self.env[self.res_model].browse(self.res_id)

    def _check_run_editable(self):
        for line in self:
            if line.run_id.state not in ("draft", "previewed"):
                raise UserError(
                    self.env._(
                        "Billing run %(run)s is %(state)s; its charges can no longer be changed.",
                        run=line.run_id.name,
                        state=dict(line.run_id._fields["state"].selection)[line.run_id.state],
                    )
                )

    def _halo_check_work_not_taken(self):
        """A deferred or excluded charge no longer holds its work: refuse to act on work that
        another run has taken since, or that was invoiced."""
        for line in self.filtered(lambda line: line.state != "included"):
            source = line._source().sudo()
            taken = source.halo_invoice_number or (source.halo_run_id and source.halo_run_id != line.run_id)
            if source.exists() and taken:
                raise UserError(
                    self.env._(
                        "The work of %(charge)s is now in billing run %(run)s (or invoiced); change it there.",
                        charge=line.name or line.kind_label,
                        run=source.halo_run_id.name or source.halo_invoice_number,
                    )
                )

    def action_exclude(self):
        """Write the charge off: not billed in this run, and its work marked not billable."""
        self._check_run_editable()
        self = self.filtered(lambda line: line.state != "excluded")  # noqa: PLW0642
        self._halo_check_work_not_taken()
        self.run_id._halo_release_lines(self, "excluded")
        for model, lines in self.grouped("res_model").items():
            sources = BILLING_ENGINE.on(self.env[model].browse(lines.mapped("res_id")))
            if model == "account.analytic.line":
                sources.sudo().write({"halo_billable": "not_billable"})
            elif "billable" in sources._fields:
                sources.sudo().write({"billable": False})
        for run, lines in self.grouped("run_id").items():
            run.message_post(
                body=self.env._(
                    "Excluded (not billable any more): %(charges)s",
                    charges=", ".join(lines.mapped(lambda line: line.name or line.kind_label)),
                )
            )
        return True

    def action_defer(self):
        """Leave the charge for a later run: its work goes back to unbilled."""
        self._check_run_editable()
        self = self.filtered(lambda line: line.state == "included")  # noqa: PLW0642
        self.run_id._halo_release_lines(self, "deferred")
        for run, lines in self.grouped("run_id").items():
            run.message_post(
                body=self.env._(
                    "Deferred to a later run: %(charges)s",
                    charges=", ".join(lines.mapped(lambda line: line.name or line.kind_label)),
                )
            )
        return True

    def action_include(self):
        """Take a deferred charge back into this run (if its work is still free)."""
        self._check_run_editable()
        for run, lines in self.grouped("run_id").items():
            run._halo_claim_lines(lines.filtered(lambda line: line.state == "deferred"))
        return True

    def action_halo_adjust(self):
        """The run's *Adjust* button: the adjust wizard on this charge (a reason is asked for)."""
        self.ensure_one()
        self._check_run_editable()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "halo_helpdesk_billing.halo_billing_adjust_action"
        )
        action["context"] = {"active_model": self._name, "active_id": self.id, "active_ids": self.ids}
        return action

    def _halo_adjust(self, amount, reason):
        """Set the amount of a charge by hand; the reason is kept on the charge and the run."""
        self._check_run_editable()
        if not reason:
            raise UserError(self.env._("Give a reason for the price adjustment."))
        if amount < 0:
            raise UserError(self.env._("An adjusted amount cannot be negative; use a credit note."))
        for line in self:
            old = line.amount
            quantity = line.quantity or 1.0
            # what a contract covers stays covered (and consumed at invoicing); the adjusted
            # amount is what the customer pays on top of it
            parts, covered = charges.adjusted_parts(
                [charges.Part.from_json(part) for part in line.parts or []],
                line.kind,
                amount,
                quantity,
                line.contract_id.id,
                self.env._("adjusted"),
            )
            kept = ""
            if covered:
                kept = self.env._(
                    " (covered by the contract and unchanged: %(covered)s)",
                    covered="; ".join(part.label or part.coverage for part in covered),
                )
            BILLING_ENGINE.on(line).write(
                {
                    "amount": amount,
                    "unit_price": amount / quantity,
                    "price_adjusted": True,
                    "adjust_reason": reason,
                    "parts": [part.to_json() for part in parts],
                    "explanation": self.env._(
                        "%(old_explanation)s\nAdjusted by %(user)s from %(old)s to %(new)s%(kept)s: %(reason)s",
                        old_explanation=line.explanation or "",
                        user=self.env.user.name,
                        old=line.currency_id.format(old),
                        new=line.currency_id.format(amount),
                        reason=reason,
                        kept=kept,
                    ),
                }
            )
            line.run_id.message_post(
                body=self.env._(
                    "Price of %(charge)s adjusted from %(old)s to %(new)s by %(user)s: %(reason)s",
                    charge=line.name or line.kind_label,
                    old=line.currency_id.format(old),
                    new=line.currency_id.format(amount),
                    user=self.env.user.name,
                    reason=reason,
                )
            )
        return True

    # ------------------------------------------------------------------ contract coverage
    def _halo_contract_parts(self):
        """Consuming allocation parts held by these charges, from their invoice ``parts``:
        entries whose ``coverage`` is included / prepay_hours / prepay_money, with their
        ``contract_id``, ``hours`` (else ``quantity``) and ``value`` (the money a
        prepay_money part takes from the balance, as returned by ``_halo_allocate_charges``)."""
        result = []
        for line in self:
            for part in line.parts or []:
                mode = part.get("coverage")
                if mode not in CONSUMING_MODES or not part.get("contract_id"):
                    continue
                money = part.get("value", part.get("contract_amount"))
                if mode == "prepay_money" and money is None:
                    _logger.warning(
                        "Run line %s: prepay_money part without 'value'; no money consumed", line.id
                    )
                hours = part.get("hours")
                if hours is None:
                    hours = part.get("quantity") or 0.0
                result.append(
                    {
                        "run_line": line,
                        "contract_id": part["contract_id"],
                        "mode": mode,
                        "hours": hours,
                        # balance hours drawn (work hours × the consumption multiplier)
                        "consumed": part.get("consumed", hours),
                        "amount": money or 0.0,
                        "explanation": part.get("label") or line.name,
                    }
                )
        return result
