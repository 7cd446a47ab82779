# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"


class HaloBillingRun(models.Model):
    """The month-end moment: gather unbilled work up to a cut-off date, preview it per
    customer with explanations, exclude/defer/adjust, then create customer invoices."""

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
    line_count = fields.Integer(compute="_compute_totals")
    invoice_count = fields.Integer(compute="_compute_totals")
    amount_total = fields.Monetary(
        string="Total to Invoice", compute="_compute_totals", groups=BILLING_USER
    )

    @api.depends("line_ids.amount", "line_ids.state", "invoice_ids")
    def _compute_totals(self):
        totals = {
            (run.id, state): (count, amount)
            for run, state, count, amount in self.env["halo.billing.run.line"]._read_group(
                [("run_id", "in", self.ids)], ["run_id", "state"], ["__count", "amount:sum"]
            )
        }
        for run in self:
            count, amount = totals.get((run.id, "included"), (0, 0.0))
            run.line_count = count
            run.amount_total = amount
            run.invoice_count = len(run.invoice_ids)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("halo.billing.run") or "/"
        return super().create(vals_list)
