"""Two companies serve one shared customer: what the engine searches as superuser stays
within the company of the record being processed (run, ticket, contract)."""

from datetime import date

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon
from .contract_common import HaloContractCommon


@tagged("post_install", "-at_install")
class TestMultiCompanyScope(HaloContractCommon, HaloBillingRunCommon):
    halo_other_company = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the customer, its contact, the on-site rate and the products are shared
        cls.assertFalse(cls, cls.customer.company_id)
        cls.assertFalse(cls, cls.rate_onsite.company_id)
        cls.product_block = cls.env["product.product"].create({"name": "Prepay block (B)", "type": "service"})

    def _contract_b(self, **vals):
        Contract = self.Contract.with_company(self.company_b)
        contract = Contract.create(
            {
                "name": "Second Ltd support",
                "partner_id": self.customer.id,
                "contact_id": self.contact.id,
                "date_start": date(2026, 1, 1),
                "company_id": self.company_b.id,
                **vals,
            }
        )
        contract.action_activate()
        return contract

    def test_company_a_run_leaves_company_b_prepaid_hours_alone(self):
        contract_b = self._contract_b(
            prepay_kind="hours",
            prepay_rate_ids=[(6, 0, self.rate_onsite.ids)],
            topup_block=10,
            topup_product_id=self.product_block.id,
            topup_price=900,
        )
        contract_b.with_company(self.company_b).action_topup()
        self.assertEqual(contract_b.balance_hours, 10)
        actions, trip, expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        self.assertEqual(run.company_id, self.company_a)
        run.action_preview()
        self.assertFalse(run.line_ids.contract_id)
        run.action_create_invoices()
        # everything billed PAYG in company A: 142.50 + 142.50 + 12.00 + 13.57 + 50.00
        self.assertAlmostEqual(run.invoice_ids.amount_untaxed, 360.57)
        self.assertEqual(run.invoice_ids.company_id, self.company_a)
        self.assertEqual(contract_b.balance_hours, 10)
        self.assertFalse(contract_b.ledger_ids.filtered(lambda e: e.kind == "consumption"))

    def test_allocation_sees_the_given_company_only(self):
        contract_b = self._contract_b(
            prepay_kind="hours",
            prepay_rate_ids=[(6, 0, self.rate_onsite.ids)],
            topup_block=10,
            topup_product_id=self.product_block.id,
            topup_price=900,
        )
        contract_b.with_company(self.company_b).action_topup()
        charge = self._charge("k", date(2026, 7, 7), 1.5, 142.5, rate=self.rate_onsite)
        parts_a = self.Contract._halo_allocate_charges([charge], self.company_a)["k"]
        self.assertEqual(self._modes(parts_a), [("payg", 1.5, 142.5)])
        parts_b = self.Contract._halo_allocate_charges([charge], self.company_b)["k"]
        self.assertEqual(self._modes(parts_b), [("prepay_hours", 1.5, 142.5)])
        self.assertEqual(parts_b[0]["contract_id"], contract_b.id)

    @freeze_time("2026-02-10")
    def test_company_b_exhausted_contract_does_not_block_company_a_tickets(self):
        self._contract_b(
            prepay_kind="hours",
            topup_block=2,
            topup_product_id=self.product_block.id,
            topup_price=180,
            on_exhausted="block",
        )
        ticket = self.env["helpdesk.ticket"].create(
            {
                "name": "Printer down",
                "description": "<p>Help</p>",
                "partner_id": self.contact.id,
                "company_id": self.company_a.id,
            }
        )
        self.assertFalse(ticket.halo_contract_warning)
        self.assertFalse(ticket.message_ids.filtered(lambda m: "exhausted" in (m.body or "")))
        # company B's own tickets are still checked against it
        with self.assertRaisesRegex(UserError, "is exhausted"):
            self.env["helpdesk.ticket"].with_company(self.company_b).create(
                {
                    "name": "Printer down",
                    "description": "<p>Help</p>",
                    "partner_id": self.contact.id,
                    "company_id": self.company_b.id,
                }
            )

    def test_company_b_devices_are_not_counted_by_company_a_contracts(self):
        Device = self.env["halo.customer.device"]
        Device.create(
            [
                {
                    "name": f"PC-A{i}",
                    "partner_id": self.customer.id,
                    "device_type": "workstation",
                    "date_active": date(2026, 1, 1),
                    "company_id": self.company_a.id,
                }
                for i in range(3)
            ]
            + [
                {
                    "name": f"PC-B{i}",
                    "partner_id": self.customer.id,
                    "device_type": "workstation",
                    "date_active": date(2026, 1, 1),
                    "company_id": self.company_b.id,
                }
                for i in range(2)
            ]
            + [
                # a device recorded without a company counts for both
                {
                    "name": "PC-shared",
                    "partner_id": self.contact.id,
                    "device_type": "workstation",
                    "date_active": date(2026, 1, 1),
                    "company_id": False,
                },
            ]
        )
        contract = self._contract(
            recurring_line_ids=[
                (
                    0,
                    0,
                    {
                        "product_id": self.product_device.id,
                        "quantity_mode": "devices",
                        "device_type": "workstation",
                        "price_unit": 10,
                        "date_start": date(2026, 1, 1),
                    },
                )
            ]
        )
        moves = self.Contract._cron_halo_contract_invoices(date(2026, 1, 1))
        # 3 of company A + 1 without a company; not the 2 of company B
        self.assertEqual(moves.invoice_line_ids.quantity, 4)
        self.assertAlmostEqual(moves.amount_untaxed, 40)
        self.assertEqual(contract.period_ids.device_count, 4)

    def test_company_b_contract_rate_never_prices_company_a_work(self):
        contract_b = self._contract_b(prepay_kind="none")
        override = self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_onsite.id,
                "contract_id": contract_b.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 10,
                "min_minutes": 60,
                "increment_minutes": 15,
            }
        )
        self.assertEqual(override.partner_id, self.customer)
        actions, trip, expense, item = self._work(self.ticket)
        self.assertEqual(actions.mapped("halo_rated_amount"), [142.5, 142.5])
        self.assertFalse(actions.halo_rate_version_id & override)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        labour = run.line_ids.filtered(lambda line: line.kind == "labour")
        self.assertEqual(labour.mapped("amount"), [142.5, 142.5])
        Rating = self.env["halo.rating"]
        in_a = Rating._halo_versions_by_partner({self.rate_onsite.id}, self.customer, self.company_a)
        in_b = Rating._halo_versions_by_partner({self.rate_onsite.id}, self.customer, self.company_b)
        prices_a = [v.hourly_price for v in in_a[self.customer.id][self.rate_onsite.id]]
        prices_b = sorted(v.hourly_price for v in in_b[self.customer.id][self.rate_onsite.id])
        self.assertEqual(prices_a, [95])
        self.assertEqual(prices_b, [10, 95])

    def test_contract_count_of_a_shared_customer_is_per_company(self):
        self._contract_b(prepay_kind="none")
        self._contract(prepay_kind="none")
        customer = self.customer.with_context(allowed_company_ids=self.company_a.ids)
        customer.invalidate_recordset(["halo_contract_count"])
        self.assertEqual(customer.halo_contract_count, 1)
        both = self.customer.with_context(allowed_company_ids=(self.company_a | self.company_b).ids)
        both.invalidate_recordset(["halo_contract_count"])
        self.assertEqual(both.halo_contract_count, 2)
