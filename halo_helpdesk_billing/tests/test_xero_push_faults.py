# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The sandbox's fault injection: in every case each invoice exists in Xero exactly once and Odoo
knows its state (sent, with Xero's InvoiceID)."""

from unittest.mock import patch

from odoo.tests import tagged

from ..models.xero.account_move_xero import AccountMove
from ..services import xero_client as xc
from .test_xero_push_common import HaloXeroPushCommon


class Crash(Exception):
    """The worker dies after Xero applied the request and before Odoo committed the answer."""


@tagged("post_install", "-at_install")
class TestXeroPushFaults(HaloXeroPushCommon):
    def setUp(self):
        super().setUp()
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})

    def statuses(self):
        return [(r["method"], r["status"], r["dropped"]) for r in self.invoice_writes()]

    # -- 429 / 5xx ----------------------------------------------------------------------------------------
    def test_429_with_retry_after_is_honoured(self):
        moves = self.make_invoices(3)
        self.ctl.fault("status", status=429, retry_after=1, problem="minute", method="PUT", path="/Invoices$")
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual(
            self.statuses(),
            [("PUT", 429, False), ("PUT", 200, False)],
            "no silent urllib3 re-send: the worker re-sent once, after Retry-After",
        )
        writes = self.invoice_writes()
        self.assertGreaterEqual(writes[1]["time"] - writes[0]["time"], 0.9, "Retry-After: 1 honoured")

    def test_long_retry_after_leaves_the_invoices_queued(self):
        moves = self.make_invoices(2)
        self.ctl.fault(
            "status", status=429, retry_after=120, problem="minute", method="PUT", path="/Invoices$"
        )
        stats = moves._halo_xero_push()
        self.assertTrue(stats["stop"])
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"queued"})
        self.assertIn("rate limit", moves[0].halo_xero_error)
        self.assertFalse(self.xero_invoices())
        xc.reset_default_throttle(per_minute=100000, concurrent=5)  # the next run, after the wait
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)

    def test_500_then_503_back_off_and_send_once(self):
        moves = self.make_invoices(3)
        self.ctl.fault("status", status=500, method="PUT", path="/Invoices$")
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual([s for _m, s, _d in self.statuses()], [500, 200])
        # a 5xx may hide an applied write: the invoices were looked up before the re-send
        lookups = [r for r in self.sandbox_requests(method="GET") if r["path"].lower().endswith("/invoices")]
        self.assertEqual(len(lookups), 1)
        self.ctl.clear_requests()
        more = self.make_invoices(2)
        self.ctl.fault("status", status=503, count=2, method="PUT", path="/Invoices$")
        more._halo_xero_push()
        self.assertEachOnceInXero(moves | more)
        self.assertEqual([s for _m, s, _d in self.statuses()], [503, 503, 200])
        writes = self.invoice_writes()
        self.assertGreaterEqual(writes[2]["time"] - writes[1]["time"], 1.5, "exponential backoff")

    # -- dropped connections ------------------------------------------------------------------------------
    def test_dropped_connection_after_put_applied_is_not_resent(self):
        moves = self.make_invoices(3)
        self.ctl.fault("drop", after=True, method="PUT", path="/Invoices$")
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual(self.statuses(), [("PUT", None, True)], "found by number, never sent again")
        logs = self.env["halo.xero.sync.log"].search([("move_id", "=", moves[0].id)], order="id")
        self.assertEqual(
            [(log.action, log.outcome) for log in logs], [("create", "unknown"), ("lookup", "ok")]
        )

    def test_sdk_silent_put_resend_cannot_duplicate(self):
        """Even with urllib3's default retries back on (the SDK's silent re-send of a PUT after a dropped
        connection), the re-sent PUT carries the same Idempotency-Key and Xero replays its answer."""
        import urllib3

        from odoo.addons.halo_helpdesk_billing.models.xero.halo_xero_connection import HaloXeroConnection

        original = HaloXeroConnection._halo_client

        def client_with_urllib3_retries(conn, **kwargs):
            client = original(conn, **kwargs)
            client.api_client.rest_client.pool_manager.connection_pool_kw["retries"] = urllib3.Retry(3)
            return client

        moves = self.make_invoices(3)
        self.ctl.fault("drop", after=True, method="PUT", path="/Invoices$")
        with patch.object(HaloXeroConnection, "_halo_client", client_with_urllib3_retries):
            moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        writes = self.invoice_writes()
        self.assertEqual(self.statuses(), [("PUT", None, True), ("PUT", 200, False)], "urllib3 re-sent it")
        self.assertEqual(writes[0]["headers"]["Idempotency-Key"], writes[1]["headers"]["Idempotency-Key"])

    def test_dropped_connection_before_put_is_sent_again(self):
        moves = self.make_invoices(3)
        self.ctl.fault("drop", after=False, method="PUT", path="/Invoices$")
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual(self.statuses(), [("PUT", None, True), ("PUT", 200, False)])

    def test_dropped_connection_after_put_with_xero_numbering(self):
        self.connection.invoice_numbering = "xero"
        moves = self.make_invoices(2)
        self.ctl.fault("drop", after=True, method="PUT", path="/Invoices$")
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual(len(self.invoice_writes()), 1)
        self.assertTrue(all(n.startswith("INV-") for n in moves.mapped("halo_xero_number")))

    def test_dropped_connection_on_post_update(self):
        self.connection.invoice_status = "DRAFT"
        move = self.make_invoices(1)
        move._halo_xero_push()
        move.button_draft()
        move.invoice_line_ids[0].price_unit = 100.0
        move.action_post()
        self.ctl.clear_requests()
        self.ctl.fault("drop", after=True, method="POST", path="/Invoices$")
        move._halo_xero_push()
        self.assertEachOnceInXero(move)
        # an update is idempotent by InvoiceID: re-sent with the same key, Xero replays its first answer
        self.assertEqual(self.statuses(), [("POST", None, True), ("POST", 200, False)])
        self.assertEqual(self.xero_by_number(move.name)[0]["Total"], 180.0)

    def test_dropped_connection_before_post_update_is_sent_again(self):
        self.connection.invoice_status = "DRAFT"
        move = self.make_invoices(1)
        move._halo_xero_push()
        move.button_draft()
        move.invoice_line_ids[0].price_unit = 100.0
        move.action_post()
        self.ctl.clear_requests()
        self.ctl.fault("drop", after=False, method="POST", path="/Invoices$")
        move._halo_xero_push()
        self.assertEachOnceInXero(move)
        self.assertEqual(self.xero_by_number(move.name)[0]["Total"], 180.0, "the change reached Xero")

    def test_duplicate_number_from_an_earlier_lost_answer_binds_the_existing_invoice(self):
        """Beyond the Idempotency-Key's 6 minutes: Xero refuses the number, Odoo finds the invoice."""
        moves = self.make_invoices(2)
        self.ctl.fault("drop", after=True, method="PUT", path="/Invoices$")
        with patch.object(AccountMove, "_halo_xero_reconcile", autospec=True):  # the look-up is skipped ...
            moves._halo_xero_push()
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"unknown"})
        moves.write({"halo_xero_state": "queued", "halo_xero_payload_version": 2})  # ... and it is sent again
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertIn("Invoice # must be unique", " ".join(moves[0].halo_xero_log_ids.mapped("message")))

    # -- tokens -------------------------------------------------------------------------------------------
    def test_expired_token_mid_batch(self):
        moves = self.make_invoices(60)
        original = AccountMove._halo_xero_apply_results
        calls = []

        def apply_then_expire(self_, *args, **kwargs):
            original(self_, *args, **kwargs)
            if not calls:
                self.ctl.expire_tokens()  # Xero drops the access token between the two requests
            calls.append(1)

        with patch.object(AccountMove, "_halo_xero_apply_results", apply_then_expire):
            moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual([s for _m, s, _d in self.statuses()], [200, 401, 200])
        self.assertEqual(self.connection.state, "connected")

    def test_invalid_grant_keeps_invoices_queued_until_reconnected(self):
        moves = self.make_invoices(3)
        self.ctl.expire_tokens()
        self.ctl.call("POST", "tokens/expire-refresh", {})
        stats = moves._halo_xero_push()
        self.assertTrue(stats["stop"])
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"queued"})
        self.assertEqual(self.connection.state, "needs_reauth")
        self.assertIn("invalid_grant", moves[0].halo_xero_error)
        self.assertFalse(self.xero_invoices())
        self.connect_sandbox()
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)

    # -- crash between send and commit --------------------------------------------------------------------
    def _crash_after_send(self, moves):
        """Run the worker until Xero applied the batch, then die before the answer is recorded (the
        'sending' state had been committed before the HTTP call: tests cannot commit, the state is kept)."""
        with patch.object(AccountMove, "_halo_xero_apply_results", side_effect=Crash):
            try:  # not assertRaises: it would roll back to a savepoint, and 'sending' was committed
                moves._halo_xero_push()
            except Crash:  # pylint: disable=except-pass
                pass
            else:
                self.fail("the worker should have crashed")
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"sending"})
        self.assertFalse(any(moves.mapped("halo_xero_invoice_id")))

    def test_worker_killed_between_send_and_commit_then_run_again(self):
        moves = self.make_invoices(5)
        self._crash_after_send(moves)
        self.assertEqual(len(self.xero_invoices()), 5)
        found = self.env["account.move"].search(self.env["account.move"]._halo_xero_push_domain())
        self.assertEqual(found & moves, moves, "the next cron run picks up invoices left 'sending'")
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual(len(self.invoice_writes()), 1, "looked up, not sent again")

    def test_worker_killed_with_xero_numbering_then_run_again(self):
        self.connection.invoice_numbering = "xero"
        moves = self.make_invoices(3)
        self._crash_after_send(moves)
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual(len(self.invoice_writes()), 1)

    def test_worker_killed_before_send_sends_after_lookup(self):
        moves = self.make_invoices(2)
        moves.write({"halo_xero_state": "sending"})  # committed 'sending', then killed before the request
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertEqual(len(self.invoice_writes()), 1)
