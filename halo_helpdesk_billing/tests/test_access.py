# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Money is hidden from technicians (helpdesk users without a billing group), over RPC and in
views, while they can still record every kind of work."""

import re
from datetime import date, datetime

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..models.halo_engine import BILLING_ENGINE
from .common import HaloCaptureCommon

# Every money field of the capture models (and of what they point at), by model.
# halo_billable_hours is hidden too although hours are not money: it is the output of the rate's
# minimum / increment / rounding terms, and billable hours × the hourly price a technician can
# guess gives the amount. Technicians see the time they worked (unit_amount), which is theirs.
MONEY_FIELDS = {
    "account.analytic.line": [
        "amount",
        "halo_rated_amount",
        "halo_billable_hours",
        "halo_rating_explanation",
        "halo_rate_version_id",
    ],
    "halo.mileage": ["halo_amount", "halo_explanation"],
    "halo.expense": ["amount", "halo_amount", "halo_explanation"],
    "halo.ticket.item": ["unit_cost", "unit_price", "margin", "halo_amount", "halo_explanation"],
    "halo.charge.rate": ["current_price"],
    "halo.expense.type": ["surcharge"],
    "res.company": [
        "halo_mileage_price_km",
        "halo_mileage_price_mi",
        "halo_mileage_surcharge",
        "halo_expense_markup",
    ],
    "helpdesk.ticket": ["halo_invoice_ids"],
    "halo.billing.run": ["amount_total"],
}
# Entry fields: technicians write them, reading them gives nothing back.
ENTRY_FIELDS = {"halo.expense": ["amount_entry"], "halo.ticket.item": ["cost_entry", "price_entry"]}
# Fields shown to billing users in the capture views (billing managers also see costs/margins).
BILLER_VIEW_FIELDS = {"halo_rated_amount", "amount", "halo_amount", "unit_price"}


@tagged("post_install", "-at_install")
class TestCaptureAccess(HaloCaptureCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        as_tech = cls.env(user=cls.technician)
        cls.action = as_tech["account.analytic.line"].create(
            {
                "halo_ticket_id": cls.ticket.id,
                "name": "Diagnosis",
                "halo_start": datetime(2026, 3, 2, 9, 0),
                "halo_end": datetime(2026, 3, 2, 10, 0),
            }
        )
        cls.travel = as_tech["account.analytic.line"].create(
            {
                "halo_ticket_id": cls.ticket.id,
                "halo_kind": "travel",
                "halo_start": datetime(2026, 3, 2, 8, 30),
                "halo_end": datetime(2026, 3, 2, 9, 0),
            }
        )
        cls.mileage = as_tech["halo.mileage"].create({"ticket_id": cls.ticket.id, "distance": 18})
        cls.expense = as_tech["halo.expense"].create(
            {
                "ticket_id": cls.ticket.id,
                "type_id": cls.expense_type_toll.id,
                "amount_entry": 7.0,
            }
        )
        cls.item = as_tech["halo.ticket.item"].create(
            {
                "ticket_id": cls.ticket.id,
                "kind": "adhoc",
                "name": "Fuse",
                "quantity": 3,
                "cost_entry": 0.5,
                "price_entry": 2.0,
            }
        )
        cls.version = cls.env["halo.charge.rate.version"].create(
            {"rate_id": cls.rate_remote.id, "date_from": date(2026, 1, 1), "hourly_price": 85}
        )
        cls.billing_run = cls._halo_create_run()
        cls.records = {
            "account.analytic.line": cls.action | cls.travel,
            "halo.mileage": cls.mileage,
            "halo.expense": cls.expense,
            "halo.ticket.item": cls.item,
            "halo.charge.rate": cls.rate_remote,
            "halo.expense.type": cls.expense_type_toll,
            "res.company": cls.env.company,
            "helpdesk.ticket": cls.ticket,
            "halo.billing.run": cls.billing_run,
        }

    def test_technician_recorded_every_kind(self):
        for record in (self.action, self.travel, self.mileage, self.expense, self.item):
            self.assertEqual(record.create_uid, self.technician, record._name)
            self.assertEqual(record.halo_billing_state, "unbilled", record._name)
        self.assertEqual(self.expense.with_user(self.billing_user).amount, 7.0)
        self.assertEqual(self.item.with_user(self.billing_user).unit_price, 2.0)
        # and sees them on the ticket
        ticket = self.ticket.with_user(self.technician)
        self.assertEqual(len(ticket.halo_action_ids | ticket.halo_travel_ids), 2)
        self.assertEqual((ticket.halo_action_hours, ticket.halo_travel_hours), (1.0, 0.5))
        self.assertEqual(
            (len(ticket.halo_mileage_ids), len(ticket.halo_expense_ids), len(ticket.halo_item_ids)), (1, 1, 1)
        )
        # the technician may correct their own unbilled work
        self.item.with_user(self.technician).quantity = 2
        self.mileage.with_user(self.technician).unlink()

    def test_money_fields_unreadable_by_technician(self):
        for model, fnames in MONEY_FIELDS.items():
            records = self.records[model]
            for fname in fnames:
                self.assertIn(fname, records._fields, f"{model}.{fname}")
                with self.subTest(model=model, field=fname):
                    with self.assertRaises(AccessError):
                        records.with_user(self.technician).read([fname])
                    with self.assertRaises(AccessError):
                        records.with_user(self.technician).search_read([("id", "in", records.ids)], [fname])
                    # the billing user reads them (costs and margins: billing managers only)
                    reader = self.billing_manager if fname in ("margin",) else self.billing_user
                    records.with_user(reader).read([fname])
        # rate versions are prices through and through: technicians cannot read them at all
        with self.assertRaises(AccessError):
            self.version.with_user(self.technician).read(["hourly_price"])
        with self.assertRaises(AccessError):
            self.version.with_user(self.technician).read(["date_from"])
        self.assertEqual(self.version.with_user(self.billing_user).hourly_price, 85)

    def test_money_fields_not_searchable_or_groupable_by_technician(self):
        Line = self.env["account.analytic.line"].with_user(self.technician)
        with self.assertRaises(AccessError):
            Line.search([("halo_rated_amount", ">", 0)])
        with self.assertRaises(AccessError):
            Line.search([("amount", "<", 0)])
        with self.assertRaises(AccessError):
            Line._read_group([("halo_ticket_id", "=", self.ticket.id)], [], ["halo_rated_amount:sum"])
        with self.assertRaises(AccessError):
            self.env["halo.expense"].with_user(self.technician).search([("amount", ">", 5)])
        with self.assertRaises(AccessError):
            self.env["halo.ticket.item"].with_user(self.technician).search([("unit_cost", ">", 0)])
        with self.assertRaises(AccessError):
            self.env["halo.ticket.item"].with_user(self.technician).search([], order="unit_price desc")
        # (technicians have no export right at all; billing users export amounts)
        with self.assertRaises(UserError):
            self.expense.with_user(self.technician).export_data(["amount"])

    def test_entry_fields_give_nothing_back(self):
        """Entry fields give back nothing of the stored money, except what the technician paid
        for their own expense (their entry, not the billed amount)."""
        self.env.invalidate_all()
        for model, fnames in ENTRY_FIELDS.items():
            values = self.records[model].with_user(self.technician).read(fnames)[0]
            for fname in fnames:
                own_entry = model == "halo.expense" and self.records[model].user_id == self.technician
                self.assertEqual(values[fname], 7.0 if own_entry else 0.0, f"{model}.{fname}")

    def test_technician_sees_status_and_invoice_numbers(self):
        BILLING_ENGINE.on(self.mileage).write(
            {"halo_run_id": self.billing_run.id, "halo_invoice_number": "INV/2026/00042"}
        )
        values = self.mileage.with_user(self.technician).read(
            ["halo_billing_state", "halo_invoice_number", "halo_run_id"]
        )[0]
        self.assertEqual(values["halo_billing_state"], "invoiced")
        self.assertEqual(values["halo_invoice_number"], "INV/2026/00042")
        self.assertEqual(values["halo_run_id"][0], self.billing_run.id)
        self.assertEqual(self.ticket.with_user(self.technician).halo_invoice_numbers, "INV/2026/00042")
        # the invoice itself is not theirs to open
        with self.assertRaises(AccessError):
            self.mileage.with_user(self.technician).read(["halo_invoice_id"])

    def _arch_field_names(self, model, view_type, user, view_ref=None):
        view_id = self.env.ref(view_ref).id if view_ref else False
        result = self.env[model].with_user(user).get_views([(view_id, view_type)])
        arch = result["views"][view_type]["arch"]
        return set(re.findall(r'<field name="([^"]+)"', arch)), result

    def test_views_show_no_money_to_technician(self):
        views = [
            ("helpdesk.ticket", "form", None),
            ("account.analytic.line", "form", "halo_helpdesk_billing.halo_action_view_form"),
            ("account.analytic.line", "list", "halo_helpdesk_billing.halo_action_view_list"),
            ("halo.mileage", "list", "halo_helpdesk_billing.halo_mileage_view_list"),
            ("halo.expense", "list", "halo_helpdesk_billing.halo_expense_view_list"),
            ("halo.expense", "form", "halo_helpdesk_billing.halo_expense_view_form"),
            ("halo.ticket.item", "list", "halo_helpdesk_billing.halo_ticket_item_view_list"),
        ]
        money = {fname for fnames in MONEY_FIELDS.values() for fname in fnames} - {"current_price"}
        for model, view_type, ref in views:
            with self.subTest(model=model, view=ref or view_type):
                tech_fields, tech_result = self._arch_field_names(model, view_type, self.technician, ref)
                self.assertFalse(tech_fields & money, f"money fields in the technician's {model} {view_type}")
                # nor in the field descriptions sent with the views
                for fields_model, descriptions in tech_result["models"].items():
                    forbidden = set(MONEY_FIELDS.get(fields_model, ())) & set(descriptions["fields"])
                    self.assertFalse(forbidden, f"{fields_model} fields sent to the technician")
                biller_fields, _result = self._arch_field_names(model, view_type, self.billing_user, ref)
                self.assertTrue(biller_fields & BILLER_VIEW_FIELDS, f"the billing user's {model} {view_type}")
        # in the ticket form, each tab shows the billing user its amounts
        biller_fields, _result = self._arch_field_names("helpdesk.ticket", "form", self.billing_user)
        self.assertLessEqual({"halo_rated_amount", "halo_amount", "amount", "unit_price"}, biller_fields)
        manager_fields, _result = self._arch_field_names("helpdesk.ticket", "form", self.billing_manager)
        self.assertLessEqual({"unit_cost", "margin"}, manager_fields)
        # the technician's ticket form still has every capture tab and entry field
        tech_fields, _result = self._arch_field_names("helpdesk.ticket", "form", self.technician)
        self.assertLessEqual(
            {
                "halo_action_ids",
                "halo_travel_ids",
                "halo_mileage_ids",
                "halo_expense_ids",
                "halo_item_ids",
                "amount_entry",
                "cost_entry",
                "price_entry",
                "halo_billing_state",
                "halo_invoice_number",
                "halo_invoice_numbers",
            },
            tech_fields,
        )

    def test_web_read_of_ticket_tabs_as_technician(self):
        """What the ticket form loads for a technician: every line, no amount."""
        spec = {
            "halo_action_ids": {"fields": {"unit_amount": {}, "halo_billing_state": {}, "name": {}}},
            "halo_expense_ids": {"fields": {"amount_entry": {}, "description": {}}},
            "halo_item_ids": {"fields": {"name": {}, "cost_entry": {}, "price_entry": {}}},
            "halo_invoice_numbers": {},
        }
        self.env.invalidate_all()
        data = self.ticket.with_user(self.technician).web_read(spec)[0]
        self.assertEqual([line["unit_amount"] for line in data["halo_action_ids"]], [1.0])
        self.assertEqual(data["halo_expense_ids"][0]["amount_entry"], 7.0)  # their own: what they paid
        self.assertEqual(data["halo_item_ids"][0]["price_entry"], 0.0)
        with self.assertRaises(AccessError):
            self.ticket.with_user(self.technician).web_read({"halo_item_ids": {"fields": {"unit_price": {}}}})
