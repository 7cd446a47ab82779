# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"

CHARGE_KINDS = [
    ("labour", "Labour"),
    ("travel", "Travel time"),
    ("mileage", "Mileage"),
    ("expense", "Expense"),
    ("item", "Item"),
    ("recurring", "Recurring"),
    ("contract_fee", "Contract fee"),
    ("prepay", "Prepay consumption"),
]


class HaloBillingRunLine(models.Model):
    """One charge of a billing run, pointing at the work it bills (``res_model``/``res_id``).

    The database enforces that a piece of work is claimed by at most one charge that is
    included in an open run or invoiced (partial unique index on ``claim_key``).
    """

    _name = "halo.billing.run.line"
    _description = "Helpdesk Billing Run Charge"
    _order = "run_id, partner_id, ticket_id, date, id"
    _check_company_auto = True

    run_id = fields.Many2one(
        comodel_name="halo.billing.run", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    currency_id = fields.Many2one(related="run_id.currency_id")
    partner_id = fields.Many2one(comodel_name="res.partner", string="Customer", required=True, index=True)
    ticket_id = fields.Many2one(comodel_name="helpdesk.ticket", index="btree_not_null")
    kind = fields.Selection(selection=CHARGE_KINDS, required=True)
    res_model = fields.Char(string="Source Model", required=True)
    res_id = fields.Integer(string="Source Record", required=True)
    claim_key = fields.Char(
        copy=False, readonly=True,
        help="Set while the charge holds its source (included in an open run, or invoiced).",
    )
    date = fields.Date()
    user_id = fields.Many2one(comodel_name="res.users", string="Technician")
    rate_id = fields.Many2one(comodel_name="halo.charge.rate", string="Charge Rate")
    product_id = fields.Many2one(comodel_name="product.product")
    name = fields.Text(string="Description")
    quantity = fields.Float(digits=(16, 4))
    unit_price = fields.Monetary(groups=BILLING_USER)
    amount = fields.Monetary(groups=BILLING_USER)
    explanation = fields.Text(groups=BILLING_USER)
    state = fields.Selection(
        selection=[
            ("included", "Included"),
            ("excluded", "Excluded"),
            ("deferred", "Deferred"),
        ],
        default="included", required=True,
    )
    price_adjusted = fields.Boolean(readonly=True)
    adjust_reason = fields.Char(string="Adjustment Reason")
    invoice_line_id = fields.Many2one(comodel_name="account.move.line", readonly=True, copy=False)
    invoice_id = fields.Many2one(related="invoice_line_id.move_id", store=True, string="Invoice")

    _unique_claim = models.UniqueIndex(
        "(claim_key) WHERE claim_key IS NOT NULL",
        "This work is already in another open billing run or was already invoiced.",
    )
