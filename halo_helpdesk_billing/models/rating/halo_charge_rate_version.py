# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

# Fields whose change must never alter work already rated with the version.
PRICE_FIELDS = {
    "hourly_price",
    "min_minutes",
    "increment_minutes",
    "rounding",
    "ooh_multiplier",
    "holiday_multiplier",
    "surcharge",
    "date_from",
    "rate_id",
    "partner_id",
    "contract_id",
    "currency_id",
}


class HaloChargeRateVersion(models.Model):
    """An effective-dated price of a charge rate.

    The version in force for a piece of work is the one of the most specific level
    (contract, then customer, then global) whose ``date_from`` is on or before the
    work's date. A version that has priced work is never changed: editing its price
    means adding a new version (``action_new_version``).
    """

    _name = "halo.charge.rate.version"
    _description = "Helpdesk Charge Rate Version"
    _inherit = ["mail.thread"]
    _order = "rate_id, partner_id, date_from desc, id desc"
    _check_company_auto = True

    rate_id = fields.Many2one(
        comodel_name="halo.charge.rate",
        required=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="rate_id.company_id", store=True)
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        index="btree_not_null",
        domain=[("is_company", "=", True)],
        help="Set to override the global price for one customer.",
    )
    contract_id = fields.Many2one(
        comodel_name="halo.contract",
        index="btree_not_null",
        ondelete="cascade",
        help="Set to override the price for the work covered by one contract.",
    )
    level = fields.Selection(
        selection=[("global", "Global"), ("customer", "Customer"), ("contract", "Contract")],
        compute="_compute_level",
        store=True,
    )
    date_from = fields.Date(
        string="Effective From",
        required=True,
        default=fields.Date.context_today,
        tracking=True,
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_currency_id",
        store=True,
        readonly=False,
        tracking=True,
        help="Currency of the prices. Customers invoiced in this currency are priced from the "
        "versions in it; a rate without any version in a customer's currency is priced from its "
        "versions in the company's currency, converted at the invoice date's rate.",
    )
    hourly_price = fields.Monetary(
        currency_field="currency_id", required=True, tracking=True, groups=BILLING_USER
    )
    min_minutes = fields.Integer(
        string="Minimum (min)",
        tracking=True,
        groups=BILLING_USER,
        help="Minimum billable time of one rounding group (an action, a ticket-day or a ticket).",
    )
    increment_minutes = fields.Integer(
        string="Increment (min)",
        tracking=True,
        groups=BILLING_USER,
        help="Billable time is rounded to a multiple of this many minutes. 0 = no rounding.",
    )
    rounding = fields.Selection(
        selection=[("up", "Up"), ("nearest", "Nearest"), ("down", "Down")],
        required=True,
        default="up",
        tracking=True,
        groups=BILLING_USER,
    )
    ooh_multiplier = fields.Float(
        string="Out-of-hours ×", default=1.0, digits=(6, 3), tracking=True, groups=BILLING_USER
    )
    holiday_multiplier = fields.Float(
        string="Holiday ×", default=1.0, digits=(6, 3), tracking=True, groups=BILLING_USER
    )
    surcharge = fields.Monetary(
        string="Surcharge per action",
        currency_field="currency_id",
        tracking=True,
        groups=BILLING_USER,
    )
    note = fields.Char()
    active = fields.Boolean(
        default=True, help="Archived versions price no work rated from now on; billed work keeps its price."
    )

    _non_negative = models.Constraint(
        "CHECK (hourly_price >= 0 AND min_minutes >= 0 AND increment_minutes >= 0 "
        "AND ooh_multiplier >= 0 AND holiday_multiplier >= 0 AND surcharge >= 0)",
        "Prices, minutes, multipliers and surcharges cannot be negative.",
    )
    _unique_date = models.UniqueIndex(
        "(rate_id, COALESCE(partner_id, 0), COALESCE(contract_id, 0), COALESCE(currency_id, 0), date_from)",
        "This charge rate already has a version from that date for that customer in that currency.",
    )

    @api.depends("partner_id", "contract_id")
    def _compute_level(self):
        for version in self:
            if version.contract_id:
                version.level = "contract"
            else:
                version.level = "customer" if version.partner_id else "global"

    @api.onchange("contract_id")
    def _onchange_contract_id(self):
        if self.contract_id:
            self.partner_id = self.contract_id.partner_id

    @api.model
    def _halo_contract_partner_vals(self, vals):
        """A contract override belongs to the contract's customer."""
        if vals.get("contract_id"):
            contract = self.env["halo.contract"].browse(vals["contract_id"])
            vals = dict(vals, partner_id=contract.partner_id.id)
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        return super().create([self._halo_contract_partner_vals(vals) for vals in vals_list])

    @api.depends("company_id")
    def _compute_currency_id(self):
        for version in self:
            if not version.currency_id:
                version.currency_id = (version.company_id or self.env.company).currency_id

    @api.depends("rate_id", "level", "date_from", "partner_id")
    def _compute_display_name(self):
        for version in self:
            who = version.partner_id.display_name if version.partner_id else self.env._("global")
            version.display_name = self.env._(
                "%(rate)s (%(who)s) from %(date)s",
                rate=version.rate_id.name or "",
                who=who,
                date=version.date_from or "",
            )

    @api.constrains("rounding", "increment_minutes")
    def _check_rounding(self):
        for version in self:
            if version.rounding != "up" and not version.increment_minutes:
                raise ValidationError(
                    self.env._(
                        "Version %(name)s: rounding %(mode)s needs an increment.",
                        name=version.display_name,
                        mode=version.rounding,
                    )
                )

    def write(self, vals):
        vals = self._halo_contract_partner_vals(vals)
        if PRICE_FIELDS.intersection(vals):
            used = self._halo_used_versions()
            if used:
                raise UserError(
                    self.env._(
                        "Version %(name)s has already priced billed work. Add a new version "
                        "with its own effective date instead (button 'New version'); work keeps "
                        "the price in force on its date.",
                        name=used[0].display_name,
                    )
                )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        """A version that priced billed work stays: that work (and its rating audit) refers to it."""
        used = self._halo_used_versions()
        if used:
            raise UserError(
                self.env._(
                    "Version %(name)s has already priced billed work and cannot be deleted; archive it "
                    "instead (work keeps the price in force on its date).",
                    name=used[0].display_name,
                )
            )

    def _halo_used_versions(self):
        """Versions that priced work which is in a billing run or invoiced."""
        if not self.ids:
            return self.browse()
        used = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                [
                    ("halo_rate_version_id", "in", self.ids),
                    ("halo_billing_state", "in", ("in_run", "invoiced")),
                ],
                ["halo_rate_version_id"],
            )
        )
        return self.browse([version.id for (version,) in used])

    def action_new_version(self):
        """Copy this version to a new one effective today (or tomorrow if today exists)."""
        self.ensure_one()
        date_from = fields.Date.context_today(self)
        if date_from <= self.date_from:
            date_from = fields.Date.add(self.date_from, days=1)
        new = self.copy({"date_from": date_from})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": new.id,
            "view_mode": "form",
            "target": "current",
        }

    def _to_rating(self):
        """Plain value used by the rating service (``services.rating.RateVersion``)."""
        from ...services import rating

        self.ensure_one()
        return rating.RateVersion(
            rate_id=self.rate_id.id,
            rate_name=self.rate_id.name,
            level=self.level,
            date_from=self.date_from,
            hourly_price=Decimal(str(self.hourly_price)),
            min_minutes=self.min_minutes,
            increment_minutes=self.increment_minutes,
            rounding=self.rounding,
            ooh_multiplier=Decimal(str(self.ooh_multiplier)),
            holiday_multiplier=Decimal(str(self.holiday_multiplier)),
            surcharge=Decimal(str(self.surcharge)),
            version_id=self.id,
        )
