# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Customer invoices to Xero: queue, batched push, reconciliation of unknown outcomes, follow-ups
(PDF attachment, online URL), status and payments back, edits after sending.

State machine of ``halo_xero_state``::

    not_queued --_post--> queued --(commit)--> sending --HTTP ok--> sent
                                                   |--element error--> failed --Retry--> queued
                                                   |--429 / auth--> queued
                                                   |--dropped / 5xx / crash--> unknown
    sending|unknown --look-up by InvoiceNumber (or Reference)--> sent (found) | queued (not found)

An invoice is re-sent only after a look-up proved it is not in Xero, and every request carries an
Idempotency-Key bound to the invoices, their payload versions and the body.

Who sends: queuing enqueues one OCA ``queue_job`` job per connection and batch of 50 (channel
``root.halo_xero``, in the queuing transaction: a rolled-back post enqueues nothing), so invoices reach Xero
seconds after posting and batches run in parallel on the job runner's workers (the throttle shared in
PostgreSQL keeps the organisation's 60 calls a minute and 5 at once). The push cron is the safety net: it
sends what is still queued ``grace_minutes`` after queuing (a job runner down, a job that failed for good, a
push left for later by Xero's daily limit). A job and the cron never send the same invoice at once: each
takes only the rows it can lock.

Customer credit notes (``out_refund``) take the same path to ``/CreditNotes`` (never in the same request
as invoices) and are stored in the same fields (CreditNoteID in ``halo_xero_invoice_id``). An AUTHORISED
credit note that reverses an invoice already in Xero is then allocated to it (follow-up step
``halo_xero_allocation``); a DRAFT one stays unallocated.

Also here, in sections of their own: **Xero's lock dates** (the organisation's ``PeriodLockDate`` /
``EndOfYearLockDate``, imported on the connection): posting a document dated in the locked period is refused
(``locked_period_policy`` *refuse*; a billing run leaves those in draft and lists them on the run) or it is
sent dated the first open day (*first_open_day*); a Xero refusal for its lock date reads the dates again.
**Currencies**: an invoice in a currency the organisation has not enabled is refused before posting, and
Odoo's rate goes as ``CurrencyRate``. **Money back**: after each change seen in Xero the open amount equals
Xero's ``AmountDue`` (``_halo_xero_reconcile_money``; the registrations themselves: ``halo.xero.payment``).
**Cancel in Odoo → void or delete in Xero**, as Xero's status rules allow:

