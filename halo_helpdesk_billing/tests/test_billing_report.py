import io
from datetime import date

from openpyxl import load_workbook

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingReport(HaloBillingRunCommon):
    def setUp(self):
        super().setUp()
        # July is billed (360.57), August's work is still unbilled (same work: 360.57)
        self._work(self.ticket, day=7)
        run = self._run(date_cutoff=date(2026, 7, 31))
        run.action_preview()
        run.action_create_invoices()
        actions, trip, expense, item = self._work(self.ticket, day=7)
        for record in (trip, expense, item):
            record.date = date(2026, 8, 4)
        actions.write({"date": date(2026, 8, 4)})
        # unbilled mileage/expenses are priced at preview; price them the same way for the report
        preview = self._run(date_cutoff=date(2026, 8, 31))
        preview.action_preview()
        preview.action_cancel()
        self.env.flush_all()

    def test_billed_and_unbilled_by_month_and_customer(self):
        Report = self.env["halo.billing.report"]
        groups = {
            (month.month, status): amount
            for month, status, amount in Report._read_group(
                [("partner_id", "=", self.customer.id)], ["date:month", "status"], ["amount:sum"]
            )
        }
        # August: 142.50 + 142.50 + 12.00 + 13.57 + 50.00 = 360.57 unbilled
        self.assertEqual(groups, {(7, "billed"): 360.57, (8, "unbilled"): 360.57})
        by_kind = dict(Report._read_group([("status", "=", "billed")], ["kind"], ["amount:sum"]))
        self.assertEqual(by_kind["labour"], 285.0)
        # margin for managers: the cable cost 2 × 10.00, billed 50.00 → 30.00
        item_margin = Report._read_group(
            [("status", "=", "billed"), ("kind", "=", "item")], [], ["margin:sum"]
        )[0][0]
        self.assertEqual(item_margin, 30.0)

    def test_cost_and_margin_for_managers_only(self):
        row = self.env["halo.billing.report"].search([], limit=1)
        self.assertTrue(row.with_user(self.billing_user).amount)
        with self.assertRaises(AccessError):
            row.with_user(self.billing_user).read(["margin"])
        with self.assertRaises(AccessError):
            row.with_user(self.technician).read(["amount"])
        self.assertIsNotNone(row.with_user(self.billing_manager).margin)

    def test_xlsx_export(self):
        Report = self.env["halo.billing.report"]
        book = load_workbook(io.BytesIO(Report._halo_xlsx([], with_cost=True)))
        self.assertEqual(book.sheetnames, ["Customers", "Technicians", "Charge rates", "Contracts"])
        sheet = book["Customers"]
        header = [cell.value for cell in sheet[1]]
        self.assertIn("2026-07 billed amount", header)
        self.assertIn("2026-08 unbilled margin", header)
        rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
        acme = rows[self.customer.display_name]
        self.assertEqual(acme[header.index("2026-07 billed amount")], 360.57)
        self.assertEqual(acme[header.index("2026-08 unbilled amount")], 360.57)
        # without cost: no cost/margin columns
        plain = load_workbook(io.BytesIO(Report._halo_xlsx([], with_cost=False)))["Customers"]
        self.assertFalse([c.value for c in plain[1] if c.value and "margin" in c.value])
        action = Report.with_user(self.billing_user).action_export_xlsx()
        self.assertTrue(action["url"].startswith("/web/content/"))

    def test_xlsx_for_a_chosen_month_with_totals(self):
        """July only (Acme and Globex: £360.57 each, billed), with a total row; August is not in it."""
        wizard = (
            self.env["halo.billing.report.wizard"]
            .with_user(self.billing_user)
            .create({"period": "month", "month": date(2026, 7, 15)})
        )
        self.assertEqual(wizard._halo_bounds(), (date(2026, 7, 1), date(2026, 7, 31)))
        action = wizard.action_export()
        attachment = self.env["ir.attachment"].browse(int(action["url"].split("/")[3].split("?")[0]))
        book = load_workbook(io.BytesIO(attachment.raw))
        sheet = book["Customers"]
        header = [cell.value for cell in sheet[1]]
        self.assertIn("2026-07 billed amount", header)
        self.assertFalse([value for value in header if value and value.startswith("2026-08")])
        self.assertNotIn("2026-07 billed margin", header)  # a billing user: no cost or margin
        rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
        column = header.index("2026-07 billed amount")
        self.assertEqual(rows[self.customer.display_name][column], 360.57)
        self.assertEqual(
            rows["Total"][column], round(sum(row[column] for name, row in rows.items() if name != "Total"), 2)
        )
        self.assertTrue(sheet[sheet.max_row][0].font.bold)

    def test_xlsx_date_range_checked(self):
        Wizard = self.env["halo.billing.report.wizard"].with_user(self.billing_user)
        with self.assertRaises(UserError):
            Wizard.create(
                {"period": "range", "date_from": date(2026, 8, 1), "date_to": date(2026, 7, 1)}
            ).action_export()
        with self.assertRaises(AccessError):
            Wizard.with_user(self.technician).create({"period": "month"}).action_export()
