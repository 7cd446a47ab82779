# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Cancelling in Odoo an invoice (or credit note) that is in Xero: voided or deleted there, as Xero's
status rules allow, by the push.

=====================  ==============================================================================
Xero status            cancelling in Odoo
=====================  ==============================================================================
DRAFT / SUBMITTED      cancelled; the push deletes it in Xero (Xero frees its number)
AUTHORISED, unpaid     cancelled; the push voids it in Xero
AUTHORISED with money  refused: remove the payments (the credit note's allocation) in Xero first, then
 applied, PAID         *Refresh from Xero*, or issue a credit note instead
VOIDED / DELETED       cancelled; nothing to do in Xero
=====================  ==============================================================================

Odoo refuses what it knows Xero would refuse (payments and allocations it has recorded, a date in
the locked Xero period). What it cannot know (a payment made in Xero since the last sync) is found
by the push, which reads each document's status before it changes it: a cancel Xero refuses leaves
the invoice cancelled in Odoo, flagged (Xero state *Failed*, cancellation *Refused by Xero*, Xero's
message and what to do); *Retry* asks Xero again once the cause is fixed, or *Reset to draft* and
post it again to keep it. The status read first also makes a repeated cancel (an unknown outcome, a
retry, a second click) do nothing twice: an already voided or deleted document is left alone.

Reset to draft (without cancelling) deletes nothing in Xero: a draft there is updated when the
invoice is posted again; an approved one cannot be edited (``account_move_xero.button_draft``).
"""

from odoo import fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import format_date

from ...services import xero_push
from ...services.xero_client import XeroAuthError, XeroError, XeroNotFound, XeroRetryLater, XeroUnknownOutcome
from ..halo_engine import XERO_CANCEL
from .account_move_xero import XERO_INVOICE_GROUP
from .halo_xero_connection import halo_check_caller

CANCEL_STATES = [
    ("pending", "To void or delete in Xero"),
    ("done", "Voided or deleted in Xero"),
    ("refused", "Refused by Xero"),
]
CUSTOMER_TYPES = ("out_invoice", "out_refund")


class AccountMove(models.Model):
    _inherit = "account.move"

    halo_xero_cancel = fields.Selection(
        CANCEL_STATES,
        string="Xero Cancellation",
        copy=False,
        readonly=True,
        help="Cancelled in Odoo: the Xero document is voided (approved) or deleted (draft) by the push.",
    )

    def write(self, vals):
        if "halo_xero_cancel" in vals and not self.env.su:
            raise AccessError(
                self.env._("Only the Xero push records what Xero did with a cancelled invoice.")
            )
        return super().write(vals)

    # -- cancel and reset to draft ---------------------------------------------------------------------
    def button_cancel(self):
        in_xero = self.filtered(lambda m: m.move_type in CUSTOMER_TYPES and m.halo_xero_state != "not_queued")
        if in_xero:
            # voiding spends the organisation's calls and changes Xero's books: billing staff only
            halo_check_caller(in_xero, XERO_INVOICE_GROUP, "write")
            in_xero._halo_xero_check_cancellable()
        # the marker lets the reset to draft on the way pass the "approved in Xero" guard
        result = super(AccountMove, XERO_CANCEL.on(self) if in_xero else self).button_cancel()
        # never sent (failed, say): nothing to do in Xero, and nothing left to send
        in_xero.sudo().filtered(lambda m: not m.halo_xero_invoice_id).write(
            {"halo_xero_state": "not_queued", "halo_xero_error": False}
        )
        in_xero._halo_xero_queue_cancel()
        return result

    def button_draft(self):
        # a cancel not done in Xero (still to send, or refused): the Xero document is unchanged, so the
        # invoice may come back (re-posting it updates the same document)
        undo = self.filtered(lambda m: m.state == "cancel" and m.halo_xero_cancel in ("pending", "refused"))
        if undo:
            halo_check_caller(undo, XERO_INVOICE_GROUP, "write")
            super(AccountMove, XERO_CANCEL.on(undo)).button_draft()
        result = super(AccountMove, self - undo).button_draft() if self - undo else None
        # nothing of a draft goes to Xero: a queued invoice waits until it is posted again
        queued = self.sudo().filtered(lambda m: m.halo_xero_state == "queued")
        queued.filtered(lambda m: not m.halo_xero_invoice_id).write({"halo_xero_state": "not_queued"})
        queued.filtered("halo_xero_invoice_id").write({"halo_xero_state": "sent"})
        # reset after a cancel: the Xero document stays as it is (re-posting updates a draft)
        self.sudo().filtered(lambda m: m.halo_xero_cancel in ("pending", "refused")).write(
            {"halo_xero_cancel": False, "halo_xero_error": False}
        )
        return result

    def _halo_xero_check_cancellable(self):
        """Refuse (UserError) the cancel of what Xero is known to refuse to void or delete."""
        problems = []
        for move in self:
            label = move.name if move.name and move.name != "/" else move.display_name
            status = move.halo_xero_status or ""
            if move.halo_xero_state in ("sending", "unknown"):
                problems.append(
                    self.env._(
                        "%(name)s is being sent to Xero; wait until its Xero state is known.", name=label
                    )
                )
                continue
            if not move.halo_xero_invoice_id or status in ("VOIDED", "DELETED"):
                continue
            if xero_push.cancel_status(status, move._halo_xero_money_applied()) is None:
                problems.append(move._halo_xero_cancel_refusal(status))
                continue
            connection = move.halo_xero_connection_id.sudo()
            lock = connection._halo_lock_date() if connection else False
            if (
                lock
                and connection.locked_period_policy == "refuse"
                and move.invoice_date
                and move.invoice_date <= lock
            ):
                problems.append(
                    self.env._(
                        "%(name)s is dated %(date)s, in the period locked in Xero up to %(lock)s: Xero cannot void or "
                        "delete it. Ask your Xero adviser to move the lock date, or issue a credit note dated after it.",
                        name=label,
                        date=format_date(self.env, move.invoice_date),
                        lock=format_date(self.env, lock),
                    )
                )
        if problems:
            raise UserError("\n".join(problems))

    def _halo_xero_money_applied(self):
        """Whether Odoo knows of money applied to this document in Xero (payments registered from Xero,
        an open amount below the total, a credit note allocated)."""
        self.ensure_one()
        if self.move_type == "out_refund":
            return self.halo_xero_allocation in ("done", "unknown")
        payments = self.sudo().halo_xero_payment_ids.filtered(lambda p: p.state != "reversed")
        paid = (
            self.state == "posted"
            and self.currency_id.compare_amounts(self.amount_residual, self.amount_total) < 0
        )
        return bool(payments) or paid

    def _halo_xero_cancel_refusal(self, status, xero_message=None):
        """What the user reads when Xero cannot void this document (paid, money applied)."""
        self.ensure_one()
        label = self.name if self.name and self.name != "/" else self.display_name
        if self.move_type == "out_refund":
            message = self.env._(
                "Credit note %(name)s is %(status)s in Xero (%(number)s) and credit has been allocated from it: Xero "
                "cannot void it. Remove the allocation in Xero first (then Refresh from Xero), or keep it and issue "
                "an invoice instead.",
                name=label,
                status=status,
                number=self.halo_xero_number or "-",
            )
        else:
            message = self.env._(
                "Invoice %(name)s is %(status)s in Xero (%(number)s) with payments or credit applied: Xero cannot "
                "void it. Remove the payments (and credit allocations) in Xero first, then Refresh from Xero and "
                "cancel again, or issue a credit note instead.",
                name=label,
                status=status,
                number=self.halo_xero_number or "-",
            )
        return "%s (%s)" % (message, xero_message) if xero_message else message

    def _halo_xero_queue_cancel(self):
        """Cancelled moves whose Xero document is live: queued for the push to void or delete it."""
        moves = self.sudo().filtered(
            lambda m: (
                m.state == "cancel"
                and m.halo_xero_invoice_id
                and m.halo_xero_status not in ("VOIDED", "DELETED")
            )
        )
        if not moves:
            return
        for move in moves:  # a new payload version: a new Idempotency-Key for this cancel
            move.write(
                {
                    "halo_xero_state": "queued",
                    "halo_xero_cancel": "pending",
                    "halo_xero_error": False,
                    "halo_xero_payload_version": move.halo_xero_payload_version + 1,
                }
            )
        self.env["halo.xero.sync.log"]._halo_log(
            moves,
            "cancel",
            "ok",
            self.env._("Cancelled in Odoo: to void (approved) or delete (draft) in Xero."),
        )
        moves._halo_xero_enqueue()

    def action_halo_xero_retry(self):
        """Also: a cancel Xero refused, asked again (once the payment was removed in Xero, say)."""
        result = super().action_halo_xero_retry()
        refused = self.filtered(lambda m: m.state == "cancel" and m.halo_xero_cancel == "refused")
        refused.sudo().write({"halo_xero_cancel": False})
        refused._halo_xero_queue_cancel()
        return result

    # -- push ------------------------------------------------------------------------------------------
    def _halo_xero_push_connection(self, connection, stats):
        cancels = self.filtered(
            lambda m: (
                m.halo_xero_cancel == "pending" and m.halo_xero_state in ("queued", "sending", "unknown")
            )
        )
        if cancels:
            cancels._halo_xero_push_cancels(connection, stats)
        return super(AccountMove, self - cancels)._halo_xero_push_connection(connection, stats)

    def _halo_xero_push_cancels(self, connection, stats):
        """Void or delete these cancelled moves' documents in Xero: status read first (25 per request),
        then one status change per 50 documents."""
        self = self.sudo()  # noqa: PLW0642 - the push records what Xero did (halo_xero_cancel)
        client = connection._halo_client()
        try:
            for credit in (False, True):
                group = self.filtered(lambda m, c=credit: (m.move_type == "out_refund") == c)
                for chunk in xero_push.batches(group.ids, 25):
                    self.browse(chunk)._halo_xero_send_cancels(connection, client, credit)
        except XeroAuthError as err:
            self.filtered(lambda m: m.halo_xero_cancel == "pending").write({"halo_xero_error": str(err)})
            stats["stop"] = True
        except XeroRetryLater as err:
            self.filtered(lambda m: m.halo_xero_cancel == "pending").write({"halo_xero_error": str(err)})
            stats["stop"] = stats["stop"] or err.problem == "day"
        self._halo_xero_commit()
        stats["sent"] += len(self.filtered(lambda m: m.halo_xero_cancel == "done"))
        stats["failed"] += len(self.filtered(lambda m: m.halo_xero_cancel == "refused"))
        stats["waiting"] += len(self.filtered(lambda m: m.halo_xero_cancel == "pending"))

    def _halo_xero_remote_status(self, connection, client, credit):
        """{Xero id: (status, money applied)} of these moves' documents, read from Xero."""
        ids = self.mapped("halo_xero_invoice_id")
        try:
            if credit:
                where = " OR ".join('CreditNoteID==guid("%s")' % cid for cid in ids)
                docs = client.call(connection.tenant_id, "get_credit_notes", where=where).credit_notes or []
                return {
                    str(cn.credit_note_id): (
                        cn.status or "",
                        bool(cn.allocations)
                        or float(cn.remaining_credit if cn.remaining_credit is not None else cn.total or 0)
                        < float(cn.total or 0),
                    )
                    for cn in docs
                }
            docs = client.call(connection.tenant_id, "get_invoices", i_ds=ids).invoices or []
        except XeroNotFound:
            return {}
        return {
            str(inv.invoice_id): (
                inv.status or "",
                bool(float(inv.amount_paid or 0) or float(inv.amount_credited or 0)),
            )
            for inv in docs
        }

    def _halo_xero_send_cancels(self, connection, client, credit):
        Log = self.env["halo.xero.sync.log"]
        remote = self._halo_xero_remote_status(connection, client, credit)
        changes = []
        for move in self:
            status, money = remote.get(move.halo_xero_invoice_id, (None, False))
            if status is None:
                move._halo_xero_cancel_refused(
                    self.env._(
                        "Xero has no document %(id)s any more: nothing to void.", id=move.halo_xero_invoice_id
                    )
                )
                continue
            target = xero_push.cancel_status(status, money)
            if target == "":
                move.write(
                    {
                        "halo_xero_state": "sent",
                        "halo_xero_cancel": "done",
                        "halo_xero_status": status,
                        "halo_xero_error": False,
                    }
                )
                Log._halo_log(move, "cancel", "ok", self.env._("Already %(status)s in Xero.", status=status))
            elif target is None:
                move.write({"halo_xero_status": status})
                move._halo_xero_cancel_refused(move._halo_xero_cancel_refusal(status))
            else:
                changes.append((move, target))
        if not changes:
            return
        moves = self.browse([move.id for move, _target in changes])
        body = [(move.halo_xero_invoice_id, target) for move, target in changes]
        dbuuid = self._halo_xero_dbuuid()
        key = xero_push.request_key(
            "cancel",
            [xero_push.invoice_key(dbuuid, m.id, m.halo_xero_payload_version) for m in moves],
            xero_push.payload_digest([{"id": doc_id, "status": status} for doc_id, status in body]),
        )
        moves.write({"halo_xero_state": "sending"})
        self._halo_xero_commit()
        method = "update_or_create_credit_notes" if credit else "update_or_create_invoices"
        try:
            result = client.call(
                connection.tenant_id,
                method,
                xero_push.to_sdk_status_changes(body, credit),
                summarize_errors=False,
                idempotency_key=key,
                write=True,
            )
        except XeroUnknownOutcome as err:
            # the status is read again before anything is sent again
            moves.write({"halo_xero_state": "unknown", "halo_xero_error": str(err)})
            Log._halo_log(moves, "cancel", "unknown", str(err), key)
            return
        except (XeroRetryLater, XeroAuthError) as err:
            moves.write({"halo_xero_state": "queued"})
            Log._halo_log(moves, "cancel", "retry", str(err), key)
            raise
        except XeroError as err:
            for move, target in changes:
                move._halo_xero_cancel_refused(str(err), target)
            return
        elements = list(getattr(result, "credit_notes" if credit else "invoices", None) or [])
        for (move, target), element in zip(changes, elements, strict=False):
            outcome = xero_push.element_outcome(element)
            if outcome["ok"]:
                move.write(
                    {
                        "halo_xero_state": "sent",
                        "halo_xero_cancel": "done",
                        "halo_xero_status": outcome["status"] or target,
                        "halo_xero_error": False,
                    }
                )
                Log._halo_log(
                    move,
                    "cancel",
                    "ok",
                    self.env._("%(status)s in Xero.", status=target),
                    key,
                    getattr(result, "id", None),
                    {move.id: move.halo_xero_invoice_id},
                )
                move.message_post(
                    body=self.env._(
                        "%(status)s in Xero (%(number)s): the invoice was cancelled in Odoo.",
                        status=target.capitalize(),
                        number=move.halo_xero_number or "-",
                    )
                )
            else:
                move._halo_xero_cancel_refused(
                    "; ".join(outcome["messages"]) or self.env._("Xero refused."), target
                )
        for move, _target in changes[len(elements) :]:
            move.write({"halo_xero_state": "unknown"})  # Xero answers every element: read again next time
        self._halo_xero_commit()

    def _halo_xero_cancel_refused(self, message, target=None):
        """Xero refused (or cannot) void or delete this cancelled move's document: flagged, with what to do."""
        self.ensure_one()
        self = self.sudo()  # noqa: PLW0642
        if target and "payment or credit note allocated" in message:
            message = self._halo_xero_cancel_refusal(self.halo_xero_status or "AUTHORISED", message)
        elif target:
            message = self.env._(
                "Xero refused to %(action)s %(number)s: %(error)s. The invoice is cancelled in Odoo but not in Xero: "
                "fix it in Xero and use Retry, or reset the invoice to draft and post it again to keep it.",
                action="void" if target == "VOIDED" else "delete",
                number=self.halo_xero_number or self.name,
                error=message,
            )
        self.write({"halo_xero_state": "failed", "halo_xero_cancel": "refused", "halo_xero_error": message})
        self.env["halo.xero.sync.log"]._halo_log(self, "cancel", "error", message)
        self.message_post(body=message)
