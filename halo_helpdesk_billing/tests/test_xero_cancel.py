# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Cancelling in Odoo an invoice or credit note that is in Xero: deleted (DRAFT / SUBMITTED) or voided
(AUTHORISED, nothing paid) by the push, refused when money is applied (known in Odoo: refused at once;
made in Xero since the last sync: flagged, retried once fixed), idempotent after an unknown outcome,
and out of reach of a technician. Reset to draft deletes nothing in Xero.

Amounts: every invoice is one line of 1.5 h × £95.00 = £142.50 + 20 % VAT £28.50 = £171.00."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..models.halo_engine import XERO_CANCEL
from .rpc_common import HaloRpcCase
from .test_xero_push_common import HaloXeroPushCommon

MOVE = "account.move"


class CancelMixin:
    def bind_customers(self):
        contact = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact})

    def xero_doc(self, move):
        store = "credit_notes" if move.move_type == "out_refund" else "invoices"
        return self.sandbox.state.orgs[self.tenant_id][store][move.halo_xero_invoice_id]

    def status_writes(self):
        """POSTs that change only documents' statuses (the cancels)."""
        out = []
        for r in self.ctl.requests():
            if r["method"] != "POST" or not r["path"].lower().rstrip("/").endswith(
                ("/invoices", "/creditnotes")
            ):
                continue
            docs = next(iter(self.body(r).values()))
            if all(
                set(doc) <= {"InvoiceID", "CreditNoteID", "Status", "HasAttachments", "HasErrors"}
                for doc in docs
            ):
                out.append(r)
        return out


