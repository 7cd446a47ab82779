# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Money back from Xero, reconciled per invoice (not per payment).

After each change seen in Xero (webhook or poll), ``_halo_xero_reconcile_money`` makes Odoo's open amount of the
invoice equal Xero's ``AmountDue``:

* a payment registered in Odoo whose PaymentID is no longer among the invoice's payments in Xero (deleted,
  bounced, "remove & redo") is reversed in Odoo (its Odoo payment cancelled);
* every Xero payment not registered yet is registered (once: unique (tenant, PaymentID)); in a foreign currency
  at Xero's amounts: its amount in the invoice's currency and, in the company's (Xero's base) currency,
  amount / Xero's CurrencyRate, so Odoo's exchange-difference entry is the difference Xero books;
* prepayments, overpayments and credit notes raised in Xero that are allocated to the invoice are registered as
  allocations: a journal entry in the connection's allocation journal that moves the amount from the kind's
  account (customer prepayments, overpayments, credit notes) to the invoice's receivable, reconciled with it;
  in a foreign currency its company-currency balance is Xero's: amount / the CurrencyRate of the prepayment,
  overpayment or credit note itself (read by its id: an invoice's credits do not carry it), so the exchange
  difference against the invoice's rate is the one Xero books; a source document without a usable rate is
  kept as *skipped*, with the reason on the invoice;
  an Odoo credit note allocated in Xero is reconciled with the invoice in Odoo instead (no record: it is
  not a payment);
* a payment or allocation that cannot be registered (no journal, no account) is kept as *skipped* and retried
  as soon as its cause is fixed (the connection's settings change) or by a button;
* a failure on one invoice is recorded on it (message, "Needs attention", an activity for billing managers)
  and does not stop the others; every step is in the invoice's sync log.
"""

import logging
import time
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_GROUPS, BILLING_MANAGER
from odoo.addons.halo_helpdesk_billing.constants import INVOICING_GROUP as XERO_INVOICE_GROUP

from ...services.xero_client import XeroError, XeroNotFound
from ..halo_engine import XERO_COMMIT
from .halo_xero_connection import halo_check_caller

_logger = logging.getLogger(__name__)

KIND_LABELS = {
    "payment": "Payment",
    "prepayment": "Prepayment",
    "overpayment": "Overpayment",
    "credit_note": "Credit note",
    "odoo_credit_note": "Odoo credit note",
}
# what a changed connection setting may fix (skipped payments and allocations are retried)
RETRY_FIELDS = (
    "payment_journal_id",
    "halo_xero_allocation_journal_id",
    "halo_xero_prepayment_account_id",
    "halo_xero_overpayment_account_id",
    "halo_xero_credit_note_account_id",
)
POLL_PAGE_SIZE = 1000  # the largest page Xero allows (pageSize 1..1000)
POLL_CHUNK_SECONDS = 30.0  # a poll chunk outside Odoo's cron runner (whose runs give it 10 s)
FETCH_CHUNK = 50


def _money(value):
    return round(float(value or 0.0), 2)


def xero_base_amount(amount, rate):
    """What Xero books in the organisation's base currency for ``amount`` of a foreign-currency document at
    its ``CurrencyRate`` (units of the document's currency per unit of base currency): amount / rate, to the
    cent, half away from zero (the BankAmount of a base-currency bank account)."""
    value = Decimal(str(amount)) / Decimal(str(rate))
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class HaloXeroPayment(models.Model):
    _inherit = "halo.xero.payment"

    kind = fields.Selection(
        [
            ("payment", "Payment"),
            ("prepayment", "Prepayment"),
            ("overpayment", "Overpayment"),
            ("credit_note", "Credit note raised in Xero"),
        ],
        default="payment",
        required=True,
        readonly=True,
    )
    state = fields.Selection(
        selection_add=[("reversed", "Reversed (deleted in Xero)")], ondelete={"reversed": "set default"}
    )
    xero_document_id = fields.Char(
        readonly=True, help="PrepaymentID, OverpaymentID or CreditNoteID of an allocation."
    )
    entry_id = fields.Many2one("account.move", string="Allocation Entry", readonly=True, ondelete="set null")
    currency_rate = fields.Float(
        string="Xero Rate",
        digits=(16, 6),
        readonly=True,
        help="Xero's CurrencyRate of the payment, or of the prepayment, overpayment or credit note of an "
        "allocation (units of the invoice's currency per unit of the organisation's base currency).",
    )


class HaloXeroSyncLog(models.Model):
    _inherit = "halo.xero.sync.log"

    action = fields.Selection(
        selection_add=[
            ("reverse", "Reverse payment"),
            ("allocation", "Xero allocation"),
            ("reconcile", "Reconcile"),
        ],
        ondelete={"reverse": "cascade", "allocation": "cascade", "reconcile": "cascade"},
    )


class HaloXeroConnection(models.Model):
    _inherit = "halo.xero.connection"

    halo_xero_allocation_journal_id = fields.Many2one(
        "account.journal",
        string="Xero Allocations Journal",
        check_company=True,
        domain="[('type', '=', 'general')]",
        help="Journal of the entries that register prepayments, overpayments and credit notes raised in Xero "
        "when Xero allocates them to an invoice.",
    )
    halo_xero_prepayment_account_id = fields.Many2one(
        "account.account",
        string="Customer Prepayments Account",
        check_company=True,
        help="Where prepayments received in Xero are held until allocated (usually a current liability).",
    )
    halo_xero_overpayment_account_id = fields.Many2one(
        "account.account",
        string="Customer Overpayments Account",
        check_company=True,
    )
    halo_xero_credit_note_account_id = fields.Many2one(
        "account.account",
        string="Xero Credit Notes Account",
        check_company=True,
        help="Account debited for credit notes raised in Xero (not in Odoo) allocated to an invoice.",
    )
    halo_xero_currencies = fields.Char(
        string="Xero Currencies",
        readonly=True,
        copy=False,
        help="Currencies enabled in the Xero organisation (imported from /Currencies).",
    )
    halo_xero_base_currency = fields.Char(
        string="Xero Base Currency",
        readonly=True,
        copy=False,
        help="The organisation's base currency (imported with the currencies). Payments in another currency "
        "are booked at Xero's base amounts only when it is the company's currency.",
    )
    halo_xero_poll_resume = fields.Json(
        string="Poll To Resume",
        copy=False,
        readonly=True,
        help="A poll cut short by the cron's time: per watermark, the If-Modified-Since and the next page.",
    )
    halo_xero_poll_payments_since = fields.Datetime(
        string="Payments Polled Up To",
        copy=False,
        readonly=True,
        help="Largest UpdatedDateUTC of the deleted payments seen by the poll (If-Modified-Since).",
    )

    def write(self, vals):
        res = super().write(vals)
        if any(f in vals for f in RETRY_FIELDS):
            # a skipped payment's cause may be fixed: the poll retries the invoices that need attention
            cron = self.env.ref("halo_helpdesk_billing.ir_cron_halo_xero_poll", raise_if_not_found=False)
            if cron:
                cron.sudo()._trigger()
        return res

    # -- currencies --------------------------------------------------------------------------------
    def _halo_xero_import_currencies(self, client=None):
        """Import the organisation's enabled currencies (one call)."""
        self.ensure_one()
        client = client or self._halo_client()
        result = client.call(self.tenant_id, "get_currencies")
        codes = [str(getattr(c.code, "value", c.code)) for c in result.currencies or [] if c.code]
        self.sudo().halo_xero_currencies = " ".join(codes)
        if not self.halo_xero_base_currency:  # read with the lock dates (import, check); else one call
            self._halo_store_lock_dates(client.call(self.tenant_id, "get_organisations"))
        return codes

    def _halo_store_lock_dates(self, result):
        """The organisation's base currency too, from the same ``get_organisations`` answer."""
        res = super()._halo_store_lock_dates(result)
        org = (getattr(result, "organisations", None) or [None])[0]
        base = getattr(org, "base_currency", None) if org is not None else None
        code = str(getattr(base, "value", base) or "")
        if code and code != self.sudo().halo_xero_base_currency:
            self.sudo().halo_xero_base_currency = code
        return res

    def action_halo_xero_import_currencies(self):
        halo_check_caller(self, BILLING_MANAGER, "write")
        for conn in self:
            conn.sudo()._halo_xero_import_currencies()
        return True

    def _halo_xero_currency_codes(self):
        return set((self.halo_xero_currencies or "").split())

    # -- retry ---------------------------------------------------------------------------------------
    def action_halo_xero_retry_money(self):
        """Read again from Xero the invoices that need attention (skipped or failed payments) and reconcile."""
        halo_check_caller(self, BILLING_MANAGER, "write")
        for conn in self:
            conn.sudo()._halo_xero_retry_attention()
        return True

    def _halo_xero_retry_attention(self, client=None):
        self.ensure_one()
        moves = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("halo_xero_connection_id", "=", self.id),
                    ("halo_xero_attention", "=", True),
                    ("halo_xero_invoice_id", "!=", False),
                    ("move_type", "=", "out_invoice"),
                ]
            )
        )
        if moves:
            moves._halo_xero_fetch(self, client or self._halo_client(), moves.mapped("halo_xero_invoice_id"))
        return moves

    # -- poll: least traffic --------------------------------------------------------------------------
    def _halo_xero_poll_start(self):
        """Where a first poll starts: the oldest invoice Odoo sent to this connection, else its creation."""
        self.ensure_one()
        oldest = (
            self.env["account.move"]
            .sudo()
            .search(
                [("halo_xero_connection_id", "=", self.id), ("halo_xero_sent_at", "!=", False)],
                order="halo_xero_sent_at",
                limit=1,
            )
            .halo_xero_sent_at
        )
        start = min(filter(None, [oldest, self.create_date]))
        return start - timedelta(minutes=5)

    def _halo_xero_poll_changes(self, client, method, apply, since_field, page_size):
        """Customer documents only (``Type=="ACCREC"`` / ``"ACCRECCREDIT"``; invoices as ``summaryOnly``), from
        the watermark (or the poll's start: no whole-history read), the largest pages Xero allows; the
        watermark is saved (and, in the cron, committed) after every page."""
        from .halo_xero_payment import _naive_utc

        Move = self.env["account.move"].sudo()
        if method == "get_invoices":
            kwargs = {"where": 'Type=="ACCREC"', "summary_only": True}
            apply_page = lambda conn, docs: Move._halo_xero_apply_summaries(conn, client, docs)  # noqa: E731
        else:
            kwargs = {"where": 'Type=="ACCRECCREDIT"'}
            apply_page = apply
        # a pass cut short (out of time) goes on where it stopped: same If-Modified-Since, next page
        resume = dict(self.halo_xero_poll_resume or {})
        pending = resume.get(since_field)
        if pending:
            since, start_page = datetime.fromisoformat(pending["since"]), int(pending["page"])
        else:
            since, start_page = self[since_field] or self._halo_xero_poll_start(), 1
        newest = self[since_field]
        pages = 0
        for page, documents in client.paged(
            self.tenant_id,
            method,
            page_size=page_size,
            start_page=start_page,
            if_modified_since=since,
            order="UpdatedDateUTC ASC",
            **kwargs,
        ):
            pages += 1
            apply_page(self, documents)
            for document in documents:
                updated = _naive_utc(document.updated_date_utc)
                if updated and (not newest or updated > newest):
                    newest = updated
            if newest and newest != self[since_field]:
                self[since_field] = newest
            full = len(documents) >= page_size
            if full:
                resume[since_field] = {"since": since.isoformat(), "page": page + 1}
            else:
                resume.pop(since_field, None)
            if resume != (self.halo_xero_poll_resume or {}):
                self.halo_xero_poll_resume = resume or False
            Move._halo_xero_commit()  # commits only in the cron: a page done is never read again
            if full and self._halo_xero_poll_out_of_time():
                return pages  # the cron's next chunk goes on from the next page
        if method == "get_invoices":
            self._halo_xero_poll_deleted_payments(client)
            self._halo_xero_retry_attention(client)
        return pages

    def _halo_xero_poll_out_of_time(self):
        deadline = self.env.context.get("halo_xero_poll_deadline")
        return deadline is not None and time.monotonic() >= deadline

    def _halo_xero_poll(self, page_size=POLL_PAGE_SIZE):
        """At least one page; a poll cut short (its invoices not all read) reads no credit notes in that chunk:
        the next chunk goes on."""
        self.ensure_one()
        client = self._halo_client()
        Move = self.env["account.move"].sudo()
        pages = self._halo_xero_poll_changes(
            client, "get_invoices", Move._halo_xero_apply_remote, "halo_xero_poll_since", page_size
        )
        if not (self.halo_xero_poll_resume or {}).get("halo_xero_poll_since"):
            self._halo_xero_poll_credit_notes(client, page_size)
        return pages

    @api.model
    def _cron_halo_xero_poll(self):
        """One chunk of the poll, well under the cron's time limit: the connections whose last pass was cut
        short first (only they, while there are some), each until Odoo's cron run is out of time
        (``cron_end_time``, 10 s after it started; else ``POLL_CHUNK_SECONDS``). Odoo's runner calls again
        while some remain; once out of time, a call does nothing, so its job run ends (rescheduled at once)."""
        now = time.monotonic()
        deadline = min(
            self.env.context.get("cron_end_time") or now + POLL_CHUNK_SECONDS, now + POLL_CHUNK_SECONDS
        )
        connections = self.search([("state", "=", "connected")])
        pending = connections.filtered("halo_xero_poll_resume")
        todo = pending or connections
        done = 0
        for connection in todo:
            if done and time.monotonic() >= deadline:
                break
            if time.monotonic() >= deadline and pending:
                break  # out of time already: done=0 ends the job run (Odoo reschedules it at once)
            try:
                # the marker lets the poll commit after every page (its watermark is then durable)
                XERO_COMMIT.on(connection).with_context(halo_xero_poll_deadline=deadline)._halo_xero_poll()
            except XeroError as err:
                _logger.info("Xero poll postponed for connection %s: %s", connection.id, err)
            done += 1
        remaining = len(connections.filtered("halo_xero_poll_resume"))
        self.env["ir.cron"]._commit_progress(done, remaining=remaining)
        return remaining

    def _halo_xero_poll_deleted_payments(self, client):
        """Payments deleted in Xero since the last poll (``/Payments`` with If-Modified-Since returns them with
        Status DELETED): their invoices are read again and reconciled. A redo keeps the AmountDue, so the
        invoice summary alone would not show it."""
        from .halo_xero_payment import _naive_utc

        since = self.halo_xero_poll_payments_since or self._halo_xero_poll_start()
        newest = self.halo_xero_poll_payments_since
        invoice_ids = set()
        Payment = self.env["halo.xero.payment"].sudo()
        for _page, payments in client.paged(
            self.tenant_id,
            "get_payments",
            page_size=POLL_PAGE_SIZE,
            if_modified_since=since,
            where='Status=="DELETED" AND PaymentType=="ACCRECPAYMENT"',
        ):
            ids = [str(p.payment_id) for p in payments if p.payment_id]
            ours = Payment.search(
                [
                    ("tenant_id", "=", self.tenant_id),
                    ("xero_payment_id", "in", ids),
                    ("state", "=", "registered"),
                ]
            )
            invoice_ids |= set(ours.move_id.mapped("halo_xero_invoice_id"))
            for payment in payments:
                updated = _naive_utc(payment.updated_date_utc)
                if updated and (not newest or updated > newest):
                    newest = updated
        if invoice_ids:
            self.env["account.move"].sudo()._halo_xero_fetch(self, client, sorted(invoice_ids))
        if newest and newest != self.halo_xero_poll_payments_since:
            self.halo_xero_poll_payments_since = newest
        return invoice_ids


