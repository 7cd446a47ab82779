# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A billing run's invoice goes to Xero when posted, and its ticket shows the Xero number and status."""

from odoo import Command
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon
from .test_xero_push_common import HaloXeroPushCommon


@tagged("post_install", "-at_install")
class TestXeroPushBillingRun(HaloXeroPushCommon, HaloBillingRunCommon):
    def test_billing_run_invoice_reaches_xero_and_its_ticket(self):
        # every product billed by the run is taxed with the mapped 20 % VAT
        self.env["product.template"].with_context(active_test=False).search([]).write(
            {"taxes_id": [Command.set(self.tax20.ids)]}
        )
        self._work(self.ticket)
        run = self._run(partner_ids=[Command.set(self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        invoice = run.invoice_ids
        self.assertEqual(invoice.halo_xero_state, "queued")
        invoice._halo_xero_push()
        self.assertEachOnceInXero(invoice)
        xero = self.xero_by_number(invoice.name)[0]
        self.assertEqual(xero["Total"], invoice.amount_total)
        self.assertEqual(
            len(xero["LineItems"]),
            len(invoice.invoice_line_ids.filtered(lambda aml: aml.display_type == "product")),
        )
        self.assertEqual({li["AccountCode"] for li in xero["LineItems"]}, {"200"}, "the connection's default")
        self.assertEqual(self.ticket.halo_invoice_ids, invoice)
        self.assertEqual(self.ticket.halo_xero_summary, "%s: %s (AUTHORISED)" % (invoice.name, invoice.name))
