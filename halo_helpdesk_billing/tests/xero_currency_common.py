# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Foreign-currency money from Xero, through the SDK against the sandbox: the company (GBP) is the Xero
organisation's base currency; a EUR invoice of 1 x 100.00 + 20 % VAT 20.00 = 120.00 EUR is booked by Odoo (and sent
to Xero with ``CurrencyRate`` 1.20) at 1.20 EUR per GBP: 120.00 / 1.20 = 100.00 GBP receivable. Odoo's own rate
stays 1.20 on every later date, so any exchange difference comes from Xero's rates only."""

from datetime import date
from decimal import Decimal

from odoo import Command

from .test_xero_push_common import HaloXeroPushCommon


class XeroCurrencyCommon(HaloXeroPushCommon):
    @classmethod
    def setup_independent_company(cls, **kwargs):
        # the company's currency is the Xero organisation's base currency (GBP), as the demo's
        if cls.env.registry.loaded:
            cls._enable_currency("GBP")
            kwargs.setdefault("currency_id", cls.env.ref("base.GBP").id)
        return super().setup_independent_company(**kwargs)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        cls.env["res.currency.rate"].create(
            {
                "currency_id": cls.eur.id,
                "name": date(2026, 7, 1),
                "rate": 1.2,
                "company_id": cls.env.company.id,
            }
        )
        cls.gbp = cls.env.company.currency_id
        cls.loss_account = cls.env.company.expense_currency_exchange_account_id
        cls.gain_account = cls.env.company.income_currency_exchange_account_id

    def setUp(self):
        super().setUp()
        self.assertEqual(self.gbp.name, "GBP")  # the sandbox's UK organisation's base currency too
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})
        self.connection._halo_xero_import_currencies()

    # -- helpers ------------------------------------------------------------------------------------------
    def eur_invoice(self, partner=None):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": (partner or self.customers[0]).id,
                "invoice_date": date(2026, 7, 31),
                "invoice_date_due": date(2026, 8, 30),
                "currency_id": self.eur.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_xero.id,
                            "name": "Managed service",
                            "quantity": 1,
                            "price_unit": 100.0,
                            "tax_ids": [Command.set(self.tax20.ids)],
                        }
                    )
                ],
            }
        )
        move.action_post()
        self.assertEqual((move.amount_total, move.amount_total_signed), (120.0, 100.0))
        move._halo_xero_push()
        xero = self.xero_invoice(move)
        self.assertEqual((xero["CurrencyCode"], xero["CurrencyRate"], xero["Total"]), ("EUR", 1.2, 120.0))
        return move

    def xero_invoice(self, move):
        return self.sandbox.state.orgs[self.tenant_id]["invoices"][move.halo_xero_invoice_id]

    def xero_payment(self, move, amount, rate, pay_date=date(2026, 8, 5)):
        from xero_python.accounting import Account, Invoice, Payment, Payments

        payment = Payment(
            invoice=Invoice(invoice_id=move.halo_xero_invoice_id),
            account=Account(code="090"),
            amount=Decimal(str(amount)),
            date=pay_date,
            currency_rate=Decimal(str(rate)),
        )
        result = self.connection._halo_client().call(
            self.tenant_id, "create_payments", Payments(payments=[payment]), write=True
        )
        return result.payments[0]

    def poll(self):
        self.ctl.advance(1)
        self.connection._halo_xero_poll()

    def receivable(self, move):
        return move.line_ids.filtered(lambda line: line.account_id.account_type == "asset_receivable")

    def exchange_loss(self, move):
        """Net exchange loss booked by Odoo for the invoice's customer (losses less gains), in GBP."""
        lines = self.env["account.move.line"].search(
            [
                ("account_id", "in", (self.loss_account | self.gain_account).ids),
                ("partner_id", "=", move.commercial_partner_id.id),
                ("parent_state", "=", "posted"),
            ]
        )
        return round(sum(lines.mapped("balance")), 2)

    def odoo_payment(self, move, xero_payment_id):
        return move.halo_xero_payment_ids.filtered(lambda r: r.xero_payment_id == xero_payment_id).payment_id

    def assertMatchesXero(self, move):
        move.invalidate_recordset()
        xero = self.xero_invoice(move)
        self.assertAlmostEqual(
            move.amount_residual, xero["AmountDue"], places=2, msg=move.halo_xero_money_message
        )
        self.assertFalse(move.halo_xero_attention, move.halo_xero_money_message)
