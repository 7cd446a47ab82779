# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Browser tour (headless Chromium): a billing user runs a whole billing run.
Run by ./test.sh --only tours (Odoo's own runner, tag halo_tour)."""

from odoo.tests import HttpCase, tagged

from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install", "halo_tour")
class TestBillingRunTour(HaloBillingRunCommon, HttpCase):
    def test_billing_run_tour(self):
        actions, trip, expense, item = self._work(self.ticket)
        self.start_tour(
            "/odoo/action-halo_helpdesk_billing.halo_billing_run_action",
            "halo_billing_run_tour",
            login=self.billing_user.login,
        )
        run = self.env["halo.billing.run"].search([], order="id desc", limit=1)
        self.assertEqual(run.state, "invoiced")
        self.assertEqual(run.create_uid, self.billing_user)
        excluded = run.line_ids.filtered(lambda line: line.state == "excluded")
        self.assertEqual((excluded.res_model, excluded.res_id), ("halo.expense", expense.id))
        self.assertFalse(expense.billable)
        invoice = run.invoice_ids
        self.assertEqual(invoice.state, "posted")
        # 360.57 without the 13.57 toll
        self.assertEqual(invoice.amount_untaxed, 347.0)
        self.assertEqual(self.ticket.halo_invoice_numbers, invoice.name)
