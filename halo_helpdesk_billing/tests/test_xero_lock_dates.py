# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoices dated in a period locked in Xero: the organisation's lock dates imported on the connection,
posting warned before it happens (or sent dated on the first open day, a connection setting), billing
runs that leave the locked invoices in draft and list them, and a lock moved in Xero after the import.

Dates worked by hand: Xero's period lock date 30 June 2026 and end-of-year lock date 31 March 2026 lock
everything up to 30 June 2026 (the later of the two); the first open day is 1 July 2026."""

import json
import re
from datetime import UTC, date, datetime

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import format_date

from ..models.halo_engine import BILLING_RUN
from .billing_common import HaloBillingRunCommon
from .test_xero_push_common import HaloXeroPushCommon

LOCK = date(2026, 6, 30)
FIRST_OPEN = date(2026, 7, 1)


def json_body(request):
    return json.loads(request["body"] or "{}")


class LockDatesMixin:
    def lock_in_xero(self, period="2026-06-30", end_of_year="2026-03-31"):
        self.ctl.call(
            "POST",
            "lock-dates",
            {"tenant": self.tenant_id, "PeriodLockDate": period, "EndOfYearLockDate": end_of_year},
        )

    def fmt(self, day):
        return format_date(self.env, day)

    @staticmethod
    def sent_date(request):
        """The Date of the first document of a request body, as the SDK sends it (``/Date(ms)/``)."""
        raw = json_body(request)["Invoices"][0]["Date"]
        ms = int(re.match(r"/Date\((\d+)", raw).group(1))
        return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


@tagged("post_install", "-at_install")
class TestXeroLockDates(LockDatesMixin, HaloXeroPushCommon):
    def test_import_reads_the_lock_dates_and_posting_into_the_locked_period_is_refused(self):
        self.lock_in_xero()
        imp = self.env["halo.xero.import"].sudo()._halo_start(self.connection)
        imp._halo_run()
        self.assertEqual(imp.state, "done")
        conn = self.connection
        self.assertEqual((conn.period_lock_date, conn.end_of_year_lock_date), (LOCK, date(2026, 3, 31)))
        self.assertEqual(conn._halo_lock_date(), LOCK)  # the later of the two
        self.assertTrue(conn.lock_dates_read_at)
        self.assertEqual(len(self.sandbox_requests("/Organisation", method="GET")), 1)
        self.customers.write(
            {"halo_xero_contact_id": next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))}
        )
        # on the lock date itself: refused before posting, with what to do
        on_lock = self.make_invoices(1, post=False, invoice_date=LOCK)
        with self.assertRaises(UserError) as caught:
            on_lock.action_post()
        message = str(caught.exception)
        self.assertIn(
            "is dated %s, on or before the lock date %s of the Xero organisation Halo Demo UK Ltd"
            % (self.fmt(LOCK), self.fmt(LOCK)),
            message,
        )
        self.assertIn(
            "Change its date to %s or later, or ask your Xero adviser to move the lock date"
            % self.fmt(FIRST_OPEN),
            message,
        )
        self.assertEqual((on_lock.state, on_lock.halo_xero_state), ("draft", "not_queued"))
        # a credit note dated in the end-of-year locked period is refused too (2026-03-15 <= 2026-06-30)
        refund = self.make_invoices(1, post=False, move_type="out_refund", invoice_date=date(2026, 3, 15))
        with self.assertRaises(UserError):
            refund.action_post()
        self.assertEqual(refund.state, "draft")
        # the first open day posts and reaches Xero
        on_lock.invoice_date = FIRST_OPEN
        on_lock.action_post()
        on_lock._halo_xero_push()
        self.assertEachOnceInXero(on_lock)
        self.assertEqual(self.xero_by_number(on_lock.name)[0]["Date"], "2026-07-01")
        # the adviser removes the period lock in Xero; "Test connection" reads it again: only the end of year
        # (31 March) is locked now, and 30 June posts
        self.lock_in_xero(period=None)
        conn.action_test_connection()
        self.assertEqual((conn.period_lock_date, conn._halo_lock_date()), (False, date(2026, 3, 31)))
        late = self.make_invoices(1, invoice_date=LOCK)
        self.assertEqual(late.halo_xero_state, "queued")

    def test_first_open_day_policy_sends_locked_invoices_dated_the_day_after_the_lock(self):
        self.lock_in_xero()
        self.connection.write({"locked_period_policy": "first_open_day"})
        self.connection._halo_read_lock_dates()
        self.customers.write(
            {"halo_xero_contact_id": next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))}
        )
        # 15 June (locked) with its due date 30 August: Xero gets 1 July, due 30 August
        june = self.make_invoices(1, invoice_date=date(2026, 6, 15))
        # 20 June, due 25 June: both in the locked period; the due date may not be before the date: 1 July
        early_due = self.make_invoices(1, post=False, invoice_date=date(2026, 6, 20))
        early_due.invoice_date_due = date(2026, 6, 25)
        early_due.action_post()
        moves = june | early_due
        self.assertEqual(moves.mapped("state"), ["posted", "posted"])  # posted with their own dates in Odoo
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        sent = {m.name: self.xero_by_number(m.name)[0] for m in moves}
        self.assertEqual((sent[june.name]["Date"], sent[june.name]["DueDate"]), ("2026-07-01", "2026-08-30"))
        self.assertEqual(
            (sent[early_due.name]["Date"], sent[early_due.name]["DueDate"]), ("2026-07-01", "2026-07-01")
        )
        self.assertEqual(june.invoice_date, date(2026, 6, 15))  # Odoo keeps its date
        expected = "Dated %s in Odoo, sent to Xero dated %s: the Xero period up to %s is locked." % (
            self.fmt(date(2026, 6, 15)),
            self.fmt(FIRST_OPEN),
            self.fmt(LOCK),
        )
        self.assertIn(expected, june.halo_xero_log_ids.mapped("message"))

    def test_lock_learnt_after_posting_fails_the_push_without_a_call(self):
        self.customers.write(
            {"halo_xero_contact_id": next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))}
        )
        move = self.make_invoices(1, invoice_date=date(2026, 6, 15))  # no lock known yet: posted and queued
        self.lock_in_xero()
        self.connection.action_test_connection()  # reads the lock dates
        self.ctl.clear_requests()
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "failed")
        self.assertIn("on or before the lock date %s" % self.fmt(LOCK), move.halo_xero_error)
        self.assertIn("Reset it to draft to change its date.", move.halo_xero_error)
        self.assertEqual(self.invoice_writes(), [])  # Xero never saw it
        # reset, re-dated, posted: it goes
        move.button_draft()
        move.invoice_date = FIRST_OPEN
        move.action_post()
        move._halo_xero_push()
        self.assertEachOnceInXero(move)

    def test_lock_moved_in_xero_after_the_import_is_read_again_when_xero_refuses(self):
        self.customers.write(
            {"halo_xero_contact_id": next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))}
        )
        self.connection.write({"locked_period_policy": "first_open_day"})
        move = self.make_invoices(1, invoice_date=date(2026, 6, 15))
        self.lock_in_xero()  # the adviser locks June after Odoo last read the dates
        self.assertFalse(self.connection._halo_lock_date())
        move._halo_xero_push()
        # Xero refused the first request for its lock date; Odoo read the lock dates (one GET /Organisation)
        # and, as the connection sends such invoices on the first open day, sent it again dated 1 July
        writes = self.invoice_writes()
        self.assertEqual([w["status"] for w in writes], [200, 200])
        self.assertEqual([self.sent_date(w) for w in writes], ["2026-06-15", "2026-07-01"])
        self.assertEqual(self.connection._halo_lock_date(), LOCK)
        self.assertEqual(len(self.sandbox_requests("/Organisation", method="GET")), 1)
        self.assertEachOnceInXero(move)
        # the next invoice of June is redated before any call
        self.ctl.clear_requests()
        other = self.make_invoices(1, invoice_date=date(2026, 6, 16))
        other._halo_xero_push()
        self.assertEqual([self.sent_date(w) for w in self.invoice_writes()], ["2026-07-01"])

    def test_a_billing_run_style_batch_posts_the_open_ones_and_holds_the_locked_ones(self):
        self.lock_in_xero()
        self.connection._halo_read_lock_dates()
        locked = self.make_invoices(1, post=False, invoice_date=LOCK)
        open_ = self.make_invoices(1, post=False, invoice_date=FIRST_OPEN)
        BILLING_RUN.on(locked | open_).action_post()  # no error: the engine's posting of many invoices
        self.assertEqual((locked.state, open_.state), ("draft", "posted"))
        self.assertEqual((locked.halo_xero_state, open_.halo_xero_state), ("not_queued", "queued"))
        # the marker is an object: a client's context key of that name does not relax the check
        with self.assertRaises(UserError):
            locked.with_context(**{BILLING_RUN.key: "1"}).action_post()


@tagged("post_install", "-at_install")
class TestXeroLockDatesBillingRun(LockDatesMixin, HaloXeroPushCommon, HaloBillingRunCommon):
    def test_billing_run_leaves_locked_invoices_in_draft_and_lists_them_on_the_run(self):
        self.env["product.template"].with_context(active_test=False).search([]).write(
            {"taxes_id": [Command.set(self.tax20.ids)]}
        )
        # the run invoices on 31 July 2026; Xero is locked up to 31 July
        self.lock_in_xero(period="2026-07-31", end_of_year=None)
        self.connection._halo_read_lock_dates()
        self._work(self.ticket)
        self._work(self.ticket_b)
        run = self._run(
            partner_ids=[Command.set((self.customer | self.other_customer).ids)], user_id=self.env.uid
        )
        run.action_preview()
        run.action_create_invoices()  # does not abort
        self.assertEqual(run.state, "invoiced")
        invoices = run.invoice_ids
        self.assertEqual(len(invoices), 2)
        self.assertEqual(invoices.mapped("state"), ["draft", "draft"])
        self.assertEqual(invoices.mapped("halo_xero_state"), ["not_queued", "not_queued"])
        note = run.message_ids.filtered(lambda m: "were left in draft" in (m.body or ""))
        self.assertEqual(len(note), 1)
        self.assertIn("2 invoices were left in draft", note.body)
        self.assertIn(self.fmt(date(2026, 8, 1)), note.body)  # the first open day
        for partner in (self.customer, self.other_customer):
            self.assertIn(partner.name, note.body)
        self.assertIn("Xero period locked", run.activity_ids.mapped("summary")[0])
        # each invoice bills the ticket's £360.57 of work + 20 % VAT (ad hoc items and all)
        self.assertEqual(sorted(invoices.mapped("amount_untaxed")), [360.57, 360.57])
        # the user re-dates them to the first open day and posts them: queued for Xero
        invoices.write({"invoice_date": date(2026, 8, 1)})
        invoices.action_post()
        self.assertEqual(invoices.mapped("halo_xero_state"), ["queued", "queued"])
