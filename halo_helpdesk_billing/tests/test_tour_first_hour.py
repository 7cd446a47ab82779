# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The newcomer's first hour in a browser (headless Chromium) against ``xero_sandbox``: the Xero
set-up from the menu through the consent page, a billing run whose invoice is posted and queued, the
invoice in the sandbox, the customer's payment recorded there and the invoice paid in Odoo.

The scheduler does not run in tests: what its crons do (send the queue, poll Xero) is called here
between the two tours, as the cron would. Tagged ``halo_tour`` (./test.sh --only tours)."""

import urllib.parse
import urllib.request

from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon
from .test_tour_xero_setup import TestXeroSetupTour
from .xero_common import UK_TENANT_ID


@tagged("post_install", "-at_install", "halo_tour")
class TestFirstHourTour(HaloBillingRunCommon, TestXeroSetupTour):
    test_setup_wizard_tour = None  # TestXeroSetupTour runs it

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a UK company's VAT: the import maps 20 % to Xero's OUTPUT2 by rate (the test chart's 15 %
        # has no Xero counterpart and would rightly fail the push until mapped)
        cls.env["account.tax"].search(
            [("company_id", "=", cls.env.company.id), ("type_tax_use", "=", "sale"), ("amount", "=", 15)]
        ).write({"amount": 20})

    def test_first_hour_tour(self):
        self._work(self.ticket)
        self._run_tour_through_consent(self.billing_manager.login, tour="halo_first_hour_tour", timeout=240)
        self.env.invalidate_all()
        conn = self.connection
        self.assertEqual((conn.state, conn.tenant_id), ("connected", UK_TENANT_ID))
        self.assertEqual(conn.payment_journal_id.type, "bank")
        run = self.env["halo.billing.run"].search([], order="id desc", limit=1)
        invoice = run.invoice_ids
        self.assertEqual(
            (run.state, invoice.state, invoice.halo_xero_state), ("invoiced", "posted", "queued")
        )
        self.assertEqual(invoice.amount_untaxed, 360.57)  # billing_common: the month's work

        # the push cron: the invoice arrives in the sandbox, once, approved, for the same amount
        invoice._halo_xero_push()
        self.assertEqual(invoice.halo_xero_state, "sent", invoice.halo_xero_error)
        in_xero = [
            i
            for i in self.sandbox.state.orgs[UK_TENANT_ID]["invoices"].values()
            if i.get("InvoiceNumber") == invoice.name
        ]
        self.assertEqual(len(in_xero), 1)
        self.assertEqual((in_xero[0]["Status"], in_xero[0]["Total"]), ("AUTHORISED", invoice.amount_total))

        # the customer pays in Xero: the sandbox's organisation page (as the README says) shows the invoice
        # with a *Record payment* form; submitting it as the browser does records the payment; the poll
        # brings it back
        page_url = "%s/_sandbox/orgs/%s" % (self.sandbox.url, UK_TENANT_ID)
        with urllib.request.urlopen(page_url) as response:
            page = response.read().decode()
        self.assertIn("action='%s/pay'" % page_url, page)
        self.assertIn("value='%s'" % invoice.halo_xero_invoice_id, page)
        form = urllib.parse.urlencode({"invoice": invoice.halo_xero_invoice_id, "amount": ""}).encode()
        with urllib.request.urlopen(
            urllib.request.Request(page_url + "/pay", data=form, method="POST")
        ) as response:
            self.assertIn("amount due now 0.00", response.read().decode())
        conn._halo_xero_poll()
        self.env.invalidate_all()
        self.assertEqual(invoice.halo_xero_status, "PAID")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.halo_xero_payment_ids.payment_id.journal_id, conn.payment_journal_id)

        # and the billing manager sees it paid on the invoice
        self.start_tour(
            "/odoo/action-account.action_move_out_invoice_type/%d" % invoice.id,
            "halo_first_hour_paid_tour",
            login=self.billing_manager.login,
        )
