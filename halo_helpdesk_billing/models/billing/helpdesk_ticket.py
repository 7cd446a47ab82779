# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    halo_credited_invoices = fields.Text(
        string="Credited Invoices",
        compute="_compute_halo_credited_invoices",
        compute_sudo=True,
        help="Invoices that billed work of this ticket and were credited in full, with their "
        "credit notes (the work was released for billing again).",
    )

    def _compute_halo_credited_invoices(self):
        history = {ticket.id: set() for ticket in self}
        for model, ticket_field in self._halo_work_models().items():
            for ticket, text in (
                self.env[model]
                .sudo()
                ._read_group(
                    [(ticket_field, "in", self.ids), ("halo_billing_history", "!=", False)],
                    [ticket_field, "halo_billing_history"],
                )
            ):
                history[ticket.id].update(filter(None, text.splitlines()))
        for ticket in self:
            ticket.halo_credited_invoices = "\n".join(sorted(history[ticket.id])) or False
