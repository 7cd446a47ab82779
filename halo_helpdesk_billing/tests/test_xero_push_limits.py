# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Pacing against the sandbox's enforced limits (per-minute window on the sandbox clock): the
throttle keeps invoice writes, PDF attachments and online-URL reads under the limit without a
single 429, and the daily budget (minus headroom) stops a run cleanly."""

from odoo.tests import tagged

from ..services import xero_client as xc
from .test_xero_push_common import HaloXeroPushCommon


class SandboxClock:
    """The throttle's clock and sleep: sleeping moves this clock and the sandbox's by the same amount
    (the sandbox's limit window runs on its own clock), so minutes pass in no time."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.now = 1000.0
        self.slept = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        seconds = max(float(seconds), 0.01)
        self.now += seconds
        self.slept += seconds
        self.ctl.advance(seconds)


@tagged("post_install", "-at_install")
class TestXeroPushLimits(HaloXeroPushCommon):
    def setUp(self):
        super().setUp()
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})
        self.fake = SandboxClock(self.ctl)

    def enforce(self, minute, day=5000):
        self.ctl.limits(
            enabled=True, minute=minute, day=day, concurrent=5, use_sandbox_clock=True, reset_counters=True
        )
        return xc.reset_default_throttle(
            per_minute=minute, concurrent=5, daily=day, clock=self.fake.clock, sleep=self.fake.sleep
        )

    def test_attachments_and_online_urls_paced_under_the_minute_limit(self):
        self.connection.attach_pdf = True
        moves = self.make_invoices(12)
        self.enforce(minute=5)
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        log = self.ctl.requests()
        self.assertEqual(len([r for r in log if r["status"] == 429]), 0, "not a single 429")
        calls = [r for r in log if "/api.xro/" in r["path"]]
        self.assertEqual(len(calls), 1 + 12 + 12)  # one PUT, 12 attachments, 12 online URLs
        self.assertTrue(all(m.halo_xero_pdf_sent and m.halo_xero_url for m in moves))
        # 25 calls at 5 per minute: at least 4 full windows waited on the sandbox clock
        self.assertGreaterEqual(self.fake.slept, 4 * 60 - 1)
        times = sorted(r["time"] for r in calls)
        for i in range(len(times) - 5):
            self.assertGreaterEqual(times[i + 5] - times[i], 59.9, "more than 5 calls in a minute")

    def test_daily_budget_with_headroom_stops_the_run(self):
        moves = self.make_invoices(3)
        throttle = self.enforce(minute=60, day=10)  # 10 a day, 10 % headroom: 9 calls
        throttle.observe_headers(self.tenant_id, {"X-DayLimit-Remaining": "1"})
        stats = moves._halo_xero_push()
        self.assertTrue(stats["stop"])
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"queued"})
        self.assertIn("daily", moves[0].halo_xero_error)
        self.assertFalse(self.xero_invoices())
        self.xero_calls_expected = False
