import io
from datetime import date, datetime

from openpyxl import load_workbook

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon
from .contract_common import HaloContractCommon


@tagged("post_install", "-at_install")
class TestBillingReportPrepaid(HaloContractCommon, HaloBillingRunCommon):
    """A 10 h block bought for £800.00 (£80.00/h), then 2.5 h of on-site work covered by it,
    at a cost of £40.00/h: prepaid value 2.5 × 80.00 = £200.00, cost 2.5 × 40.00 = £100.00,
    margin £100.00; the top-up is billed (£800.00) but not in the margin."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.employee.hourly_cost = 40.0
        cls.contract = cls._contract(
            prepay_kind="hours",
            prepay_rate_ids=[(6, 0, cls.rate_onsite.ids)],
            topup_block=10,
            topup_product_id=cls.product_topup.id,
            topup_price=800,
        )

    def setUp(self):
        super().setUp()
        self.contract.action_topup()
        self.topup = self.contract.invoice_ids
        self.topup.invoice_date = date(2026, 7, 1)
        self.topup.action_post()
        # 09:00-10:30 (1.5 h) and 11:00-12:00 (1 h): 2.5 h within office hours, all prepaid
        self.env["account.analytic.line"].create(
            [
                {
                    "halo_ticket_id": self.ticket.id,
                    "employee_id": self.employee.id,
                    "halo_charge_rate_id": self.rate_onsite.id,
                    "name": name,
                    "halo_start": datetime(2026, 7, 7, *start),
                    "halo_end": datetime(2026, 7, 7, *end),
                }
                for name, start, end in (("Fixed", (8, 0), (9, 30)), ("Checked", (10, 0), (11, 0)))
            ]
        )
        self.run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        self.run.action_preview()
        self.run.action_create_invoices()
        self.env.flush_all()

    def _totals(self, domain=()):
        ((amount, cost, prepaid, margin),) = self.env["halo.billing.report"]._read_group(
            [("partner_id", "=", self.customer.id), ("status", "=", "billed"), *domain],
            [],
            ["amount:sum", "cost:sum", "prepaid_value:sum", "margin:sum"],
        )
        return round(amount, 2), round(cost, 2), round(prepaid, 2), round(margin, 2)

    def test_prepaid_work_valued_at_the_prepaid_rate(self):
        self.assertEqual(self.contract.balance_hours, 7.5)
        self.assertEqual(self.run.invoice_ids.amount_untaxed, 0.0)  # all covered
        # the work: billed 0.00, cost 100.00, prepaid value 200.00, margin 100.00
        self.assertEqual(self._totals([("kind", "=", "labour")]), (0.0, 100.0, 200.0, 100.0))
        # the top-up: billed 800.00, no margin of its own (its revenue is the prepaid value)
        self.assertEqual(self._totals([("kind", "=", "topup")]), (800.0, 0.0, 0.0, 0.0))
        # the customer: billed still equals the posted invoices (800.00 + 0.00)
        self.assertEqual(self._totals(), (800.0, 100.0, 200.0, 100.0))
        moves = self.topup | self.run.invoice_ids
        self.assertEqual(round(sum(moves.mapped("amount_untaxed_signed")), 2), 800.0)
        by_contract = dict(
            self.env["halo.billing.report"]._read_group(
                [("status", "=", "billed")], ["contract_id"], ["prepaid_value:sum"]
            )
        )
        self.assertEqual(by_contract[self.contract], 200.0)

    def test_rate_from_the_contract_and_none_without_a_block(self):
        """The rate is the contract's: a later top-up price changes the value; a contract
        whose block is empty has no price per hour (no value, no division by zero)."""
        self.contract.topup_price = 1000  # £100.00/h
        self.env.flush_all()
        self.assertEqual(self._totals([("kind", "=", "labour")]), (0.0, 100.0, 250.0, 150.0))
        self.env.cr.execute("UPDATE halo_contract SET topup_block = 0 WHERE id = %s", [self.contract.id])
        self.env.invalidate_all()
        self.assertEqual(self._totals([("kind", "=", "labour")]), (0.0, 100.0, 0.0, -100.0))

    def test_credit_note_gives_the_prepaid_value_back(self):
        """Crediting the run's invoice in full gives the 2.5 h back to the balance: the credit
        note's lines count -200.00 of prepaid value, the contract's total is 0.00."""
        invoice = self.run.invoice_ids
        credit = invoice._reverse_moves([{"invoice_date": date(2026, 7, 31)}])
        credit.action_post()
        self.assertEqual(self.contract.balance_hours, 10)
        self.env.flush_all()
        by_move = dict(
            self.env["halo.billing.report"]._read_group(
                [("status", "=", "billed"), ("kind", "=", "labour")], ["invoice_id"], ["prepaid_value:sum"]
            )
        )
        self.assertEqual((by_move[invoice], by_move[credit]), (200.0, -200.0))
        self.assertEqual(self._totals([("kind", "=", "labour")])[2], 0.0)

    def test_prepaid_value_for_managers_only(self):
        Report = self.env["halo.billing.report"]
        rows = Report.search([("kind", "=", "labour"), ("partner_id", "=", self.customer.id)])
        with self.assertRaises(AccessError):
            rows.with_user(self.billing_user).read(["prepaid_value"])
        # one invoice line per action: 1.5 h × 80.00 = 120.00 and 1 h × 80.00 = 80.00
        self.assertEqual(sorted(rows.with_user(self.billing_manager).mapped("prepaid_value")), [80.0, 120.0])
        # the XLSX: a column for managers, none for billing users
        header = [
            c.value for c in load_workbook(io.BytesIO(Report._halo_xlsx([], with_cost=True)))["Customers"][1]
        ]
        self.assertIn("2026-07 billed prepaid_value", header)
        plain = [
            c.value for c in load_workbook(io.BytesIO(Report._halo_xlsx([], with_cost=False)))["Customers"][1]
        ]
        self.assertFalse([title for title in plain if title and "prepaid" in title])
