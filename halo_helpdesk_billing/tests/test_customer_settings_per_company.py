# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import base64
from datetime import date, datetime

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..services.xlsx_invoice import default_template
from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install")
class TestCustomerSettingsPerCompanyBilling(HaloBillingRunCommon):
    """Company A (the test company, home currency standing for GBP) and company B bill the same
    customer with their own line template, invoice PDF, Excel template, billing currency and
    mileage price. 1 home = 1.15 EUR from 1 January 2026, 1.20 EUR from 31 July 2026."""

    halo_other_company = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.home = cls.company_a.currency_id
        cls.eur = cls.setup_other_currency("EUR", rates=[("2026-01-01", 1.15), ("2026-07-31", 1.20)])
        Template = cls.env["halo.xlsx.template"]
        cls.xlsx_a = Template.create(
            {
                "name": "A sheet",
                "datas": base64.b64encode(default_template()),
                "filename": "a.xlsx",
                "company_id": cls.company_a.id,
            }
        )
        cls.xlsx_b = Template.create(
            {
                "name": "B sheet",
                "datas": base64.b64encode(default_template()),
                "filename": "b.xlsx",
                "company_id": cls.company_b.id,
            }
        )
        cls.customer.with_company(cls.company_a).write(
            {
                "halo_line_template": "A: {{ object.name or '' }}",
                "halo_xlsx_template_id": cls.xlsx_a.id,
                "halo_mileage_price": 0.40,
                "halo_mileage_unit": "km",
                "halo_mileage_surcharge": 1.0,
            }
        )
        cls.customer.with_company(cls.company_b).write(
            {
                "halo_line_template": "B: {{ object.name or '' }}",
                "halo_invoice_report": "standard",
                "halo_xlsx_template_id": cls.xlsx_b.id,
                "halo_billing_currency_id": cls.eur.id,
                "halo_mileage_price": 0.99,
                "halo_mileage_unit": "mi",
                "halo_mileage_surcharge": 9.0,
            }
        )

    def _run_b(self):
        return (
            self.env["halo.billing.run"]
            .with_company(self.company_b)
            .create(
                {
                    "company_id": self.company_b.id,
                    "date_cutoff": date(2026, 7, 31),
                    "date_invoice": date(2026, 7, 31),
                }
            )
        )

    def test_values_are_per_company(self):
        customer_a = self.customer.with_company(self.company_a)
        customer_b = self.customer.with_company(self.company_b)
        self.assertEqual(
            (
                customer_a.halo_line_template,
                customer_a.halo_invoice_report,
                customer_a.halo_xlsx_template_id,
                customer_a.halo_billing_currency_id,
                customer_a.halo_mileage_price,
                customer_a.halo_mileage_unit,
                customer_a.halo_mileage_surcharge,
            ),
            ("A: {{ object.name or '' }}", False, self.xlsx_a, self.env["res.currency"], 0.40, "km", 1.0),
        )
        self.assertEqual(
            (
                customer_b.halo_line_template,
                customer_b.halo_invoice_report,
                customer_b.halo_xlsx_template_id,
                customer_b.halo_billing_currency_id,
                customer_b.halo_mileage_price,
                customer_b.halo_mileage_unit,
                customer_b.halo_mileage_surcharge,
            ),
            ("B: {{ object.name or '' }}", "standard", self.xlsx_b, self.eur, 0.99, "mi", 9.0),
        )
        # a template lists the customers that use it in its own company
        self.assertEqual(self.xlsx_b.with_company(self.company_b).partner_ids, self.customer)
        self.assertEqual(self.xlsx_a.partner_ids, self.customer)
        # the currency the form shows the customer's prices in follows the company
        self.assertEqual((customer_a.halo_currency_id, customer_b.halo_currency_id), (self.home, self.eur))

    def test_company_a_invoice_uses_company_a_settings_only(self):
        """Company A's run: its template, the helpdesk PDF, its Excel template, its currency and its
        mileage price: 10 km round trip = 20 km × 0.40 = 8.00 + 1.00 = 9.00 (B's would be
        12.427 mi × 0.99 + 9.00 in EUR). Labour 285.00, toll 13.57, cables 50.00: 357.57."""
        _actions, trip, _expense, _item = self._work(self.ticket)
        self.assertEqual(trip.halo_amount, 9.0)
        run = self._run(partner_ids=[Command.set(self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        invoice = run.invoice_ids
        self.assertEqual(invoice.currency_id, self.home)
        self.assertEqual(invoice.amount_untaxed, 357.57)
        mileage = run.line_ids.filtered(lambda line: line.kind == "mileage")
        self.assertEqual((mileage.quantity, mileage.uom_name, mileage.amount), (20.0, "km", 9.0))
        names = invoice.invoice_line_ids.filtered(lambda line: line.display_type == "product").mapped("name")
        self.assertTrue(names and all(name.startswith("A: ") for name in names), names)
        self.assertEqual(
            invoice._get_name_invoice_report(), "halo_helpdesk_billing.report_helpdesk_invoice_document"
        )
        self.assertEqual(invoice._halo_xlsx_template(), self.xlsx_a)
        if invoice.state == "draft":
            invoice.action_post()
        sheets = self.env["ir.attachment"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", invoice.id), ("name", "like", ".xlsx")]
        )
        self.assertEqual(len(sheets), 1)
        # company B's PDF choice set for A as well: now A prints the standard layout
        self.customer.with_company(self.company_a).halo_invoice_report = "standard"
        self.assertNotEqual(
            invoice._get_name_invoice_report(), "halo_helpdesk_billing.report_helpdesk_invoice_document"
        )

    def test_company_b_run_reads_company_b_settings(self):
        run_b = self._run_b()
        self.assertEqual(run_b._halo_settings(self.customer)["template"], "B: {{ object.name or '' }}")
        self.assertEqual(run_b._halo_billing_currency(self.customer.id), self.eur)
        self.assertEqual(self._run()._halo_billing_currency(self.customer.id), self.home)
        price, per, surcharge, currency = self.env["halo.rating"]._halo_mileage_settings(
            self.customer, self.company_b, "km"
        )
        self.assertEqual((float(price), per, float(surcharge), currency), (0.99, "mi", 9.0, self.eur))
        price, per, surcharge, currency = self.env["halo.rating"]._halo_mileage_settings(
            self.customer, self.company_a, "km"
        )
        self.assertEqual((float(price), per, float(surcharge), currency), (0.40, "km", 1.0, self.home))
        # an invoice of company B gets B's Excel template, one of A gets A's, whatever the user's company
        move_b = (
            self.env["account.move"]
            .with_company(self.company_b)
            .create({"move_type": "out_invoice", "partner_id": self.customer.id})
        )
        move_a = (
            self.env["account.move"]
            .with_company(self.company_a)
            .create({"move_type": "out_invoice", "partner_id": self.customer.id})
        )
        self.assertEqual(move_b.company_id, self.company_b)
        self.assertEqual(move_b.with_company(self.company_a)._halo_xlsx_template(), self.xlsx_b)
        self.assertEqual(move_a.with_company(self.company_b)._halo_xlsx_template(), self.xlsx_a)

    def test_guards_hold_per_company(self):
        # everyone here may edit contacts: the billing guards are what refuse them
        for user in (self.technician, self.billing_user, self.billing_manager):
            user.group_ids |= self.env.ref("base.group_partner_manager")
            user.company_ids |= self.company_b
        # a billing user cannot change company B's template (even to company A's text)
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.customer.with_user(self.billing_user).with_company(self.company_b).write(
                {"halo_line_template": "A: {{ object.name or '' }}"}
            )
        # nor a technician any company's billing currency or mileage price
        for field, value in (("halo_billing_currency_id", self.eur.id), ("halo_mileage_price", 5.0)):
            with self.assertRaises(AccessError), self.env.cr.savepoint():
                self.customer.with_user(self.technician).with_company(self.company_b).write({field: value})
        self.customer.with_user(self.billing_manager).with_company(self.company_b).write(
            {"halo_line_template": "B2: {{ object.name or '' }}"}
        )
        self.assertEqual(
            self.customer.with_company(self.company_a).halo_line_template, "A: {{ object.name or '' }}"
        )

    def test_run_total_in_company_currency(self):
        """1 h on-site for a EUR customer and 1 h for a home-currency one, invoiced on 31 July:
        EUR charge 95.00 × 1.20 = 114.00 EUR; home charge 95.00. The run's total converts the EUR
        charge at 31 July: 114.00 × (1 / 1.20 = 0.833333) = 94.999962 → 95.00; total 190.00
        (not 114.00 + 95.00 = 209.00)."""
        euro = self.env["res.partner"].create({"name": "Europa GmbH", "is_company": True})
        euro.with_company(self.company_a).halo_billing_currency_id = self.eur
        euro_ticket = self.env["helpdesk.ticket"].create(
            {"name": "VPN down", "description": "x", "partner_id": euro.id, "team_id": self.team.id}
        )
        for ticket in (euro_ticket, self.ticket_b):
            self.env["account.analytic.line"].create(
                {
                    "halo_ticket_id": ticket.id,
                    "employee_id": self.employee.id,
                    "halo_charge_rate_id": self.rate_onsite.id,
                    "name": "Work",
                    "halo_start": datetime(2026, 7, 7, 9, 0),
                    "halo_end": datetime(2026, 7, 7, 10, 0),
                }
            )
        run = self._run(partner_ids=[Command.set((euro | self.other_customer).ids)])
        run.action_preview()
        amounts = {(line.partner_id, line.currency_id): line.amount for line in run.line_ids}
        self.assertEqual(amounts, {(euro, self.eur): 114.0, (self.other_customer, self.home): 95.0})
        self.assertEqual(run.currency_id, self.home)
        self.assertEqual(run.amount_total, 190.0)
        self.assertIn("invoice date", run._fields["amount_total"].help)
        run.action_create_invoices()
        self.assertEqual(
            sorted(run.invoice_ids.mapped(lambda move: (move.currency_id.name, move.amount_untaxed))),
            sorted([(self.eur.name, 114.0), (self.home.name, 95.0)]),
        )

    def test_upgrade_keeps_each_value_for_every_company(self):
        """The 19.0.1.2.0 migration turns plain columns into values per company: a stored value
        is kept for every company; an empty text or a zero price stays unset."""
        import importlib.util
        from pathlib import Path

        path = Path(__file__).parents[1] / "migrations" / "19.0.1.2.0" / "pre-migrate.py"
        spec = importlib.util.spec_from_file_location("halo_migrate_1_2_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        other = self.other_customer
        other.with_company(self.company_a).write({"halo_line_template": "", "halo_mileage_price": 0.0})
        self.env.flush_all()
        cr = self.env.cr
        # back to the columns of 19.0.1.1.0, holding company A's values (rolled back with the test)
        a = str(self.company_a.id)
        for column, kind in (
            ("halo_line_template", "text"),
            ("halo_mileage_price", "numeric"),
            ("halo_mileage_unit", "varchar"),
            ("halo_billing_currency_id", "int4"),
            ("halo_xlsx_template_id", "int4"),
        ):
            cr.execute(
                f"ALTER TABLE res_partner ALTER COLUMN {column} TYPE {kind} "  # noqa: S608
                f"USING ({column}->>'{a}')::{kind}"
            )
        cr.execute("UPDATE res_partner SET halo_line_template = '' WHERE id = %s", [other.id])
        cr.execute(
            "UPDATE res_partner SET halo_billing_currency_id = %s WHERE id = %s",
            [self.eur.id, self.customer.id],
        )
        migration.migrate(cr, "19.0.1.1.0")
        self.env.invalidate_all()
        for company in (self.company_a, self.company_b):
            customer = self.customer.with_company(company)
            self.assertEqual(
                (
                    customer.halo_line_template,
                    customer.halo_mileage_price,
                    customer.halo_mileage_unit,
                    customer.halo_billing_currency_id,
                    customer.halo_xlsx_template_id,
                ),
                ("A: {{ object.name or '' }}", 0.40, "km", self.eur, self.xlsx_a),
                company.name,
            )
            self.assertFalse(other.with_company(company).halo_line_template)
            self.assertFalse(other.with_company(company).halo_mileage_price)