=====================  ==============================================================================
Xero status            cancelling in Odoo
=====================  ==============================================================================
DRAFT / SUBMITTED      cancelled; the push deletes it in Xero (Xero frees its number)
AUTHORISED, unpaid     cancelled; the push voids it in Xero
AUTHORISED with money  refused: remove the payments (the credit note's allocation) in Xero first, then
 applied, PAID         *Refresh from Xero*, or issue a credit note instead
VOIDED / DELETED       cancelled; nothing to do in Xero
=====================  ==============================================================================

Odoo refuses what it knows Xero would refuse (payments and allocations it has recorded, a date in the locked
Xero period); what it cannot know is found by the push, which reads each document's status before it changes
it: a cancel Xero refuses leaves the invoice cancelled in Odoo and flagged (*Retry*, or *Reset to draft* and
post it again to keep it). Reset to draft (without cancelling) deletes nothing in Xero.
"""

import logging
import time
from datetime import timedelta
from decimal import Decimal

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tools import format_date

from odoo.addons.halo_helpdesk_billing.constants import BILLING_GROUPS, BILLING_MANAGER
from odoo.addons.halo_helpdesk_billing.constants import INVOICING_GROUP as XERO_INVOICE_GROUP

from ...services import xero_client as xc
from ...services import xero_push
from ...services.xero_client import (
    XeroAuthError,
    XeroError,
    XeroNotFound,
    XeroRetryLater,
    XeroTooLarge,
    XeroUnknownOutcome,
)
from ..halo_engine import BILLING_RUN, XERO_CANCEL, XERO_COMMIT
from .halo_xero_connection import halo_check_caller
from .halo_xero_payment import KIND_LABELS, _money

_logger = logging.getLogger(__name__)

XERO_STATES = [
    ("not_queued", "Not queued"),
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("unknown", "Unknown outcome"),
]
# Xero statuses in which Xero still accepts changes to the lines
XERO_EDITABLE = ("DRAFT", "SUBMITTED")
ALLOCATION_STATES = [
    ("pending", "To allocate"),
    ("unknown", "Unknown outcome"),
    ("done", "Allocated"),
    ("skipped", "Not allocated"),
    ("failed", "Failed"),
]
MAX_INLINE_WAIT = 30.0  # seconds a worker run waits for a Retry-After before leaving the rest queued
MAX_ROUNDS = 4  # send / look-up rounds per connection and worker run
PUSH_STATES = ("queued", "sending", "unknown")  # what the push worker sends or looks up
PUSH_CHANNEL = "root.halo_xero"  # queue_job channel of the push jobs (data/queue_job_data.xml)
PUSH_JOB_RETRIES = 10  # queue_job retries of a push job (retry pattern: data/queue_job_data.xml)

LOCK_MESSAGE_MARK = "lock date"  # in Xero's "The document date cannot be before the period lock date, ..."

CANCEL_STATES = [
    ("pending", "To void or delete in Xero"),
    ("done", "Voided or deleted in Xero"),
    ("refused", "Refused by Xero"),
]
CUSTOMER_TYPES = ("out_invoice", "out_refund")


class AccountMove(models.Model):
    _inherit = "account.move"

    halo_xero_state = fields.Selection(
        XERO_STATES,
        string="Xero",
        default="not_queued",
        required=True,
        copy=False,
        index=True,
        readonly=True,
    )
    halo_xero_connection_id = fields.Many2one(
        "halo.xero.connection",
        string="Xero Connection",
        copy=False,
        readonly=True,
        index="btree_not_null",
        check_company=True,  # never another company's organisation, whatever a client writes
    )
    halo_xero_invoice_id = fields.Char(
        string="Xero InvoiceID", copy=False, readonly=True, index="btree_not_null"
    )
    halo_xero_number = fields.Char(string="Xero Number", copy=False, readonly=True)
    halo_xero_status = fields.Char(string="Xero Status", copy=False, readonly=True)
    halo_xero_url = fields.Char(string="Xero Online Invoice", copy=False, readonly=True)
    halo_xero_error = fields.Text(string="Xero Message", copy=False, readonly=True)
    halo_xero_attempts = fields.Integer(string="Xero Attempts", copy=False, readonly=True)
    halo_xero_payload_version = fields.Integer(string="Xero Payload Version", copy=False, readonly=True)
    halo_xero_lookup = fields.Char(
        string="Xero Look-up Key",
        copy=False,
        readonly=True,
        help="How this invoice is found in Xero when the outcome of a send is unknown: number:<n> or reference:<r>.",
    )
    halo_xero_sent_at = fields.Datetime(string="Sent to Xero", copy=False, readonly=True)
    halo_xero_queued_at = fields.Datetime(
        string="Queued for Xero",
        copy=False,
        readonly=True,
        help="When the invoice was last queued: its background job sends it; the push cron sends what is still "
        "queued some minutes later.",
    )
    halo_xero_followup = fields.Boolean(
        string="Xero Follow-up Pending",
        copy=False,
        readonly=True,
        help="The PDF attachment and/or the online invoice URL still have to be fetched.",
    )
    halo_xero_pdf_sent = fields.Boolean(string="PDF in Xero", copy=False, readonly=True)
    halo_xero_log_ids = fields.One2many(
        "halo.xero.sync.log", "move_id", string="Xero Sync Log", readonly=True
    )
    halo_xero_payment_ids = fields.One2many(
        "halo.xero.payment", "move_id", string="Xero Payments", readonly=True
    )
    halo_xero_allocation = fields.Selection(
        ALLOCATION_STATES,
        string="Xero Allocation",
        copy=False,
        readonly=True,
        help="Credit notes: allocation in Xero to the invoice they reverse (AUTHORISED credit notes only).",
    )
    halo_xero_allocation_id = fields.Char(string="Xero AllocationID", copy=False, readonly=True)

    halo_xero_cancel = fields.Selection(
        CANCEL_STATES,
        string="Xero Cancellation",
        copy=False,
        readonly=True,
        help="Cancelled in Odoo: the Xero document is voided (approved) or deleted (draft) by the push.",
    )

    halo_xero_attention = fields.Boolean(
        string="Xero Needs Attention",
        copy=False,
        readonly=True,
        index=True,
        help="A payment or allocation made in Xero could not be registered, or Odoo's open amount differs "
        "from Xero's; see the message. Retried automatically once the cause is fixed.",
    )
    # amounts: billing groups only (the message quotes Odoo's and Xero's open amounts)
    halo_xero_money_message = fields.Text(
        string="Xero Payments Message", copy=False, readonly=True, groups=BILLING_GROUPS
    )
    halo_xero_amount_due = fields.Monetary(
        string="Xero Amount Due",
        copy=False,
        readonly=True,
        currency_field="currency_id",
        groups=BILLING_GROUPS,
    )

    # -- posting and the queue -------------------------------------------------------------------------
    def _post(self, soft=True):
        """Refused before posting what Xero would refuse: a date in the organisation's locked period (a
        billing run posts the others and leaves those in draft, listed on the run) and a currency the
        organisation has not enabled. Then the posted customer invoices and credit notes are queued."""
        locked = self._halo_xero_locked()
        held = self.browse()
        if locked:
            if not BILLING_RUN.is_set(self.env):
                raise UserError(
                    "\n".join(move._halo_xero_lock_message(*locked[move]) for move in self if move in locked)
                )
            # a billing run: the others are posted, these stay in draft and are listed on their run
            held = self.browse([move.id for move in locked])
            held._halo_xero_report_locked(locked)
        todo = self - held
        todo._halo_xero_check_currency()
        posted = super(AccountMove, todo)._post(soft=soft)
        posted._halo_xero_queue()
        return posted

    def _halo_xero_queue(self):
        """Queue posted customer invoices and credit notes of companies connected to Xero."""
        moves = self.filtered(lambda m: m.move_type in ("out_invoice", "out_refund") and m.state == "posted")
        Connection = self.env["halo.xero.connection"].sudo()
        now = fields.Datetime.now()
        queued = self.browse()
        for company, company_moves in moves.grouped("company_id").items():
            connection = Connection._halo_for_company(company)
            if not connection or connection.state in ("draft", "disconnected"):
                continue
            queued |= company_moves
            for move in company_moves:
                vals = {
                    "halo_xero_state": "queued",
                    "halo_xero_queued_at": now,
                    "halo_xero_connection_id": connection.id,
                    "halo_xero_payload_version": move.halo_xero_payload_version + 1,
                    "halo_xero_error": False,
                    # an edited invoice gets its new PDF in Xero (the same file name replaces the old one)
                    "halo_xero_pdf_sent": False,
                }
                if move.halo_xero_invoice_id and move.halo_xero_status == "DELETED":
                    # deleted in Xero: it cannot be changed there any more, so it is sent again as a new one
                    # (Xero frees a deleted document's number)
                    vals.update(
                        halo_xero_invoice_id=False,
                        halo_xero_number=False,
                        halo_xero_status=False,
                        halo_xero_url=False,
                        halo_xero_pdf_sent=False,
                        halo_xero_lookup=False,
                        halo_xero_allocation=False,
                        halo_xero_allocation_id=False,
                    )
                move.sudo().write(vals)
        queued._halo_xero_enqueue()

    def _halo_xero_enqueue(self):
        """One background job per connection and batch of 50 of these queued moves (channel
        ``root.halo_xero``). The job is a record of the caller's transaction: it exists only if what
        queued the moves is committed. A second job for the same moves (a repeat of *Send now*) does
        nothing more: the first one to lock the moves sends them, the other finds them sent."""
        moves = self.sudo().filtered(lambda m: m.halo_xero_state in PUSH_STATES and m.halo_xero_connection_id)
        for connection, group in moves.grouped("halo_xero_connection_id").items():
            for batch in xero_push.batches(group.ids):
                self.sudo().browse(batch).with_delay(
                    channel=PUSH_CHANNEL,
                    max_retries=PUSH_JOB_RETRIES,
                    description=self.env._(
                        "Xero: send %(count)s invoices to %(organisation)s",
                        count=len(batch),
                        organisation=connection.tenant_name or connection.name,
                    ),
                )._halo_job_xero_push()

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
            XERO_CANCEL.on(undo)._halo_xero_draft()
        result = (self - undo)._halo_xero_draft() if self - undo else None
        # nothing of a draft goes to Xero: a queued invoice waits until it is posted again
        queued = self.sudo().filtered(lambda m: m.halo_xero_state == "queued")
        queued.filtered(lambda m: not m.halo_xero_invoice_id).write({"halo_xero_state": "not_queued"})
        queued.filtered("halo_xero_invoice_id").write({"halo_xero_state": "sent"})
        # reset after a cancel: the Xero document stays as it is (re-posting updates a draft)
        self.sudo().filtered(lambda m: m.halo_xero_cancel in ("pending", "refused")).write(
            {"halo_xero_cancel": False, "halo_xero_error": False}
        )
        return result

    def _halo_xero_draft(self):
        """Reset to draft, refused while a send is in doubt or once Xero no longer accepts changes (a cancel
        passes: the push voids the document in Xero)."""
        for move in self:
            if move.halo_xero_state in ("sending", "unknown"):
                raise UserError(
                    self.env._(
                        "Invoice %(name)s is being sent to Xero; wait until its Xero state is known.",
                        name=move.name,
                    )
                )
            if (
                move.halo_xero_invoice_id
                and move.halo_xero_status not in (*XERO_EDITABLE, "DELETED", "VOIDED")
                and not XERO_CANCEL.is_set(self.env)
            ):  # a cancel: voided in Xero by the push
                raise UserError(
                    self.env._(
                        "Invoice %(name)s is %(status)s in Xero (%(number)s) and can no longer be changed there. "
                        "Issue a credit note instead.",
                        name=move.name,
                        status=move.halo_xero_status,
                        number=move.halo_xero_number or "-",
                    )
                )
        return super().button_draft()

    # -- actions (dashboard) --------------------------------------------------------------------------
    def action_halo_xero_retry(self):
        """Failed (or stuck) invoices back in the queue with a new payload version (a new key); a cancel Xero
        refused, asked again (once the payment was removed in Xero, say)."""
        halo_check_caller(self, XERO_INVOICE_GROUP, "write")
        moves = self.filtered(
            lambda m: (
                m.halo_xero_state in ("failed", "queued", "not_queued")
                and m.state == "posted"
                and m.move_type in ("out_invoice", "out_refund")
            )
        )
        moves._halo_xero_queue()
        refused = self.filtered(lambda m: m.state == "cancel" and m.halo_xero_cancel == "refused")
        refused.sudo().write({"halo_xero_cancel": False})
        refused._halo_xero_queue_cancel()
        return True

    # -- actions ------------------------------------------------------------------------------------
    def action_halo_xero_retry_money(self):
        """Read these invoices from Xero again and reconcile their payments and allocations."""
        halo_check_caller(self, XERO_INVOICE_GROUP, "write")
        for connection, moves in (
            self.filtered("halo_xero_invoice_id").grouped("halo_xero_connection_id").items()
        ):
            moves = moves.filtered(lambda m: m.move_type == "out_invoice")
            moves.sudo()._halo_xero_fetch(
                connection, connection._halo_client(), moves.mapped("halo_xero_invoice_id")
            )
        return True

    def action_halo_xero_send(self):
        """Send to Xero: posted customer invoices and credit notes not yet in Xero (posted before the
        company connected, for instance) are queued and the push cron is woken."""
        halo_check_caller(self, XERO_INVOICE_GROUP, "write")
        moves = self.filtered(
            lambda m: (
                m.halo_xero_state == "not_queued"
                and m.state == "posted"
                and m.move_type in ("out_invoice", "out_refund")
            )
        )
        if not moves:
            raise UserError(
                self.env._("Select posted customer invoices or credit notes that are not in Xero yet.")
            )
        Connection = self.env["halo.xero.connection"].sudo()
        for company in moves.company_id:
            if Connection._halo_for_company(company).state != "connected":
                raise UserError(
                    self.env._(
                        "%(company)s is not connected to Xero: connect it (Billing > Configuration > Xero > Set-up) "
                        "first.",
                        company=company.name,
                    )
                )
        moves._halo_xero_queue()  # enqueues their background jobs
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "sticky": False,
                "title": self.env._("Xero"),
                "message": self.env._(
                    "%(count)s invoices will be sent to Xero in a moment.", count=len(moves)
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_halo_xero_send_now(self):
        """Queue (failed ones again) and send in the background now: one job per batch, which commits
        'sending' before each request (what makes a crash or a rollback after the HTTP call harmless)."""
        halo_check_caller(self, XERO_INVOICE_GROUP, "write")
        moves = self.filtered(lambda m: m.halo_xero_state in ("queued", "sending", "unknown", "failed"))
        failed = moves.filtered(lambda m: m.halo_xero_state == "failed")
        failed._halo_xero_queue()  # enqueues their jobs
        (moves - failed)._halo_xero_enqueue()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "sticky": False,
                "title": self.env._("Xero"),
                "message": self.env._(
                    "%(count)s invoices will be sent to Xero in a moment.", count=len(moves)
                ),
            },
        }

    def action_halo_xero_refresh(self):
        """Fetch the Xero status and payments of these invoices (and credit notes) now."""
        halo_check_caller(self, XERO_INVOICE_GROUP, "write")
        for connection, moves in (
            self.filtered("halo_xero_invoice_id").grouped("halo_xero_connection_id").items()
        ):
            client = connection._halo_client()
            refunds = moves.filtered(lambda m: m.move_type == "out_refund")
            (moves - refunds).sudo()._halo_xero_fetch(
                connection, client, (moves - refunds).mapped("halo_xero_invoice_id")
            )
            refunds.sudo()._halo_xero_fetch(
                connection, client, refunds.mapped("halo_xero_invoice_id"), credit=True
            )
        fetched = self.filtered("halo_xero_invoice_id")
        if not fetched:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "warning",
                    "sticky": False,
                    "title": self.env._("Xero"),
                    "message": self.env._("None of these invoices is in Xero yet: send them first."),
                },
            }
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "sticky": False,
                "title": self.env._("Xero"),
                "message": self.env._(
                    "%(count)s invoices refreshed from Xero: status and payments are up to date.",
                    count=len(fetched),
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    # -- cron -------------------------------------------------------------------------------------
    def _halo_xero_push_domain(self, grace_minutes=0):
        """What the push cron sends: queued (or in doubt) for at least ``grace_minutes`` (the time their
        own background job has to send them)."""
        domain = Domain("halo_xero_state", "in", list(PUSH_STATES))
        if grace_minutes:
            cutoff = fields.Datetime.now() - timedelta(minutes=grace_minutes)
            domain &= Domain("halo_xero_queued_at", "=", False) | Domain("halo_xero_queued_at", "<=", cutoff)
        return domain

    @api.model
    def _cron_halo_xero_push(self, limit=500, grace_minutes=0):
        """Send queued invoices; the scheduler calls again while some remain. The scheduled action passes
        ``grace_minutes`` so that it sends only what the background jobs have not."""
        domain = self._halo_xero_push_domain(grace_minutes)
        moves = self.search(domain, order="id", limit=limit).try_lock_for_update()
        stats = XERO_COMMIT.on(moves)._halo_xero_push()
        progressed = stats["sent"] + stats["failed"]
        remaining = self.search_count(domain) if progressed and not stats["stop"] else 0
        self.env["ir.cron"]._commit_progress(len(moves), remaining=remaining)
        follow = self.search([("halo_xero_followup", "=", True)], order="id", limit=limit)
        for connection, group in follow.grouped("halo_xero_connection_id").items():
            try:
                XERO_COMMIT.on(group)._halo_xero_followups(connection, connection._halo_client())
            except XeroError as err:
                _logger.info("Xero follow-ups postponed for connection %s: %s", connection.id, err)
        self.env["ir.cron"]._commit_progress(0)

    def _halo_job_xero_push(self):
        """Job (queue_job, channel ``root.halo_xero``): send this batch to Xero, as the push cron does,
        committing 'sending' before each request (a worker killed after Xero answered leaves 'sending',
        which the retry looks up in Xero before sending anything again). Moves the cron or another job
        is sending (rows locked) are theirs; moves sent meanwhile are skipped, so a job delivered twice
        sends nothing twice. What a job cannot send now (Xero's daily limit, a connection to renew) stays
        queued with its reason, for the push cron."""
        moves = self.sudo().exists().filtered(lambda m: m.halo_xero_state in PUSH_STATES)
        moves = moves.try_lock_for_update()
        if not moves:
            return self.env._("Nothing to send: sent already, or being sent by another worker.")
        # the job function allows commits (data/queue_job_data.xml): queue_job runs it in a cursor of its own
        stats = XERO_COMMIT.on(moves)._halo_xero_push()
        return self.env._(
            "%(sent)s sent, %(failed)s refused by Xero, %(waiting)s still queued.",
            sent=stats["sent"],
            failed=stats["failed"],
            waiting=stats["waiting"],
        )

    def _halo_xero_commit(self):
        """Commit (push cron and push job only): 'sending' must be durable before the HTTP call."""
        if XERO_COMMIT.is_set(self.env):
            self.env["ir.cron"]._commit_progress()  # commits; inside the cron, also its progress

    # -- worker -----------------------------------------------------------------------------------
    def _halo_xero_push(self):
        """Send these invoices (queued / sending / unknown) to Xero. Returns counters."""
        stats = {"sent": 0, "failed": 0, "waiting": 0, "stop": False}
        todo = self.filtered(lambda m: m.halo_xero_state in ("queued", "sending", "unknown"))
        Connection = self.env["halo.xero.connection"].sudo()
        for company, moves in todo.grouped("company_id").items():
            connection = moves.halo_xero_connection_id[:1] or Connection._halo_for_company(company)
            if not connection or connection.state != "connected":
                moves.write(
                    {
                        "halo_xero_error": self.env._(
                            "The Xero connection of %(company)s is not connected.", company=company.name
                        )
                    }
                )
                stats["waiting"] += len(moves)
                continue
            moves._halo_xero_push_connection(connection, stats)
        return stats

    def _halo_xero_push_connection(self, connection, stats):
        """Cancels first (void or delete in Xero), then the documents to create or update."""
        cancels = self.filtered(
            lambda m: (
                m.halo_xero_cancel == "pending" and m.halo_xero_state in ("queued", "sending", "unknown")
            )
        )
        if cancels:
            cancels._halo_xero_push_cancels(connection, stats)
        return (self - cancels)._halo_xero_push_documents(connection, stats)

    def _halo_xero_push_documents(self, connection, stats):
        client = connection._halo_client()
        for round_no in range(MAX_ROUNDS):
            try:
                self._halo_xero_reconcile(connection, client)
                pending = self.filtered(lambda m: m.halo_xero_state == "queued")
                if not pending:
                    break
                pending._halo_xero_ensure_contacts(connection, client)
                pending = pending.filtered(lambda m: m.halo_xero_state == "queued")
                # invoices first (a credit note can then be allocated to the invoice it reverses), and
                # never mixed with credit notes in one request (/Invoices vs /CreditNotes)
                refunds = pending.filtered(lambda m: m.move_type == "out_refund")
                for group in (pending - refunds, refunds):
                    creates = group.filtered(lambda m: not m.halo_xero_invoice_id)
                    for action, moves in (("create", creates), ("update", group - creates)):
                        moves._halo_xero_send_batches(connection, client, action)
            except XeroAuthError as err:
                self._halo_xero_requeue(str(err), stats)
                stats["stop"] = True
                break
            except XeroRetryLater as err:
                wait = err.retry_after if err.retry_after is not None else min(2**round_no, 8)
                if err.problem == "day" or wait > MAX_INLINE_WAIT or round_no == MAX_ROUNDS - 1:
                    self._halo_xero_requeue(str(err), stats)
                    stats["stop"] = err.problem == "day" or wait > MAX_INLINE_WAIT
                    break
                if err.problem != "minute" or err.retry_after is None:
                    time.sleep(wait)  # backoff on 5xx / network; a 429 penalised the throttle already
        # one last look-up so that nothing stays "unknown" when Xero can answer
        try:
            self._halo_xero_reconcile(connection, client)
        except XeroError as err:
            _logger.info("Xero look-up postponed for connection %s: %s", connection.id, err)
        stats["sent"] += len(self.filtered(lambda m: m.halo_xero_state == "sent"))
        stats["failed"] += len(self.filtered(lambda m: m.halo_xero_state == "failed"))
        stats["waiting"] += len(
            self.filtered(lambda m: m.halo_xero_state in ("queued", "sending", "unknown"))
        )
        followups = self.filtered("halo_xero_followup")
        if followups:
            try:
                followups._halo_xero_followups(connection, client)
            except XeroError as err:
                _logger.info("Xero follow-ups postponed for connection %s: %s", connection.id, err)

    def _halo_xero_requeue(self, message, stats):
        waiting = self.filtered(lambda m: m.halo_xero_state == "queued")
        waiting.write({"halo_xero_error": message})
        self._halo_xero_commit()

    # -- payloads ---------------------------------------------------------------------------------
    def _halo_xero_invoice_doc(self, connection):
        """The plain dict ``services/xero_push.build_invoice`` takes: the lines and amounts, Odoo's rate of a
        foreign currency (``CurrencyRate``: both ledgers book the same base amount) and the date Xero's lock
        dates allow (see ``_halo_xero_lock_dates``)."""
        self.ensure_one()
        lines, inclusive = [], set()
        product_lines = self.invoice_line_ids.filtered(lambda aml: aml.display_type == "product")
        # this organisation's links (a customer, product or tax may be linked to other organisations too)
        templates = product_lines.product_id.product_tmpl_id
        items = self.env["halo.xero.product.link"]._halo_links_of(connection, templates, "product_tmpl_id")
        category_codes = templates.categ_id._halo_xero_account_codes(connection)
        tax_links = self.env["halo.xero.tax.link"]._halo_links_of(connection, product_lines.tax_ids, "tax_id")
        for line in product_lines:
            taxes = line.tax_ids
            if len(taxes) > 1:
                raise xero_push.PayloadError(
                    self.env._(
                        "Line '%(line)s' has several taxes; Xero takes one tax type per line.", line=line.name
                    )
                )
            tax = taxes[:1]
            tax_link = tax_links.get(tax.id) if tax else None
            if tax and (tax.amount_type != "percent" or not tax_link or not tax_link.tax_type):
                raise xero_push.PayloadError(
                    self.env._(
                        "Tax %(tax)s has no Xero tax type (map it in the Xero settings).", tax=tax.name
                    )
                )
            if tax:
                inclusive.add(bool(tax.price_include))
            template = line.product_id.product_tmpl_id
            item = items.get(template.id)
            lines.append(
                {
                    "description": line.name or template.description_sale or line.product_id.display_name,
                    "quantity": Decimal(str(line.quantity)),
                    "unit_price": Decimal(str(line.price_unit)),
                    "discount": Decimal(str(line.discount or 0)),
                    "item_code": (item.item_code if item else None) or None,
                    # the product's account, else its category's (or a parent category's), else the connection's
                    "account_code": (item.account_code if item else None)
                    or category_codes.get(template.categ_id.id)
                    or connection.default_account_code
                    or None,
                    "tax_type": tax_link.tax_type if tax else "NONE",
                    "tax_rate": Decimal(str(tax.amount)) if tax else Decimal(0),
                    "xero_rate": Decimal(str(tax_link.effective_rate))
                    if tax and tax_link.rate_known
                    else None,
                    "tracking": self._halo_xero_tracking(connection, line),
                }
            )
        if len(inclusive) > 1:
            raise xero_push.PayloadError(
                self.env._(
                    "The invoice mixes tax-included and tax-excluded prices; Xero needs one mode per invoice."
                )
            )
        partner = self.partner_id.commercial_partner_id
        doc = {
            "move_id": self.id,
            "name": self.name,
            "kind": "refund" if self.move_type == "out_refund" else "invoice",
            "contact_id": partner._halo_xero_contact(connection).get(partner.id),
            "date": self.invoice_date,
            "due_date": self.invoice_date_due or self.invoice_date,
            "reference": self.ref or self.invoice_origin or "",
            "currency": self.currency_id.name,
            "line_amount_types": "Inclusive" if inclusive == {True} else "Exclusive",
            "total": Decimal(str(self.amount_total)),
            "lines": lines,
        }
        rate = self._halo_xero_currency_rate()
        if rate:
            doc["currency_rate"] = rate
        return self._halo_xero_lock_dates(connection, doc)

    def _halo_xero_currency_rate(self):
        """Xero's CurrencyRate (units of the invoice's currency per unit of the base currency) of the rate Odoo
        booked this invoice at, so both ledgers book the same base amount; None in the company's currency."""
        self.ensure_one()
        if self.currency_id == self.company_id.currency_id:
            return None
        if self.amount_total and self.amount_total_signed:
            return round(abs(self.amount_total / self.amount_total_signed), 6)
        return round(
            self.currency_id._get_conversion_rate(
                self.company_id.currency_id,
                self.currency_id,
                self.company_id,
                self.invoice_date or fields.Date.context_today(self),
            ),
            6,
        )

    def _halo_xero_tracking(self, connection, line):
        name = getattr(connection.sudo(), "tracking_category_name", False)
        path = getattr(connection.sudo(), "tracking_option_field", False)
        if not name or not path or connection._halo_tracking_path_error(path):
            return []
        for record in (line, self):
            try:
                values = record.mapped(path)
            except (KeyError, AttributeError, ValueError):
                continue
            option = next(
                (v.display_name if isinstance(v, models.BaseModel) else str(v) for v in values if v), None
            )
            if option:
                return [(name, option)]
        return []

    def _halo_xero_payloads(self, connection, action, client=None):
        """{move: payload} for the moves whose payload could be built; the others are marked failed.
        Account codes are checked against the chart imported from Xero and, with ``client``, tracking
        options against Xero's tracking categories (Xero refuses both otherwise)."""
        payloads = {}
        chart = {
            a.code.lower(): a
            for a in self.env["halo.xero.account"].sudo().search([("connection_id", "=", connection.id)])
        }
        tracking = self._halo_xero_tracking_options(connection, client) if client is not None else None
        for move in self:
            if action == "update":
                numbering = "xero" if (move.halo_xero_lookup or "").startswith("reference:") else "odoo"
            else:
                numbering = connection.invoice_numbering or "odoo"
            try:
                payload = xero_push.build_invoice(
                    move._halo_xero_invoice_doc(connection),
                    status=connection.invoice_status or "DRAFT",
                    numbering=numbering,
                    rounding_account_code=connection.rounding_account_code,
                )
                move._halo_xero_check_lines(payload, chart, tracking)
            except xero_push.PayloadError as err:
                move._halo_xero_fail(str(err), action)
                continue
            if action == "update":
                # the document's own id: InvoiceID for invoices, CreditNoteID for credit notes (Xero
                # matches credit notes by id only; without it a second credit note would be created)
                payload[xero_push.ID_FIELDS[payload_kind(move)]] = move.halo_xero_invoice_id
            payloads[move] = payload
        # dated after the lock in Xero: said in the log
        lock = connection._halo_lock_date()
        if lock and connection.locked_period_policy == "first_open_day":
            Log = self.env["halo.xero.sync.log"]
            for move in payloads:
                if move.invoice_date and move.invoice_date <= lock:
                    Log._halo_log(
                        move,
                        action,
                        "ok",
                        self.env._(
                            "Dated %(date)s in Odoo, sent to Xero dated %(first)s: the Xero period up to %(lock)s is "
                            "locked.",
                            date=format_date(self.env, move.invoice_date),
                            first=format_date(self.env, lock + timedelta(days=1)),
                            lock=format_date(self.env, lock),
                        ),
                    )
        return payloads

    def _halo_xero_check_lines(self, payload, chart, tracking):
        """Refuse (PayloadError) what Xero would refuse, saying what to fix: an account code that is not
        in the imported chart, archived, a bank or a system account (the ROUNDING account takes rounding
        lines); a tracking option Xero does not have (``tracking``: {category: (name, {option: name})}).
        Tracking names are sent with Xero's spelling."""
        self.ensure_one()
        for line in payload["LineItems"]:
            code = line.get("AccountCode")
            account = chart.get(str(code).lower()) if code and chart else None
            if code and chart and account is None:
                raise xero_push.PayloadError(
                    self.env._(
                        "Account code '%(code)s' is not in the chart of accounts imported from Xero: map the product "
                        "(or the connection's default account) to an active revenue account.",
                        code=code,
                    )
                )
            if account and account.status != "ACTIVE":
                raise xero_push.PayloadError(
                    self.env._(
                        "Account code '%(code)s' (%(name)s) is archived in Xero: map the product (or the connection's "
                        "default account) to an active revenue account.",
                        code=code,
                        name=account.name,
                    )
                )
            if (
                account
                and (account.account_type == "BANK" or account.system_account)
                and account.system_account != "ROUNDING"
            ):
                raise xero_push.PayloadError(
                    self.env._(
                        "Account code '%(code)s' (%(name)s) is a bank or system account in Xero, which takes no "
                        "invoice lines: map the product (or the connection's default account) to a revenue account.",
                        code=code,
                        name=account.name,
                    )
                )
            if tracking is None:
                continue
            for entry in line.get("Tracking") or []:
                category = tracking.get(entry["Name"].strip().lower())
                option = category[1].get(entry["Option"].strip().lower()) if category else None
                if option is None:
                    raise xero_push.PayloadError(
                        self.env._(
                            "Xero has no active tracking option '%(option)s' in the category '%(category)s' (options: "
                            "%(options)s): add it in Xero, or change the connection's tracking settings.",
                            option=entry["Option"],
                            category=entry["Name"],
                            options=", ".join(sorted(category[1].values())) if category else "-",
                        )
                    )
                entry["Name"], entry["Option"] = category[0], option

    def _halo_xero_tracking_options(self, connection, client):
        """{category (lower case): (Xero's name, {option (lower case): Xero's name})} of the active tracking
        categories and options in Xero, read when the connection sends tracking (else None)."""
        if not getattr(connection, "tracking_category_name", False) or not connection.tracking_option_field:
            return None
        result = client.call(connection.tenant_id, "get_tracking_categories")
        connection.sudo()._halo_store_tracking(result.tracking_categories or [])  # for the mapping screen
        out = {}
        for cat in result.tracking_categories or []:
            if _value(cat.status) != "ACTIVE" or not cat.name:
                continue
            out[cat.name.strip().lower()] = (
                cat.name,
                {
                    opt.name.strip().lower(): opt.name
                    for opt in cat.options or []
                    if opt.name and _value(opt.status) == "ACTIVE"
                },
            )
        return out

    def _halo_xero_send_batches(self, connection, client, action):
        """Send these moves in requests of at most 50 documents and at most ``MAX_REQUEST_BYTES`` of
        serialised body (Xero refuses a request over 3.5 MB with 413)."""
        if not self:
            return
        payloads = self._halo_xero_payloads(connection, action, client)
        moves = list(payloads)
        sizes = [xc.payload_size(payloads[m]) for m in moves]
        for batch in xero_push.size_batches(moves, sizes):
            self.browse([m.id for m in batch])._halo_xero_send(
                connection, client, action, {m: payloads[m] for m in batch}
            )

    def _halo_xero_fail(self, message, action="create"):
        self.write({"halo_xero_state": "failed", "halo_xero_error": message})
        self.env["halo.xero.sync.log"]._halo_log(self, action, "error", message)
        self._halo_xero_commit()

    def _halo_xero_dbuuid(self):
        return self.env["ir.config_parameter"].sudo().get_param("database.uuid") or self.env.cr.dbname

    # -- contacts ---------------------------------------------------------------------------------
    def _halo_xero_ensure_contacts(self, connection, client):
        """Bind every customer to a Xero contact, creating missing ones (one request per 50)."""
        partners = self.mapped("partner_id.commercial_partner_id")
        partners -= partners.browse(partners._halo_xero_contact(connection))
        if not partners:
            return
        dbuuid = self._halo_xero_dbuuid()
        for chunk in xero_push.batches(partners):
            chunk = self.env["res.partner"].browse([p.id for p in chunk])
            # Xero takes one valid address: the first valid one of Odoo's comma/semicolon-separated list
            body = [
                {"Name": (p.name or "").strip()[:255], "EmailAddress": xero_push.first_email(p.email) or ""}
                for p in chunk
            ]
            # the organisation is part of the key: the same customer is created once in each organisation
            key = xero_push.request_key(
                "contact",
                ["%s-%s-partner-%s" % (dbuuid, connection.tenant_id, p.id) for p in chunk],
                xero_push.payload_digest(body),
            )
            missing = chunk
            refusals = {}  # partner id -> Xero's validation messages, shown verbatim
            try:
                result = client.call(
                    connection.tenant_id,
                    "create_contacts",
                    xc.to_sdk_contacts(body),
                    summarize_errors=False,
                    idempotency_key=key,
                    write=True,
                )
                elements = result.contacts or []
                missing = self.env["res.partner"]
                for partner, element in zip(chunk, elements, strict=False):
                    contact_id = str(element.contact_id or "")
                    if contact_id and contact_id != xero_push.ZERO_GUID and not element.validation_errors:
                        partner._halo_xero_bind_contact(connection, contact_id)
                    else:
                        missing |= partner
                        refusals[partner.id] = [
                            e.message for e in element.validation_errors or [] if e.message
                        ]
            except XeroUnknownOutcome:
                # Xero may or may not have created them: looked up by name below
                _logger.info("Xero contacts: unknown outcome for %s customers, looking them up", len(chunk))
            except XeroError as err:
                if isinstance(err, (XeroRetryLater, XeroAuthError)):
                    raise
                self.filtered(lambda m, c=chunk: m.partner_id.commercial_partner_id in c)._halo_xero_fail(
                    str(err), "contact"
                )
                continue
            # names are unique among active Xero contacts: a taken name is the customer's contact
            for partner in missing:
                found = client.call(
                    connection.tenant_id,
                    "get_contacts",
                    where='Name=="%s"' % (partner.name or "").replace('"', ""),
                )
                contacts = found.contacts or []
                if contacts:
                    partner._halo_xero_bind_contact(connection, str(contacts[0].contact_id))
                else:
                    reasons = refusals.get(partner.id)
                    message = (
                        self.env._(
                            "Xero did not accept the contact %(name)s: %(reasons)s",
                            name=partner.name,
                            reasons="; ".join(reasons),
                        )
                        if reasons
                        else self.env._("Xero did not accept the contact %(name)s.", name=partner.name)
                    )
                    self.filtered(
                        lambda m, p=partner: m.partner_id.commercial_partner_id == p
                    )._halo_xero_fail(message, "contact")

    # -- send -------------------------------------------------------------------------------------
    def _halo_xero_send(self, connection, client, action, payloads=None):
        """One request for up to 50 invoices: mark sending, commit, send, apply the answers. A request
        Xero refuses as too large (413, nothing applied) is split in two and each half sent again."""
        if payloads is None:
            payloads = self._halo_xero_payloads(connection, action)
        moves = self.browse([m.id for m in payloads])
        if not moves:
            return
        payload_list = [payloads[m] for m in moves]
        dbuuid = self._halo_xero_dbuuid()
        member_keys = [xero_push.invoice_key(dbuuid, m.id, m.halo_xero_payload_version) for m in moves]
        key = xero_push.request_key(action, member_keys, xero_push.payload_digest(payload_list))
        for move, payload in zip(moves, payload_list, strict=True):
            kind, value = xero_push.lookup_key(payload)
            move.write(
                {
                    "halo_xero_state": "sending",
                    "halo_xero_attempts": move.halo_xero_attempts + 1,
                    "halo_xero_lookup": "%s:%s" % (kind, value),
                }
            )
        self._halo_xero_commit()
        noun = "credit_notes" if xero_push.is_credit_note(payload_list[0]) else "invoices"
        method = ("create_%s" if action == "create" else "update_or_create_%s") % noun
        Log = self.env["halo.xero.sync.log"]
        options = {"allow_backorders": True} if noun == "invoices" and connection.allow_backorders else {}
        try:
            result = client.call(
                connection.tenant_id,
                method,
                xc.to_sdk_documents(payload_list),
                summarize_errors=False,
                unitdp=4,
                idempotency_key=key,
                write=True,
                **options,
            )
        except XeroUnknownOutcome as err:
            moves.write({"halo_xero_state": "unknown", "halo_xero_error": str(err)})
            Log._halo_log(moves, action, "unknown", str(err), key)
            self._halo_xero_commit()
            return
        except XeroRetryLater as err:
            # a 5xx may have been applied (e.g. Xero's idempotency store down): look it up first
            state = "unknown" if err.problem in ("server", "network") else "queued"
            moves.write({"halo_xero_state": state, "halo_xero_error": str(err)})
            Log._halo_log(moves, action, "retry", str(err), key)
            self._halo_xero_commit()
            raise
        except XeroAuthError as err:
            moves.write({"halo_xero_state": "queued", "halo_xero_error": str(err)})
            Log._halo_log(moves, action, "retry", str(err), key)
            self._halo_xero_commit()
            raise
        except XeroTooLarge as err:
            if len(moves) == 1:
                moves._halo_xero_fail(
                    self.env._(
                        "%(error)s This invoice alone is larger than Xero accepts in one request: shorten its "
                        "line descriptions or split it.",
                        error=str(err),
                    ),
                    action,
                )
                return
            moves.write({"halo_xero_state": "queued"})
            Log._halo_log(
                moves, action, "retry", self.env._("%(error)s Sent again in two halves.", error=str(err)), key
            )
            self._halo_xero_commit()
            half = len(moves) // 2
            for part in (moves[:half], moves[half:]):
                part._halo_xero_send(connection, client, action, {m: payloads[m] for m in part})
            return
        except XeroError as err:
            moves._halo_xero_fail(str(err), action)
            return
        moves._halo_xero_apply_results(connection, action, key, payload_list, result)

    def _halo_xero_apply_results(self, connection, action, key, payloads, result):
        Log = self.env["halo.xero.sync.log"]
        elements = list(getattr(result, "invoices", None) or getattr(result, "credit_notes", None) or [])
        attach = bool(connection.attach_pdf)
        payloads_by_move = dict(zip(self, payloads, strict=False))
        for move, element in zip(self, elements, strict=False):
            outcome = xero_push.element_outcome(element)
            if outcome["ok"]:
                move._halo_xero_mark_sent(outcome, attach)
                Log._halo_log(
                    move,
                    action,
                    "ok",
                    "; ".join(outcome["warnings"]),
                    key,
                    getattr(result, "id", None),
                    {move.id: outcome["invoice_id"]},
                )
                xero_total = getattr(element, "total", None)
                if xero_total is not None and move.currency_id.compare_amounts(
                    float(xero_total), move.amount_total
                ):
                    # e.g. a tax type whose rate in Xero is not the Odoo tax's: say it loudly
                    message = self.env._(
                        "Xero's total %(xero)s differs from Odoo's %(odoo)s: check the Xero tax type of the taxes "
                        "on this invoice.",
                        xero=xero_total,
                        odoo=move.amount_total,
                    )
                    move.halo_xero_error = message
                    Log._halo_log(move, "status", "error", message)
                if payloads_by_move.get(move, {}).get("_flag"):
                    message = payloads_by_move[move]["_flag"]
                    move.halo_xero_error = "\n".join(filter(None, [message, move.halo_xero_error]))
                    Log._halo_log(move, "status", "error", message)
            elif action == "create" and xero_push.is_duplicate_number(outcome):
                # an earlier attempt got through (its answer was lost): find it, do not send it again
                move.write({"halo_xero_state": "unknown", "halo_xero_error": "; ".join(outcome["messages"])})
                Log._halo_log(move, action, "unknown", "; ".join(outcome["messages"]), key)
            else:
                message = "; ".join(outcome["messages"]) or self.env._("Xero rejected the invoice.")
                if action == "update" and any(
                    "# must be unique" not in m and "valid status" in m for m in outcome["messages"]
                ):
                    message = self.env._(
                        "%(msg)s. The invoice is no longer a draft in Xero: issue a credit note instead.",
                        msg=message,
                    )
                move.write({"halo_xero_state": "failed", "halo_xero_error": message})
                Log._halo_log(move, action, "error", message, key)
        missing = self[len(elements) :]
        if missing:  # should not happen: Xero answers every element
            missing.write({"halo_xero_state": "unknown"})
        self._halo_xero_commit()
        refused = self.filtered(
            lambda m: m.halo_xero_state == "failed" and LOCK_MESSAGE_MARK in (m.halo_xero_error or "").lower()
        )
        if not refused:
            return
        # Xero's lock date moved since Odoo read it: read it again (the next posting is warned)
        try:
            connection._halo_read_lock_dates()
        except XeroError:
            return
        lock = connection._halo_lock_date()
        if lock and connection.locked_period_policy == "first_open_day":
            # sent again in the next round, dated after the lock (only those the new lock date covers)
            refused.filtered(lambda m: m.invoice_date and m.invoice_date <= lock).write(
                {"halo_xero_state": "queued"}
            )
        self._halo_xero_commit()

    def _halo_xero_mark_sent(self, outcome, attach):
        self.ensure_one()
        status = outcome["status"] or self.halo_xero_status
        vals = {
            "halo_xero_state": "sent",
            "halo_xero_invoice_id": outcome["invoice_id"],
            "halo_xero_number": outcome["number"] or self.halo_xero_number,
            "halo_xero_status": status,
            "halo_xero_error": False,
            "halo_xero_sent_at": fields.Datetime.now(),
            "halo_xero_followup": (attach and not self.halo_xero_pdf_sent)
            or (status not in ("DRAFT", "DELETED") and not self.halo_xero_url),
        }
        if self.move_type == "out_refund":
            # no PDF / online URL for credit notes: the follow-up is the allocation to the reversed invoice
            vals["halo_xero_followup"] = False
            if self.reversed_entry_id and self.halo_xero_allocation not in ("done", "unknown"):
                vals["halo_xero_allocation"] = "pending"
                vals["halo_xero_followup"] = True
        self.write(vals)

    # -- reconcile unknown outcomes ---------------------------------------------------------------
    def _halo_xero_reconcile(self, connection, client):
        """Look up invoices in 'sending'/'unknown' by InvoiceNumber or Reference; found → sent,
        not found → queued (then sent again)."""
        moves = self.filtered(lambda m: m.halo_xero_state in ("sending", "unknown"))
        # an update targets its InvoiceID: sending it again cannot duplicate anything (and within six
        # minutes the same Idempotency-Key replays Xero's first answer), so it is simply queued again
        updates = moves.filtered("halo_xero_invoice_id")
        updates.write({"halo_xero_state": "queued"})
        moves -= updates
        refunds = moves.filtered(lambda m: m.move_type == "out_refund")
        for group, credit in ((moves - refunds, False), (refunds, True)):
            if group:
                group._halo_xero_reconcile_group(connection, client, credit)
        self._halo_xero_commit()

    @staticmethod
    def _halo_xero_remote_doc(doc, credit):
        """The fields a look-up needs of an SDK ``Invoice`` or ``CreditNote``."""
        return {
            "invoice_id": str(doc.credit_note_id if credit else doc.invoice_id),
            "number": (doc.credit_note_number if credit else doc.invoice_number) or "",
            "status": doc.status or "",
            "type": doc.type,
            "reference": doc.reference or "",
            "contact_id": str(doc.contact.contact_id) if doc.contact else "",
        }

    def _halo_xero_lookup_remote(self, connection, client, by_kind, credit):
        """{(kind, value): [remote doc]} of the Xero invoices (credit notes) with these numbers/references."""
        found = {}
        tenant = connection.tenant_id
        receivable = "ACCRECCREDIT" if credit else "ACCREC"
        queries = []
        if credit:  # GET /CreditNotes takes no CreditNoteNumbers parameter in the SDK: where, 25 per request
            for chunk in xero_push.batches(list(by_kind["number"]), 25):
                queries.append(
                    (
                        "number",
                        {
                            "where": " OR ".join(
                                'CreditNoteNumber=="%s"' % by_kind["number"][n][1].replace('"', "")
                                for n in chunk
                            )
                        },
                    )
                )
        else:
            for chunk in xero_push.batches(list(by_kind["number"]), 50):
                queries.append(("number", {"invoice_numbers": [by_kind["number"][n][1] for n in chunk]}))
        for chunk in xero_push.batches(list(by_kind["reference"]), 25):
            queries.append(
                (
                    "reference",
                    {
                        "where": " OR ".join(
                            'Reference=="%s"' % by_kind["reference"][r][1].replace('"', "") for r in chunk
                        )
                    },
                )
            )
        for kind, kwargs in queries:
            result = client.call(tenant, "get_credit_notes" if credit else "get_invoices", **kwargs)
            for doc in (result.credit_notes if credit else result.invoices) or []:
                remote = self._halo_xero_remote_doc(doc, credit)
                if kind == "reference" and remote["type"] != receivable:
                    continue
                found.setdefault((kind, remote[kind].lower()), []).append(remote)
        return found

    def _halo_xero_reconcile_group(self, connection, client, credit):
        by_kind = {"number": {}, "reference": {}}
        for move in self:
            kind, _sep, value = (move.halo_xero_lookup or "number:%s" % move.name).partition(":")
            by_kind.setdefault(kind, {})[value.lower()] = (move, value)
        found = self._halo_xero_lookup_remote(connection, client, by_kind, credit)
        Log = self.env["halo.xero.sync.log"]
        for kind, index in by_kind.items():
            for value, (move, _raw) in index.items():
                partner = move.partner_id.commercial_partner_id
                contact = partner._halo_xero_contact(connection).get(partner.id)
                candidates = [
                    doc for doc in found.get((kind, value), []) if not contact or doc["contact_id"] == contact
                ]
                candidates.sort(key=lambda doc: doc["status"] == "DELETED")
                if candidates:
                    outcome = {k: candidates[0][k] for k in ("invoice_id", "number", "status")}
                    move._halo_xero_mark_sent(outcome, bool(connection.attach_pdf))
                    Log._halo_log(
                        move,
                        "lookup",
                        "ok",
                        self.env._("Found in Xero by %(kind)s %(value)s.", kind=kind, value=value),
                        xero_ids={move.id: outcome["invoice_id"]},
                    )
                elif found.get((kind, value)):
                    move._halo_xero_fail(
                        self.env._("Xero already has an invoice %(value)s for another contact.", value=value),
                        "lookup",
                    )
                else:
                    move.write({"halo_xero_state": "queued"})
                    Log._halo_log(move, "lookup", "ok", self.env._("Not in Xero: sent again."))

    # -- follow-ups: PDF and online URL --------------------------------------------------------------
    def _halo_xero_pdf(self):
        self.ensure_one()
        content, _type = (
            self.env["ir.actions.report"].sudo()._render_qweb_pdf("account.account_invoices", self.ids)
        )
        return content

    def _halo_xero_followups(self, connection, client):
        """Attach the invoice PDF (IncludeOnline) and fetch the online invoice URL, paced by the throttle."""
        tenant = connection.tenant_id
        Log = self.env["halo.xero.sync.log"]
        dbuuid = self._halo_xero_dbuuid()
        for move in self.filtered(lambda m: m.halo_xero_followup and m.halo_xero_invoice_id):
            if move.move_type == "out_refund":
                move._halo_xero_allocate(connection, client)
                self._halo_xero_commit()
                continue
            if connection.attach_pdf and not move.halo_xero_pdf_sent:
                file_name = "%s.pdf" % "".join(c if c.isalnum() or c in "-_." else "-" for c in move.name)
                key = xero_push.request_key(
                    "attach", [xero_push.invoice_key(dbuuid, move.id, move.halo_xero_payload_version)]
                )
                try:
                    client.call(
                        tenant,
                        "create_invoice_attachment_by_file_name",
                        move.halo_xero_invoice_id,
                        file_name,
                        move._halo_xero_pdf(),
                        include_online=True,
                        idempotency_key=key,
                        write=True,
                    )
                except XeroUnknownOutcome:
                    continue  # same file name overwrites in Xero: sending it again is harmless
                except (XeroRetryLater, XeroAuthError):
                    raise
                except XeroError as err:
                    Log._halo_log(move, "attach", "error", str(err), key)
                    move.write({"halo_xero_pdf_sent": True, "halo_xero_error": str(err)})
                    continue
                move.halo_xero_pdf_sent = True
                Log._halo_log(move, "attach", "ok", file_name, key)
            if move.halo_xero_status not in ("DRAFT", "DELETED", "VOIDED") and not move.halo_xero_url:
                try:
                    result = client.call(tenant, "get_online_invoice", move.halo_xero_invoice_id)
                    urls = [
                        o.online_invoice_url for o in (result.online_invoices or []) if o.online_invoice_url
                    ]
                    move.halo_xero_url = urls[0] if urls else False
                except (XeroRetryLater, XeroAuthError):
                    raise
                except XeroError as err:
                    Log._halo_log(move, "online", "error", str(err))
            move.halo_xero_followup = False
            self._halo_xero_commit()

    # -- credit notes: allocation to the reversed invoice -------------------------------------------
    def _halo_xero_allocate(self, connection, client):
        """Allocate this credit note in Xero to the invoice it reverses (``reversed_entry_id``), for
        min(remaining credit, the invoice's AmountDue in Xero). Only an AUTHORISED credit note can be
        allocated: a DRAFT one (connection status setting) is left unallocated, and said so.

        The PUT carries a stable Idempotency-Key; after an unknown outcome the credit note's allocations
        are read back from Xero before anything is sent again, so the credit is never applied twice."""
        self.ensure_one()
        Log = self.env["halo.xero.sync.log"]
        tenant = connection.tenant_id
        invoice = self.reversed_entry_id
        state = self.halo_xero_allocation

        def done(allocation, message, outcome="ok"):
            self.write({"halo_xero_allocation": allocation, "halo_xero_followup": False})
            Log._halo_log(self, "allocate", outcome, message)

        if state in ("done", "skipped", "failed") or not invoice:
            self.halo_xero_followup = False
            return
        if not invoice.halo_xero_invoice_id or invoice.halo_xero_connection_id != connection:
            return done(
                "skipped",
                self.env._("Not allocated: the reversed invoice %(name)s is not in Xero.", name=invoice.name),
                "skipped",
            )
        if self.halo_xero_status != "AUTHORISED":
            return done(
                "skipped",
                self.env._(
                    "Not allocated: the credit note is %(status)s in Xero (only approved credit notes can be "
                    "allocated); allocate it to %(number)s in Xero once approved.",
                    status=self.halo_xero_status or "-",
                    number=invoice.halo_xero_number or invoice.name,
                ),
                "skipped",
            )
        try:
            credit = client.call(tenant, "get_credit_note", self.halo_xero_invoice_id).credit_notes[0]
            mine = [
                a
                for a in credit.allocations or []
                if a.invoice and str(a.invoice.invoice_id) == invoice.halo_xero_invoice_id
            ]
            if mine:  # an earlier attempt got through (its answer was lost)
                self.halo_xero_allocation_id = str(mine[0].allocation_id or "")
                self._halo_xero_apply_remote(connection, [credit])
                return done(
                    "done",
                    self.env._("Already allocated in Xero to %(number)s.", number=invoice.halo_xero_number),
                )
            remote_inv = client.call(tenant, "get_invoice", invoice.halo_xero_invoice_id).invoices[0]
        except (XeroRetryLater, XeroAuthError):
            raise
        except XeroError as err:
            return done("failed", str(err), "error")
        amount = min(Decimal(str(credit.remaining_credit or 0)), Decimal(str(remote_inv.amount_due or 0)))
        if remote_inv.status != "AUTHORISED" or amount <= 0:
            return done(
                "skipped",
                self.env._(
                    "Not allocated: invoice %(number)s is %(status)s in Xero with %(due)s due.",
                    number=invoice.halo_xero_number,
                    status=remote_inv.status,
                    due=remote_inv.amount_due,
                ),
                "skipped",
            )
        on_date = max(
            self.invoice_date or fields.Date.context_today(self), remote_inv.date or self.invoice_date
        )
        body = xc.to_sdk_allocation(invoice.halo_xero_invoice_id, amount, on_date)
        dbuuid = self._halo_xero_dbuuid()
        key = xero_push.request_key(
            "allocate",
            [xero_push.invoice_key(dbuuid, self.id, self.halo_xero_payload_version)],
            "%s|%s|%s" % (invoice.halo_xero_invoice_id, xero_push.r2(amount), on_date),
        )
        try:
            result = client.call(
                tenant,
                "create_credit_note_allocation",
                self.halo_xero_invoice_id,
                body,
                idempotency_key=key,
                write=True,
            )
        except XeroUnknownOutcome as err:
            self.halo_xero_allocation = "unknown"  # looked up (GET credit note) before it is sent again
            Log._halo_log(self, "allocate", "unknown", str(err), key)
            return None
        except (XeroRetryLater, XeroAuthError):
            raise
        except XeroError as err:
            self.halo_xero_error = str(err)
            return done("failed", str(err), "error")
        allocation = (result.allocations or [None])[0]
        self.halo_xero_allocation_id = str(getattr(allocation, "allocation_id", "") or "")
        done(
            "done",
            self.env._(
                "%(amount)s allocated to %(number)s.",
                amount=xero_push.r2(amount),
                number=invoice.halo_xero_number,
            ),
        )
        # both documents changed in Xero (RemainingCredit / AmountDue, maybe PAID): read them back
        self._halo_xero_fetch(connection, client, [self.halo_xero_invoice_id], credit=True)
        invoice._halo_xero_fetch(connection, client, [invoice.halo_xero_invoice_id])
        return None

    # -- back from Xero ---------------------------------------------------------------------------
    def _halo_xero_fetch(self, connection, client, document_ids, credit=False):
        """GET these Xero invoices (50 per request, by InvoiceID) or credit notes (25 per request, by
        CreditNoteID) and apply what Xero says of them (``_halo_xero_apply_remote``)."""
        for chunk in xero_push.batches(document_ids, 25 if credit else 50):
            try:
                if credit:
                    where = " OR ".join('CreditNoteID==guid("%s")' % cid for cid in chunk)
                    result = client.call(connection.tenant_id, "get_credit_notes", where=where)
                else:
                    result = client.call(
                        connection.tenant_id, "get_invoices", i_ds=chunk, page=1, page_size=100
                    )
            except XeroNotFound:
                continue
            self._halo_xero_apply_remote(
                connection, (result.credit_notes if credit else result.invoices) or []
            )

    @staticmethod
    def _halo_xero_document_values(document):
        """``(id, number, credit)`` of a Xero invoice or credit note (an answer of the client, or an SDK
        model): one path for both."""
        credit_id = getattr(document, "credit_note_id", None)
        if credit_id:
            return str(credit_id), getattr(document, "credit_note_number", None), True
        invoice_id = getattr(document, "invoice_id", None)
        return (str(invoice_id) if invoice_id else None), getattr(document, "invoice_number", None), False

    @api.model
    def _halo_xero_apply_remote(self, connection, documents, money=True):
        """Reflect Xero invoices and credit notes on the moves bound to them: status and number; an invoice
        approved or PAID gets its follow-ups (PDF, online URL), a credit note approved after a DRAFT push is
        allocated to the invoice it reverses; then, with ``money``, each invoice's payments and allocations
        are reconciled (``_halo_xero_reconcile_money``)."""
        by_id = {}
        for document in documents:
            doc_id, number, credit = self._halo_xero_document_values(document)
            if doc_id:
                by_id[doc_id] = (document, number, credit)
        if not by_id:
            return self.browse()
        moves = self.sudo().search(
            [("halo_xero_invoice_id", "in", list(by_id)), ("halo_xero_connection_id", "=", connection.id)]
        )
        # an id names the same kind of document in Odoo and in Xero (a credit note is never an invoice)
        moves = moves.filtered(lambda m: (m.move_type == "out_refund") == by_id[m.halo_xero_invoice_id][2])
        Log = self.env["halo.xero.sync.log"]
        for move in moves:
            document, number, credit = by_id[move.halo_xero_invoice_id]
            status = document.status or move.halo_xero_status
            if status == move.halo_xero_status:
                continue
            Log._halo_log(move, "status", "ok", "%s → %s" % (move.halo_xero_status or "-", status))
            if status in ("VOIDED", "DELETED"):
                move.message_post(
                    body=self.env._(
                        "This credit note was %(status)s in Xero (%(number)s).",
                        status=status.lower(),
                        number=number or "-",
                    )
                    if credit
                    else self.env._(
                        "This invoice was %(status)s in Xero (%(number)s). Cancel it or issue a credit note in "
                        "Odoo if that is right.",
                        status=status.lower(),
                        number=number or "-",
                    )
                )
            vals = {"halo_xero_status": status, "halo_xero_number": number or move.halo_xero_number}
            if not credit:
                vals["halo_xero_followup"] = move.halo_xero_followup or (
                    status not in ("DRAFT", "DELETED", "VOIDED") and not move.halo_xero_url
                )
            elif (
                status == "AUTHORISED"
                and move.reversed_entry_id
                and move.halo_xero_allocation in (False, "skipped")
            ):
                # approved in Xero after a DRAFT push: allocate it now
                vals.update(halo_xero_allocation="pending", halo_xero_followup=True)
            move.write(vals)
        if money:
            for move in moves.filtered(lambda m: m.move_type == "out_invoice"):
                move._halo_xero_reconcile_money_safe(connection, by_id[move.halo_xero_invoice_id][0])
        return moves

    # -- Xero lock dates (the organisation's PeriodLockDate / EndOfYearLockDate) -----------------------------

    def _halo_xero_locked(self):
        """{move: (connection, lock date)} of these customer invoices and credit notes that would go to a
        Xero organisation whose lock date is on or after their date, with the connection refusing them."""
        Connection = self.env["halo.xero.connection"].sudo()
        out = {}
        for company, moves in (
            self.filtered(lambda m: m.move_type in ("out_invoice", "out_refund"))
            .grouped("company_id")
            .items()
        ):
            connection = Connection._halo_for_company(company)
            if not connection or connection.locked_period_policy != "refuse":
                continue
            lock = connection._halo_lock_date()
            if not lock:
                continue
            for move in moves:
                if (move.invoice_date or move._halo_xero_today()) <= lock:
                    out[move] = (connection, lock)
        return out

    def _halo_xero_today(self):
        return fields.Date.context_today(self)

    def _halo_xero_lock_message(self, connection, lock):
        """What the user reads when this move is dated in the locked period of ``connection``."""
        self.ensure_one()
        env = self.env
        return env._(
            "%(name)s is dated %(date)s, on or before the lock date %(lock)s of the Xero organisation %(org)s: "
            "Xero accepts no document in a locked period. Change its date to %(first)s or later, or ask your Xero "
            "adviser to move the lock date in Xero (then use Test connection on the Xero connection so that Odoo "
            "reads it again).",
            name=self.name if self.name and self.name != "/" else self.partner_id.display_name,
            date=format_date(env, self.invoice_date or self._halo_xero_today()),
            lock=format_date(env, lock),
            org=connection.tenant_name or connection.name,
            first=format_date(env, lock + timedelta(days=1)),
        )

    def _halo_xero_report_locked(self, locked):
        """A billing run's invoices left in draft for the Xero lock date: said on the run (and to its
        responsible, as an activity)."""
        for run, moves in self.grouped("halo_run_id").items():
            connection, lock = locked[moves[0]]
            body = self.env._(
                "%(count)s invoices were left in draft: they are dated on or before the lock date %(lock)s of the "
                "Xero organisation %(org)s, which accepts no document in a locked period. Change their date to "
                "%(first)s or later and post them, or ask your Xero adviser to move the lock date: %(names)s.",
                count=len(moves),
                lock=format_date(self.env, lock),
                org=connection.tenant_name or connection.name,
                first=format_date(self.env, lock + timedelta(days=1)),
                names=", ".join(
                    moves.mapped(lambda m: "%s (%s)" % (m.partner_id.display_name, m.display_name))
                ),
            )
            if not run:
                continue
            run = run.sudo()
            run.message_post(body=body)
            if run.user_id:
                run.activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=run.user_id.id,
                    summary=self.env._("Invoices left in draft: Xero period locked"),
                    note=body,
                )

    def _halo_xero_lock_dates(self, connection, doc):
        """``doc`` dated for Xero: a move dated in the locked period goes dated the first open day (policy),
        or fails with a payload error before any call (the lock date became known after it was posted)."""
        lock = connection._halo_lock_date()
        if not lock or not doc.get("date") or doc["date"] > lock:
            return doc
        if connection.locked_period_policy != "first_open_day":
            raise xero_push.PayloadError(
                self._halo_xero_lock_message(connection, lock)
                + " "
                + self.env._("Reset it to draft to change its date.")
            )
        first = lock + timedelta(days=1)
        doc["date"] = first
        if not doc.get("due_date") or doc["due_date"] < first:
            doc["due_date"] = first
        return doc

    # -- currencies ----------------------------------------------------------------------------------------
    def _halo_xero_check_currency(self):
        """An invoice in a currency the connected Xero organisation has not enabled is refused before it is
        posted (Xero would refuse it: "Organisation is not subscribed to currency ...")."""
        Connection = self.env["halo.xero.connection"].sudo()
        moves = self.filtered(lambda m: m.move_type in ("out_invoice", "out_refund"))
        # one look-up per company, not per invoice (a billing run posts hundreds at once)
        connections = {company: Connection._halo_for_company(company) for company in moves.company_id}
        for move in moves:
            connection = connections[move.company_id]
            if not connection or connection.state in ("draft", "disconnected"):
                continue
            codes = connection._halo_xero_currency_codes()
            if codes and move.currency_id.name not in codes:
                raise UserError(
                    self.env._(
                        "%(name)s is in %(currency)s, which the Xero organisation %(org)s has not enabled (it has "
                        "%(codes)s). Enable %(currency)s in Xero (Settings > Currencies) and import the currencies "
                        "again on the Xero connection, or invoice in one of its currencies.",
                        name=move.name or move.partner_id.display_name,
                        currency=move.currency_id.name,
                        org=connection.tenant_name or connection.name,
                        codes=", ".join(sorted(codes)),
                    )
                )

    # -- money back: summaries first, full documents only where the money moved, reconciled per invoice -----
    @api.model
    def _halo_xero_apply_summaries(self, connection, client, summaries):
        """Status from the summaries; the invoices whose money changed (AmountDue differs from Odoo's open
        amount, or flagged) are read in full (50 per call) and reconciled."""
        self._halo_xero_apply_remote(connection, summaries, money=False)
        by_id = {str(inv.invoice_id): inv for inv in summaries if inv.invoice_id}
        moves = self.sudo().search(
            [
                ("halo_xero_invoice_id", "in", list(by_id)),
                ("move_type", "=", "out_invoice"),
                ("halo_xero_connection_id", "=", connection.id),
            ]
        )
        todo = moves.filtered(
            lambda m: (
                m.halo_xero_attention
                or m.state == "posted"
                and m.currency_id.compare_amounts(
                    m.amount_residual, float(by_id[m.halo_xero_invoice_id].amount_due or 0.0)
                )
                != 0
            )
        )
        if todo:
            todo._halo_xero_fetch(connection, client, todo.mapped("halo_xero_invoice_id"))
        return todo

    def _halo_xero_reconcile_money_safe(self, connection, inv):
        """Reconcile one invoice; a failure is recorded on it (and raises an activity) without stopping the
        others."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                self._halo_xero_reconcile_money(connection, inv)
        except (UserError, XeroError, psycopg2.Error, ValueError) as err:
            message = self.env._(
                "Registering what Xero shows for %(number)s failed: %(error)s",
                number=inv.invoice_number or self.name,
                error=err,
            )
            _logger.info("Xero reconcile of %s failed: %s", self.name, err)
            self._halo_xero_flag(message)
            self.env["halo.xero.sync.log"]._halo_log(self, "reconcile", "error", message)

    # -- the reconciliation -----------------------------------------------------------------------------
    def _halo_xero_reconcile_money(self, connection, inv):
        """Make Odoo's open amount of this invoice equal Xero's AmountDue (see the module docstring)."""
        self.ensure_one()
        Payment = self.env["halo.xero.payment"].sudo()
        records = Payment.search([("move_id", "=", self.id), ("tenant_id", "=", connection.tenant_id)])
        problems = []
        if inv.status in ("VOIDED", "DELETED"):
            return
        # 1. payments: deleted ones reversed, new ones registered, skipped ones retried
        live = {
            str(p.payment_id): p
            for p in inv.payments or []
            if p.payment_id and getattr(p, "status", None) != "DELETED"
        }
        for record in records.filtered(lambda r: r.kind == "payment"):
            if record.xero_payment_id not in live and record.state in ("registered", "skipped"):
                record._halo_reverse(self.env._("deleted in Xero"))
        for xero_id, payment in live.items():
            record = records.filtered(lambda r, x=xero_id: r.xero_payment_id == x)
            problem = Payment._halo_register_payment(connection, self, payment, record)
            if problem:
                problems.append(problem)
        # 2. allocations: credit notes, prepayments, overpayments
        applied = self._halo_xero_allocations(connection, inv)
        rates = Payment._halo_source_rates(connection)
        for (kind, doc_id), (amount, label, on_date) in applied.items():
            problem = Payment._halo_register_allocation(
                connection, self, kind, doc_id, amount, label, on_date, source_rate=rates
            )
            if problem:
                problems.append(problem)
        for record in records.filtered(
            lambda r: r.kind != "payment" and r.state in ("registered", "skipped")
        ):
            if (record.kind, record.xero_document_id) not in applied:
                record._halo_reverse(self.env._("no longer allocated in Xero"))
        # 3. the invariant: Odoo's open amount is Xero's AmountDue
        self.invalidate_recordset(["amount_residual", "payment_state"])
        due = _money(inv.amount_due)
        vals = {"halo_xero_amount_due": due}
        if not problems and self.currency_id.compare_amounts(self.amount_residual, due) != 0:
            problems.append(
                self.env._(
                    "Odoo's open amount %(odoo).2f differs from Xero's AmountDue %(xero).2f.",
                    odoo=self.amount_residual,
                    xero=due,
                )
            )
        if problems:
            self.write(vals)
            self._halo_xero_flag("\n".join(problems))
            return
        vals.update(halo_xero_attention=False, halo_xero_money_message=False)
        self.write(vals)
        self._halo_xero_attention_done()

    def _halo_xero_allocations(self, connection, inv):
        """{(kind, Xero document id): (amount applied to this invoice, label, date)} of Xero's credit notes,
        prepayments and overpayments allocated to the invoice."""
        out = {}
        refunds = {
            m.halo_xero_invoice_id: m
            for m in self.sudo().search(
                [
                    ("halo_xero_connection_id", "=", connection.id),
                    ("move_type", "=", "out_refund"),
                    (
                        "halo_xero_invoice_id",
                        "in",
                        [str(c.credit_note_id) for c in inv.credit_notes or [] if c.credit_note_id],
                    ),
                ]
            )
        }
        sources = [
            ("credit_note", inv.credit_notes, "credit_note_id", "credit_note_number"),
            ("prepayment", inv.prepayments, "prepayment_id", "reference"),
            ("overpayment", inv.overpayments, "overpayment_id", "reference"),
        ]
        for kind, docs, id_attr, label_attr in sources:
            for doc in docs or []:
                doc_id = str(getattr(doc, id_attr, "") or "")
                if not doc_id:
                    continue
                real_kind = "odoo_credit_note" if kind == "credit_note" and doc_id in refunds else kind
                amount, label, on_date = out.get((real_kind, doc_id), (0.0, None, None))
                out[(real_kind, doc_id)] = (
                    _money(amount + float(doc.applied_amount or 0.0)),
                    getattr(doc, label_attr, None) or KIND_LABELS[kind],
                    getattr(doc, "date", None) or on_date,
                )
        return out

    def _halo_xero_flag(self, message):
        """Needs attention: the message on the invoice and an activity for the billing managers (once)."""
        self.ensure_one()
        self.sudo().write({"halo_xero_attention": True, "halo_xero_money_message": message})
        activity_type = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        group = self.env.ref(BILLING_MANAGER, raise_if_not_found=False)
        if not activity_type or not group:
            return
        users = group.sudo().all_user_ids if "all_user_ids" in group._fields else group.sudo().user_ids
        users = users.filtered(lambda u: self.company_id in u.company_ids and not u.share)
        summary = self.env._("Xero payments need attention")
        existing = self.sudo().activity_ids.filtered(lambda a: a.summary == summary)
        for user in users - existing.user_id:
            self.sudo().activity_schedule(
                activity_type_id=activity_type.id, summary=summary, note=message, user_id=user.id
            )
        existing.sudo().write({"note": message})

    def _halo_xero_attention_done(self):
        summary = self.env._("Xero payments need attention")
        self.sudo().activity_ids.filtered(lambda a: a.summary == summary).action_feedback(
            feedback=self.env._("Reconciled with Xero.")
        )

    # -- cancel in Odoo: void or delete in Xero ------------------------------------------------------------

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
                xc.to_sdk_status_changes(body, credit),
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


def _value(value):
    """An SDK enum's value (or the plain value)."""
    return getattr(value, "value", value)


def payload_kind(move):
    """The document kind of ``services/xero_push`` for a move: "refund" for credit notes, else "invoice"."""
    return "refund" if move.move_type == "out_refund" else "invoice"
