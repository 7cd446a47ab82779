# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER, BILLING_USER, RERATABLE_STATES


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

    type_id = fields.Many2one(comodel_name="halo.expense.type", required=True)
    description = fields.Char()
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        required=True,
        default=lambda self: self.env.company.currency_id,
    )
    amount = fields.Monetary(
        string="Amount Paid",
        currency_field="currency_id",
        groups=BILLING_USER,
        help="What was paid, taxes included, in the expense's currency.",
    )
    amount_entry = fields.Monetary(
        string="Amount",
        currency_field="currency_id",
        compute="_compute_amount_entry",
        inverse="_inverse_amount_entry",
        help="Amount paid, taxes included. Once saved it is shown back to whoever recorded it "
        "and to billing staff only.",
    )
    halo_own_entry = fields.Boolean(
        compute="_compute_amount_entry",
        help="The expense was recorded by the current user (who may see what they paid).",
    )
    tax_ids = fields.Many2many(
        comodel_name="account.tax",
        string="Taxes Paid",
        check_company=True,
        domain=[("type_tax_use", "=", "purchase")],
        help="Taxes included in the amount paid (reclaimable taxes are not re-billed).",
    )
    receipt = fields.Binary(attachment=True)
    receipt_filename = fields.Char()
    halo_amount = fields.Monetary(
        string="Billed Amount",
        currency_field="halo_amount_currency_id",
        readonly=True,
        copy=False,
        groups=BILLING_USER,
    )
    halo_amount_currency_id = fields.Many2one(
        comodel_name="res.currency",
        string="Billing Currency",
        readonly=True,
        copy=False,
        help="Currency of the billed amount (the customer's billing currency).",
    )
    halo_cost = fields.Monetary(
        string="Cost",
        currency_field="company_currency_id",
        readonly=True,
        copy=False,
        groups=BILLING_MANAGER,
        help="What the expense cost the company: the amount paid less its reclaimable taxes, in "
        "the company's currency at the rate of its date.",
    )
    # Markup and surcharge fixed when the expense is recorded (a later change does not re-price it)
    halo_price_fixed = fields.Boolean(readonly=True, copy=False, groups=BILLING_USER)
    halo_markup = fields.Float(string="Markup (%) (fixed)", readonly=True, copy=False, groups=BILLING_USER)
    halo_type_surcharge = fields.Float(
        string="Surcharge (fixed)",
        digits=(16, 4),
        readonly=True,
        copy=False,
        groups=BILLING_USER,
        help="In the company's currency.",
    )
    company_currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    halo_explanation = fields.Text(string="Rating", readonly=True, copy=False, groups=BILLING_USER)

    @api.model_create_multi
    def create(self, vals_list):
        expenses = super().create(vals_list)
        expenses._halo_fix_price()
        return expenses

    def write(self, vals):
        result = super().write(vals)
        if {"ticket_id", "type_id"}.intersection(vals):
            self._halo_fix_price()
        elif {"amount", "amount_entry", "tax_ids", "currency_id", "date", "billable"}.intersection(vals):
            self.env["halo.rating"]._halo_rate_recorded(self)
        return result

    def _halo_fix_price(self):
        """Fix the markup and surcharge in force now on the unbilled expenses, and price them."""
        Rating = self.env["halo.rating"]
        expenses = self.sudo().filtered(lambda e: e.halo_billing_state in RERATABLE_STATES)
        for expense in expenses:
            markup, surcharge = Rating._halo_expense_settings(
                expense.partner_id, expense.company_id, expense.type_id
            )
            expense.write(
                {
                    "halo_price_fixed": True,
                    "halo_markup": float(markup),
                    "halo_type_surcharge": float(surcharge),
                }
            )
        Rating._halo_rate_recorded(expenses)

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
