# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Foreign-currency prepayments, overpayments and credit notes allocated in Xero, booked at Xero's base amounts,
through the SDK against the sandbox.

Xero books an allocation at the rate of its source document (the prepayment's, overpayment's or credit note's
own ``CurrencyRate``), not the invoice's; the difference against the invoice's rate is an exchange difference.
The invoice (see ``XeroCurrencyCommon``) is 120.00 EUR booked at 1.20 = 100.00 GBP receivable, so every 1.00 EUR
of it is worth 100.00 / 120.00 GBP: 60.00 EUR of it = 50.00 GBP, 30.00 EUR = 25.00 GBP."""

from datetime import date
from decimal import Decimal

from odoo.tests import tagged

from .xero_currency_common import XeroCurrencyCommon


@tagged("post_install", "-at_install")
class TestXeroCurrencyAllocations(XeroCurrencyCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._halo_allocation_settings("11", cls.company_data["default_journal_misc"])

    # -- helpers ------------------------------------------------------------------------------------------
    def xero_credit(self, kind, amount, rate):
        """A EUR prepayment or overpayment received in Xero at ``rate`` (as a Xero user records it)."""
        out = self.ctl.call(
            "POST",
            "credits",
            {
                "tenant": self.tenant_id,
                "kind": kind,
                "contact": self.customers[0].halo_xero_contact_id,
                "amount": amount,
                "currency": "EUR",
                "rate": rate,
            },
        )
        self.assertEqual((out["CurrencyCode"], out["CurrencyRate"]), ("EUR", rate))
        return out["PrepaymentID" if kind == "prepayment" else "OverpaymentID"]

    def xero_credit_note(self, net, rate):
        """A EUR credit note raised in Xero: ``net`` + 20 % VAT, at ``rate``."""
        from xero_python.accounting import Contact, CreditNote, CreditNotes, CurrencyCode, LineItem

        cn = (
            self.connection._halo_client()
            .call(
                self.tenant_id,
                "create_credit_notes",
                CreditNotes(
                    credit_notes=[
                        CreditNote(
                            type="ACCRECCREDIT",
                            contact=Contact(contact_id=self.customers[0].halo_xero_contact_id),
                            date=date(2026, 8, 1),
                            status="AUTHORISED",
                            currency_code=CurrencyCode("EUR"),
                            currency_rate=Decimal(str(rate)),
                            line_items=[
                                LineItem(
                                    description="Goodwill",
                                    quantity=Decimal("1"),
                                    unit_amount=Decimal(str(net)),
                                    account_code="200",
                                    tax_type="OUTPUT2",
                                )
                            ],
                        )
                    ]
                ),
                write=True,
            )
            .credit_notes[0]
        )
        self.assertEqual(float(cn.currency_rate), rate)
        return str(cn.credit_note_id)

    def allocate(self, kind, doc_id, move, amount):
        self.ctl.call(
            "POST",
            "allocate",
            {
                "tenant": self.tenant_id,
                "kind": kind,
                "id": doc_id,
                "invoice": move.halo_xero_invoice_id,
                "amount": amount,
            },
        )

    def allocation(self, move, kind, state="registered"):
        return move.halo_xero_payment_ids.filtered(lambda r: r.kind == kind and r.state == state)

    def booked(self, record):
        """(amount in EUR, balance in GBP) the allocation entry took off the invoice's receivable."""
        line = record.entry_id.line_ids.filtered(
            lambda line: line.account_id == self.receivable(record.move_id).account_id
        )
        return (-line.amount_currency, -line.balance)

    def source_reads(self, path):
        return [r for r in self.ctl.requests() if r["method"] == "GET" and path.lower() in r["path"].lower()]

    def assertSettled(self, move):
        """Nothing open in either currency: Xero's AmountDue 0, Odoo's residual 0 in EUR and in GBP."""
        self.assertMatchesXero(move)
        self.assertEqual(self.xero_invoice(move)["AmountDue"], 0.0)
        self.assertEqual((move.amount_residual, move.amount_residual_signed), (0.0, 0.0))
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        receivable = self.receivable(move)
        self.assertTrue(receivable.reconciled)
        self.assertEqual((receivable.amount_residual, receivable.amount_residual_currency), (0.0, 0.0))

    def assertPolledAgainUnchanged(self, move):
        """A second poll from the start and a webhook-style fetch register nothing twice and read no source
        document again."""
        entries = move.halo_xero_payment_ids.entry_id
        loss = self.exchange_loss(move)
        self.ctl.clear_requests()
        self.connection.write({"halo_xero_poll_since": False, "halo_xero_poll_payments_since": False})
        self.poll()
        move._halo_xero_fetch(self.connection, self.connection._halo_client(), [move.halo_xero_invoice_id])
        self.assertEqual(move.halo_xero_payment_ids.entry_id, entries)
        self.assertEqual(self.exchange_loss(move), loss)
        self.assertFalse(self.source_reads("/Prepayments/") + self.source_reads("/Overpayments/"))
        self.assertMatchesXero(move)

    # -- prepayment ---------------------------------------------------------------------------------------
    def test_prepayment_booked_at_its_own_rate(self):
        move = self.eur_invoice()  # 120.00 EUR = 100.00 GBP
        pre = self.xero_credit("prepayment", 150.0, 1.25)  # 150.00 EUR received at 1.25 = 120.00 GBP
        self.allocate("prepayment", pre, move, 120.0)
        self.ctl.clear_requests()
        self.poll()
        self.assertSettled(move)
        record = self.allocation(move, "prepayment")
        self.assertEqual((record.amount, record.currency_rate), (120.0, 1.25))
        # Xero: 120.00 EUR of the prepayment at its 1.25 = 96.00 GBP (not 100.00 at the invoice's 1.20); the
        # receivable's 100.00 GBP less 96.00 = 4.00 GBP exchange loss, booked by Odoo's exchange difference
        self.assertEqual(self.booked(record), (120.0, 96.0))
        debit = record.entry_id.line_ids.filtered(lambda line: line.account_id == self.prepay_account)
        self.assertEqual((debit.amount_currency, debit.balance), (120.0, 96.0))
        self.assertEqual(self.exchange_loss(move), 4.0)
        self.assertEqual(len(self.source_reads("/Prepayments/")), 1)  # its rate, read by its id, once
        log = move.halo_xero_log_ids.filtered(lambda r: r.action == "allocation")
        self.assertIn("at Xero's rate 1.25 = 96.00 GBP", log.message)
        self.assertPolledAgainUnchanged(move)

    def test_allocation_changed_in_xero_reversed_at_its_own_base_amount(self):
        move = self.eur_invoice()
        pre = self.xero_credit("prepayment", 150.0, 1.25)
        self.allocate("prepayment", pre, move, 60.0)
        self.poll()
        self.assertMatchesXero(move)
        first = self.allocation(move, "prepayment")
        # 60.00 EUR at 1.25 = 48.00 GBP against 60.00 EUR of the invoice = 50.00 GBP: loss 2.00; 50.00 GBP and
        # 60.00 EUR still open
        self.assertEqual(self.booked(first), (60.0, 48.0))
        self.assertEqual(self.exchange_loss(move), 2.0)
        self.assertEqual((move.amount_residual, move.amount_residual_signed), (60.0, 50.0))
        # a second allocation from the same prepayment in Xero: 120.00 EUR of it now on the invoice
        self.allocate("prepayment", pre, move, 60.0)
        self.poll()
        self.assertSettled(move)
        # the first registration undone at the 48.00 GBP it was booked at (its entry cancelled, its 2.00 loss
        # reversed with it), the 120.00 EUR registered at 1.25 = 96.00 GBP: 4.00 GBP loss in all, not 6.00
        self.assertEqual(first.state, "reversed")
        self.assertEqual(first.entry_id.state, "cancel")
        self.assertEqual(self.booked(first), (60.0, 48.0))
        second = self.allocation(move, "prepayment")
        self.assertEqual((second.amount, second.currency_rate), (120.0, 1.25))
        self.assertEqual(self.booked(second), (120.0, 96.0))
        self.assertEqual(self.exchange_loss(move), 4.0)
        self.assertPolledAgainUnchanged(move)

    # -- overpayment and credit note -------------------------------------------------------------------------
    def test_overpayment_and_credit_note_at_their_own_rates(self):
        move = self.eur_invoice()
        over = self.xero_credit("overpayment", 60.0, 1.5)
        self.allocate("overpayment", over, move, 60.0)
        self.poll()
        self.assertMatchesXero(move)
        # 60.00 EUR at 1.50 = 40.00 GBP against 50.00 GBP of the invoice: loss 10.00
        record = self.allocation(move, "overpayment")
        self.assertEqual((self.booked(record), record.currency_rate), ((60.0, 40.0), 1.5))
        self.assertEqual(self.exchange_loss(move), 10.0)
        self.assertEqual((move.amount_residual, move.amount_residual_signed), (60.0, 50.0))
        # a credit note raised in Xero, 25.00 + 20 % VAT = 30.00 EUR at 1.00 = 30.00 GBP, against 25.00 GBP of the
        # invoice: a 5.00 GBP gain, 10.00 - 5.00 = 5.00 net loss; 30.00 EUR = 25.00 GBP still open
        cn = self.xero_credit_note(25.0, 1.0)
        self.allocate("creditnote", cn, move, 30.0)
        self.poll()
        self.assertMatchesXero(move)
        credit = self.allocation(move, "credit_note")
        self.assertEqual((self.booked(credit), credit.currency_rate), ((30.0, 30.0), 1.0))
        debit = credit.entry_id.line_ids.filtered(lambda line: line.account_id == self.cn_account)
        self.assertEqual(debit.balance, 30.0)
        self.assertEqual(self.exchange_loss(move), 5.0)
        self.assertEqual((move.amount_residual, move.amount_residual_signed), (30.0, 25.0))
        # the rest paid at the invoice's own 1.20: 30.00 EUR = 25.00 GBP, no further difference
        self.xero_payment(move, 30.0, 1.2, pay_date=date(2026, 8, 20))
        self.poll()
        self.assertSettled(move)
        self.assertEqual(self.exchange_loss(move), 5.0)
        self.assertEqual(len(self.allocation(move, "overpayment") | self.allocation(move, "credit_note")), 2)
        self.assertPolledAgainUnchanged(move)

    # -- hostile answers ---------------------------------------------------------------------------------------
    def test_source_without_a_usable_rate_is_refused_and_the_others_go_on(self):
        move = self.eur_invoice()
        other = self.eur_invoice(partner=self.customers[1])
        pre = self.xero_credit("prepayment", 120.0, 1.25)
        self.allocate("prepayment", pre, move, 120.0)
        over = self.xero_credit("overpayment", 60.0, 1.5)
        self.allocate("overpayment", over, other, 60.0)
        # Xero's answer for the prepayment has no CurrencyRate: its value in GBP is unknown, nothing is guessed
        # (each fault lasts the whole poll: the poll reads the invoice, then retries those needing attention)
        self.ctl.fault("tamper", field="CurrencyRate", path="/Prepayments/", method="GET", count=10)
        self.poll()
        self.ctl.clear_faults()
        record = self.allocation(move, "prepayment", "skipped")
        self.assertTrue(record)
        self.assertFalse(record.entry_id)
        self.assertTrue(move.halo_xero_attention)
        self.assertIn("no usable exchange rate", move.halo_xero_money_message)
        self.assertIn("CurrencyRate: none", move.halo_xero_money_message)
        self.assertEqual((move.amount_residual, move.amount_residual_signed), (120.0, 100.0))
        self.assertTrue(move.activity_ids.filtered(lambda a: a.user_id == self.billing_manager))
        self.assertEqual(self.exchange_loss(move), 0.0)
        # the other invoice went on: 60.00 EUR at 1.50 = 40.00 GBP, loss 10.00
        self.assertMatchesXero(other)
        self.assertEqual(self.booked(self.allocation(other, "overpayment")), (60.0, 40.0))
        self.assertEqual(self.exchange_loss(other), 10.0)
        # a rate of zero and a prepayment Xero cannot find are refused the same way at the next polls
        self.ctl.fault("tamper", field="CurrencyRate", value=0, path="/Prepayments/", method="GET", count=10)
        self.poll()
        self.ctl.clear_faults()
        self.assertIn("CurrencyRate: 0.0", move.halo_xero_money_message)
        self.ctl.fault("status", status=404, path="/Prepayments/", method="GET", count=10)
        self.poll()
        self.ctl.clear_faults()
        self.assertIn("the document was not found", move.halo_xero_money_message)
        self.assertEqual(record.state, "skipped")
        self.assertEqual(len(move.halo_xero_payment_ids), 1)
        # Xero answers properly again: registered at 1.25 (96.00 GBP, loss 4.00), the attention cleared
        self.poll()
        self.assertSettled(move)
        self.assertEqual(record.state, "registered")
        self.assertEqual(self.booked(record), (120.0, 96.0))
        self.assertEqual(self.exchange_loss(move), 4.0)
        self.assertFalse(move.halo_xero_attention)
        self.assertFalse(move.activity_ids.filtered(lambda a: a.user_id == self.billing_manager))

    # -- kept as before ----------------------------------------------------------------------------------------
    def test_company_currency_not_xeros_base_keeps_the_invoice_rate(self):
        """Xero's rates are per unit of its base currency: a company in another currency cannot book Xero's base
        amount, so the allocation stays at the invoice's rate (120.00 EUR at 1.20 = 100.00 GBP, no difference)
        and no source document is read."""
        move = self.eur_invoice()
        self.connection.sudo().halo_xero_base_currency = "NZD"
        pre = self.xero_credit("prepayment", 120.0, 1.25)
        self.allocate("prepayment", pre, move, 120.0)
        self.ctl.clear_requests()
        self.poll()
        self.assertSettled(move)
        self.assertEqual(self.booked(self.allocation(move, "prepayment")), (120.0, 100.0))
        self.assertEqual(self.exchange_loss(move), 0.0)
        self.assertFalse(self.source_reads("/Prepayments/"))

    def test_base_currency_allocation_unchanged(self):
        """A GBP invoice's allocation is booked at its amount, without reading its source document."""
        move = self.make_invoices()  # 171.00 GBP
        move._halo_xero_push()
        pre = self.ctl.call(
            "POST",
            "credits",
            {
                "tenant": self.tenant_id,
                "kind": "prepayment",
                "contact": self.customers[0].halo_xero_contact_id,
                "amount": 171,
            },
        )["PrepaymentID"]
        self.allocate("prepayment", pre, move, 171.0)
        self.ctl.clear_requests()
        self.poll()
        self.assertSettled(move)
        record = self.allocation(move, "prepayment")
        self.assertEqual((self.booked(record), record.currency_rate), ((171.0, 171.0), 0.0))
        self.assertEqual(self.exchange_loss(move), 0.0)
        self.assertFalse(self.source_reads("/Prepayments/"))
