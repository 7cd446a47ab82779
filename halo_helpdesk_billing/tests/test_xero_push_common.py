# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shared set-up of the invoice push tests (no test in this module): mapped product and taxes,
a payment journal, helpers to create posted invoices and to read what reached the sandbox."""

import json
from datetime import date

from odoo import Command

from ..services import xero_client as xc
from .xero_common import HaloXeroCommon

UK_CONTACT_1 = None  # filled from the sandbox seed in setUpClass


class HaloXeroPushCommon(HaloXeroCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.tax20 = cls.env["account.tax"].create(
            {
                "name": "VAT 20% (xero test)",
                "amount": 20,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "halo_xero_tax_type": "OUTPUT2",
                "company_id": cls.company.id,
            }
        )
        cls.product_xero = cls.env["product.product"].create(
            {
                "name": "Support hour (xero test)",
                "type": "service",
                "list_price": 100,
                "halo_xero_account_code": "200",
                "halo_xero_item_code": "SUPPORT-HR",
            }
        )
        cls.product_bad = cls.env["product.product"].create(
            {
                "name": "Bad mapping (xero test)",
                "type": "service",
                "halo_xero_account_code": "999",
            }
        )
        cls.bank_journal = cls.company_data["default_journal_bank"]
        cls.connection.sudo().write(
            {
                "invoice_status": "AUTHORISED",
                "invoice_numbering": "odoo",
                "attach_pdf": False,
                "rounding_account_code": "860",
                "payment_journal_id": cls.bank_journal.id,
                "webhook_key": "halo-demo-webhook-key",
            }
        )
        cls.customers = cls.env["res.partner"].create(
            [
                {"name": "Xero Push Customer %02d" % n, "is_company": True, "email": "c%02d@example.com" % n}
                for n in range(3)
            ]
        )

    def setUp(self):
        super().setUp()
        # tests are not about pacing (the limit tests set their own throttle): no sliding-window sleeps
        xc.reset_default_throttle(per_minute=100000, concurrent=5)
        self.ctl.limits(minute=100000, day=1000000)

    @classmethod
    def _halo_allocation_settings(cls, code_suffix, journal):
        """The connection's allocation journal and its prepayment, overpayment and credit-note accounts
        (``HXP<suffix>``, ``HXO<suffix>``, ``HXC<suffix>``), as a finance user sets them."""
        Account = cls.env["account.account"]
        cls.prepay_account = Account.create(
            {
                "name": "Customer prepayments (Xero)",
                "code": "HXP" + code_suffix,
                "account_type": "liability_current",
            }
        )
        cls.overpay_account = Account.create(
            {
                "name": "Customer overpayments (Xero)",
                "code": "HXO" + code_suffix,
                "account_type": "liability_current",
            }
        )
        cls.cn_account = Account.create(
            {"name": "Credit notes raised in Xero", "code": "HXC" + code_suffix, "account_type": "income"}
        )
        cls.connection.sudo().write(
            {
                "halo_xero_allocation_journal_id": journal.id,
                "halo_xero_prepayment_account_id": cls.prepay_account.id,
                "halo_xero_overpayment_account_id": cls.overpay_account.id,
                "halo_xero_credit_note_account_id": cls.cn_account.id,
            }
        )

    # -- helpers --------------------------------------------------------------------------------------
    def make_invoices(
        self,
        count=1,
        lines=None,
        partner=None,
        post=True,
        move_type="out_invoice",
        invoice_date=date(2026, 7, 31),
    ):
        lines = lines or [("Remote support", 1.5, 95.0)]
        partners = (
            [partner] * count if partner else [self.customers[i % len(self.customers)] for i in range(count)]
        )
        moves = self.env["account.move"].create(
            [
                {
                    "move_type": move_type,
                    "partner_id": p.id,
                    "invoice_date": invoice_date,
                    "invoice_date_due": date(2026, 8, 30),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": (product or self.product_xero).id,
                                "name": name,
                                "quantity": qty,
                                "price_unit": price,
                                "tax_ids": [Command.set(self.tax20.ids)],
                            }
                        )
                        for name, qty, price, *rest in lines
                        for product in [rest[0] if rest else None]
                    ],
                }
                for p in partners
            ]
        )
        if post:
            moves.action_post()
        return moves

    def xero_invoices(self):
        """Every invoice in the sandbox's UK organisation, as stored there."""
        return list(self.sandbox.state.orgs[self.tenant_id]["invoices"].values())

    def xero_by_number(self, number):
        return [i for i in self.xero_invoices() if (i.get("InvoiceNumber") or "") == number]

    def assertEachOnceInXero(self, moves):
        """Every move is in Xero exactly once, and Odoo knows it (sent, with its InvoiceID)."""
        xero = self.xero_invoices()
        for move in moves:
            self.assertEqual(move.halo_xero_state, "sent", (move.name, move.halo_xero_error))
            mine = [
                i
                for i in xero
                if (i.get("InvoiceNumber") == move.name or i.get("Reference") == move.name)
                and i["Status"] != "DELETED"
            ]
            self.assertEqual(len(mine), 1, "%s is %d times in Xero" % (move.name, len(mine)))
            self.assertEqual(mine[0]["InvoiceID"], move.halo_xero_invoice_id)
        return xero

    def invoice_writes(self):
        return [
            r
            for r in self.ctl.requests()
            if r["method"] in ("PUT", "POST") and r["path"].lower().rstrip("/").endswith("/invoices")
        ]

    @staticmethod
    def body(request):
        return json.loads(request["body"] or "{}")
