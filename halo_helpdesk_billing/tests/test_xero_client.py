# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""services/xero_client.py against the sandbox: retries decided by us, error mapping, timeouts."""

import time

from xero_python.accounting import Contact, Contacts

from odoo.tests import tagged

from ..services import xero_client as xc
from .xero_common import HaloXeroCommon


@tagged("post_install", "-at_install")
class TestXeroClient(HaloXeroCommon):
    def _client(self, **kwargs):
        kwargs.setdefault("sleep", lambda seconds: None)
        return self.connection._halo_client(**kwargs)

    def test_endpoints_are_settings(self):
        ends = self.connection._halo_endpoints()
        self.assertEqual(ends, xc.XeroEndpoints.for_base(self.sandbox_url))
        self.assertEqual(ends.hosts(), {"127.0.0.1:%d" % self.sandbox.port})
        defaults = xc.XeroEndpoints()
        self.assertEqual(defaults.accounting_url, "https://api.xero.com/api.xro/2.0")
        new = self.env["halo.xero.connection"].new({})
        self.assertEqual(new.token_url, "https://identity.xero.com/connect/token")
        client = self._client()
        self.assertEqual(client.accounting.base_url, self.sandbox_url + "/api.xro/2.0")
        self.assertEqual(client.identity.base_url, self.sandbox_url)
        self.assertEqual(client.timeout, (5, 60))
        self.assertEqual(xc.XeroClient(ends, "a", "b", dict, print, timeout=30.0).timeout, 30)
        client.call(self.tenant_id, "get_organisations")
        self.assertSandboxCalls(1, "/Organisation")

    def test_configuration_singleton_does_not_mix_clients(self):
        first = self._client()
        other = xc.XeroClient(xc.XeroEndpoints.for_base("http://127.0.0.1:9"), "OTHER", "s", dict, print)
        self.assertIsNot(first.api_client.configuration, other.api_client.configuration)
        self.assertEqual(first.api_client.configuration.oauth2_token.client_id, "HALO-DEMO-CLIENT")
        self.assertEqual(other.api_client.configuration.oauth2_token.client_id, "OTHER")
        first.call(self.tenant_id, "get_organisations")
        self.assertSandboxCalls(1)

    def test_read_429_is_retried_after_retry_after_write_429_is_not(self):
        client = self._client()
        self.ctl.fault("status", status=429, retry_after=2, problem="minute", path="/Items")
        items = client.call(self.tenant_id, "get_items").items
        self.assertEqual(len(items), 8)
        rows = self.assertSandboxCalls(2, "/Items")
        self.assertEqual([r["status"] for r in rows], [429, 200])
        self.ctl.clear_requests()
        self.ctl.fault("status", status=429, retry_after=7, problem="minute", method="PUT")
        xc.reset_default_throttle()
        with self.assertRaises(xc.XeroRetryLater) as caught:
            client.call(
                self.tenant_id,
                "create_contacts",
                Contacts(contacts=[Contact(name="Once Only Ltd")]),
                idempotency_key="t-429",
                write=True,
            )
        self.assertEqual((caught.exception.problem, caught.exception.retry_after), ("minute", 7.0))
        # urllib3's retries are off: exactly one PUT reached the sandbox
        self.assertSandboxCalls(1, "/Contacts", "PUT")

    def test_day_limit_is_not_retried(self):
        self.ctl.fault("status", status=429, retry_after=3600, problem="day", path="/Contacts")
        with self.assertRaises(xc.XeroRetryLater) as caught:
            self._client().call(self.tenant_id, "get_contacts", page=1)
        self.assertEqual(caught.exception.problem, "day")
        self.assertSandboxCalls(1, "/Contacts")

    def test_dropped_write_is_an_unknown_outcome_sent_once(self):
        self.ctl.fault("drop", after=True, method="PUT", path="/Contacts")
        with self.assertRaises(xc.XeroUnknownOutcome):
            self._client().call(
                self.tenant_id,
                "create_contacts",
                Contacts(contacts=[Contact(name="Dropped Ltd")]),
                idempotency_key="t-drop",
                write=True,
            )
        rows = self.assertSandboxCalls(1, "/Contacts", "PUT")
        self.assertTrue(rows[0]["dropped"])
        # it was applied: the sandbox has the contact once
        found = self._client().call(self.tenant_id, "get_contacts", where='Name=="Dropped Ltd"').contacts
        self.assertEqual(len(found), 1)

    def test_dropped_read_is_retried(self):
        self.ctl.fault("drop", method="GET", path="/Accounts")
        accounts = self._client().call(self.tenant_id, "get_accounts").accounts
        self.assertEqual(len(accounts), 15)
        self.assertEqual([r["dropped"] for r in self.sandbox_requests("/Accounts")], [True, False])

    def test_server_error_read_retried_then_retry_later(self):
        self.ctl.fault("status", status=503, count=5, path="/TaxRates")
        with self.assertRaises(xc.XeroRetryLater) as caught:
            self._client(max_retries=2).call(self.tenant_id, "get_tax_rates")
        self.assertEqual(caught.exception.problem, "server")
        self.assertSandboxCalls(3, "/TaxRates")

    def test_validation_error_message(self):
        with self.assertRaises(xc.XeroError) as caught:
            self._client().call(
                self.tenant_id,
                "create_contacts",
                Contacts(contacts=[Contact(name="Acme Facilities Ltd")]),
                idempotency_key="t-dup",
                write=True,
            )
        self.assertNotIsInstance(caught.exception, xc.XeroRetryLater)
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("already", str(caught.exception).lower())

    def test_network_down(self):
        self.xero_calls_expected = False
        self.connection._halo_set_base_url("http://127.0.0.1:9")  # nothing listens on the discard port
        with self.assertRaises(xc.XeroRetryLater) as caught:
            self._client(max_retries=1).call(self.tenant_id, "get_organisations")
        self.assertEqual(caught.exception.problem, "network")
        self.assertIn("Cannot reach Xero", str(caught.exception))
        self.host_spy.hosts.clear()

    def test_expired_access_token_refreshes_once_and_rotates(self):
        old = self.connection._halo_token()
        token = self.env["halo.xero.token"].sudo().search([("connection_id", "=", self.connection.id)])
        token.expires_at = time.time() - 5
        self._client().call(self.tenant_id, "get_organisations")
        new = self.connection._halo_token()
        self.assertNotEqual(new["refresh_token"], old["refresh_token"])
        self.assertGreater(new["expires_at"], time.time() + 1700)
        self.assertIsInstance(new["scope"], list)
        self.assertSandboxCalls(1, "/connect/token", "POST")

    def test_401_from_sandbox_clock_triggers_one_refresh(self):
        self.ctl.advance(1900)  # the sandbox thinks the access token expired; our clock does not
        self._client().call(self.tenant_id, "get_organisations")
        statuses = [(r["path"], r["status"]) for r in self.sandbox_requests()]
        self.assertEqual(
            statuses,
            [("/api.xro/2.0/Organisation", 401), ("/connect/token", 200), ("/api.xro/2.0/Organisation", 200)],
        )

    def test_throttle_sliding_window_and_penalty(self):
        now = [1000.0]
        slept = []

        def sleep(seconds):
            slept.append(seconds)
            now[0] += seconds

        throttle = xc.Throttle(
            per_minute=3, concurrent=2, daily=10, daily_headroom=0.2, clock=lambda: now[0], sleep=sleep
        )
        for _i in range(3):
            with throttle.slot("t"):
                now[0] += 1
        self.assertEqual(throttle.remaining("t"), {"minute": 0, "day": 5})
        with throttle.slot("t"):
            pass
        self.assertEqual(slept, [57.0])  # the first call leaves the 60 s window at t=1060
        throttle.penalise("t", 5)
        with throttle.slot("t"):
            pass
        self.assertEqual(slept[-1], 5.0)
        throttle.observe_headers("t", {"X-DayLimit-Remaining": "2"})
        with self.assertRaises(xc.XeroRetryLater) as caught:
            throttle.acquire("t")
        self.assertEqual(caught.exception.problem, "day")
        self.xero_calls_expected = False

    def test_throttle_headroom_is_relative_to_xero_daily_limit(self):
        """Regression: a local ``daily`` far above Xero's 5,000 a day reserved 10 % of the local figure
        (100,000) and compared it with Xero's X-DayLimit-Remaining, so every call was refused."""
        throttle = xc.Throttle(daily=1_000_000, clock=lambda: 1000.0, sleep=lambda s: None)
        with throttle.slot("t"):
            pass
        throttle.observe_headers("t", {"X-DayLimit-Remaining": "4999"})
        with throttle.slot("t"):  # not "daily budget used up"
            pass
        throttle.observe_headers("t", {"X-DayLimit-Remaining": "4998"})
        # headroom: 10 % of Xero's 5,000 (the smaller limit), not of the local 1,000,000
        self.assertEqual(throttle.remaining("t")["day"], 4998 - 500)
        throttle.observe_headers("t", {"X-DayLimit-Remaining": "501"})
        with throttle.slot("t"):
            pass
        throttle.observe_headers("t", {"X-DayLimit-Remaining": "500"})
        with self.assertRaises(xc.XeroRetryLater) as caught:
            throttle.acquire("t")
        self.assertEqual(caught.exception.problem, "day")
        # a local daily smaller than Xero's keeps its own headroom
        small = xc.Throttle(daily=1000, clock=lambda: 1000.0, sleep=lambda s: None)
        with small.slot("t"):
            pass
        small.observe_headers("t", {"X-DayLimit-Remaining": "4999"})
        self.assertEqual(small.remaining("t")["day"], 900 - 1)
        self.xero_calls_expected = False

    def test_large_local_daily_budget_calls_the_sandbox(self):
        xc.reset_default_throttle(daily=1_000_000)
        client = self._client()
        for _i in range(3):
            client.call(self.tenant_id, "get_organisations")
        self.assertEqual(len(self.sandbox_requests("/Organisation")), 3)
