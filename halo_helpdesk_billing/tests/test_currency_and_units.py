from datetime import date, datetime

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install")
class TestCurrencyAndUnits(HaloBillingRunCommon):
    """Customers billed in another currency, mileage units, prices fixed when work is recorded,
    reclaimable expense tax.

    The company's currency stands for GBP. 1 unit of it buys 1.15 EUR from 1 January 2026,
    1.20 EUR from 31 July 2026 and 1.30 EUR from 1 September 2026.
    On-site: 95.00/h (company currency), minimum 1 h, 15-minute steps; mileage 0.50/km + 2.00 per
    trip; expenses at cost + 10 %.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.home = cls.env.company.currency_id
        cls.eur = cls.setup_other_currency(
            "EUR", rates=[("2026-01-01", 1.15), ("2026-07-31", 1.20), ("2026-09-01", 1.30)]
        )
        cls.euro_customer = cls.env["res.partner"].create(
            {"name": "Europa GmbH", "is_company": True, "halo_billing_currency_id": cls.eur.id}
        )
        cls.euro_ticket = cls.env["helpdesk.ticket"].create(
            {
                "name": "VPN down",
                "description": "x",
                "partner_id": cls.euro_customer.id,
                "team_id": cls.team.id,
            }
        )

    def _action(self, ticket, start, end, rate=None):
        return self.env["account.analytic.line"].create(
            {
                "halo_ticket_id": ticket.id,
                "employee_id": self.employee.id,
                "halo_charge_rate_id": (rate or self.rate_onsite).id,
                "halo_start": start,
                "halo_end": end,
                "name": "Work",
            }
        )

    def _invoice(self, partner, **run_vals):
        run = self._run(partner_ids=[Command.set(partner.ids)], **run_vals)
        run.action_preview()
        run.action_create_invoices()
        return run, run.invoice_ids

    # ------------------------------------------------------------------ charge-rate currencies
    def test_eur_customer_priced_from_converted_version_at_invoice_date(self):
        # 1 h on-site on 7 July 2026 (BST 10:00-11:00 local): 1.0000 h
        line = self._action(self.euro_ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))
        # rated when saved (today, after 1 September): 95.00 × 1.30 = 123.50 EUR
        self.assertIn("1.3", line.halo_rating_explanation)
        run, invoice = self._invoice(self.euro_customer)
        # invoiced on 31 July: 95.00 × 1.20 = 114.00 EUR, stated in the explanation
        self.assertEqual(invoice.currency_id, self.eur)
        self.assertEqual(invoice.amount_untaxed, 114.0)
        charge = run.line_ids
        self.assertEqual(charge.currency_id, self.eur)
        self.assertEqual(charge.amount, 114.0)
        self.assertIn("converted from 95.00 ", charge.explanation)
        self.assertIn("1.200000", charge.explanation)
        self.assertIn("2026-07-31", charge.explanation)
        # the accounting value in the company's currency: 114.00 / 1.20 = 95.00
        self.assertEqual(invoice.amount_untaxed_signed, 95.0)
        self.assertEqual(line.halo_rated_amount, 114.0)

    def test_shared_rate_with_a_version_per_currency(self):
        Version = self.env["halo.charge.rate.version"]
        Version.create(
            {
                "rate_id": self.rate_onsite.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 100,
                "currency_id": self.eur.id,
                "min_minutes": 60,
                "increment_minutes": 15,
            }
        )
        self._action(self.euro_ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))
        self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))
        _run, euro_invoice = self._invoice(self.euro_customer)
        _run, home_invoice = self._invoice(self.customer)
        # EUR work from the EUR version (no conversion), home work from the home version
        self.assertEqual((euro_invoice.currency_id, euro_invoice.amount_untaxed), (self.eur, 100.0))
        self.assertNotIn("converted", euro_invoice.invoice_line_ids.halo_run_line_id.explanation)
        self.assertEqual((home_invoice.currency_id, home_invoice.amount_untaxed), (self.home, 95.0))

    def test_shared_rate_in_a_company_of_another_currency(self):
        """A rate shared by all companies, priced only in the home currency (95.00), prices the
        work of a EUR company converted: its rates say 1 EUR = 0.80 home, so 95.00 × 1.25 = 118.75."""
        company_b = self.setup_other_company(name="Euro Ltd", currency_id=self.eur.id)["company"]
        self.env["res.currency.rate"].create(
            {"name": "2026-01-01", "rate": 0.8, "currency_id": self.home.id, "company_id": company_b.id}
        )
        self.assertFalse(self.rate_onsite.company_id)
        fx = {}
        versions = self.env["halo.rating"]._halo_versions_by_partner(
            {self.rate_onsite.id}, self.customer, company_b, date(2026, 7, 31), fx
        )
        self.assertEqual(
            [float(v.hourly_price) for v in versions[self.customer.id][self.rate_onsite.id]], [118.75]
        )
        self.assertEqual(
            [(info["from"], info["rate"]) for info in fx.values()], [(self.home.name, "1.250000")]
        )
        # in the home company the same rate is not converted
        home = self.env["halo.rating"]._halo_versions_by_partner(
            {self.rate_onsite.id}, self.customer, self.env.company
        )
        self.assertEqual([float(v.hourly_price) for v in home[self.customer.id][self.rate_onsite.id]], [95.0])

    def test_eur_customer_all_kinds(self):
        """One invoice in EUR at the invoice date's rate (1.20) for every kind of work:
        1 h 20 → 1 h 30 × 114.00 = 171.00; 18:00-19:00 out of hours 1 h × 114.00 × 1.5 = 171.00;
        10 km round trip: 20 km × 0.60 = 12.00 + 2.40 = 14.40; a toll of 12.34 EUR paid in EUR:
        + 10 % = 13.57; 2 cables at 25.00 → 30.00 EUR each = 60.00. Total 429.97 EUR."""
        _actions, trip, expense, item = self._work(self.euro_ticket)
        expense.currency_id = self.eur
        run, invoice = self._invoice(self.euro_customer)
        by_kind = {}
        for line in run.line_ids:
            by_kind[line.kind] = round(by_kind.get(line.kind, 0.0) + line.amount, 2)
        self.assertEqual(by_kind, {"labour": 342.0, "mileage": 14.4, "expense": 13.57, "item": 60.0})
        self.assertEqual(invoice.currency_id, self.eur)
        self.assertEqual(invoice.amount_untaxed, 429.97)
        self.assertIn("converted from 0.50 ", trip.halo_explanation)
        self.assertEqual(trip.halo_amount_currency_id, self.eur)
        self.assertEqual((item.halo_amount, item.halo_amount_currency_id), (60.0, self.eur))

    def test_contract_and_topup_invoices_in_customer_currency(self):
        product = self.env["product.product"].create({"name": "Prepay block", "type": "service"})
        contract = self.env["halo.contract"].create(
            {
                "name": "Prepay",
                "partner_id": self.euro_customer.id,
                "date_start": date(2026, 1, 1),
                "contact_id": self.env["res.partner"]
                .create({"name": "Eva", "parent_id": self.euro_customer.id})
                .id,
                "prepay_kind": "money",
                "topup_block": 1000,
                "topup_product_id": product.id,
                "topup_price": 1000,
            }
        )
        contract.action_activate()
        self.assertEqual(contract.currency_id, self.eur)
        contract.action_topup()
        topup = contract.invoice_ids
        self.assertEqual((topup.currency_id, topup.amount_untaxed), (self.eur, 1000.0))
        self.assertEqual(contract.balance_amount, 1000.0)
        # the money balance is kept in EUR: 1 h on-site = 95.00 × 1.20 = 114.00 EUR taken from it
        self._action(self.euro_ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))
        run, invoice = self._invoice(self.euro_customer)
        self.assertEqual(invoice.amount_untaxed, 0.0)
        self.assertEqual(contract.balance_amount, 886.0)
        # its currency cannot change under the balance
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            contract.currency_id = self.home

    def test_billing_currency_set_by_billing_staff_only(self):
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.customer.with_user(self.technician).write({"halo_billing_currency_id": self.eur.id})
        self.assertFalse(self.customer.halo_billing_currency_id)
        # a technician's trip for the EUR customer is priced in EUR as it is saved, at today's
        # rate (1.30): 10 km × 0.65 = 6.50 + 2.60 = 9.10
        self.euro_ticket.user_id = self.technician
        trip = (
            self.env["halo.mileage"]
            .with_user(self.technician)
            .create(
                {"ticket_id": self.euro_ticket.id, "date": date(2026, 7, 7), "distance": 10, "unit": "km"}
            )
        )
        self.assertEqual(
            (trip.with_user(self.env.user).halo_amount, trip.halo_amount_currency_id), (9.1, self.eur)
        )

    def test_money_balance_in_contract_currency_takes_converted_charges(self):
        """A home-currency money contract covering a charge invoiced in EUR: 115.00 EUR on 7 July
        (1.15) is 100.00 of the balance; 1,000.00 → 900.00."""
        product = self.env["product.product"].create({"name": "Prepay block", "type": "service"})
        contract = self.env["halo.contract"].create(
            {
                "name": "Prepay",
                "partner_id": self.customer.id,
                "date_start": date(2026, 1, 1),
                "contact_id": self.env["res.partner"]
                .create({"name": "Al", "parent_id": self.customer.id})
                .id,
                "prepay_kind": "money",
                "topup_block": 1000,
                "topup_product_id": product.id,
                "topup_price": 1000,
            }
        )
        contract.action_activate()
        contract.action_topup()
        self.assertEqual(contract.currency_id, self.home)
        parts = self.env["halo.contract"]._halo_allocate_charges(
            [
                {
                    "key": "a",
                    "partner_id": self.customer.id,
                    "date": date(2026, 7, 7),
                    "kind": "labour",
                    "rate_id": self.rate_onsite.id,
                    "hours": 1.0,
                    "amount": 115.0,
                    "currency_id": self.eur.id,
                }
            ]
        )["a"]
        self.assertEqual(
            [(p["mode"], p["amount"], p.get("balance_amount")) for p in parts],
            [("prepay_money", 115.0, 100.0)],
        )
        self.assertIn("900.00", parts[0]["explanation"])

    # ------------------------------------------------------------------ mileage units
    def _trip(self, ticket, distance, unit, round_trip=False, day=7):
        return self.env["halo.mileage"].create(
            {
                "ticket_id": ticket.id,
                "date": date(2026, 7, day),
                "distance": distance,
                "unit": unit,
                "round_trip": round_trip,
            }
        )

    def test_per_mile_customer_price(self):
        self.customer.write(
            {"halo_mileage_price": 0.45, "halo_mileage_unit": "mi", "halo_mileage_surcharge": 5.0}
        )
        # 12.5 mi round trip: 25 mi × 0.45 = 11.25 + 5.00 = 16.25
        trip = self._trip(self.ticket, 12.5, "mi", round_trip=True)
        self.assertEqual(trip.halo_amount, 16.25)
        # 20 km at the per-mile price: 20 / 1.609344 = 12.427 mi × 0.45 = 5.59215 → 5.59 + 5.00 = 10.59
        km_trip = self._trip(self.ticket, 20, "km")
        self.assertEqual(km_trip.halo_amount, 10.59)
        self.assertIn("20 km = 12.427 mi", km_trip.halo_explanation)
        run = self._run()
        run.action_preview()
        charge = run.line_ids.filtered(lambda line: line.res_id == km_trip.id and line.kind == "mileage")
        self.assertEqual((charge.quantity, charge.uom_name, charge.amount), (12.427, "mi", 10.59))

    def test_per_km_customer_price_on_mile_trip(self):
        self.customer.write({"halo_mileage_price": 0.30, "halo_mileage_unit": "km"})
        # 10 mi = 16.093 km × 0.30 = 4.8279 → 4.83 + the company's 2.00 = 6.83
        trip = self._trip(self.ticket, 10, "mi")
        self.assertEqual(trip.halo_amount, 6.83)
        self.assertIn("10 mi = 16.093 km", trip.halo_explanation)

    # ------------------------------------------------------------------ fixed prices
    def test_price_changes_after_the_work_do_not_reprice_it(self):
        trip = self._trip(self.ticket, 10, "km", round_trip=True)
        expense = self.env["halo.expense"].create(
            {
                "ticket_id": self.ticket.id,
                "date": date(2026, 7, 7),
                "type_id": self.expense_type.id,
                "amount": 12.34,
            }
        )
        # prices change after the work was recorded
        self.env.company.write(
            {"halo_mileage_price_km": 0.80, "halo_mileage_surcharge": 3.0, "halo_expense_markup": 50.0}
        )
        self.customer.write({"halo_mileage_price": 0.99})
        run = self._run()
        run.action_preview()
        amounts = {line.kind: line.amount for line in run.line_ids if line.kind in ("mileage", "expense")}
        # 20 km × 0.50 + 2.00 = 12.00; 12.34 + 10 % = 13.57
        self.assertEqual(amounts, {"mileage": 12.0, "expense": 13.57})
        self.assertEqual((trip.halo_amount, expense.halo_amount), (12.0, 13.57))
        # a trip recorded now gets the new price: 20 km × 0.99 + 3.00 = 22.80
        self.assertEqual(self._trip(self.ticket, 10, "km", round_trip=True, day=8).halo_amount, 22.8)

    def test_technician_cannot_set_the_fixed_price(self):
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.env["halo.mileage"].with_user(self.technician).create(
                {
                    "ticket_id": self.ticket.id,
                    "date": date(2026, 7, 7),
                    "distance": 10,
                    "unit": "km",
                    "halo_price_unit": 0.0,
                    "halo_price_currency_id": self.home.id,
                }
            )

    # ------------------------------------------------------------------ reclaimable tax
    def test_reclaimable_vat_not_rebilled(self):
        purchase_vat = self.env["account.tax"].create(
            {"name": "VAT 20% (purchase, test)", "amount": 20, "type_tax_use": "purchase"}
        )
        sale_vat = self.env["account.tax"].create(
            {"name": "VAT 20% (sale, test)", "amount": 20, "type_tax_use": "sale"}
        )
        self.expense_type.product_id = self.env["product.product"].create(
            {"name": "Rebilled expense (test)", "type": "service", "taxes_id": [Command.set(sale_vat.ids)]}
        )
        expense = self.env["halo.expense"].create(
            {
                "ticket_id": self.ticket.id,
                "date": date(2026, 7, 7),
                "type_id": self.expense_type.id,
                "amount": 12.0,
                "tax_ids": [Command.set(purchase_vat.ids)],
            }
        )
        # 12.00 paid - 2.00 reclaimable VAT = 10.00 net, + 10 % markup = 11.00
        self.assertEqual(expense.halo_amount, 11.0)
        self.assertEqual(expense.halo_cost, 10.0)
        self.assertIn("reclaimable", expense.halo_explanation)
        run = self._run()
        run.action_preview()
        charge = run.line_ids.filtered(lambda line: line.kind == "expense")
        self.assertEqual((charge.amount, charge.cost), (11.0, 10.0))
        run.action_create_invoices()
        invoice = run.invoice_ids
        line = invoice.invoice_line_ids.filtered(lambda aml: aml.product_id == self.expense_type.product_id)
        # taxed once, on the invoice: 11.00 + 20 % = 13.20
        self.assertEqual((line.price_subtotal, line.price_total), (11.0, 13.2))
