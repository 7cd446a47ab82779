# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The poll in chunks: a pass over more pages than a cron run's time allows stops after a page and the next
chunk goes on with the next page of the same pass (the same If-Modified-Since: documents changed at the same
second across a page boundary are neither skipped nor read forever)."""

import time

from odoo.tests import tagged

from .test_xero_push_common import HaloXeroPushCommon


@tagged("post_install", "-at_install")
class TestXeroPollChunks(HaloXeroPushCommon):
    def invoice_reads(self):
        return [
            r for r in self.ctl.requests() if r["method"] == "GET" and r["path"].lower().endswith("/invoices")
        ]

    def test_a_pass_cut_short_goes_on_at_the_next_page(self):
        from xero_sandbox import seed

        org = self.sandbox.state.orgs[self.tenant_id]
        # 2,500 customer invoices (and 100 bills) all changed at the same second, after the poll's start
        seed.synthetic_documents(org, 2500, 100, updated=self.sandbox.state.now() + 1)
        self.ctl.advance(2)
        conn = self.connection
        out_of_time = conn.with_context(halo_xero_poll_deadline=time.monotonic() - 1)
        self.ctl.clear_requests()
        out_of_time._halo_xero_poll()  # chunk 1: page 1 only (out of time after it), no credit notes yet
        self.assertEqual(len(self.invoice_reads()), 1)
        self.assertEqual(conn.halo_xero_poll_resume["halo_xero_poll_since"]["page"], 2)
        self.assertFalse(self.sandbox_requests("/CreditNotes", "GET"))
        first = self.invoice_reads()[0]
        self.assertIn("page=1", first["query"])
        self.assertIn("order=UpdatedDateUTC", first["query"])
        out_of_time._halo_xero_poll()  # chunk 2: page 2, same If-Modified-Since
        reads = self.invoice_reads()
        self.assertEqual(len(reads), 2)
        self.assertIn("page=2", reads[1]["query"])
        self.assertEqual(
            reads[1]["headers"].get("If-Modified-Since"), first["headers"].get("If-Modified-Since")
        )
        out_of_time._halo_xero_poll()  # chunk 3: page 3 has 500: the pass is over, then credit notes
        reads = self.invoice_reads()
        self.assertEqual(len(reads), 3)
        self.assertIn("page=3", reads[2]["query"])
        self.assertFalse(conn.halo_xero_poll_resume)
        self.assertTrue(self.sandbox_requests("/CreditNotes", "GET"))
        # a chunk that is out of time before it starts, with nothing pending, still polls (one page at least)
        self.ctl.clear_requests()
        out_of_time._halo_xero_poll()
        self.assertEqual(len(self.invoice_reads()), 1)
