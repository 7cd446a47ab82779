# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

from ..halo_engine import MAIL_GATEWAY


class HelpdeskTicket(models.Model):
    """Balance check on new tickets: a customer whose prepay / fixed-price contract is
    exhausted or expired gets a warning (chatter + banner) or the ticket is refused,
    per the contract's setting."""

    _inherit = "helpdesk.ticket"

    halo_contract_blocked = fields.Boolean(
        string="Blocked by Contract",
        readonly=True,
        copy=False,
        help="Created from an e-mail while the customer's contract blocks new tickets.",
    )
    halo_contract_warning = fields.Text(
        string="Contract Warning",
        compute="_compute_halo_contract_warning",
        help="Shown when the customer's contract is exhausted or expired.",
    )

    halo_contract_id = fields.Many2one(
        comodel_name="halo.contract",
        string="Contract",
        compute="_compute_halo_contract_info",
        help="The customer's contract in force today for this ticket (a site's own contract first).",
    )
    halo_contract_remaining = fields.Char(
        string="Remaining",
        compute="_compute_halo_contract_info",
        help="Prepaid or included hours left on the contract. A prepaid-money contract shows "
        "its amount to billing users only; others see whether it is exhausted.",
    )

    @api.depends("partner_id", "company_id")
    @api.depends_context("uid")
    def _compute_halo_contract_info(self):
        today = fields.Date.context_today(self)
        Contract = self.env["halo.contract"]
        for ticket in self:
            contract = Contract
            if ticket.partner_id:
                candidates = Contract._halo_scope_contracts(
                    ticket.partner_id, ticket.company_id or self.env.company
                )
                in_force = candidates._halo_in_scope(ticket.partner_id, today).filtered(
                    lambda c: c.state == "active"
                )
                contract = in_force[:1]
            contract = contract.sudo(False)  # the money shown depends on the reader, not sudo
            ticket.halo_contract_id = contract
            ticket.halo_contract_remaining = (
                contract._halo_ticket_remaining_text(today) if contract else False
            )

    @api.depends("partner_id")
    @api.depends_context("uid")
    def _compute_halo_contract_warning(self):
        today = fields.Date.context_today(self)
        for company, tickets in self.grouped("company_id").items():
            status = self.env["halo.contract"]._halo_ticket_contract_status(
                tickets.partner_id, today, company or self.env.company
            )
            for ticket in tickets:
                info = status.get(ticket.partner_id.id)
                ticket.halo_contract_warning = info["message"] if info else False

    @api.model_create_multi
    def create(self, vals_list):
        self._halo_check_blocked_flag(vals_list)
        tickets = super().create(vals_list)
        tickets._halo_check_contract_balance()
        return tickets

    def write(self, vals):
        self._halo_check_blocked_flag([vals])
        return super().write(vals)

    def _halo_check_blocked_flag(self, vals_list):
        """Only billing users clear (or set) the flag of a ticket a contract blocks."""
        if self.env.su or not any("halo_contract_blocked" in vals for vals in vals_list):
            return
        if not self.env.user.has_group(BILLING_USER):
            raise AccessError(
                self.env._("Only billing users may change whether a ticket is blocked by its contract.")
            )

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
        from_mail = MAIL_GATEWAY.is_set(self.env)
        for ticket in self:
            info = status.get(ticket.partner_id.id)
            if not info:
                continue
            if info["block"] and not from_mail:
                # the error goes to the creator only: a billing user sees the balance
                shown = self.env["halo.contract"]._halo_ticket_contract_status(
                    ticket.partner_id, today, company
                )
                raise UserError(
                    self.env._(
                        "No ticket can be opened for %(customer)s: %(message)s",
                        customer=ticket.partner_id.commercial_partner_id.display_name,
                        message=shown.get(ticket.partner_id.id, info)["message"],
                    )
                )
            if info["block"]:
                # an e-mail cannot be refused: the ticket is created and flagged
                ticket.sudo().halo_contract_blocked = True
                ticket.message_post(
                    body=self.env._(
                        "Blocked by the contract: %(message)s Created from an e-mail; check the "
                        "contract before working on this ticket.",
                        message=info["message"],
                    ),
                    subtype_xmlid="mail.mt_note",
                )
                continue
            ticket.message_post(body=info["message"], subtype_xmlid="mail.mt_note")

    @api.private
    @api.model
    def message_new(self, msg_dict, custom_values=None):
        """Tickets from the mail gateway: a contract in block mode flags them instead of
        failing the gateway. The marker is an object no RPC client can send, and this
        method cannot be called over RPC (it would create tickets past the block)."""
        return super(HelpdeskTicket, MAIL_GATEWAY.on(self)).message_new(msg_dict, custom_values=custom_values)
