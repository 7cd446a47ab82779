from datetime import date, datetime

from odoo.tests import tagged

from . import test_currency_and_units


@tagged("post_install", "-at_install")
class TestCurrencyWithCorrections(test_currency_and_units.TestCurrencyAndUnits):
    """Customer currencies together with the versions work knew and the thresholds as work is
    rated (same fixture: on-site 95.00/h in the company's currency; 1 unit buys 1.15 EUR from
    1 January 2026, 1.20 from 31 July, 1.30 from 1 September)."""

    # the parent's tests are not run again from here (only its fixture is shared)
    test_eur_customer_priced_from_converted_version_at_invoice_date = None
    test_shared_rate_with_a_version_per_currency = None
    test_shared_rate_in_a_company_of_another_currency = None
    test_eur_customer_all_kinds = None
    test_contract_and_topup_invoices_in_customer_currency = None
    test_billing_currency_set_by_billing_staff_only = None
    test_money_balance_in_contract_currency_takes_converted_charges = None
    test_per_mile_customer_price = None
    test_per_km_customer_price_on_mile_trip = None
    test_price_changes_after_the_work_do_not_reprice_it = None
    test_technician_cannot_set_the_fixed_price = None
    test_reclaimable_vat_not_rebilled = None

    def test_run_converting_again_keeps_the_versions_the_work_knew(self):
        # 1 h on 7 July, rated when saved at today's rate: 95.00 × 1.30 = 123.50 EUR
        line = self._action(self.euro_ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))
        self.assertEqual(line.halo_rated_amount, 123.5)
        # a EUR price for this customer is added afterwards, backdated to 1 July
        self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_onsite.id,
                "partner_id": self.euro_customer.id,
                "date_from": date(2026, 7, 1),
                "hourly_price": 200,
                "min_minutes": 60,
                "increment_minutes": 15,
                "currency_id": self.eur.id,
            }
        )
        # the run converts at its invoice date (31 July: 1.20) but with the versions the work
        # knew: 95.00 × 1.20 = 114.00 EUR, not the later 200.00 EUR
        run, invoice = self._invoice(self.euro_customer)
        self.assertEqual(run.line_ids.amount, 114.0)
        self.assertEqual(invoice.amount_untaxed, 114.0)
        self.assertEqual(line.halo_rated_amount, 114.0)

    def test_pending_money_is_taken_in_the_contract_currency(self):
        """A money contract in the company's currency for a customer invoiced in EUR: work rated
        at 123.50 EUR (95.00 × 1.30) on 7 July takes 123.50 / 1.15 = 107.39 of the balance."""
        product = self.env["product.product"].create({"name": "Prepay block", "type": "service"})
        contract = self.env["halo.contract"].create(
            {
                "name": "Prepay",
                "partner_id": self.euro_customer.id,
                "date_start": date(2026, 1, 1),
                "currency_id": self.home.id,
                "contact_id": self.env["res.partner"]
                .create({"name": "Al", "parent_id": self.euro_customer.id})
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
        line = self._action(self.euro_ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))
        self.assertEqual(line.halo_rated_amount, 123.5)
        self.assertEqual(contract._halo_pending_consumption(), {contract.id: 107.39})
