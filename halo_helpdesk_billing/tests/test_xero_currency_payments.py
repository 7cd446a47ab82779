# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Foreign-currency payments from Xero booked at Xero's amounts, through the SDK against the sandbox.

The invoice is 1 x 100.00 EUR + 20 % VAT 20.00 = 120.00 EUR, booked by Odoo (and sent to Xero with
``CurrencyRate`` 1.20) at 1.20 EUR per GBP: 120.00 / 1.20 = 100.00 GBP receivable. Odoo's own rate stays 1.20 on
the payment dates, so any exchange difference below comes from Xero's payment rate only."""

from datetime import date

from odoo.tests import tagged

from ..models.xero.halo_xero_payment import xero_base_amount
from .xero_currency_common import XeroCurrencyCommon


@tagged("post_install", "-at_install")
class TestXeroCurrencyPayments(XeroCurrencyCommon):
    # -- tests --------------------------------------------------------------------------------------------------
    def test_base_amount_is_xeros(self):
        # what Xero's API shows as the payment's BankAmount (base-currency bank account), to the cent
        self.xero_calls_expected = False
        self.assertEqual(xero_base_amount(120.0, 1.25), 96.0)  # 120 / 1.25
        self.assertEqual(xero_base_amount(60.0, 1.5), 40.0)  # 60 / 1.5
        self.assertEqual(xero_base_amount(100.0, 1.18), 84.75)  # 84.7457... -> 84.75
        self.assertEqual(xero_base_amount(0.01, 0.8), 0.01)  # 0.0125 -> 0.01
        self.assertEqual(xero_base_amount(0.05, 0.4), 0.13)  # 0.125 -> 0.13 (half away from zero)

    def test_full_payment_at_xeros_rate_books_xeros_exchange_loss(self):
        move = self.eur_invoice()
        paid = self.xero_payment(move, 120.0, 1.25)
        # the sandbox, as Xero: 120.00 EUR / 1.25 = 96.00 GBP reached the (GBP) bank account
        self.assertEqual((paid.currency_rate, paid.bank_amount), (1.25, 96.0))
        self.poll()
        self.assertMatchesXero(move)
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        payment = self.odoo_payment(move, str(paid.payment_id))
        self.assertEqual((payment.currency_id, payment.amount), (self.eur, 120.0))
        # the payment's entry: 120.00 EUR worth 96.00 GBP (Xero's), not Odoo's 100.00 at its own 1.20
        liquidity = payment.move_id.line_ids.filtered(
            lambda line: line.account_id == payment.outstanding_account_id
        )
        self.assertEqual((liquidity.amount_currency, liquidity.balance), (120.0, 96.0))
        # receivable 100.00 GBP - 96.00 received = 4.00 GBP exchange loss, booked by Odoo's exchange difference;
        # the receivable is settled in both currencies
        self.assertEqual(self.exchange_loss(move), 4.0)
        receivable = self.receivable(move)
        self.assertTrue(receivable.reconciled)
        self.assertEqual((receivable.amount_residual, receivable.amount_residual_currency), (0.0, 0.0))
        self.assertTrue(
            receivable.matched_credit_ids.exchange_move_id or receivable.full_reconcile_id.exchange_move_id
        )
        log = move.halo_xero_log_ids.filtered(lambda r: r.action == "payment")
        self.assertIn("at Xero's rate 1.25 = 96.00 GBP", log.message)

    def test_partial_then_full_at_two_rates(self):
        move = self.eur_invoice()
        first = self.xero_payment(move, 60.0, 1.25)
        self.poll()
        self.assertMatchesXero(move)
        self.assertAlmostEqual(move.amount_residual, 60.0)  # EUR, as Xero's AmountDue
        # 60.00 EUR at 1.25 = 48.00 GBP against 60.00 EUR of the invoice at 1.20 = 50.00 GBP: loss 2.00,
        # 100.00 - 50.00 = 50.00 GBP still receivable
        self.assertEqual(self.odoo_payment(move, str(first.payment_id)).amount_company_currency_signed, 48.0)
        self.assertEqual(self.exchange_loss(move), 2.0)
        self.assertEqual(self.receivable(move).amount_residual, 50.0)
        # the rest, 60.00 EUR at 1.50 = 40.00 GBP: a further 50.00 - 40.00 = 10.00 GBP loss, 12.00 in all
        second = self.xero_payment(move, 60.0, 1.5, pay_date=date(2026, 8, 20))
        self.poll()
        self.assertMatchesXero(move)
        self.assertAlmostEqual(move.amount_residual, 0.0)
        self.assertEqual(self.odoo_payment(move, str(second.payment_id)).amount_company_currency_signed, 40.0)
        self.assertEqual(self.exchange_loss(move), 12.0)  # 100.00 booked - (48.00 + 40.00) received
        receivable = self.receivable(move)
        self.assertTrue(receivable.reconciled)
        self.assertEqual((receivable.amount_residual, receivable.amount_residual_currency), (0.0, 0.0))
        self.assertEqual(len(move.halo_xero_payment_ids.filtered(lambda r: r.state == "registered")), 2)

    def test_payment_at_a_better_rate_is_a_gain(self):
        move = self.eur_invoice()
        self.xero_payment(move, 120.0, 1.0)  # 120.00 GBP received for 100.00 booked: 20.00 GBP gain
        self.poll()
        self.assertMatchesXero(move)
        self.assertEqual(self.exchange_loss(move), -20.0)
        self.assertEqual(self.receivable(move).amount_residual, 0.0)

    def test_payment_deleted_in_xero_reversed_at_the_same_base_amount(self):
        move = self.eur_invoice()
        first = self.xero_payment(move, 60.0, 1.25)
        second = self.xero_payment(move, 60.0, 1.5, pay_date=date(2026, 8, 20))
        self.poll()
        self.assertEqual(self.exchange_loss(move), 12.0)  # 2.00 + 10.00, as above
        cancelled = self.odoo_payment(move, str(second.payment_id))
        self.assertEqual(cancelled.amount_company_currency_signed, 40.0)
        self.ctl.call(
            "POST", "payments/delete", {"tenant": self.tenant_id, "payment": str(second.payment_id)}
        )
        self.poll()
        self.assertMatchesXero(move)
        self.assertAlmostEqual(move.amount_residual, 60.0)
        self.assertEqual(cancelled.state, "canceled")
        # undone at the base amount it was booked at (40.00 GBP, its entry cancelled, not reversed at Odoo's rate),
        # its 10.00 GBP loss reversed with it: the first payment's 2.00 remains, and 100.00 - 48.00 - 2.00 = 50.00
        # GBP is receivable again
        self.assertFalse(cancelled.move_id.filtered(lambda m: m.state == "posted"))
        self.assertEqual(self.exchange_loss(move), 2.0)
        self.assertEqual(self.receivable(move).amount_residual, 50.0)
        # the first one deleted too: nothing paid, nothing lost, 100.00 GBP receivable
        self.ctl.call("POST", "payments/delete", {"tenant": self.tenant_id, "payment": str(first.payment_id)})
        self.poll()
        self.assertMatchesXero(move)
        self.assertEqual(self.exchange_loss(move), 0.0)
        self.assertEqual((self.receivable(move).amount_residual, move.amount_residual), (100.0, 120.0))
        self.assertEqual(move.payment_state, "not_paid")

    def test_company_currency_not_xeros_base_keeps_odoos_conversion(self):
        """Xero's rate is per unit of its base currency: a company in another currency cannot book Xero's base
        amount, so Odoo converts at its own rate (120.00 EUR at 1.20 = 100.00 GBP, no exchange difference)."""
        self.assertEqual(self.connection.halo_xero_base_currency, "GBP")  # imported with the currencies
        move = self.eur_invoice()
        self.connection.sudo().halo_xero_base_currency = "NZD"
        paid = self.xero_payment(move, 120.0, 1.25)
        self.poll()
        self.assertMatchesXero(move)
        self.assertEqual(self.odoo_payment(move, str(paid.payment_id)).amount_company_currency_signed, 100.0)
        self.assertEqual(self.exchange_loss(move), 0.0)

    def test_payment_in_the_base_currency_is_unchanged(self):
        """A GBP invoice's payment (CurrencyRate 1.0) is registered as before, at its amount."""
        move = self.make_invoices()  # 171.00 GBP
        move._halo_xero_push()
        self.xero_payment(move, 171.0, 1.0)
        self.poll()
        self.assertMatchesXero(move)
        self.assertEqual(self.exchange_loss(move), 0.0)
        self.assertEqual(move.halo_xero_payment_ids.payment_id.amount_company_currency_signed, 171.0)
