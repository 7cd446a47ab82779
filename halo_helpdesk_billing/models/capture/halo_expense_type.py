# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER


class HaloExpenseType(models.Model):
    """Kinds of expenses a technician can record (toll, congestion charge, parking...)."""

    _name = "halo.expense.type"
    _description = "Helpdesk Expense Type"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char()
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(comodel_name="res.company")
    product_id = fields.Many2one(
        comodel_name="product.product",
        string="Invoice Product",
        help="Product of the invoice line (taxes, income account, Xero item). "
        "Defaults to the company's expense product.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency", default=lambda self: self.env.company.currency_id
    )
    surcharge = fields.Monetary(help="Added to each billed expense of this type.", groups=BILLING_USER)
