import base64
import io

from openpyxl import load_workbook
from pypdf import PdfReader

from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install")
class TestInvoiceDocuments(HaloBillingRunCommon):
    """The branded PDF (wkhtmltopdf) and Excel invoices, opened and read back."""

    def _invoice(self):
        self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        return run.invoice_ids

    def test_pdf_has_a_section_per_ticket_with_its_work(self):
        invoice = self._invoice()
        self.assertEqual(
            invoice._get_name_invoice_report(), "halo_helpdesk_billing.report_helpdesk_invoice_document"
        )
        pdf, kind = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf("account.account_invoices", invoice.ids)
        )
        self.assertEqual(kind, "pdf")
        text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
        self.assertIn(invoice.name, text)
        self.assertIn(f"Ticket {self.ticket.number} : Printer down", text)
        for label in ("Labour", "Mileage", "Expense", "Item", "Fixed", "Late", "Cable", "Office → Site"):
            self.assertIn(label, text)
        self.assertEqual(text.count("360.57"), 2)  # ticket total and untaxed amount
        # branding: the company's document layout wraps the page
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("account.account_invoices", invoice.ids)[0]
            .decode()
        )
        self.assertIn(f"o_company_{self.env.company.id}_layout", html)

    def test_pdf_names_the_seller_in_the_page_body(self):
        """Seller name, address and VAT number are in the page itself, not only in the layout's
        header (which wkhtmltopdf builds without the patched Qt drop)."""
        self.env.company.partner_id.write({"street": "12 Tooley Street", "city": "London", "zip": "SE1 2SZ"})
        self.env.company.vat = "GB123456789"
        invoice = self._invoice()
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("account.account_invoices", invoice.ids)[0]
            .decode()
        )
        page = html[html.index('class="page o_halo_invoice"') :]
        seller = page[: page.index("</h2>")]
        for text in (self.env.company.name, "12 Tooley Street", "SE1 2SZ", "VAT number:", "GB123456789"):
            self.assertIn(text, seller)
        pdf, _kind = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf("account.account_invoices", invoice.ids)
        )
        text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
        for fragment in (self.env.company.name, "12 Tooley Street", "VAT number: GB123456789"):
            self.assertIn(fragment, text)

    def test_standard_layout_per_customer(self):
        self.customer.halo_invoice_report = "standard"
        invoice = self._invoice()
        self.assertEqual(invoice._get_name_invoice_report(), "account.report_invoice_document")

    def test_excel_invoice_from_the_default_template(self):
        invoice = self._invoice()
        attachment = invoice.action_halo_excel_invoice()
        self.assertEqual(attachment.res_id, invoice.id)
        sheet = load_workbook(io.BytesIO(base64.b64decode(attachment.datas))).worksheets[0]
        self.assertEqual(sheet["B3"].value, invoice.name)
        self.assertEqual(sheet["B6"].value, self.customer.display_name)
        # header row 9, one row per invoice line from row 10: 6 lines (mileage has its surcharge line)
        rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=10, max_row=15)]
        self.assertEqual([row[0] for row in rows], [self.ticket.number] * 6)
        self.assertEqual(sum(row[7] for row in rows), 360.57)
        self.assertEqual(rows[0][6], 95.0)
        # totals moved down below the lines: untaxed/tax/total at H17:H19
        self.assertEqual(sheet["G17"].value, "Untaxed")
        self.assertEqual(sheet["H17"].value, 360.57)
        self.assertEqual(sheet["H19"].value, invoice.amount_total)

    def test_customer_template_is_attached_when_invoices_are_posted(self):
        from ..services.xlsx_invoice import default_template

        template = self.env["halo.xlsx.template"].create(
            {"name": "Acme", "datas": base64.b64encode(default_template()), "filename": "acme.xlsx"}
        )
        self.customer.halo_xlsx_template_id = template
        invoice = self._invoice()
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", invoice.id), ("name", "like", ".xlsx")]
        )
        self.assertEqual(len(attachments), 1)