@tagged("post_install", "-at_install")
class TestXeroCancel(CancelMixin, HaloXeroPushCommon):
    def test_draft_and_submitted_are_deleted_in_one_request(self):
        self.bind_customers()
        self.connection.invoice_status = "DRAFT"
        moves = self.make_invoices(2)
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        # the second one was submitted for approval in Xero
        self.xero_doc(moves[1])["Status"] = "SUBMITTED"
        moves[1].action_halo_xero_refresh()
        self.assertEqual(moves.mapped("halo_xero_status"), ["DRAFT", "SUBMITTED"])
        self.ctl.clear_requests()
        moves.button_cancel()
        self.assertEqual(moves.mapped("state"), ["cancel", "cancel"])
        self.assertEqual(moves.mapped("halo_xero_cancel"), ["pending", "pending"])
        self.assertEqual(moves.mapped("halo_xero_state"), ["queued", "queued"])
        self.assertSandboxCalls(0)  # nothing in the request: the push does it
        stats = moves._halo_xero_push()
        self.assertEqual((stats["sent"], stats["failed"], stats["waiting"]), (2, 0, 0))
        self.assertEqual([self.xero_doc(m)["Status"] for m in moves], ["DELETED", "DELETED"])
        self.assertEqual(moves.mapped("halo_xero_status"), ["DELETED", "DELETED"])
        self.assertEqual(moves.mapped("halo_xero_cancel"), ["done", "done"])
        # one status read, one status change for both
        self.assertEqual(
            [(r["method"], r["status"]) for r in self.sandbox_requests("/api.xro/")],
            [("GET", 200), ("POST", 200)],
        )
        self.assertEqual(
            [d["Status"] for d in self.body(self.status_writes()[0])["Invoices"]], ["DELETED", "DELETED"]
        )
        self.assertIn(
            "DELETED in Xero.",
            moves[0].halo_xero_log_ids.filtered(lambda entry: entry.action == "cancel").mapped("message"),
        )
        # pushing again does nothing
        self.ctl.clear_requests()
        moves._halo_xero_push()
        self.assertEqual(self.status_writes(), [])

    def test_approved_unpaid_invoice_is_voided_once_even_after_an_unknown_outcome(self):
        self.bind_customers()
        move = self.make_invoices(1)
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_status, "AUTHORISED")
        move.button_cancel()  # resets to draft on the way: allowed for a cancel (not for an edit)
        self.assertEqual(move.state, "cancel")
        # Xero applies the void, then the connection drops before its answer
        self.ctl.fault(action="drop", method="POST", path="/Invoices$", after=True, count=1)
        self.ctl.clear_requests()
        move._halo_xero_push()
        self.assertEqual((move.halo_xero_state, move.halo_xero_cancel), ("unknown", "pending"))
        self.assertEqual(self.xero_doc(move)["Status"], "VOIDED")
        # the next push reads the status first: already voided, nothing sent again
        move._halo_xero_push()
        self.assertEqual(
            (move.halo_xero_state, move.halo_xero_cancel, move.halo_xero_status), ("sent", "done", "VOIDED")
        )
        self.assertEqual(len(self.status_writes()), 1)  # the void went once
        self.assertIn("Already VOIDED in Xero.", move.halo_xero_log_ids.mapped("message"))
        # a cancelled invoice cannot be cancelled twice (Odoo), and the push has nothing left to do
        with self.assertRaises(UserError):
            move.button_cancel()

    def test_transient_error_keeps_the_cancel_queued_and_the_next_push_voids_it(self):
        self.bind_customers()
        move = self.make_invoices(1)
        move._halo_xero_push()
        move.button_cancel()
        self.ctl.fault("status", status=503, count=1, method="POST", path="/Invoices$")
        self.ctl.clear_requests()
        move._halo_xero_push()
        self.assertEqual((move.halo_xero_state, move.halo_xero_cancel), ("queued", "pending"))
        self.assertIn("HTTP 503", move.halo_xero_error)
        self.assertEqual(self.xero_doc(move)["Status"], "AUTHORISED")
        self.assertIn(
            "retry", move.halo_xero_log_ids.filtered(lambda e: e.action == "cancel").mapped("outcome")
        )
        move._halo_xero_push()  # the cron's next run
        self.assertEqual(
            (move.halo_xero_state, move.halo_xero_cancel, self.xero_doc(move)["Status"]),
            ("sent", "done", "VOIDED"),
        )
        self.assertEqual([r["status"] for r in self.status_writes()], [503, 200])

    def test_payment_known_in_odoo_refuses_the_cancel_until_it_is_removed_in_xero(self):
        self.bind_customers()
        move = self.make_invoices(1)
        move._halo_xero_push()
        payment = self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=50)
        move.action_halo_xero_refresh()
        self.assertEqual(move.amount_residual, 121.0)  # 171.00 - 50.00 registered from Xero
        self.ctl.clear_requests()
        with self.assertRaises(UserError) as caught:
            move.button_cancel()
        self.assertIn(
            "with payments or credit applied: Xero cannot void it. Remove the payments", str(caught.exception)
        )
        self.assertEqual((move.state, move.halo_xero_cancel), ("posted", False))
        self.assertEqual(self.status_writes(), [])
        # removed in Xero, read back: the cancel goes through and voids it
        self.ctl.call("POST", "payments/delete", {"tenant": self.tenant_id, "payment": payment["PaymentID"]})
        move.action_halo_xero_refresh()
        self.assertEqual(move.amount_residual, 171.0)
        move.button_cancel()
        move._halo_xero_push()
        self.assertEqual(
            (move.state, move.halo_xero_cancel, self.xero_doc(move)["Status"]), ("cancel", "done", "VOIDED")
        )

    def test_payment_made_in_xero_since_the_sync_flags_the_cancel_and_retry_voids_it_once_removed(self):
        self.bind_customers()
        move = self.make_invoices(1)
        move._halo_xero_push()
        payment = self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=20)  # Odoo does not know yet
        move.button_cancel()
        self.ctl.clear_requests()
        stats = move._halo_xero_push()
        self.assertEqual(stats["failed"], 1)
        self.assertEqual(
            (move.state, move.halo_xero_state, move.halo_xero_cancel), ("cancel", "failed", "refused")
        )
        self.assertIn("Remove the payments (and credit allocations) in Xero first", move.halo_xero_error)
        self.assertEqual(self.status_writes(), [])  # refused from Xero's status read, nothing sent
        self.assertEqual(self.xero_doc(move)["Status"], "AUTHORISED")
        self.assertTrue(any("Remove the payments" in (m.body or "") for m in move.message_ids))
        # the payment is removed in Xero; Retry asks again
        self.ctl.call("POST", "payments/delete", {"tenant": self.tenant_id, "payment": payment["PaymentID"]})
        move.action_halo_xero_retry()
        self.assertEqual((move.halo_xero_state, move.halo_xero_cancel), ("queued", "pending"))
        move._halo_xero_push()
        self.assertEqual((move.halo_xero_cancel, self.xero_doc(move)["Status"]), ("done", "VOIDED"))

    def test_void_refused_by_xero_is_flagged_with_xeros_message_and_can_be_kept_instead(self):
        self.bind_customers()
        self.connection.locked_period_policy = "first_open_day"  # Odoo does not pre-check the lock then
        move = self.make_invoices(1)  # dated 31 July 2026
        move._halo_xero_push()
        move.button_cancel()
        self.ctl.call("POST", "lock-dates", {"tenant": self.tenant_id, "PeriodLockDate": "2026-07-31"})
        self.ctl.clear_requests()
        move._halo_xero_push()
        self.assertEqual([r["status"] for r in self.status_writes()], [200])  # per element: refused inside
        self.assertEqual((move.halo_xero_state, move.halo_xero_cancel), ("failed", "refused"))
        self.assertIn(
            "Xero refused to void %s: The document date cannot be before the period lock date, currently "
            "set at 31-Jul-2026" % move.name,
            move.halo_xero_error,
        )
        self.assertEqual(self.xero_doc(move)["Status"], "AUTHORISED")
        # the user keeps it after all: reset to draft (the cancel is dropped) and post again
        move.button_draft()
        self.assertEqual((move.state, move.halo_xero_cancel), ("draft", False))
        move.action_post()
        self.assertEqual(move.halo_xero_state, "queued")

    def test_cancel_is_refused_in_the_period_locked_in_xero(self):
        self.bind_customers()
        move = self.make_invoices(1)  # 31 July 2026
        move._halo_xero_push()
        self.ctl.call("POST", "lock-dates", {"tenant": self.tenant_id, "PeriodLockDate": "2026-07-31"})
        self.connection._halo_read_lock_dates()
        with self.assertRaises(UserError) as caught:
            move.button_cancel()
        self.assertIn("in the period locked in Xero", str(caught.exception))
        self.assertEqual(move.state, "posted")

    def test_credit_notes_deleted_voided_or_refused_when_allocated(self):
        self.bind_customers()
        # a DRAFT credit note: deleted
        self.connection.invoice_status = "DRAFT"
        draft = self.make_invoices(1, move_type="out_refund")
        draft._halo_xero_push()
        draft.button_cancel()
        draft._halo_xero_push()
        self.assertEqual((draft.halo_xero_cancel, self.xero_doc(draft)["Status"]), ("done", "DELETED"))
        # an approved one, not allocated: voided
        self.connection.invoice_status = "AUTHORISED"
        approved = self.make_invoices(1, move_type="out_refund")
        approved._halo_xero_push()
        approved.button_cancel()
        approved._halo_xero_push()
        self.assertEqual((approved.halo_xero_cancel, self.xero_doc(approved)["Status"]), ("done", "VOIDED"))
        self.assertEqual(len([r for r in self.status_writes() if "creditnotes" in r["path"].lower()]), 2)
        # an approved credit note allocated to the invoice it reverses: refused
        invoice = self.make_invoices(1)
        invoice._halo_xero_push()
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model=MOVE, active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "test"})
        )
        credit = self.env[MOVE].browse(reversal.refund_moves()["res_id"])
        credit.action_post()
        credit._halo_xero_push()
        self.assertEqual(credit.halo_xero_allocation, "done", credit.halo_xero_error)
        with self.assertRaises(UserError) as caught:
            credit.button_cancel()
        self.assertIn("Remove the allocation in Xero first", str(caught.exception))

    def test_reset_to_draft_deletes_nothing_and_a_queued_draft_is_not_sent(self):
        self.bind_customers()
        self.connection.invoice_status = "DRAFT"
        move = self.make_invoices(1)
        move._halo_xero_push()
        invoice_id = move.halo_xero_invoice_id
        self.ctl.clear_requests()
        move.button_draft()
        self.assertEqual((move.halo_xero_state, move.halo_xero_cancel), ("sent", False))
        self.assertSandboxCalls(0)
        self.assertEqual(self.xero_doc(move)["Status"], "DRAFT")
        move.invoice_line_ids.price_unit = 100.0  # 1.5 × 100 = 150 + 20 % = 180
        move.action_post()
        move._halo_xero_push()
        self.assertEqual((move.halo_xero_invoice_id, self.xero_doc(move)["Total"]), (invoice_id, 180.0))
        # queued, never sent, then reset to draft: the push leaves it alone until it is posted again
        other = self.make_invoices(1)
        other.button_draft()
        self.assertEqual(other.halo_xero_state, "not_queued")
        self.assertNotIn(other, self.env[MOVE].search(self.env[MOVE]._halo_xero_push_domain()))
        # an approved invoice still cannot be reset for an edit (only cancelled, which voids it)
        self.connection.invoice_status = "AUTHORISED"
        approved = self.make_invoices(1)
        approved._halo_xero_push()
        with self.assertRaises(UserError):
            approved.button_draft()
        with self.assertRaises(UserError):  # a client's value of the marker's key is not the marker
            approved.with_context(**{XERO_CANCEL.key: True}).button_draft()


