# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The webhook endpoint: signature checked (401 on a bad one, empty bodies), intent-to-receive run
by the sandbox against Odoo's test server, a payment in Xero paid in Odoo through the webhook path,
with duplicated and reversed deliveries."""

import json

from odoo.tests import HttpCase, tagged

from ..services import xero_push
from .test_xero_push_common import HaloXeroPushCommon

KEY = "halo-demo-webhook-key"
PATH = "/halo_xero/webhook"


@tagged("post_install", "-at_install")
class TestXeroWebhookReceive(HaloXeroPushCommon):
    """The endpoint's logic without the HTTP transport (runs without pytest-odoo's --odoo-http)."""

    def receive(self, payload, key=KEY):
        body = json.dumps(payload).encode()
        return self.env["halo.xero.webhook.event"]._halo_receive(body, xero_push.webhook_signature(body, key))

    def pending_payloads(self):
        """What the sandbox would POST now (its queued events), one payload per event."""
        events = self.ctl.call("GET", "webhooks")["pending"]
        return [
            {"events": [e], "firstEventSequence": n, "lastEventSequence": n, "entropy": "E%d" % n}
            for n, e in enumerate(events, 1)
        ]

    def test_signature_and_intent_to_receive(self):
        itr = {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "ABC"}
        self.assertEqual(self.receive(itr), 200)
        self.assertEqual(self.receive(itr, key="wrong"), 401)
        body = json.dumps(itr).encode()
        Event = self.env["halo.xero.webhook.event"]
        self.assertEqual(Event._halo_receive(body, None), 401)
        self.assertEqual(Event._halo_receive(body + b" ", xero_push.webhook_signature(body, KEY)), 401)
        self.xero_calls_expected = False

    def test_payment_through_webhook_events_duplicated_and_reversed(self):
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})
        move = self.make_invoices(1)
        move._halo_xero_push()
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=71.0)
        self.ctl.advance(2)
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=100.0)
        payloads = self.pending_payloads()
        self.assertEqual([p["events"][0]["eventType"] for p in payloads], ["CREATE", "UPDATE", "UPDATE"])
        for payload in reversed(payloads * 2):  # at least once, newest first
            self.assertEqual(self.receive(payload), 200)
        Event = self.env["halo.xero.webhook.event"]
        events = Event.search([("state", "=", "new")])
        self.assertEqual(len(events), 3, "each event stored once")
        events._halo_process()
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertEqual(sorted(move.halo_xero_payment_ids.mapped("amount")), [71.0, 100.0])
        for payload in payloads:  # redelivered after processing
            self.receive(payload)
        self.assertFalse(Event.search([("state", "=", "new")]))
        self.assertEqual(len(move.halo_xero_payment_ids), 2)


@tagged("post_install", "-at_install")
class TestXeroWebhook(HaloXeroPushCommon, HttpCase):
    """Over HTTP (pytest-odoo needs --odoo-http, e.g. ./test.sh --only addon -- --odoo-http)."""

    def setUp(self):
        super().setUp()
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})
        self.ctl.webhook_config(url=self.base_url() + PATH, key=KEY, auto=False, max_attempts=1)
        self.resolve_database_without_session()

    def sandbox_posts(self):
        """Let the sandbox's POSTs (no test cookie) reach the test server, on flushed data."""
        self.env.flush_all()
        return self.allow_requests(all_requests=True)

    def post(self, body: bytes, signature=None):
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["x-xero-signature"] = signature
        return self.url_open(PATH, data=body, headers=headers)

    def test_signature_checked(self):
        body = json.dumps(
            {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "ABC"}
        ).encode()
        good = self.post(body, xero_push.webhook_signature(body, KEY))
        self.assertEqual((good.status_code, good.content), (200, b""))
        self.assertNotIn("Set-Cookie", good.headers)
        for signature in (
            None,
            "",
            xero_push.webhook_signature(body, "wrong key"),
            xero_push.webhook_signature(body + b" ", KEY),
        ):
            bad = self.post(body, signature)
            self.assertEqual((bad.status_code, bad.content), (401, b""), signature)
        self.xero_calls_expected = False

    def test_intent_to_receive_passes(self):
        with self.sandbox_posts():
            result = self.ctl.intent_to_receive(rounds=4)
        self.assertTrue(result["ok"], result)
        self.assertEqual(len(result["results"]), 4)
        self.xero_calls_expected = False

    def test_payment_in_xero_shows_paid_in_odoo_through_the_webhook(self):
        move = self.make_invoices(1)
        move._halo_xero_push()
        with self.sandbox_posts():
            self.ctl.deliver_webhooks()  # the CREATE events of the push
        Event = self.env["halo.xero.webhook.event"]
        Event.search([("state", "=", "new")])._halo_process()
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=71.0)
        self.ctl.advance(2)
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=100.0)
        # at least once and out of order: every payload twice, newest first
        with self.sandbox_posts():
            results = self.ctl.deliver_webhooks(duplicate=True, reverse=True)
        self.assertTrue(results and all(r["ok"] and r["status"] == [200, 200] for r in results), results)
        self.env.invalidate_all()
        new = Event.search([("state", "=", "new")])
        self.assertEqual(len(new), 2, "two UPDATE events, each stored once")
        new._halo_process()
        self.assertEqual(set(new.mapped("state")), {"done"})
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertEqual(move.halo_xero_status, "PAID")
        self.assertEqual(sorted(move.halo_xero_payment_ids.mapped("amount")), [71.0, 100.0])
        # delivered again later: nothing new, nothing paid twice
        with self.sandbox_posts():
            self.ctl.call("POST", "webhooks/deliver", {"duplicate": True})
        self.env.invalidate_all()
        self.assertFalse(Event.search([("state", "=", "new")]))
        self.assertEqual(len(move.halo_xero_payment_ids), 2)

    def test_events_for_unknown_invoices_are_ignored(self):
        events = [
            {
                "resourceId": "00000000-0000-0000-0000-0000000000aa",
                "eventDateUtc": "2026-07-31T10:00:00.000",
                "eventType": "UPDATE",
                "eventCategory": "INVOICE",
                "tenantId": self.tenant_id,
                "tenantType": "ORGANISATION",
            },
            {
                "resourceId": "00000000-0000-0000-0000-0000000000bb",
                "eventDateUtc": "2026-07-31T10:00:00.000",
                "eventType": "UPDATE",
                "eventCategory": "CONTACT",
                "tenantId": self.tenant_id,
                "tenantType": "ORGANISATION",
            },
        ]
        body = json.dumps(
            {"events": events, "firstEventSequence": 1, "lastEventSequence": 2, "entropy": "X"}
        ).encode()
        self.assertEqual(self.post(body, xero_push.webhook_signature(body, KEY)).status_code, 200)
        self.assertEqual(self.post(body, xero_push.webhook_signature(body, KEY)).status_code, 200)
        self.env.invalidate_all()
        stored = self.env["halo.xero.webhook.event"].search([])
        self.assertEqual(len(stored), 2)
        stored._halo_process()
        self.assertEqual(set(stored.mapped("state")), {"ignored"})
        self.xero_calls_expected = False
