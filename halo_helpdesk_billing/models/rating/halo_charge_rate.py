# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER


class HaloChargeRate(models.Model):
    """A kind of billable time (Remote support, On-site, Travel, Emergency...).

    Prices live on effective-dated versions (``halo.charge.rate.version``): global
    versions, overridden per customer and per contract.
    """

    _name = "halo.charge.rate"
    _description = "Helpdesk Charge Rate"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True, tracking=True)
    code = fields.Char(help="Short code shown in lists and exports.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        help="Leave empty to share the rate between companies.",
    )
    kind = fields.Selection(
        selection=[("labour", "Labour"), ("travel", "Travel time")],
        required=True,
        default="labour",
        help="Travel rates are offered for travel time; labour rates for actions.",
    )
    product_id = fields.Many2one(
        comodel_name="product.product",
        string="Service Product",
        required=True,
        check_company=True,
        domain=[("type", "=", "service")],
        help="Invoice lines of this rate use this product (and, through it, "
        "its taxes, income account and Xero item).",
    )
    consumption_multiplier = fields.Float(
        string="Consumption ×",
        default=1.0,
        digits=(6, 3),
        help="Prepaid and included hours drawn per hour of work at this rate (1.5: an hour "
        "on site uses 1.5 hours of a contract's balance); multiplies the contract's.",
    )
    version_ids = fields.One2many(
        comodel_name="halo.charge.rate.version",
        inverse_name="rate_id",
        string="Versions",
        context={"active_test": False},
    )
    global_version_ids = fields.One2many(
        comodel_name="halo.charge.rate.version",
        inverse_name="rate_id",
        string="Global Versions",
        domain=[("partner_id", "=", False)],
    )
    current_price = fields.Monetary(
        compute="_compute_current_price",
        currency_field="currency_id",
        groups=BILLING_USER,
        help="Global hourly price in force today.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_current_price",
    )
    version_count = fields.Integer(compute="_compute_version_count")

    _consumption_positive = models.Constraint(
        "CHECK (consumption_multiplier > 0)",
        "The consumption multiplier must be positive.",
    )

    @api.depends("global_version_ids.date_from", "global_version_ids.hourly_price")
    @api.depends_context("company")
    def _compute_current_price(self):
        today = fields.Date.context_today(self)
        for rate in self:
            version = rate.global_version_ids.filtered(lambda v, today=today: v.date_from <= today).sorted(
                "date_from"
            )[-1:]
            rate.current_price = version.hourly_price
            rate.currency_id = version.currency_id or self.env.company.currency_id

    def _compute_version_count(self):
        counts = dict(
            self.env["halo.charge.rate.version"]._read_group(
                [("rate_id", "in", self.ids)], ["rate_id"], ["__count"]
            )
        )
        for rate in self:
            rate.version_count = counts.get(rate, 0)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used_versions(self):
        """Deleting a rate deletes its versions (in the database): not those that priced billed work."""
        self.with_context(active_test=False).version_ids._unlink_except_used()

    def action_open_versions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "halo_helpdesk_billing.halo_charge_rate_version_action"
        )
        action["domain"] = [("rate_id", "=", self.id)]
        action["context"] = {"default_rate_id": self.id}
        return action
