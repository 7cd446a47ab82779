# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import UserError


class HelpdeskTicket(models.Model):
    """Balance check on new tickets: a customer whose prepay / fixed-price contract is
    exhausted or expired gets a warning (chatter + banner) or the ticket is refused,
    per the contract's setting."""

    _inherit = "helpdesk.ticket"

    halo_contract_warning = fields.Text(
        string="Contract Warning", compute="_compute_halo_contract_warning",
        help="Shown when the customer's contract is exhausted or expired.",
    )

    @api.depends("partner_id")
    @api.depends_context("uid")
    def _compute_halo_contract_warning(self):
        today = fields.Date.context_today(self)
        for company, tickets in self.grouped("company_id").items():
            status = self.env["halo.contract"]._halo_ticket_contract_status(
                tickets.partner_id, today, company or self.env.company)
            for ticket in tickets:
                info = status.get(ticket.partner_id.commercial_partner_id.id)
                ticket.halo_contract_warning = info["message"] if info else False

    @api.model_create_multi
    def create(self, vals_list):
        tickets = super().create(vals_list)
        tickets._halo_check_contract_balance()
        return tickets

    def _halo_check_contract_balance(self):
        """Refuse or annotate new tickets of exhausted / expired customers. The note stays on
        the ticket, which technicians read: it gives hours or "exhausted", never money,
        whoever created the ticket (a billing user, the mail gateway)."""
        today = fields.Date.context_today(self)
        for company, tickets in self.grouped("company_id").items():
            tickets._halo_check_company_contract_balance(today, company or self.env.company)

    def _halo_check_company_contract_balance(self, today, company):
        """The balance check of tickets of ``company``, against that company's contracts."""
        status = self.env["halo.contract"]._halo_ticket_contract_status(
            self.partner_id, today, company, show_money=False
        )
        if not status:
            return
        for ticket in self:
            info = status.get(ticket.partner_id.commercial_partner_id.id)
            if not info:
                continue
            if info["block"]:
                # the error goes to the creator only: a billing user sees the balance
                shown = self.env["halo.contract"]._halo_ticket_contract_status(
                    ticket.partner_id, today, company
                )
                raise UserError(self.env._(
                    "No ticket can be opened for %(customer)s: %(message)s",
                    customer=ticket.partner_id.commercial_partner_id.display_name,
                    message=shown.get(ticket.partner_id.commercial_partner_id.id, info)["message"],
                ))
            ticket.message_post(body=info["message"], subtype_xmlid="mail.mt_note")
