# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Browser tour (headless Chromium): a billing user credits a run invoice in full, bills its
work again and finds both numbers on the ticket. Run by ./test.sh --only tours (tag halo_tour)."""

from odoo.tests import HttpCase, tagged

from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install", "halo_tour")
class TestCreditRebillTour(HaloBillingRunCommon, HttpCase):
    def test_credit_rebill_tour(self):
        self._work(self.ticket)
        self.start_tour(
            "/odoo/action-halo_helpdesk_billing.halo_billing_run_action",
            "halo_credit_rebill_tour",
            login=self.billing_user.login,
        )
        first, second = self.env["halo.billing.run"].search([], order="id")[-2:]
        credited = first.invoice_ids
        credit = credited.reversal_move_ids
        self.assertEqual(credited.halo_released_by_id, credit)
        self.assertEqual(second.halo_rebill_move_id, credited)
        self.assertEqual(second.invoice_ids.amount_untaxed, 360.57)
        self.assertEqual(self.ticket.halo_invoice_numbers, second.invoice_ids.name)
        self.assertIn(f"{credited.name} credited by {credit.name}", self.ticket.halo_credited_invoices)
