# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER, BILLING_USER

from ...services import line_template

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
        comodel_name="halo.charge.rate",
        string="Default Labour Rate",
        domain=[("kind", "=", "labour")],
    )
    halo_default_travel_rate_id = fields.Many2one(
        comodel_name="halo.charge.rate",
        string="Default Travel Rate",
        domain=[("kind", "=", "travel")],
    )
    halo_rounding_scope = fields.Selection(
        selection=ROUNDING_SCOPES,
        string="Rounding Scope",
        default="action",
        required=True,
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
        string="Expense Markup (%)",
        groups=BILLING_USER,
        help="Expenses are billed at cost plus this percentage.",
    )
    halo_invoice_grouping = fields.Selection(
        selection=INVOICE_GROUPINGS, string="Invoice Grouping", default="customer", required=True
    )
    halo_invoice_layout = fields.Selection(
        selection=INVOICE_LAYOUTS, string="Invoice Layout", default="itemised", required=True
    )
    halo_line_template = fields.Text(
        string="Invoice Line Template",
        default=DEFAULT_LINE_TEMPLATE,
        help="Description of itemised invoice lines: text with placeholders such as "
        "{{ object.ticket_id.number }} or {{ object.rate_id.name ||| no rate }}; `object` is "
        "the billing-run charge (name, note, date, kind_label, quantity, uom_name, explanation, "
        "ticket_id.number / .name, user_id.name, rate_id.name, product_id.name / "
        ".default_code, contract_id.name / .reference, partner_id.name / .ref). Placeholders "
        "only read these fields; only Billing Managers may change the template.",
    )
    halo_pdf_explanation = fields.Boolean(
        string="Print Pricing Explanations",
        help="Print under each line of the helpdesk invoice PDF how it was priced (minimum, "
        "increments, out-of-hours and holiday multipliers, the price in force), as the billing "
        "run explained it. Lines added or edited by hand, and summarised lines, have none.",
    )
    halo_post_invoices = fields.Boolean(
        string="Post Invoices of Billing Runs",
        default=True,
        help="Post the invoices a billing run creates, so that their numbers are recorded "
        "against the tickets at once. Off: invoices stay drafts; numbers are recorded "
        "when they are posted.",
    )
    halo_allow_negative_issue = fields.Boolean(
        string="Issue Items Without Stock",
        help="Allow technicians to issue more catalogue items than the stock on hand.",
    )

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


def line_template_message(env, err):
    """The translated text of a :class:`line_template.TemplateError`."""
    params = dict(err.params)
    expression = params.get("expression", "")
    messages = {
        "length": lambda: env._(
            "The template is too long (at most %(limit)s characters).", limit=params.get("limit")
        ),
        "syntax": lambda: env._(
            "{{ %(expression)s }} cannot be read (%(detail)s).",
            expression=expression,
            detail=params.get("detail", ""),
        ),
        "complex": lambda: env._("{{ %(expression)s }} is too complex.", expression=expression),
        "construct": lambda: env._(
            "{{ %(expression)s }} uses a %(construct)s; placeholders only read fields of the "
            "charge, joined with +, and, or, if / else.",
            expression=expression,
            construct=params.get("construct", ""),
        ),
        "method": lambda: env._(
            "{{ %(expression)s }} calls a method; placeholders only read fields of the charge.",
            expression=expression,
        ),
        "function": lambda: env._(
            "{{ %(expression)s }} calls %(name)s(); only str() and format_date() can be used.",
            expression=expression,
            name=params.get("name", ""),
        ),
        "arguments": lambda: env._(
            "{{ %(expression)s }}: %(name)s() takes exactly one value.",
            expression=expression,
            name=params.get("name", ""),
        ),
        "private": lambda: env._(
            "{{ %(expression)s }} uses the private name %(name)s.",
            expression=expression,
            name=params.get("name", ""),
        ),
        "name": lambda: env._(
            "{{ %(expression)s }} uses %(name)s; placeholders start with object (the charge).",
            expression=expression,
            name=params.get("name", ""),
        ),
        "field": lambda: env._(
            "{{ %(expression)s }}: %(name)s is not a field a template can read.",
            expression=expression,
            name=params.get("name", ""),
        ),
        "record": lambda: env._(
            "{{ %(expression)s }} gives a record, not a value: name one of its fields "
            "(for example object.user_id.name).",
            expression=expression,
        ),
        "join": lambda: env._(
            "{{ %(expression)s }} joins something that is not text with +; use str().", expression=expression
        ),
    }
    return messages.get(err.code, lambda: str(err))()


def check_line_templates(records):
    """Save-time check of ``halo_line_template`` on partners and companies."""
    for record in records:
        try:
            line_template.check(record.halo_line_template)
        except line_template.TemplateError as err:
            raise ValidationError(
                record.env._(
                    "The invoice line template of %(record)s cannot be saved: %(error)s",
                    record=record.display_name,
                    error=line_template_message(record.env, err),
                )
            ) from err


def check_line_template_editor(records, vals_list):
    """Only Billing Managers change invoice line templates (they decide what customers read
    on their invoices); the superuser (data files, upgrades) may as well."""
    env = records.env
    if not any("halo_line_template" in vals for vals in vals_list):
        return
    if env.su or env.user.has_group(BILLING_MANAGER):
        return
    for vals in vals_list:
        if "halo_line_template" not in vals:
            continue
        new = vals["halo_line_template"] or False
        if records and all((record.halo_line_template or False) == new for record in records):
            continue
        if not records and not new:
            continue
        raise AccessError(env._("Only Billing Managers can change invoice line templates."))
