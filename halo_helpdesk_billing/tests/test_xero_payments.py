# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Back from Xero by polling (If-Modified-Since, paged): status and payments, each Xero payment
registered once, partial payments, voided in Xero."""

from odoo.tests import tagged

from .test_xero_push_common import HaloXeroPushCommon


@tagged("post_install", "-at_install")
class TestXeroPayments(HaloXeroPushCommon):
    def setUp(self):
        super().setUp()
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})

    def sent(self, count=1):
        moves = self.make_invoices(count)
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        return moves

    def test_payment_in_xero_shows_paid_in_odoo_by_polling(self):
        move = self.sent()
        self.connection._halo_xero_poll()
        self.assertEqual(move.payment_state, "not_paid")
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id)
        self.connection._halo_xero_poll()
        self.assertEqual(move.halo_xero_status, "PAID")
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertEqual(len(move.halo_xero_payment_ids), 1)
        self.assertEqual(move.halo_xero_payment_ids.payment_id.journal_id, self.bank_journal)
        self.assertAlmostEqual(move.halo_xero_payment_ids.payment_id.amount, move.amount_total)
        # polled again (and from the start): the same Xero payment is never registered twice
        self.connection._halo_xero_poll()
        self.connection.halo_xero_poll_since = False
        self.connection._halo_xero_poll()
        self.assertEqual(len(move.halo_xero_payment_ids), 1)
        self.assertEqual(
            self.env["account.payment"].search_count([("partner_id", "=", move.partner_id.id)]), 1
        )

    def test_partial_payments(self):
        move = self.sent()  # 171.00
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=71.0)
        self.connection._halo_xero_poll()
        self.assertEqual(move.payment_state, "partial")
        self.assertAlmostEqual(move.amount_residual, 100.0)
        self.assertEqual(move.halo_xero_status, "AUTHORISED")
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=100.0)
        self.connection._halo_xero_poll()
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertEqual(move.halo_xero_status, "PAID")
        self.assertEqual(sorted(move.halo_xero_payment_ids.mapped("amount")), [71.0, 100.0])

    def test_poll_uses_if_modified_since_and_pages(self):
        moves = self.sent(5)
        self.ctl.clear_requests()
        pages = self.connection._halo_xero_poll(page_size=2)
        self.assertEqual(pages, 3)  # 2 + 2 + 1
        gets = [
            r for r in self.ctl.requests() if r["method"] == "GET" and r["path"].lower().endswith("/invoices")
        ]
        self.assertEqual([("page=%d" % n) in r["query"] for n, r in enumerate(gets, 1)], [True] * 3)
        # even the first poll starts at the connection's creation (or its oldest sent invoice), never at the
        # beginning of the organisation's history
        self.assertTrue(gets[0]["headers"].get("If-Modified-Since"))
        self.assertTrue(self.connection.halo_xero_poll_since)
        self.ctl.advance(5)
        self.ctl.pay(self.tenant_id, moves[2].halo_xero_invoice_id)
        self.ctl.clear_requests()
        self.connection._halo_xero_poll(page_size=2)
        gets = self.ctl.requests()
        self.assertTrue(gets[0]["headers"].get("If-Modified-Since"))
        self.assertIn(moves[2].payment_state, ("paid", "in_payment"))
        self.assertEqual(moves[:2].mapped("payment_state"), ["not_paid", "not_paid"])

    def test_voided_in_xero_is_reflected(self):
        move = self.sent()
        from xero_python.accounting import Invoice, Invoices

        client = self.connection._halo_client()
        client.call(
            self.tenant_id,
            "update_invoice",
            move.halo_xero_invoice_id,
            Invoices(invoices=[Invoice(status="VOIDED")]),
            write=True,
        )
        self.connection._halo_xero_poll()
        self.assertEqual(move.halo_xero_status, "VOIDED")
        self.assertIn("voided in Xero", move.message_ids[0].body)
        self.assertEqual(
            move.halo_xero_log_ids.filtered(lambda log: log.action == "status").message, "AUTHORISED → VOIDED"
        )

    def test_deleted_draft_in_xero_is_reflected(self):
        self.connection.invoice_status = "DRAFT"
        move = self.sent()
        from xero_python.accounting import Invoice, Invoices

        self.connection._halo_client().call(
            self.tenant_id,
            "update_invoice",
            move.halo_xero_invoice_id,
            Invoices(invoices=[Invoice(status="DELETED")]),
            write=True,
        )
        self.connection._halo_xero_poll()
        self.assertEqual(move.halo_xero_status, "DELETED")
        self.assertIn("deleted in Xero", move.message_ids[0].body)

    def test_payment_without_journal_is_recorded_not_registered(self):
        self.connection.payment_journal_id = False
        move = self.sent()
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id)
        self.connection._halo_xero_poll()
        self.assertEqual(move.halo_xero_payment_ids.state, "skipped")
        self.assertEqual(move.payment_state, "not_paid")
        self.assertEqual(move.halo_xero_status, "PAID")
