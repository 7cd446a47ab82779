# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Money back from Xero, registered in Odoo: each Xero payment once (unique (tenant, PaymentID)), each
allocation of a prepayment, overpayment or credit note raised in Xero once, reversed when Xero deletes or
changes it. ``account.move._halo_xero_reconcile_money`` decides what to register per invoice (its open amount
equals Xero's ``AmountDue``); the registrations are here:

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
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import psycopg2

from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

from ...services.xero_client import XeroNotFound

_logger = logging.getLogger(__name__)


KIND_LABELS = {
    "payment": "Payment",
    "prepayment": "Prepayment",
    "overpayment": "Overpayment",
    "credit_note": "Credit note",
    "odoo_credit_note": "Odoo credit note",
}


def _naive_utc(value):
    if isinstance(value, datetime) and value.tzinfo:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _money(value):
    return round(float(value or 0.0), 2)


def xero_base_amount(amount, rate):
    """What Xero books in the organisation's base currency for ``amount`` of a foreign-currency document at
    its ``CurrencyRate`` (units of the document's currency per unit of base currency): amount / rate, to the
    cent, half away from zero (the BankAmount of a base-currency bank account)."""
    value = Decimal(str(amount)) / Decimal(str(rate))
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class HaloXeroPayment(models.Model):
    """A Xero payment registered in Odoo. The unique index on (tenant, PaymentID) guarantees that a
    webhook delivered twice, a poll and a webhook racing, or a replayed page never pay twice."""

    _name = "halo.xero.payment"
    _description = "Xero Payment"
    _order = "date desc, id desc"

    xero_payment_id = fields.Char(string="Xero PaymentID", required=True, readonly=True)
    tenant_id = fields.Char(required=True, readonly=True)
    connection_id = fields.Many2one("halo.xero.connection", readonly=True, ondelete="set null")
    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="move_id.company_id", store=True)
    payment_id = fields.Many2one("account.payment", string="Odoo Payment", readonly=True, ondelete="set null")
    currency_id = fields.Many2one(related="move_id.currency_id")
    amount = fields.Monetary(readonly=True, groups=BILLING_USER)
    date = fields.Date(readonly=True)
    reference = fields.Char(readonly=True)

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
        [("registered", "Registered"), ("skipped", "Skipped"), ("reversed", "Reversed (deleted in Xero)")],
        default="registered",
        readonly=True,
    )
    message = fields.Char(readonly=True)
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

    _xero_payment_unique = models.UniqueIndex("(tenant_id, xero_payment_id)")

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
