from datetime import date

from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon
from .contract_common import HaloContractCommon


@tagged("post_install", "-at_install")
class TestContractBillingRun(HaloContractCommon, HaloBillingRunCommon):
    """The billing engine consumes a prepay contract through the contract API."""

    def test_run_consumes_prepaid_hours_once(self):
        contract = self._contract(
            prepay_kind="hours",
            prepay_rate_ids=[(6, 0, self.rate_onsite.ids)],
            topup_block=2,
            topup_product_id=self.product_topup.id,
            topup_price=190,
        )
        contract.action_topup()  # 2 h
        actions, trip, expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        # action 1: 1 h 30 (142.50) all prepaid; action 2 (1 h, 142.50): 0.5 h prepaid, 0.5 h PAYG
        self.assertEqual(contract.balance_hours, 2)  # nothing consumed before invoicing
        run.action_create_invoices()
        # 71.25 (half of the out-of-hours action) + 12.00 + 13.57 + 50.00 = 146.82
        self.assertAlmostEqual(run.invoice_ids.amount_untaxed, 146.82)
        consumption = contract.ledger_ids.filtered(lambda e: e.kind == "consumption")
        self.assertEqual(sorted(consumption.mapped("hours")), [-1.5, -0.5])
        self.assertEqual(consumption.run_id, run)
        self.assertEqual(contract.balance_hours, 0)
        self.env["halo.contract"]._halo_commit_consumption(run.line_ids)  # again: nothing
        self.assertEqual(contract.balance_hours, 0)
        # dated by the work, explained by the allocation
        self.assertEqual(set(consumption.mapped("date")), {date(2026, 7, 7)})
        self.assertTrue(all("prepaid hours" in e.explanation for e in consumption))
