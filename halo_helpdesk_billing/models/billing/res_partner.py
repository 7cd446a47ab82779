# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER, BILLING_USER

from .res_company import (
    INVOICE_GROUPINGS,
    INVOICE_LAYOUTS,
    ROUNDING_SCOPES,
    check_line_template_editor,
    check_line_templates,
)


class ResPartner(models.Model):
    _inherit = "res.partner"

    halo_calendar_id = fields.Many2one(
        comodel_name="resource.calendar",
        company_dependent=True,
        string="Working Hours",
        help="Customer's working hours and public holidays for out-of-hours rating; "
        "empty = the company's working hours.",
    )
    halo_rounding_scope = fields.Selection(
        selection=ROUNDING_SCOPES,
        string="Rounding Scope",
        company_dependent=True,
        help="Empty = the company's setting.",
    )
    # Company-dependent fields are not copied by default: these are, as before (the current
    # company's value). Odoo 19 cannot make a Monetary company-dependent: a Float with a currency's 2 digits,
    # shown with the monetary widget; the amount is in the customer's billing currency of
    # the same company (itself per company), else in that company's currency.
    halo_mileage_price = fields.Float(
        string="Mileage Price",
        digits=(16, 2),
        groups=BILLING_USER,
        company_dependent=True,
        copy=True,
        help="Price per distance unit for this customer, in its billing currency for the current "
        "company (empty = the company's currency); 0 = the company's price. Per company.",
    )
    halo_mileage_unit = fields.Selection(
        selection=[("km", "per km"), ("mi", "per mile")],
        string="Mileage Price per",
        groups=BILLING_USER,
        company_dependent=True,
        copy=True,
        help="The distance unit of this customer's mileage price (empty = per km): trips recorded "
        "in the other unit are converted (1 mi = 1.609344 km) before they are priced. Per company.",
    )
    halo_mileage_surcharge = fields.Float(
        string="Surcharge per Trip",
        digits=(16, 2),
        groups=BILLING_USER,
        company_dependent=True,
        copy=True,
        help="In the same currency as the mileage price; 0 = the company's surcharge. Per company.",
    )
    halo_expense_markup_custom = fields.Boolean(
        string="Own Expense Markup",
        groups=BILLING_USER,
        company_dependent=True,
        help="Use this customer's markup instead of the company's.",
    )
    halo_expense_markup = fields.Float(
        string="Expense Markup (%)", groups=BILLING_USER, company_dependent=True
    )
    halo_default_rate_id = fields.Many2one(
        comodel_name="halo.charge.rate",
        string="Default Charge Rate",
        company_dependent=True,
        domain=[("kind", "=", "labour")],
        help="Charge rate of new actions on this customer's tickets when no contract sets one "
        "(before the team's and the company's). Per company.",
    )
    halo_invoice_grouping = fields.Selection(
        selection=INVOICE_GROUPINGS,
        string="Invoice Grouping",
        company_dependent=True,
        help="Empty = the company's setting.",
    )
    halo_invoice_layout = fields.Selection(
        selection=INVOICE_LAYOUTS,
        string="Invoice Layout",
        company_dependent=True,
        help="Empty = the company's setting.",
    )
    halo_line_template = fields.Text(
        string="Invoice Line Template",
        company_dependent=True,
        copy=True,
        help="Empty = the company's template. Only Billing Managers may change it. Per company.",
    )
    halo_invoice_report = fields.Selection(
        selection=[
            ("helpdesk", "Helpdesk layout (sections per ticket)"),
            ("standard", "Standard Odoo invoice"),
        ],
        string="Invoice PDF",
        company_dependent=True,
        copy=True,
        help="Layout of this customer's invoice PDFs (branding comes from the company's document "
        "layout); empty = the helpdesk layout. Per company.",
    )
    halo_xlsx_template_id = fields.Many2one(
        comodel_name="halo.xlsx.template",
        string="Excel Invoice Template",
        company_dependent=True,
        copy=True,
        help="When set, every invoice of this customer gets an Excel copy made from this template. "
        "Per company.",
    )
    halo_billing_currency_id = fields.Many2one(
        comodel_name="res.currency",
        string="Billing Currency",
        groups=BILLING_USER,
        company_dependent=True,
        copy=True,
        help="Currency of this customer's billing-run, contract and top-up invoices; empty = the "
        "company's currency. Work is priced from charge-rate versions in this currency, or "
        "converted from the company's at the invoice date's rate. Per company.",
    )
    halo_currency_id = fields.Many2one(comodel_name="res.currency", compute="_compute_halo_currency_id")

    @api.constrains("halo_line_template")
    def _check_halo_line_template(self):
        check_line_templates(self)

    @api.model_create_multi
    def create(self, vals_list):
        check_line_template_editor(self, vals_list)
        return super().create(vals_list)

    def write(self, vals):
        check_line_template_editor(self, [vals])
        return super().write(vals)

    def copy_data(self, default=None):
        """A duplicate keeps the template only when the user may set it (anyone may
        duplicate a contact)."""
        vals_list = super().copy_data(default=default)
        if not (self.env.su or self.env.user.has_group(BILLING_MANAGER)):
            for vals in vals_list:
                if "halo_line_template" not in (default or {}):
                    vals.pop("halo_line_template", None)
        return vals_list

    @api.depends("halo_billing_currency_id", "company_id")
    @api.depends_context("company")
    def _compute_halo_currency_id(self):
        """The currency of this customer's own prices (mileage, surcharge) for the current
        company: its billing currency there."""
        for partner in self:
            partner.halo_currency_id = partner._halo_billing_currency(self.env.company)

    def _halo_billing_currency(self, company=None):
        """Currency this customer is invoiced in by ``company`` (default: its own or the current)."""
        self.ensure_one()
        company = company or self.company_id or self.env.company
        return (
            self.commercial_partner_id.sudo().with_company(company).halo_billing_currency_id
            or company.currency_id
        )
