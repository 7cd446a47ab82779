# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.tools import SQL

from .halo_billable_mixin import HaloBillableMixin


class HaloTicketWorkMixin(models.AbstractModel):
    """What mileage, expenses and items recorded on a ticket have in common: the ticket, its
    customer and company, the date, the technician and a billable flag."""

    _name = "halo.ticket.work.mixin"
    _description = "Helpdesk Work Recorded on a Ticket"
    _inherit = ["halo.billable.mixin"]

    ticket_id = fields.Many2one(
        comodel_name="helpdesk.ticket", required=True, index=True, ondelete="restrict"
    )
    company_id = fields.Many2one(related="ticket_id.company_id", store=True, index=True, precompute=True)
    partner_id = fields.Many2one(related="ticket_id.commercial_partner_id", string="Customer", store=True)
    date = fields.Date(required=True, default=fields.Date.context_today)
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Technician",
        required=True,
        default=lambda self: self.env.user,
    )
    billable = fields.Boolean(default=True)

    # ... and the amount and explanation a billing run priced the work at
    _halo_engine_fields = HaloBillableMixin._halo_engine_fields | {"halo_amount", "halo_explanation"}

    @api.depends("halo_run_id", "halo_invoice_number", "billable")
    def _compute_halo_billing_state(self):
        return super()._compute_halo_billing_state()

    def _halo_is_billable(self):
        return self.billable

    @api.model
    def _halo_billable_sql(self):
        return SQL("billable")
