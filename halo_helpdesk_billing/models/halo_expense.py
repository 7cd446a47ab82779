# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"


class HaloExpense(models.Model):
    """An expense paid for a ticket (toll, congestion charge, parking, meal, fuel...).

    A technician records the amount through ``amount_entry`` (write-only for them); only
    billing groups can read ``amount``.
    """

    _name = "halo.expense"
    _description = "Helpdesk Expense"
    _inherit = ["halo.ticket.work.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True

    type_id = fields.Many2one(comodel_name="halo.expense.type", string="Type", required=True)
    description = fields.Char()
    currency_id = fields.Many2one(
        comodel_name="res.currency", required=True,
        default=lambda self: self.env.company.currency_id,
    )
    amount = fields.Monetary(
        string="Amount Paid", currency_field="currency_id", groups=BILLING_USER,
        help="What was paid, taxes included, in the expense's currency.",
    )
    amount_entry = fields.Monetary(
        string="Amount", currency_field="currency_id",
        compute="_compute_amount_entry", inverse="_inverse_amount_entry",
        help="Amount paid, taxes included. Once saved it is shown back to whoever recorded it "
        "and to billing staff only.",
    )
    halo_own_entry = fields.Boolean(
        compute="_compute_amount_entry",
        help="The expense was recorded by the current user (who may see what they paid).",
    )
    tax_ids = fields.Many2many(
        comodel_name="account.tax", string="Taxes Paid", check_company=True,
        domain=[("type_tax_use", "=", "purchase")],
        help="Taxes included in the amount paid (reclaimable taxes are not re-billed).",
    )
    receipt = fields.Binary(attachment=True)
    receipt_filename = fields.Char()
    halo_amount = fields.Monetary(
        string="Billed Amount", currency_field="company_currency_id", readonly=True,
        copy=False, groups=BILLING_USER,
    )
    company_currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    halo_explanation = fields.Text(
        string="Rating", readonly=True, copy=False, groups=BILLING_USER
    )

    @api.depends_context("uid")
    def _compute_amount_entry(self):
        # what they paid is shown back to whoever recorded the expense (and to billing staff),
        # never to other technicians; the billed amount (markup, surcharge) stays hidden
        staff = self.env.su or self.env.user.has_group(BILLING_USER)
        for expense in self:
            own = expense.user_id == self.env.user
            expense.halo_own_entry = own
            expense.amount_entry = expense.sudo().amount if (own or staff) and expense.id else 0.0

    def _inverse_amount_entry(self):
        for expense in self:
            if expense.amount_entry < 0:
                raise ValidationError(self.env._("An expense amount cannot be negative."))
            expense.sudo().amount = expense.amount_entry

    @api.constrains("amount")
    def _check_amount(self):
        for expense in self.sudo():
            if expense.amount < 0:
                raise ValidationError(self.env._("An expense amount cannot be negative."))

    @api.depends("ticket_id", "type_id", "date")
    def _compute_display_name(self):
        for expense in self:
            expense.display_name = self.env._(
                "%(ticket)s: %(type)s on %(date)s",
                ticket=expense.ticket_id.number or "",
                type=expense.type_id.name or "",
                date=expense.date,
            )
