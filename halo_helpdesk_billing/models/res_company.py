# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"

INVOICE_GROUPINGS = [
    ("customer", "One invoice per customer"),
    ("contract", "One invoice per contract"),
    ("ticket", "One invoice per ticket"),
]
INVOICE_LAYOUTS = [
    ("itemised", "Itemised (a line per action)"),
    ("summary_ticket", "Summarised per ticket"),
    ("summary_invoice", "Summarised per invoice"),
]
DEFAULT_LINE_TEMPLATE = (
    "{{ object.ticket_id.number or '' }} {{ object.ticket_id.name or '' }} - "
    "{{ object.kind_label }}{{ object.date and (' ' + str(object.date)) or '' }}"
    "{{ object.user_id and (' - ' + object.user_id.name) or '' }}: {{ object.name or '' }}"
)

ROUNDING_SCOPES = [
    ("action", "Per action"),
    ("ticket_day", "Per ticket per day"),
    ("ticket", "Per ticket"),
]


class ResCompany(models.Model):
    _inherit = "res.company"

    halo_default_project_id = fields.Many2one(
        comodel_name="project.project",
        string="Default Timesheet Project",
        help="Project of ticket actions when the ticket's team has none.",
    )
    halo_default_rate_id = fields.Many2one(
        comodel_name="halo.charge.rate", string="Default Labour Rate",
        domain=[("kind", "=", "labour")],
    )
    halo_default_travel_rate_id = fields.Many2one(
        comodel_name="halo.charge.rate", string="Default Travel Rate",
        domain=[("kind", "=", "travel")],
    )
    halo_rounding_scope = fields.Selection(
        selection=ROUNDING_SCOPES, string="Rounding Scope", default="action", required=True,
        help="Where minimum billing time and increments apply: to each action, to the "
        "actions of a ticket on one day, or to all actions of a ticket in a billing run.",
    )
    halo_distance_unit = fields.Selection(
        selection=[("km", "km"), ("mi", "mi")], string="Distance Unit", default="km"
    )
    halo_mileage_price_km = fields.Monetary(
        string="Mileage Price per km", currency_field="currency_id", groups=BILLING_USER
    )
    halo_mileage_price_mi = fields.Monetary(
        string="Mileage Price per mi", currency_field="currency_id", groups=BILLING_USER
    )
    halo_mileage_surcharge = fields.Monetary(
        string="Surcharge per Trip", currency_field="currency_id", groups=BILLING_USER
    )
    halo_expense_markup = fields.Float(
        string="Expense Markup (%)", groups=BILLING_USER,
        help="Expenses are billed at cost plus this percentage.",
    )
    halo_invoice_grouping = fields.Selection(
        selection=INVOICE_GROUPINGS, string="Invoice Grouping", default="customer", required=True
    )
    halo_invoice_layout = fields.Selection(
        selection=INVOICE_LAYOUTS, string="Invoice Layout", default="itemised", required=True
    )
    halo_line_template = fields.Text(
        string="Invoice Line Template", default=DEFAULT_LINE_TEMPLATE,
        help="Description of itemised invoice lines, rendered with Odoo's inline template "
        "engine; `object` is the billing-run charge (object.ticket_id, object.user_id, "
        "object.rate_id, object.date, object.name, object.note, object.kind_label...).",
    )
    halo_post_invoices = fields.Boolean(
        string="Post Invoices of Billing Runs", default=True,
        help="Post the invoices a billing run creates, so that their numbers are recorded "
        "against the tickets at once. Off: invoices stay drafts; numbers are recorded "
        "when they are posted.",
    )
    halo_allow_negative_issue = fields.Boolean(
        string="Issue Items Without Stock",
        help="Allow technicians to issue more catalogue items than the stock on hand.",
    )
