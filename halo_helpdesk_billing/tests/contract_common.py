from datetime import date

from ..models.halo_engine import BILLING_ENGINE
from .common import BILLING_USER, HaloBillingCommon


class HaloContractCommon(HaloBillingCommon):
    """Products, a customer contact and a contract factory for contract tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Product = cls.env["product.product"]
        tax = cls.tax_sale_a  # 15 %
        cls.product_fee = Product.create(
            {
                "name": "Managed services fee",
                "type": "service",
                "taxes_id": [(6, 0, tax.ids)],
            }
        )
        cls.product_topup = Product.create(
            {
                "name": "Prepay block",
                "type": "service",
                "taxes_id": [(6, 0, tax.ids)],
            }
        )
        cls.product_licence = Product.create(
            {
                "name": "M365 licence",
                "type": "service",
                "taxes_id": [(6, 0, tax.ids)],
            }
        )
        cls.product_device = Product.create(
            {
                "name": "Workstation monitoring",
                "type": "service",
                "taxes_id": [(6, 0, tax.ids)],
            }
        )
        cls.contact = cls.env["res.partner"].create(
            {
                "name": "Carol Contact",
                "parent_id": cls.customer.id,
                "email": "carol@acme.test",
            }
        )
        cls.follower = cls.env["res.partner"].create({"name": "Fred Follower", "email": "fred@msp.test"})
        cls.billing_user2 = cls._halo_user("halo_biller2", "Bob Biller", f"base.group_user,{BILLING_USER}")
        cls.Contract = cls.env["halo.contract"]
        cls.Ledger = cls.env["halo.contract.ledger"]

    @classmethod
    def _contract(cls, activate=True, **vals):
        values = {
            "name": "Managed Services",
            "partner_id": cls.customer.id,
            "contact_id": cls.contact.id,
            "date_start": date(2026, 1, 1),
            **vals,
        }
        contract = cls.Contract.create(values)
        if activate:
            contract.action_activate()
        return contract

    @classmethod
    def _charge(cls, key, day, hours, amount, rate=None, kind="labour", partner=None):
        return {
            "key": key,
            "partner_id": (partner or cls.customer).id,
            "date": day,
            "kind": kind,
            "rate_id": rate.id if rate else False,
            "hours": hours,
            "amount": amount,
        }

    def _modes(self, parts):
        return [(p["mode"], p["hours"], p["amount"]) for p in parts]

    def _run_lines(self, contract, parts_by_key, day):
        """Simulate the billing engine: one run line per charge, its ``parts`` holding the
        allocation (covered parts at 0 with their hours and value, PAYG at its amount)."""
        run = self.env["halo.billing.run"].create({"date_cutoff": day, "date_invoice": day})
        vals_list = []
        for key, parts in parts_by_key.items():
            covered = [p for p in parts if p["mode"] != "payg"]
            vals_list.append(
                {
                    "run_id": run.id,
                    "partner_id": self.customer.id,
                    "contract_id": covered[0]["contract_id"] if covered else False,
                    "kind": "labour",
                    "res_model": "account.analytic.line",
                    "res_id": len(vals_list) + 1,
                    "date": day,
                    "quantity": sum(p["hours"] for p in parts),
                    "amount": sum(p["amount"] for p in parts if p["mode"] == "payg"),
                    "name": str(key),
                    "parts": [
                        {
                            "label": p["explanation"],
                            "kind": "covered",
                            "quantity": p["hours"] or 1.0,
                            "hours": p["hours"],
                            "value": p["amount"],
                            "unit_price": 0.0,
                            "amount": 0.0,
                            "coverage": p["mode"],
                            "contract_id": p["contract_id"],
                        }
                        if p["mode"] != "payg"
                        else {
                            "label": "",
                            "quantity": p["hours"],
                            "unit_price": 0.0,
                            "amount": p["amount"],
                            "coverage": "payg",
                            "contract_id": False,
                        }
                        for p in parts
                    ],
                }
            )
        return run, BILLING_ENGINE.on(self.env["halo.billing.run.line"]).create(vals_list)