@tagged("post_install", "-at_install")
class TestXeroCancelRpc(CancelMixin, HaloXeroPushCommon, HaloRpcCase):
    def test_technician_cannot_cancel_or_flag_an_invoice_for_voiding(self):
        self.bind_customers()
        move = self.make_invoices(1)
        move._halo_xero_push()
        self.ctl.clear_requests()
        tech = self.rpc(self.technician)
        for method, args in (
            ("button_cancel", ()),
            ("button_draft", ()),
            ("write", ({"halo_xero_cancel": "pending", "halo_xero_state": "queued"},)),
        ):
            with self.subTest(method):
                self.assertRpcRefused(tech, MOVE, method, move.ids, *args, context={XERO_CANCEL.key: True})
        # a billing user may cancel (it voids) but not write the cancellation state itself
        biller = self.rpc(self.billing_user)
        self.assertRpcRefused(biller, MOVE, "write", move.ids, {"halo_xero_cancel": "done"})
        move.invalidate_recordset()
        self.assertEqual(
            (move.state, move.halo_xero_cancel, move.halo_xero_status), ("posted", False, "AUTHORISED")
        )
        self.assertEqual(self.status_writes(), [])
        with self.assertRaises(AccessError):
            move.with_user(self.technician).button_cancel()
        move.with_user(self.billing_user).button_cancel()
        self.assertEqual((move.state, move.halo_xero_cancel), ("cancel", "pending"))
