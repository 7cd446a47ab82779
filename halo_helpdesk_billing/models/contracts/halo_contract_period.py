# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER


class HaloContractPeriod(models.Model):
    """A period of a contract's fixed fee or of one of its recurring items that has been
    invoiced. The unique index makes periodic invoicing idempotent: a period can be
    invoiced once, however often the scheduled action runs. A period whose invoice was
    credited in full keeps its row (with the credit note) and no longer holds the period,
    which is then invoiced again."""

    _name = "halo.contract.period"
    _description = "Invoiced Contract Period"
    _order = "contract_id, date_start desc, id desc"
    _check_company_auto = True

    contract_id = fields.Many2one(comodel_name="halo.contract", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
    recurring_line_id = fields.Many2one(
        comodel_name="halo.contract.recurring.line",
        string="Recurring Item",
        index="btree_not_null",
        ondelete="cascade",
    )
    kind = fields.Selection(selection=[("fee", "Fixed fee"), ("recurring", "Recurring item")], required=True)
    date_start = fields.Date(required=True)
    date_end = fields.Date(required=True)
    period_end = fields.Date(
        required=True, help="End of the full billing period (the next one starts the day after)."
    )
    invoice_date = fields.Date(required=True)
    product_id = fields.Many2one(comodel_name="product.product")
    name = fields.Char()
    quantity = fields.Float(digits=(16, 4))
    factor = fields.Float(
        string="Proration",
        digits=(16, 6),
        default=1.0,
        help="Share of the full period billed (days billed / days in the period).",
    )
    price_unit = fields.Monetary(currency_field="currency_id", groups=BILLING_USER)
    device_count = fields.Integer(help="Active devices counted on the invoice date.")
    move_id = fields.Many2one(
        comodel_name="account.move", string="Invoice", index="btree_not_null", ondelete="set null"
    )

    credit_note_id = fields.Many2one(
        comodel_name="account.move",
        string="Credited By",
        index="btree_not_null",
        ondelete="restrict",
        readonly=True,
        copy=False,
        help="The credit note that credited this period in full (it is invoiced again).",
    )

    _unique_period = models.UniqueIndex(
        "(contract_id, COALESCE(recurring_line_id, 0), date_start) WHERE credit_note_id IS NULL",
        "This contract period was already invoiced.",
    )

    def _halo_check_credit_note(self, vals_list):
        if not self.env.su and any("credit_note_id" in vals for vals in vals_list):
            raise AccessError(self.env._("Only a credit note of its invoice releases a contract period."))

    @api.model_create_multi
    def create(self, vals_list):
        self._halo_check_credit_note(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        self._halo_check_credit_note([vals])
        return super().write(vals)
