# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from collections import defaultdict

from odoo import fields, models
from odoo.tools import SQL

# Work tables that record the invoice number (model -> table)
WORK_TABLES = {
    "account.analytic.line": "account_analytic_line",
    "halo.mileage": "halo_mileage",
    "halo.expense": "halo_expense",
    "halo.ticket.item": "halo_ticket_item",
}


class AccountMove(models.Model):
    _inherit = "account.move"

    halo_run_id = fields.Many2one(
        comodel_name="halo.billing.run", string="Billing Run", readonly=True, copy=False,
        index="btree_not_null",
    )
    halo_ticket_ids = fields.Many2many(
        comodel_name="helpdesk.ticket", string="Tickets", compute="_compute_halo_ticket_ids",
    )
    halo_ticket_count = fields.Integer(compute="_compute_halo_ticket_ids")

    def _compute_halo_ticket_ids(self):
        tickets = defaultdict(set)
        for move, ticket in self.env["halo.billing.run.line"].sudo()._read_group(
            [("invoice_id", "in", self.ids), ("ticket_id", "!=", False)], ["invoice_id", "ticket_id"]
        ):
            tickets[move.id].add(ticket.id)
        for move in self:
            move.halo_ticket_ids = [fields.Command.set(sorted(tickets[move.id]))]
            move.halo_ticket_count = len(tickets[move.id])

    def action_halo_open_tickets(self):
        self.ensure_one()
        return self.halo_ticket_ids._get_records_action(
            name=self.env._("Tickets of %(invoice)s", invoice=self.name)
        )

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted.filtered("halo_run_id")._halo_record_numbers()
        return posted

    def _halo_record_numbers(self):
        """Record the numbers of posted invoices on the work they bill (one UPDATE per table)."""
        moves = self.filtered(lambda move: move.state == "posted" and move.name and move.name != "/")
        if not moves:
            return
        RunLine = self.env["halo.billing.run.line"].sudo()
        RunLine.flush_model()
        self.env.cr.execute(SQL(
            """SELECT l.res_model, l.res_id, m.id, m.name
                 FROM halo_billing_run_line l JOIN account_move m ON m.id = l.invoice_id
                WHERE l.invoice_id = ANY(%s)""",
            moves.ids,
        ))
        by_model = defaultdict(lambda: ([], [], []))
        for res_model, res_id, move_id, name in self.env.cr.fetchall():
            if res_model in WORK_TABLES:
                ids, move_ids, names = by_model[res_model]
                ids.append(res_id)
                move_ids.append(move_id)
                names.append(name)
        for res_model, (ids, move_ids, names) in by_model.items():
            self.env[res_model].flush_model()
            self.env.cr.execute(SQL(
                """UPDATE %s AS w
                      SET halo_invoice_id = v.move, halo_invoice_number = v.name,
                          halo_billing_state = 'invoiced'
                     FROM unnest(%s::int[], %s::int[], %s::text[]) AS v(id, move, name)
                    WHERE w.id = v.id""",
                SQL.identifier(WORK_TABLES[res_model]), ids, move_ids, names,
            ))
            self.env[res_model].invalidate_model(["halo_invoice_id", "halo_invoice_number", "halo_billing_state"])
