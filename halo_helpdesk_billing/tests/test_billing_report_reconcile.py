import io
from datetime import date

from openpyxl import load_workbook

from odoo.exceptions import AccessError
from odoo.fields import Domain
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingReportReconcile(HaloBillingRunCommon):
    """July 2026: two customers' work invoiced by a run (360.57 each, see ``_work``; Acme's
    invoice itemised, Globex's summarised), a contract invoice for a third customer (fixed fee
    500.00, 2 licences × 20.00 = 40.00, 3 workstations × 5.00 = 15.00), its prepay top-up (900.00),
    and a credit note that reverses Globex's run invoice. August: work recorded, never previewed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.third = cls.env["res.partner"].create({"name": "Initech", "is_company": True})
        contact = cls.env["res.partner"].create({"name": "Peter", "parent_id": cls.third.id})
        Product = cls.env["product.product"]
        fee_product = Product.create({"name": "Managed fee (test)", "type": "service"})
        licence = Product.create({"name": "Licence (test)", "type": "service"})
        monitoring = Product.create({"name": "Monitoring (test)", "type": "service"})
        topup_product = Product.create({"name": "Prepay block (test)", "type": "service"})
        Contract = cls.env["halo.contract"]
        cls.fee_contract = Contract.create(
            {
                "name": "Managed",
                "partner_id": cls.third.id,
                "contact_id": contact.id,
                "date_start": date(2026, 7, 1),
                "date_end": date(2026, 7, 31),
                "fixed_fee": True,
                "fee_product_id": fee_product.id,
                "fee_amount": 500,
                "recurring_line_ids": [
                    (
                        0,
                        0,
                        {
                            "product_id": licence.id,
                            "quantity": 2,
                            "price_unit": 20,
                            "date_start": date(2026, 7, 1),
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "product_id": monitoring.id,
                            "quantity_mode": "devices",
                            "device_type": "workstation",
                            "price_unit": 5,
                            "date_start": date(2026, 7, 1),
                        },
                    ),
                ],
            }
        )
        cls.env["halo.customer.device"].create(
            [
                {
                    "name": f"PC{i}",
                    "partner_id": cls.third.id,
                    "device_type": "workstation",
                    "date_active": date(2026, 6, 1),
                }
                for i in range(3)
            ]
        )
        cls.other_customer.halo_invoice_layout = "summary_invoice"
        cls.prepay_contract = Contract.create(
            {
                "name": "Prepay",
                "partner_id": cls.third.id,
                "contact_id": contact.id,
                "date_start": date(2026, 7, 1),
                "prepay_kind": "hours",
                "topup_block": 10,
                "topup_product_id": topup_product.id,
                "topup_price": 900,
            }
        )
        (cls.fee_contract | cls.prepay_contract).action_activate()

    def setUp(self):
        super().setUp()
        self._work(self.ticket, day=7)
        self._work(self.ticket_b, day=8)
        run = self._run(date_cutoff=date(2026, 7, 31))
        run.action_preview()
        run.action_create_invoices()
        self.run_invoices = run.invoice_ids
        fee = self.fee_contract._halo_create_periodic_invoices(date(2026, 7, 1))
        self.prepay_contract.action_topup()
        topup = self.prepay_contract.invoice_ids
        topup.invoice_date = date(2026, 7, 15)
        (fee | topup).action_post()
        self.contract_invoices = fee | topup
        globex = self.run_invoices.filtered(lambda move: move.partner_id == self.other_customer)
        self.credit_note = globex._reverse_moves([{"invoice_date": date(2026, 7, 31)}])
        self.credit_note.action_post()
        # August: recorded, not previewed
        _actions, self.trip, self.expense, _item = self._work(self.ticket, day=7)
        for record in (self.trip, self.expense):
            record.date = date(2026, 8, 4)
        self.env.flush_all()

    def _billed(self, domain=()):
        return {
            kind: round(amount, 2)
            for kind, amount in self.env["halo.billing.report"]._read_group(
                [("status", "=", "billed"), *domain], ["kind"], ["amount:sum"]
            )
        }

    def test_month_billed_equals_invoices_less_credit_notes(self):
        july = [("date", ">=", date(2026, 7, 1)), ("date", "<=", date(2026, 7, 31))]
        moves = self.env["account.move"].search(
            [
                ("state", "=", "posted"),
                ("move_type", "in", ("out_invoice", "out_refund")),
                *[("invoice_date", op, day) for _f, op, day in july],
            ]
        )
        self.assertEqual(moves, self.run_invoices | self.contract_invoices | self.credit_note)
        # 360.57 + 360.57 + (500.00 + 40.00 + 15.00) + 900.00 - 360.57 = 1,815.57
        expected = round(sum(moves.mapped("amount_untaxed_signed")), 2)
        self.assertEqual(expected, 1815.57)
        report_total = sum(self._billed(july).values())
        self.assertAlmostEqual(report_total, expected, places=2)
        # every kind: Globex's labour, mileage, expense and item are credited
        self.assertEqual(
            self._billed(july),
            {
                "labour": 285.0,
                "mileage": 12.0,
                "expense": 13.57,
                "item": 50.0,
                "contract_fee": 500.0,
                "recurring": 40.0,
                "devices": 15.0,
                "topup": 900.0,
            },
        )
        # per customer: Globex's invoice and credit note cancel out
        self.assertEqual(sum(self._billed([("partner_id", "=", self.other_customer.id)]).values()), 0.0)
        self.assertEqual(sum(self._billed([("partner_id", "=", self.third.id)]).values()), 1455.0)
        # the top-up is billed (900.00) but its revenue enters the margin only as prepaid value,
        # when hours are consumed (none yet): no margin, no prepaid value
        self.assertEqual(
            self.env["halo.billing.report"]._read_group(
                [("kind", "=", "topup")], [], ["amount:sum", "prepaid_value:sum", "margin:sum"]
            ),
            [(900.0, 0.0, 0.0)],
        )
        # the credit note's lines are linked back to the credited work: -2.5 h of Globex's
        hours = dict(
            self.env["halo.billing.report"]._read_group(
                [("status", "=", "billed"), ("partner_id", "=", self.other_customer.id)],
                ["invoice_id"],
                ["hours:sum"],
            )
        )
        self.assertEqual(hours[self.credit_note], -2.5)

    def test_unbilled_mileage_and_expenses_at_their_rating(self):
        def unbilled(*domain):
            return dict(
                self.env["halo.billing.report"]._read_group(
                    [("status", "=", "unbilled"), ("kind", "in", ("mileage", "expense")), *domain],
                    ["kind"],
                    ["amount:sum"],
                )
            )

        # August, before any preview: 20 km × 0.50 + 2.00 = 12.00 (not 0); 12.34 + 10 % = 13.57
        # (not the cost)
        self.assertEqual(unbilled(("date", ">=", date(2026, 8, 1))), {"mileage": 12.0, "expense": 13.57})
        # July: the credit note credits Globex's invoice in full, which releases its work for
        # billing again: its trip and expense are unbilled at the run's prices (12.00, 13.57)
        self.assertEqual(unbilled(("date", "<", date(2026, 8, 1))), {"mileage": 12.0, "expense": 13.57})
        self.assertEqual(unbilled(("date", "<", date(2026, 8, 1)), ("partner_id", "=", self.customer.id)), {})
        self.assertEqual(unbilled(), {"mileage": 24.0, "expense": 27.14})

    def test_xlsx_exports_what_is_filtered(self):
        Report = self.env["halo.billing.report"]
        domain = [("partner_id", "=", self.third.id)]
        action = Report.with_user(self.billing_user).action_export_xlsx(domain=domain)
        attachment = self.env["ir.attachment"].browse(int(action["url"].split("/")[3].split("?")[0]))
        book = load_workbook(io.BytesIO(attachment.raw))
        sheet = book["Customers"]
        header = [cell.value for cell in sheet[1]]
        rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
        self.assertEqual(list(rows), [self.third.display_name, "Total"])
        self.assertEqual(rows[self.third.display_name][header.index("2026-07 billed amount")], 1455.0)
        # from the list's action menu: the filter (active_domain) when every row is selected,
        # the selected rows otherwise
        filtered = Report.with_context(active_domain=[("kind", "in", ("topup", "contract_fee"))])
        every = filtered.search([("kind", "in", ("topup", "contract_fee"))])
        self.assertEqual(sorted(Report.search(every._halo_export_domain()).mapped("amount")), [500.0, 900.0])
        some = filtered.browse(every.filtered(lambda row: row.kind == "topup").ids)
        self.assertEqual(Report.search(some._halo_export_domain()).mapped("amount"), [900.0])
        self.assertEqual(
            filtered._halo_export_domain(),
            Domain([("kind", "in", ("topup", "contract_fee"))])
            & Domain("company_id", "in", self.env.companies.ids),
        )
        # a domain over something else than the report's fields is refused, and so is a filter
        # on what the user may not read (margins, for a billing user)
        with self.assertRaises(ValueError):
            Report._halo_export_domain([("no_such_field", "=", 1)])
        with self.assertRaises(AccessError):
            Report.with_user(self.billing_user).action_export_xlsx(domain=[("margin", ">", 0)])
        self.assertTrue(Report.with_user(self.billing_manager)._halo_export_domain([("margin", ">", 0)]))
