# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoices in the billing part: what a billing run's invoices show and record (their tickets,
the PDF's sections, the Excel invoice, the invoice numbers on the work, the link to the run),
and their credit notes.

Credit notes of billing-run and contract invoices.

A credit note that credits an invoice *in full* (Odoo's Reverse, once the credit notes of the
invoice reach its total) releases what the invoice billed: the work of a billing-run invoice is
unbilled again (the charges give up their claim, so a later run can bill it; the credited
invoice and credit note numbers stay in the work's billing history and on the ticket), the
prepay consumption of its charges is reversed in the ledger, the contract periods of a fee or
recurring invoice are invoiced again and a top-up is taken off the balance. A partial credit
note (a goodwill discount, a corrected line) releases nothing and says so on the invoice.
"""

import base64
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER, INVOICED, UNBILLED, WORK_TABLES

from ...services import xlsx_invoice
from ..halo_engine import BILLING_RUN


class AccountMove(models.Model):
    _inherit = "account.move"

    halo_run_id = fields.Many2one(
        comodel_name="halo.billing.run",
        string="Billing Run",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    halo_ticket_ids = fields.Many2many(
        comodel_name="helpdesk.ticket",
        string="Tickets",
        compute="_compute_halo_ticket_ids",
    )
    halo_ticket_count = fields.Integer(compute="_compute_halo_ticket_ids")
    halo_released_by_id = fields.Many2one(
        comodel_name="account.move",
        string="Released By",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The credit note that credited this invoice in full: what it billed was released "
        "for billing again.",
    )

    def _compute_halo_ticket_ids(self):
        tickets = defaultdict(set)
        for move, ticket in (
            self.env["halo.billing.run.line"]
            .sudo()
            ._read_group(
                [("invoice_id", "in", self.ids), ("ticket_id", "!=", False)], ["invoice_id", "ticket_id"]
            )
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
            lambda line: (line.sequence, line.id)
        ):
            mine = aml.sudo().halo_run_line_id or by_aml.get(aml.id) or charges.browse()
            ticket = mine.ticket_id if len(mine.ticket_id) == 1 else mine.ticket_id.browse()
            kind = mine[:1].kind_label if len(set(mine.mapped("kind"))) == 1 else other
            single = mine if len(mine) == 1 else mine.browse()
            if ticket.id not in tickets:
                tickets[ticket.id] = {"ticket": ticket, "kinds": {}, "total": 0.0}
                order.append(ticket.id)
            section = tickets[ticket.id]
            section["kinds"].setdefault(kind, []).append(
                {
                    "line": aml,
                    "date": single.date or False,
                    "technician": single.user_id.name or "",
                    "name": aml.name or "",
                    "quantity": aml.quantity,
                    "uom": single.uom_name or aml.product_uom_id.name or "",
                    "amount": aml.price_subtotal,
                    # the billing run's explanation, for a line that bills one charge for what the
                    # charge explains (a line whose amount was edited by hand gets none)
                    "explanation": (single.explanation or "")
                    if explain
                    and single
                    and not self.currency_id.compare_amounts(aml.price_subtotal, single.amount)
                    else "",
                }
            )
            section["total"] += aml.price_subtotal
        # ticket sections in ticket order, then "Other charges"
        order.sort(key=lambda ticket_id: (not ticket_id, tickets[ticket_id]["ticket"].number or ""))
        return [
            {
                "ticket": tickets[ticket_id]["ticket"],
                "groups": list(tickets[ticket_id]["kinds"].items()),
                "total": self.currency_id.round(tickets[ticket_id]["total"]),
            }
            for ticket_id in order
        ]

    def _halo_xlsx_values(self):
        """Header and line values offered to Excel templates."""
        self.ensure_one()
        lang = self.partner_id.lang or "en_US"
        header = {
            "number": self.name,
            "date": self.invoice_date,
            "due_date": self.invoice_date_due,
            "customer": self.partner_id.display_name,
            "customer_address": self.partner_id.with_context(lang=lang)._display_address(),
            "reference": self.ref or self.invoice_origin or "",
            "currency": self.currency_id.name,
            "untaxed": self.amount_untaxed,
            "tax": self.amount_tax,
            "total": self.amount_total,
            "company": self.company_id.name,
            "run": self.halo_run_id.name or "",
        }
        run_lines = {
            line.invoice_line_id.id: line
            for line in self.env["halo.billing.run.line"].sudo().search([("invoice_id", "=", self.id)])
            if line.invoice_line_id
        }
        lines = []
        for aml in self.invoice_line_ids.filtered(lambda line: line.display_type == "product"):
            source = aml.sudo().halo_run_line_id or run_lines.get(aml.id)
            lines.append(
                {
                    "ticket": source.ticket_id.number if source and source.ticket_id else "",
                    "date": source.date if source else self.invoice_date,
                    "technician": source.user_id.name if source and source.user_id else "",
                    "description": aml.name,
                    "quantity": aml.quantity,
                    "unit": aml.product_uom_id.name or "",
                    "unit_price": aml.price_unit,
                    "amount": aml.price_subtotal,
                    "tax": ", ".join(aml.tax_ids.mapped("name")),
                }
            )
        return header, lines

    def _halo_xlsx_template(self):
        """The customer's template, or the company's default, of the invoice's company only."""
        self.ensure_one()
        Template = self.env["halo.xlsx.template"].sudo()
        companies = [self.company_id.id, False]
        template = (
            self.partner_id.commercial_partner_id.sudo().with_company(self.company_id).halo_xlsx_template_id
        )
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
                raise UserError(
                    self.env._("No Excel invoice template: upload one in Billing > Configuration.")
                )
            header, lines = move._halo_xlsx_values()
            try:
                data, _missing = xlsx_invoice.fill_template(base64.b64decode(template.datas), header, lines)
            except xlsx_invoice.TemplateError as err:
                raise UserError(str(err)) from err
            name = f"{(move.name or 'invoice').replace('/', '-')}.xlsx"
            attachments |= self.env["ir.attachment"].create(
                {
                    "name": name,
                    "res_model": "account.move",
                    "res_id": move.id,
                    "raw": data,
                    "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                }
            )
        return attachments

    def action_halo_excel_invoice_notify(self):
        """The Excel invoice button: make the files, then say where they are (a toast)."""
        attachments = self.action_halo_excel_invoice()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "sticky": False,
                "title": self.env._("Excel invoice"),
                "message": self.env._(
                    "%(names)s attached to the invoice (see the attachments in the chatter).",
                    names=", ".join(attachments.mapped("name")),
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        from_runs = posted.filtered("halo_run_id")
        from_runs._halo_record_numbers()
        from_runs.filtered(
            lambda move: (
                move.partner_id.commercial_partner_id.sudo()
                .with_company(move.company_id)
                .halo_xlsx_template_id
            )
        ).action_halo_excel_invoice()
        posted.filtered(
            lambda move: move.move_type == "out_refund" and move.reversed_entry_id
        )._halo_apply_credit_notes()
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
        if any(vals.get("halo_released_by_id") for vals in vals_list):
            raise AccessError(self.env._("Only a credit note releases what an invoice billed."))
        if any(vals.get("halo_run_id") for vals in vals_list):
            self._halo_check_run_link()
        return super().create(vals_list)

    def write(self, vals):
        if "halo_released_by_id" in vals:
            raise AccessError(self.env._("Only a credit note releases what an invoice billed."))
        if "halo_run_id" in vals:
            self._halo_check_run_link()
        return super().write(vals)

    def _halo_check_run_link(self):
        """Only billing runs tie invoices to themselves: a run cancels (and deletes) its draft
        invoices, and posting one records its number on the work of the run's charges."""
        if not (BILLING_RUN.is_set(self.env) or self.env.su):
            raise AccessError(self.env._("Invoices are tied to billing runs by the runs only."))

    # ---------------------------------------------------------------- credit notes
    def button_draft(self):
        # neither side of a release goes back to draft: the work may be billed again already
        released = self.sudo().filtered("halo_released_by_id") | self.env["account.move"].sudo().search(
            [("halo_released_by_id", "in", self.ids)]
        )
        if released:
            raise UserError(
                self.env._(
                    "Credit note %(credit)s released the work of %(invoice)s for billing again; neither "
                    "can be reset to draft. Bill the work again with a billing run instead.",
                    credit=released[0].halo_released_by_id.name,
                    invoice=released[0].name,
                )
            )
        return super().button_draft()

    def _halo_is_correctable(self):
        """Whether credit notes of this invoice release what it billed."""
        self.ensure_one()
        return self.move_type == "out_invoice" and bool(self.halo_run_id or self.halo_contract_id)

    def _halo_credited_total(self):
        """Total of the posted credit notes of this invoice."""
        self.ensure_one()
        credits = self.reversal_move_ids.filtered(
            lambda move: move.state == "posted" and move.move_type == "out_refund"
        )
        return sum(credits.mapped("amount_total"))

    def _halo_apply_credit_notes(self):
        for credit in self:
            invoice = credit.reversed_entry_id.sudo()
            if not invoice._halo_is_correctable() or invoice.halo_released_by_id:
                continue
            credited = invoice._halo_credited_total()
            if invoice.currency_id.compare_amounts(credited, invoice.amount_total) >= 0:
                invoice._halo_release(credit.sudo())
                continue
            body = self.env._(
                "Credit note %(credit)s credits %(amount)s of %(total)s: a partial credit note "
                "releases nothing; the work stays billed on %(invoice)s. Credit the invoice in full "
                "to bill its work again.",
                credit=credit.name,
                invoice=invoice.name,
                amount=invoice.currency_id.format(credited),
                total=invoice.currency_id.format(invoice.amount_total),
            )
            invoice.message_post(body=body)
            credit.message_post(body=body)

    def _halo_release(self, credit):
        """Release what this invoice (credited in full by ``credit``) billed."""
        self.ensure_one()
        self.flush_recordset()
        self.env.cr.execute(
            SQL("UPDATE account_move SET halo_released_by_id = %s WHERE id = %s", credit.id, self.id)
        )
        self.invalidate_recordset(["halo_released_by_id"])
        if self.halo_run_id:
            self._halo_release_run_work(credit)
        if self.halo_contract_id:
            self._halo_release_contract(credit)
        body = self.env._(
            "Credited in full by %(credit)s: what this invoice billed is released for billing again.",
            credit=credit.name,
        )
        self.message_post(body=body)
        credit.message_post(
            body=self.env._(
                "Credits %(invoice)s in full: its work is released for billing again.", invoice=self.name
            )
        )

    def _halo_release_run_work(self, credit):
        """Work of a billing-run invoice back to unbilled; its charges give up their claim
        (the unique claim index then lets a new run claim the work; the charge keeps its
        invoice and the credit note as history) and their consumption is reversed."""
        self.ensure_one()
        Line = self.env["halo.billing.run.line"].sudo()
        charges = Line.search([("invoice_id", "=", self.id), ("credit_note_id", "=", False)])
        history = self.env._(
            "%(invoice)s credited by %(credit)s on %(date)s",
            invoice=self.name,
            credit=credit.name,
            date=credit.invoice_date or fields.Date.context_today(self),
        )
        Line.flush_model()
        self.env.cr.execute(
            SQL(
                "UPDATE halo_billing_run_line SET claim_key = NULL, credit_note_id = %s WHERE id = ANY(%s)",
                credit.id,
                charges.ids,
            )
        )
        charges.invalidate_recordset(["claim_key", "credit_note_id"])
        for res_model in WORK_TABLES:
            ids = charges.filtered(lambda line, m=res_model: line.res_model == m).mapped("res_id")
            if ids:
                self.env[res_model]._halo_write_billing_state(UNBILLED, ids, invoice=self, history=history)
        if "halo.contract" in self.env:
            entries = (
                self.env["halo.contract.ledger"]
                .sudo()
                .search([("run_line_id", "in", charges.ids), ("kind", "=", "consumption")])
            )
            self.env["halo.contract"]._halo_reverse_entries(
                entries,
                self.env._(
                    "Invoice %(invoice)s credited by %(credit)s", invoice=self.name, credit=credit.name
                ),
                credit_note=credit,
                invoice=self,
            )
        for ticket in charges.ticket_id:
            ticket.message_post(
                body=self.env._(
                    "Invoice %(invoice)s was credited in full by %(credit)s: the work of this ticket it "
                    "billed is unbilled again.",
                    invoice=self.name,
                    credit=credit.name,
                )
            )
        self.halo_run_id.message_post(
            body=self.env._(
                "Invoice %(invoice)s credited in full by %(credit)s: %(count)s charges released.",
                invoice=self.name,
                credit=credit.name,
                count=len(charges),
            )
        )

    def _halo_release_contract(self, credit):
        """Periods of a fee / recurring invoice are invoiced again; a top-up leaves the balance."""
        self.ensure_one()
        contract = self.halo_contract_id.sudo()
        periods = self.halo_contract_period_ids.sudo().filtered(lambda period: not period.credit_note_id)
        if periods:
            periods.credit_note_id = credit
            fee = periods.filtered(lambda period: period.kind == "fee")
            if (
                fee
                and contract.next_period_start
                and min(fee.mapped("date_start")) < contract.next_period_start
            ):
                contract.next_period_start = min(fee.mapped("date_start"))
            for line, line_periods in (
                periods.filtered("recurring_line_id").grouped("recurring_line_id").items()
            ):
                start = min(line_periods.mapped("date_start"))
                if not line.next_date or start < line.next_date:
                    line.next_date = start
        topups = (
            self.env["halo.contract.ledger"]
            .sudo()
            .search([("invoice_id", "=", self.id), ("kind", "=", "topup")])
        )
        contract._halo_reverse_entries(
            topups,
            self.env._(
                "Top-up invoice %(invoice)s credited by %(credit)s", invoice=self.name, credit=credit.name
            ),
            credit_note=credit,
            invoice=self,
        )
        if periods:
            contract.message_post(
                body=self.env._(
                    "Invoice %(invoice)s credited in full by %(credit)s: %(count)s periods will be invoiced again.",
                    invoice=self.name,
                    credit=credit.name,
                    count=len(periods),
                )
            )

    # ------------------------------------------------------------------ credit and re-bill
    def _halo_credit_in_full(self):
        """Post a full credit note of this invoice (reconciled with it) and return it."""
        self.ensure_one()
        if not self._halo_is_correctable() or self.state != "posted":
            raise UserError(
                self.env._(
                    "Only posted invoices of billing runs or contracts can be credited and billed again."
                )
            )
        if self.halo_released_by_id:
            raise UserError(
                self.env._(
                    "Invoice %(invoice)s was already credited in full by %(credit)s.",
                    invoice=self.name,
                    credit=self.halo_released_by_id.name,
                )
            )
        if self.reversal_move_ids.filtered(lambda move: move.state == "posted"):
            raise UserError(
                self.env._(
                    "Invoice %(invoice)s already has a credit note; credit the rest by hand.",
                    invoice=self.name,
                )
            )
        return self._reverse_moves(
            [
                {
                    "ref": self.env._("Credit of %(invoice)s", invoice=self.name),
                    "invoice_date": fields.Date.context_today(self),
                }
            ],
            cancel=True,
        )

    def action_halo_credit_and_rebill(self):
        """Credit the invoice in full and put what it billed in a new billing run (previewed,
        so it can be corrected before invoicing) or, for a contract invoice, invoice its
        periods again as a draft."""
        self.ensure_one()
        if not self.env.user.has_group(BILLING_USER):
            raise AccessError(self.env._("Only billing users can credit and re-bill invoices."))
        credit = self._halo_credit_in_full()
        if self.halo_run_id:
            old_run = self.halo_run_id
            run = self.env["halo.billing.run"].create(
                {
                    "company_id": self.company_id.id,
                    "date_cutoff": old_run.date_cutoff,
                    "date_invoice": fields.Date.context_today(self),
                    "halo_rebill_move_id": self.id,
                }
            )
            run.action_preview()
            run.message_post(
                body=self.env._(
                    "Bills again the work of %(invoice)s, credited in full by %(credit)s.",
                    invoice=self.name,
                    credit=credit.name,
                )
            )
            return {
                "type": "ir.actions.act_window",
                "res_model": "halo.billing.run",
                "res_id": run.id,
                "view_mode": "form",
                "name": run.name,
            }
        moves = self.env["account.move"]
        if self.halo_contract_period_ids:
            moves = self.halo_contract_id.sudo()._halo_create_periodic_invoices(self.invoice_date)
        return (moves or credit).sudo(False)._get_records_action(name=self.env._("Re-billed"))
