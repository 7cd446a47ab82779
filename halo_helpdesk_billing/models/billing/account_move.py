# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import base64
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.halo_helpdesk_billing.constants import INVOICED, WORK_TABLES

from ...services import xlsx_invoice
from ..halo_engine import BILLING_RUN


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

    def _get_name_invoice_report(self):
        self.ensure_one()
        customer = self.partner_id.commercial_partner_id.with_company(self.company_id)
        if self.halo_run_id and customer.halo_invoice_report != "standard":
            return "halo_helpdesk_billing.report_helpdesk_invoice_document"
        return super()._get_name_invoice_report()

    def _halo_sections(self):
        """The invoice's own lines (so a draft edited before posting prints its edits) grouped
        per ticket, then by kind of work, for the PDF layout. A line's ticket and kind come from
        the charges it bills; a line of several tickets (a summarised invoice) or added by hand
        goes to "Other charges". Each section's total is the sum of its lines' subtotals, so the
        sections add up to the untaxed amount."""
        self.ensure_one()
        charges = self.env["halo.billing.run.line"].sudo().search([("invoice_id", "=", self.id)])
        by_aml = defaultdict(lambda: self.env["halo.billing.run.line"])
        for charge in charges.filtered("invoice_line_id"):
            by_aml[charge.invoice_line_id.id] |= charge
        other = self.env._("Other")
        explain = self.company_id.halo_pdf_explanation
        tickets, order = {}, []
        for aml in self.invoice_line_ids.filtered(lambda line: line.display_type == "product").sorted(
                lambda line: (line.sequence, line.id)):
            mine = aml.sudo().halo_run_line_id or by_aml.get(aml.id) or charges.browse()
            ticket = mine.ticket_id if len(mine.ticket_id) == 1 else mine.ticket_id.browse()
            kind = mine[:1].kind_label if len(set(mine.mapped("kind"))) == 1 else other
            single = mine if len(mine) == 1 else mine.browse()
            if ticket.id not in tickets:
                tickets[ticket.id] = {"ticket": ticket, "kinds": {}, "total": 0.0}
                order.append(ticket.id)
            section = tickets[ticket.id]
            section["kinds"].setdefault(kind, []).append({
                "line": aml,
                "date": single.date or False,
                "technician": single.user_id.name or "",
                "name": aml.name or "",
                "quantity": aml.quantity,
                "uom": single.uom_name or aml.product_uom_id.name or "",
                "amount": aml.price_subtotal,
                # the billing run's explanation, for a line that bills one charge for what the
                # charge explains (a line whose amount was edited by hand gets none)
                "explanation": (single.explanation or "") if explain and single and not self.currency_id
                .compare_amounts(aml.price_subtotal, single.amount) else "",
            })
            section["total"] += aml.price_subtotal
        # ticket sections in ticket order, then "Other charges"
        order.sort(key=lambda ticket_id: (not ticket_id, tickets[ticket_id]["ticket"].number or ""))
        return [
            {"ticket": tickets[ticket_id]["ticket"], "groups": list(tickets[ticket_id]["kinds"].items()),
             "total": self.currency_id.round(tickets[ticket_id]["total"])}
            for ticket_id in order
        ]

    def _halo_xlsx_values(self):
        """Header and line values offered to Excel templates."""
        self.ensure_one()
        lang = self.partner_id.lang or "en_US"
        header = {
            "number": self.name, "date": self.invoice_date, "due_date": self.invoice_date_due,
            "customer": self.partner_id.display_name,
            "customer_address": self.partner_id.with_context(lang=lang)._display_address(),
            "reference": self.ref or self.invoice_origin or "", "currency": self.currency_id.name,
            "untaxed": self.amount_untaxed, "tax": self.amount_tax, "total": self.amount_total,
            "company": self.company_id.name, "run": self.halo_run_id.name or "",
        }
        run_lines = {
            line.invoice_line_id.id: line
            for line in self.env["halo.billing.run.line"].sudo().search([("invoice_id", "=", self.id)])
            if line.invoice_line_id
        }
        lines = []
        for aml in self.invoice_line_ids.filtered(lambda line: line.display_type == "product"):
            source = aml.sudo().halo_run_line_id or run_lines.get(aml.id)
            lines.append({
                "ticket": source.ticket_id.number if source and source.ticket_id else "",
                "date": source.date if source else self.invoice_date,
                "technician": source.user_id.name if source and source.user_id else "",
                "description": aml.name, "quantity": aml.quantity,
                "unit": aml.product_uom_id.name or "", "unit_price": aml.price_unit,
                "amount": aml.price_subtotal, "tax": ", ".join(aml.tax_ids.mapped("name")),
            })
        return header, lines

    def _halo_xlsx_template(self):
        """The customer's template, or the company's default, of the invoice's company only."""
        self.ensure_one()
        Template = self.env["halo.xlsx.template"].sudo()
        companies = [self.company_id.id, False]
        template = self.partner_id.commercial_partner_id.sudo().with_company(self.company_id).halo_xlsx_template_id
        if template and template.company_id.id not in companies:
            template = Template
        return template or Template.search(
            [("is_default", "=", True), ("company_id", "in", companies)], limit=1
        )

    def action_halo_excel_invoice(self):
        """Fill the customer's (or the default) Excel template and attach it to the invoice.
        For those who may edit the invoice (invoicing and billing users)."""
        self.check_access("write")
        attachments = self.env["ir.attachment"]
        for move in self:
            template = move._halo_xlsx_template()
            if not template:
                raise UserError(self.env._("No Excel invoice template: upload one in Billing > Configuration."))
            header, lines = move._halo_xlsx_values()
            try:
                data, _missing = xlsx_invoice.fill_template(base64.b64decode(template.datas), header, lines)
            except xlsx_invoice.TemplateError as err:
                raise UserError(str(err)) from err
            name = f"{(move.name or 'invoice').replace('/', '-')}.xlsx"
            attachments |= self.env["ir.attachment"].create({
                "name": name, "res_model": "account.move", "res_id": move.id, "raw": data,
                "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            })
        return attachments

    def action_halo_excel_invoice_notify(self):
        """The Excel invoice button: make the files, then say where they are (a toast)."""
        attachments = self.action_halo_excel_invoice()
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "type": "success", "sticky": False, "title": self.env._("Excel invoice"),
            "message": self.env._(
                "%(names)s attached to the invoice (see the attachments in the chatter).",
                names=", ".join(attachments.mapped("name"))),
            "next": {"type": "ir.actions.client", "tag": "soft_reload"},
        }}

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        from_runs = posted.filtered("halo_run_id")
        from_runs._halo_record_numbers()
        from_runs.filtered(lambda move: move.partner_id.commercial_partner_id.sudo().with_company(
            move.company_id).halo_xlsx_template_id).action_halo_excel_invoice()
        return posted

    def _halo_record_numbers(self):
        """Record the numbers of posted invoices on the work they bill: one UPDATE per kind of
        work, joined to the charges in the database (no round trip of 100,000 ids)."""
        moves = self.filtered(lambda move: move.state == "posted" and move.name and move.name != "/")
        if not moves:
            return
        for res_model in WORK_TABLES:
            self.env[res_model]._halo_write_billing_state(INVOICED, moves=moves)

    # ---------------------------------------------------------------- engine links
    @api.model_create_multi
    def create(self, vals_list):
        if any(vals.get("halo_run_id") for vals in vals_list):
            self._halo_check_run_link()
        return super().create(vals_list)

    def write(self, vals):
        if "halo_run_id" in vals:
            self._halo_check_run_link()
        return super().write(vals)

    def _halo_check_run_link(self):
        """Only billing runs tie invoices to themselves: a run cancels (and deletes) its draft
        invoices, and posting one records its number on the work of the run's charges."""
        if not (BILLING_RUN.is_set(self.env) or self.env.su):
            raise AccessError(self.env._("Invoices are tied to billing runs by the runs only."))