class AccountMove(models.Model):
    _inherit = "account.move"

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

    # -- currencies: refused before posting -------------------------------------------------------------
    def _post(self, soft=True):
        self._halo_xero_check_currency()
        return super()._post(soft=soft)

    def _halo_xero_check_currency(self):
        """An invoice in a currency the connected Xero organisation has not enabled is refused before it is
        posted (Xero would refuse it: "Organisation is not subscribed to currency ...")."""
        Connection = self.env["halo.xero.connection"].sudo()
        for move in self.filtered(lambda m: m.move_type in ("out_invoice", "out_refund")):
            connection = Connection._halo_for_company(move.company_id)
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

    def _halo_xero_invoice_doc(self, connection):
        doc = super()._halo_xero_invoice_doc(connection)
        rate = self._halo_xero_currency_rate()
        if rate:
            doc["currency_rate"] = rate
        return doc

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

    # -- poll: summaries first, full documents only where the money moved ---------------------------------
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

    @api.model
    def _halo_xero_apply_remote(self, connection, invoices, money=True):
        moves = super()._halo_xero_apply_remote(connection, invoices)
        if not money:
            return moves
        by_id = {str(inv.invoice_id): inv for inv in invoices if inv.invoice_id}
        for move in moves.filtered(lambda m: m.move_type == "out_invoice"):
            move._halo_xero_reconcile_money_safe(connection, by_id[move.halo_xero_invoice_id])
        return moves

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


