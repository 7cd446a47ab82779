# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Domain

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER, WORK_MODELS


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    halo_action_ids = fields.One2many(
        comodel_name="account.analytic.line",
        inverse_name="halo_ticket_id",
        string="Actions",
        domain=[("halo_kind", "=", "labour")],
    )
    halo_travel_ids = fields.One2many(
        comodel_name="account.analytic.line",
        inverse_name="halo_ticket_id",
        string="Travel Time",
        domain=[("halo_kind", "=", "travel")],
    )
    halo_mileage_ids = fields.One2many(
        comodel_name="halo.mileage", inverse_name="ticket_id", string="Mileage"
    )
    halo_expense_ids = fields.One2many(
        comodel_name="halo.expense", inverse_name="ticket_id", string="Expenses"
    )
    halo_item_ids = fields.One2many(comodel_name="halo.ticket.item", inverse_name="ticket_id", string="Items")
    halo_action_hours = fields.Float(string="Action Hours", compute="_compute_halo_totals", compute_sudo=True)
    halo_travel_hours = fields.Float(string="Travel Hours", compute="_compute_halo_totals", compute_sudo=True)
    halo_mileage_total = fields.Char(
        string="Mileage Driven", compute="_compute_halo_totals", compute_sudo=True
    )
    halo_expense_count = fields.Integer(
        string="Expense Count", compute="_compute_halo_totals", compute_sudo=True
    )
    halo_item_count = fields.Integer(string="Item Count", compute="_compute_halo_totals", compute_sudo=True)
    halo_running_action_id = fields.Many2one(
        comodel_name="account.analytic.line",
        compute="_compute_halo_running_action_id",
        string="Running Action",
    )
    halo_running_since = fields.Datetime(
        string="Running Since",
        compute="_compute_halo_running_action_id",
        help="When your running action on this ticket started (the timer in the header).",
    )
    halo_invoice_numbers = fields.Char(
        string="Invoice Numbers",
        compute="_compute_halo_invoices",
        compute_sudo=True,
        help="Invoices on which work of this ticket was billed.",
    )
    halo_invoice_ids = fields.Many2many(
        comodel_name="account.move",
        string="Invoices",
        compute="_compute_halo_invoices",
        compute_sudo=True,
        groups=BILLING_USER,
    )
    halo_invoice_count = fields.Integer(compute="_compute_halo_invoices", compute_sudo=True)
    halo_default_rate_id = fields.Many2one(
        comodel_name="halo.charge.rate",
        string="Default Charge Rate",
        compute="_compute_halo_default_rate_id",
        help="Charge rate of new actions: the contract's, else the customer's, the team's, the company's.",
    )

    def _halo_work_models(self):
        """The models of billable work recorded on tickets, with their ticket field."""
        return {work.model: work.ticket_field for work in WORK_MODELS}

    def _compute_halo_totals(self):
        Line = self.env["account.analytic.line"]
        hours = {
            (ticket.id, kind): total
            for ticket, kind, total in Line._read_group(
                [("halo_ticket_id", "in", self.ids)], ["halo_ticket_id", "halo_kind"], ["unit_amount:sum"]
            )
        }
        mileage = {}
        for ticket, unit, total in self.env["halo.mileage"]._read_group(
            [("ticket_id", "in", self.ids)], ["ticket_id", "unit"], ["billed_distance:sum"]
        ):
            mileage.setdefault(ticket.id, []).append(f"{total:g} {unit}")
        counts = {}
        for model in ("halo.expense", "halo.ticket.item"):
            counts[model] = dict(
                (ticket.id, count)
                for ticket, count in self.env[model]._read_group(
                    [("ticket_id", "in", self.ids)], ["ticket_id"], ["__count"]
                )
            )
        for ticket in self:
            ticket.halo_action_hours = hours.get((ticket.id, "labour"), 0.0)
            ticket.halo_travel_hours = hours.get((ticket.id, "travel"), 0.0)
            ticket.halo_mileage_total = ", ".join(mileage.get(ticket.id, [])) or False
            ticket.halo_expense_count = counts["halo.expense"].get(ticket.id, 0)
            ticket.halo_item_count = counts["halo.ticket.item"].get(ticket.id, 0)

    @api.depends_context("uid")
    def _compute_halo_running_action_id(self):
        running = {
            line.halo_ticket_id.id: line
            for line in self.env["account.analytic.line"].search(
                [
                    ("halo_ticket_id", "in", self.ids),
                    ("halo_running", "=", True),
                    ("user_id", "=", self.env.uid),
                ]
            )
        }
        for ticket in self:
            ticket.halo_running_action_id = running.get(ticket.id, False)
            ticket.halo_running_since = ticket.halo_running_action_id.halo_start

    def _compute_halo_invoices(self):
        numbers = {ticket.id: set() for ticket in self}
        invoice_ids = {ticket.id: set() for ticket in self}
        for model, ticket_field in self._halo_work_models().items():
            for ticket, number, invoice in (
                self.env[model]
                .sudo()
                ._read_group(
                    [(ticket_field, "in", self.ids), ("halo_invoice_number", "!=", False)],
                    [ticket_field, "halo_invoice_number", "halo_invoice_id"],
                )
            ):
                numbers[ticket.id].add(number)
                if invoice:
                    invoice_ids[ticket.id].add(invoice.id)
        for ticket in self:
            ticket.halo_invoice_numbers = ", ".join(sorted(numbers[ticket.id])) or False
            ticket.halo_invoice_count = len(numbers[ticket.id])
            if self.env.user.has_group(BILLING_USER) or self.env.su:
                ticket.halo_invoice_ids = [fields.Command.set(sorted(invoice_ids[ticket.id]))]
            else:
                ticket.halo_invoice_ids = False

    def _halo_get_project(self):
        """The project (analytic account) that receives the ticket's actions."""
        self.ensure_one()
        return (
            self.team_id.halo_project_id
            or self.company_id.halo_default_project_id
            or self.company_id.internal_project_id
        )

    @api.depends("partner_id", "team_id", "company_id")
    def _compute_halo_default_rate_id(self):
        for ticket in self:
            ticket.halo_default_rate_id = ticket._halo_default_rate("labour")

    def _halo_default_rate(self, kind):
        self.ensure_one()
        if kind == "travel":
            return self.company_id.halo_default_travel_rate_id or self.env["halo.charge.rate"].search(
                [("kind", "=", "travel"), ("company_id", "in", [False, self.company_id.id])], limit=1
            )
        return (
            self._halo_contract_default_rate()
            or self.commercial_partner_id.sudo().with_company(self.company_id).halo_default_rate_id
            or self.team_id.halo_default_rate_id
            or self.company_id.halo_default_rate_id
        )

    def _halo_contract_default_rate(self):
        """The default charge rate of the first contract in force today for this ticket's
        site or customer (a site's own contract first) that sets one."""
        self.ensure_one()
        company = self.company_id or self.env.company
        partner = self.partner_id.sudo()
        if not partner:
            return self.env["halo.charge.rate"]
        contracts = self.env["halo.contract"]._halo_scope_contracts(partner, company)
        today = fields.Date.context_today(self)
        for contract in contracts._halo_in_scope(partner, today):
            if contract.state == "active" and contract.default_rate_id:
                return contract.default_rate_id.sudo(False)
        return self.env["halo.charge.rate"]

    def action_halo_start_action(self):
        """Start an action now for the current user (one click from the ticket)."""
        self.ensure_one()
        if self.halo_running_action_id:
            raise UserError(self.env._("You already have an action running on this ticket."))
        employee = self.env.user.employee_id
        if not employee:
            raise UserError(
                self.env._(
                    "%(user)s has no employee record; ask an administrator to create one so that "
                    "time can be recorded.",
                    user=self.env.user.name,
                )
            )
        self.env["account.analytic.line"].create(
            {
                "halo_ticket_id": self.id,
                "halo_kind": "labour",
                "halo_start": fields.Datetime.now(),
                "employee_id": employee.id,
                "date": fields.Date.context_today(self),
            }
        )
        return True

    def action_halo_stop_action(self):
        self.ensure_one()
        line = self.halo_running_action_id
        if not line:
            raise UserError(self.env._("No action of yours is running on this ticket."))
        line.write({"halo_end": max(fields.Datetime.now(), line.halo_start)})
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Stop action: what did you do?"),
            "res_model": "account.analytic.line",
            "res_id": line.id,
            "view_mode": "form",
            "views": [(self.env.ref("halo_helpdesk_billing.halo_action_view_form_stop").id, "form")],
            "target": "new",
        }

    def action_halo_open_invoices(self):
        self.ensure_one()
        invoices = self.halo_invoice_ids
        return invoices._get_records_action(name=self.env._("Invoices of %(ticket)s", ticket=self.number))

    def _halo_unbilled_domain(self):
        return Domain("halo_billing_state", "=", "unbilled")
