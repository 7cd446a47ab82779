# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoices dated in a period locked in Xero (the organisation's ``PeriodLockDate`` /
``EndOfYearLockDate``, imported on the connection).

Xero refuses any document dated on or before its lock date, so Odoo says so *before* posting,
as the connection's ``locked_period_policy`` says:

- ``refuse`` (default): posting such a customer invoice or credit note is refused with what to
  do (change the date, or ask the Xero adviser to move the lock date). A billing run posting
  many invoices leaves those in draft, posts the others and lists them on the run. An invoice
  queued before the lock date was known fails at the push without a call to Xero.
- ``first_open_day``: they are posted with their own date in Odoo and sent to Xero dated the
  day after the lock date (the due date no earlier); the Xero log says so.

When Xero itself refuses a document for its lock date (it was moved since the last import),
the connection reads its lock dates again, so that the next posting is warned.
"""

import datetime

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from ...services import xero_push
from ...services.xero_client import XeroError
from ..halo_engine import BILLING_RUN

LOCK_MESSAGE_MARK = "lock date"  # in Xero's "The document date cannot be before the period lock date, ..."


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        locked = self._halo_xero_locked()
        if not locked:
            return super()._post(soft=soft)
        if not BILLING_RUN.is_set(self.env):
            raise UserError(
                "\n".join(move._halo_xero_lock_message(*locked[move]) for move in self if move in locked)
            )
        # a billing run: the others are posted, these stay in draft and are listed on their run
        held = self.browse([move.id for move in locked])
        held._halo_xero_report_locked(locked)
        return super(AccountMove, self - held)._post(soft=soft)

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
            first=format_date(env, lock + datetime.timedelta(days=1)),
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
                first=format_date(self.env, lock + datetime.timedelta(days=1)),
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

    # -- push ---------------------------------------------------------------------------------------
    def _halo_xero_invoice_doc(self, connection):
        """The Xero date of a move dated in the locked period: the first open day (policy), or a payload
        error that fails it before any call (the lock date became known after it was posted)."""
        doc = super()._halo_xero_invoice_doc(connection)
        lock = connection._halo_lock_date()
        if not lock or not doc.get("date") or doc["date"] > lock:
            return doc
        if connection.locked_period_policy != "first_open_day":
            raise xero_push.PayloadError(
                self._halo_xero_lock_message(connection, lock)
                + " "
                + self.env._("Reset it to draft to change its date.")
            )
        first = lock + datetime.timedelta(days=1)
        doc["date"] = first
        if not doc.get("due_date") or doc["due_date"] < first:
            doc["due_date"] = first
        return doc

    def _halo_xero_payloads(self, connection, action, client=None):
        payloads = super()._halo_xero_payloads(connection, action, client)
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
                            first=format_date(self.env, lock + datetime.timedelta(days=1)),
                            lock=format_date(self.env, lock),
                        ),
                    )
        return payloads

    def _halo_xero_apply_results(self, connection, action, key, payloads, result):
        super()._halo_xero_apply_results(connection, action, key, payloads, result)
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