class HaloXeroPaymentRegister(models.Model):
    _inherit = "halo.xero.payment"

    @api.model
    def _halo_register_payment(self, connection, move, payment, record):
        """Register the Xero payment (SDK ``Payment``) on ``move`` once; ``record``: its existing record.
        Returns a problem to show on the invoice, or None."""
        Log = self.env["halo.xero.sync.log"]
        xero_id = str(payment.payment_id)
        amount = _money(payment.amount)
        pay_date = payment.date or fields.Date.context_today(self)
        if record and record.state == "registered":
            return None
        if not record:
            vals = {
                "xero_payment_id": xero_id,
                "tenant_id": connection.tenant_id,
                "connection_id": connection.id,
                "move_id": move.id,
                "amount": amount,
                "date": pay_date,
                "kind": "payment",
                "reference": payment.reference or False,
                "currency_rate": float(payment.currency_rate or 0.0),
            }
            try:
                with self.env.cr.savepoint():
                    record = self.sudo().create(vals)
                    record.flush_recordset()
            except psycopg2.errors.UniqueViolation:
                return None  # another worker (webhook vs. poll) registered it at the same moment
        journal = connection.payment_journal_id
        if not journal:
            message = self.env._(
                "No payment journal on the Xero connection: set one, the payment is then "
                "registered automatically."
            )
            record.write({"state": "skipped", "message": message})
            Log._halo_log(
                move, "payment", "skipped", "%s %.2f on %s (%s)" % (xero_id, amount, pay_date, message)
            )
            return message
        residual = move.currency_id.round(move.amount_residual)
        if move.state != "posted" or residual <= 0:
            message = self.env._(
                "Xero payment %(id)s of %(amount).2f: nothing left to pay in Odoo.", id=xero_id, amount=amount
            )
            record.write({"state": "skipped", "message": message})
            Log._halo_log(move, "payment", "skipped", message)
            return message
        to_pay = min(amount, residual)
        wizard = (
            self.env["account.payment.register"]
            .sudo()
            .with_context(
                active_model="account.move",
                active_ids=move.ids,
            )
            .create(
                {
                    "journal_id": journal.id,
                    "payment_date": pay_date,
                    "amount": to_pay,
                    "currency_id": move.currency_id.id,
                    "communication": payment.reference or move.halo_xero_number or move.name,
                    "payment_difference_handling": "open",
                }
            )
        )
        base = None
        company_currency = move.company_id.currency_id
        rate = float(payment.currency_rate or 0.0)
        same_base = connection.halo_xero_base_currency in (False, company_currency.name)
        if move.currency_id != company_currency and rate > 0 and same_base:
            # Xero's base amount (amount / Xero's rate): Odoo books the same exchange difference as Xero
            base = xero_base_amount(to_pay, rate)
        odoo_payment = self._halo_create_odoo_payment(wizard, base)
        record.write({"payment_id": odoo_payment[:1].id, "state": "registered", "message": False})
        detail = "%s %.2f on %s" % (xero_id, amount, pay_date)
        if base is not None:
            detail += " at Xero's rate %s = %.2f %s" % (rate, base, company_currency.name)
        Log._halo_log(move, "payment", "ok", detail)
        return None

    @api.model
    def _halo_create_odoo_payment(self, wizard, balance=None):
        """The payment of the register-payment ``wizard`` (one invoice), created, posted and reconciled as the
        wizard does; with ``balance``, its amount in the company's currency is that (Xero's) instead of Odoo's
        conversion at its own rate for the payment date. The reconciliation with the invoice then books the
        exchange difference through Odoo's own mechanism (an exchange difference entry per partial), so the
        receivable's company-currency balance is zero once the invoice is paid."""
        if balance is None:
            return wizard._create_payments()
        batch = wizard.batches[0]
        payment_vals = wizard._create_payment_vals_from_wizard(batch)
        payment_vals["force_balance"] = balance  # account.payment.create: the liquidity line's balance
        to_process = [{"create_vals": payment_vals, "to_reconcile": batch["lines"], "batch": batch}]
        payments = wizard._init_payments(to_process, edit_mode=True)
        wizard._post_payments(to_process, edit_mode=True)
        wizard._reconcile_payments(to_process, edit_mode=True)
        return payments

    @api.model
    def _halo_source_rates(self, connection):
        """``rate(kind, doc_id)``: Xero's CurrencyRate of the prepayment, overpayment or credit note ``doc_id``
        (None when Xero gives none), read by its id once per reconciliation pass and only when asked: Xero's
        invoice lists its credits with their AppliedAmount but not their rate."""
        cache = {}
        client = []
        methods = {
            "prepayment": ("get_prepayment", "prepayments"),
            "overpayment": ("get_overpayment", "overpayments"),
            "credit_note": ("get_credit_note", "credit_notes"),
        }

        def rate(kind, doc_id):
            if (kind, doc_id) not in cache:
                if not client:
                    client.append(connection._halo_client())
                method, attr = methods[kind]
                docs = getattr(client[0].call(connection.tenant_id, method, doc_id), attr, None) or []
                value = getattr(docs[0], "currency_rate", None) if docs else None
                cache[(kind, doc_id)] = float(value) if value is not None else None
            return cache[(kind, doc_id)]

        return rate

    @api.model
    def _halo_allocation_balance(self, connection, move, kind, doc_id, amount, label, source_rate):
        """``(balance, rate, problem)``: the company-currency balance of an allocation of ``amount`` (in the
        invoice's currency). In a foreign currency, when the company's currency is Xero's base currency (as for
        payments): Xero's base amount, amount / the source document's own CurrencyRate (``rate``); else the
        invoice's own rate (``rate`` None). ``problem``: why it cannot be booked (no usable rate from Xero)."""
        company_currency = move.company_id.currency_id
        same_base = connection.halo_xero_base_currency in (False, company_currency.name)
        if move.currency_id == company_currency or not same_base or source_rate is None:
            own = abs(move.amount_total_signed / move.amount_total) if move.amount_total else 1.0
            return company_currency.round(amount * own), None, None
        try:
            rate = source_rate(kind, doc_id)
            given = self.env._("none") if rate is None else rate
        except XeroNotFound:
            rate, given = None, self.env._("the document was not found")
        if rate is not None and rate > 0:
            return xero_base_amount(amount, rate), rate, None
        problem = self.env._(
            "%(kind)s %(label)s (%(doc)s) allocated in Xero, %(amount).2f %(currency)s, is not registered: Xero "
            "gave no usable exchange rate for it (CurrencyRate: %(rate)s), so its value in %(company_currency)s "
            "is unknown. Check it in Xero; it is read again at the next poll.",
            kind=KIND_LABELS[kind],
            label=label,
            doc=doc_id,
            amount=amount,
            currency=move.currency_id.name,
            rate=given,
            company_currency=company_currency.name,
        )
        return None, None, problem

    @api.model
    def _halo_register_allocation(
        self, connection, move, kind, doc_id, amount, label, on_date, source_rate=None
    ):
        """Register what Xero allocated from a credit note, prepayment or overpayment to ``move`` (``amount``
        in total); a changed amount reverses the earlier registration and registers the new one.
        ``source_rate``: see ``_halo_source_rates`` (None: the invoice's own rate)."""
        Log = self.env["halo.xero.sync.log"]
        if kind == "odoo_credit_note":
            # Odoo has the credit note itself: nothing to register, only to reconcile (no record: a credit
            # note of Odoo's is never a Xero payment)
            return self._halo_reconcile_odoo_credit_note(connection, move, doc_id, amount)
        key = "%s:%s:%s" % (kind, doc_id, move.halo_xero_invoice_id)
        records = self.search(
            [("tenant_id", "=", connection.tenant_id), ("xero_payment_id", "=like", key + "%")]
        )
        current = records.filtered(lambda r: r.state in ("registered", "skipped"))
        if (
            current
            and current.currency_id.compare_amounts(current[:1].amount, amount) == 0
            and current[:1].state == "registered"
        ):
            return None
        if current and current.currency_id.compare_amounts(current[:1].amount, amount) != 0:
            current._halo_reverse(self.env._("allocation changed in Xero"))
            current = self.browse()
        record = current[:1]
        if not record:
            record = self.sudo().create(
                {
                    "xero_payment_id": "%s:%s" % (key, len(records) + 1),
                    "tenant_id": connection.tenant_id,
                    "connection_id": connection.id,
                    "move_id": move.id,
                    "amount": amount,
                    "kind": kind,
                    "xero_document_id": doc_id,
                    "date": on_date or fields.Date.context_today(self),
                    "reference": label,
                }
            )
        account = {
            "prepayment": connection.halo_xero_prepayment_account_id,
            "overpayment": connection.halo_xero_overpayment_account_id,
            "credit_note": connection.halo_xero_credit_note_account_id,
        }[kind]
        journal = connection.halo_xero_allocation_journal_id
        if not journal or not account:
            message = self.env._(
                "%(kind)s %(label)s of %(amount).2f allocated in Xero: set the Xero allocations journal and the "
                "%(kind)s account on the Xero connection; it is then registered automatically.",
                kind=KIND_LABELS[kind],
                label=label,
                amount=amount,
            )
            record.write({"state": "skipped", "message": message})
            Log._halo_log(move, "allocation", "skipped", message)
            return message
        balance, rate, problem = self._halo_allocation_balance(
            connection, move, kind, doc_id, amount, label, source_rate
        )
        if problem:
            record.write({"state": "skipped", "message": problem, "currency_rate": 0.0})
            Log._halo_log(move, "allocation", "skipped", problem)
            return problem
        receivable = move.line_ids.filtered(lambda line: line.account_id.account_type == "asset_receivable")[
            :1
        ]
        partner = move.commercial_partner_id
        entry = (
            self.env["account.move"]
            .sudo()
            .create(
                {
                    "move_type": "entry",
                    "journal_id": journal.id,
                    "date": max(record.date, move.date),
                    "ref": self.env._(
                        "Xero %(kind)s %(label)s on %(number)s",
                        kind=KIND_LABELS[kind].lower(),
                        label=label,
                        number=move.halo_xero_number or move.name,
                    ),
                    "line_ids": [
                        fields.Command.create(
                            {
                                "account_id": account.id,
                                "partner_id": partner.id,
                                "debit": balance,
                                "amount_currency": amount,
                                "currency_id": move.currency_id.id,
                                "name": label,
                            }
                        ),
                        fields.Command.create(
                            {
                                "account_id": receivable.account_id.id,
                                "partner_id": partner.id,
                                "credit": balance,
                                "amount_currency": -amount,
                                "currency_id": move.currency_id.id,
                                "name": label,
                            }
                        ),
                    ],
                }
            )
        )
        entry.action_post()
        (
            entry.line_ids.filtered(lambda line: line.account_id == receivable.account_id) | receivable
        ).reconcile()
        record.write(
            {"entry_id": entry.id, "state": "registered", "message": False, "currency_rate": rate or 0.0}
        )
        detail = "%s %s %.2f (%s)" % (KIND_LABELS[kind], label, amount, entry.name)
        if rate:
            detail += " at Xero's rate %s = %.2f %s" % (rate, balance, move.company_id.currency_id.name)
        Log._halo_log(move, "allocation", "ok", detail)
        return None

    @api.model
    def _halo_reconcile_odoo_credit_note(self, connection, move, credit_note_id, amount):
        """An Odoo credit note allocated in Xero: reconciled with the invoice in Odoo unless it already is."""
        refund = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("halo_xero_invoice_id", "=", credit_note_id),
                    ("halo_xero_connection_id", "=", connection.id),
                ],
                limit=1,
            )
        )
        inv_line = move.line_ids.filtered(lambda line: line.account_id.account_type == "asset_receivable")
        ref_line = refund.line_ids.filtered(lambda line: line.account_id.account_type == "asset_receivable")
        if inv_line.matched_credit_ids.filtered(lambda p: p.credit_move_id in ref_line):
            return None
        if refund.state != "posted" or ref_line.reconciled or inv_line.reconciled:
            return None
        (inv_line | ref_line).reconcile()
        self.env["halo.xero.sync.log"]._halo_log(
            move,
            "allocation",
            "ok",
            self.env._(
                "Odoo credit note %(name)s allocated in Xero (%(amount).2f): reconciled in Odoo.",
                name=refund.name,
                amount=amount,
            ),
        )
        return None

    def _halo_reverse(self, why):
        """Undo the registration of these records in Odoo (payment or allocation entry cancelled)."""
        Log = self.env["halo.xero.sync.log"]
        for record in self:
            if record.state == "registered" and record.payment_id and record.payment_id.state != "canceled":
                record.payment_id.action_draft()
                record.payment_id.action_cancel()
            if record.state == "registered" and record.entry_id and record.entry_id.state == "posted":
                record.entry_id.button_draft()
                record.entry_id.button_cancel()
            record.write({"state": "reversed", "message": why})
            Log._halo_log(
                record.move_id,
                "reverse",
                "ok",
                "%s %s %.2f: %s"
                % (KIND_LABELS[record.kind], record.reference or record.xero_payment_id, record.amount, why),
            )


class HaloXeroImport(models.Model):
    _inherit = "halo.xero.import"

    def _halo_step_taxes(self, client):
        """After the tax rates, the organisation's enabled currencies (one call): posting an invoice in another
        currency is then refused in Odoo."""
        result = super()._halo_step_taxes(client)
        self.connection_id.sudo()._halo_xero_import_currencies(client)
        return result
