# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    halo_xero_summary = fields.Char(
        string="Xero",
        compute="_compute_halo_xero_summary",
        compute_sudo=True,
        help="Xero number and status of the ticket's invoices.",
    )

    def _compute_halo_xero_summary(self):
        for ticket in self:
            parts = [
                "%s: %s (%s)"
                % (
                    move.name,
                    move.halo_xero_number or "-",
                    move.halo_xero_status
                    or dict(move._fields["halo_xero_state"].selection).get(move.halo_xero_state),
                )
                for move in ticket.halo_invoice_ids
                if move.halo_xero_state != "not_queued"
            ]
            ticket.halo_xero_summary = ", ".join(parts) or False
