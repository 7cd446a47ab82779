# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Import of accounts, tax rates, customers and items from the sandbox: matching, re-import,
resume after a 429 or a dropped connection, scheduled refresh with If-Modified-Since, drift."""

from urllib.parse import parse_qs

from xero_python.accounting import Contact, Contacts, Item, Items, Purchase

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .xero_common import HaloXeroCommon

# seeded UK organisation (xero_sandbox/seed.py)
ACME = "Acme Facilities Ltd"
BRIGHTWATER_EMAIL = "finance@brightwater.example"
CASTLE = "Castle & Crown Solicitors"
DUNMORE_EMAIL = "ap@dunmore.example"


@tagged("post_install", "-at_install")
class TestXeroImport(HaloXeroCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner = cls.env["res.partner"].with_context(no_vat_validation=True)
        cls.Import = cls.env["halo.xero.import"]

    def _client(self):
        return self.connection._halo_client(sleep=lambda s: None)

    def _contact_id(self, name):
        found = self._client().call(self.tenant_id, "get_contacts", where='Name=="%s"' % name).contacts
        self.assertEqual(len(found), 1)
        return str(found[0].contact_id)

    def _import(self, **vals):
        imp = self.Import._halo_start(self.connection, **vals)
        return imp._halo_run()

    def _xero_partners(self):
        return (
            self.env["res.partner"]
            .with_context(active_test=False)
            .search([("halo_xero_connection_id", "=", self.connection.id)])
        )

    def _prepare_existing_partners(self):
        """Odoo partners that exist before the import, one per matching rule."""
        acme_id = self._contact_id(ACME)
        self.ctl.clear_requests()
        self.acme = self.Partner.create(
            {
                "name": "ACME (old name)",
                "halo_xero_contact_id": acme_id,
                "halo_xero_connection_id": self.connection.id,
                "is_company": True,
            }
        )
        self.bright = self.Partner.create({"name": "Brightwater Dental", "email": BRIGHTWATER_EMAIL.upper()})
        self.castle = self.Partner.create({"name": CASTLE, "email": "someone@else.example"})
        self.dun1, self.dun2 = self.Partner.create(
            [
                {"name": "Dunmore North", "email": DUNMORE_EMAIL},
                {"name": "Dunmore South", "email": DUNMORE_EMAIL},
            ]
        )
        self.vatty = self.Partner.create({"name": "Vatty Trading", "vat": "GB 999 888 777"})
        # a Xero contact with a tax number (added through the API, as a user would in Xero)
        self._client().call(
            self.tenant_id,
            "create_contacts",
            Contacts(
                contacts=[
                    Contact(
                        name="Vatty Trading Limited",
                        tax_number="GB999888777",
                        email_address="vat@vatty.example",
                    )
                ]
            ),
            idempotency_key="vatty",
            write=True,
        )
        self.ctl.clear_requests()

    def test_full_import_matching_counts(self):
        tax20 = self.env["account.tax"].create(
            {
                "name": "VAT 20% (test)",
                "amount": 20,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "company_id": self.env.company.id,
            }
        )
        support = self.env["product.template"].create(
            {"name": "Support (old)", "default_code": "SUPPORT-HR", "type": "service", "list_price": 1.0}
        )
        self._prepare_existing_partners()
        imp = self._import(page_size=4)
        log = [(r["method"], r["path"]) for r in self.sandbox_requests()]
        self.assertEqual((imp.state, imp.step, imp.last_error), ("done", "done", False))
        # 11 contacts: Acme by ContactID, Vatty by tax number, Brightwater by e-mail, Castle by name,
        # Dunmore ambiguous (two partners share its e-mail) -> review; 6 created
        self.assertEqual((imp.contacts_total, imp.contacts_seen), (11, 11))
        self.assertEqual((imp.contacts_linked, imp.contacts_created, imp.review_count), (3, 6, 1))
        self.assertEqual(self.acme.name, ACME)  # Xero owns the name
        self.assertEqual(self.bright.halo_xero_contact_id, self._contact_id("Brightwater Dental Group"))
        self.assertEqual(self.bright.name, "Brightwater Dental Group")
        self.assertEqual(self.castle.halo_xero_contact_id, self._contact_id(CASTLE))
        self.assertEqual(self.vatty.halo_xero_contact_id, self._contact_id("Vatty Trading Limited"))
        self.assertFalse(any((self.dun1 | self.dun2).mapped("halo_xero_contact_id")))
        review = imp.review_ids
        self.assertEqual(
            (review.xero_name, review.match_kind, review.candidate_ids),
            ("Dunmore Logistics plc", "email", self.dun1 | self.dun2),
        )
        partners = self._xero_partners()
        self.assertEqual(len(partners), 10)
        created = partners.filtered(lambda p: p.name == "Juniper Marketing Studio")
        self.assertEqual(
            (created.email, created.ref, created.phone, created.city, created.company_id),
            ("hello@juniper.example", "UK-C010", "555 0110", "Manchester", self.env.company),
        )
        # items: SUPPORT-HR matched by code, 7 created as service products
        self.assertEqual((imp.items_total, imp.items_linked, imp.items_created), (8, 1, 7))
        # what linking replaced is listed (a value Odoo had, now Xero's); values Odoo did not have are
        # filled in silently: Acme's name (linked before, never imported), Brightwater's name and e-mail
        # (upper case in Odoo), Castle's e-mail, Vatty's name and VAT number (spaces), the product's
        # name and price (1.0 -> 85.0)
        drift = self.env["halo.xero.drift"].search([("connection_id", "=", self.connection.id)])
        self.assertEqual(set(drift.mapped("side")), {"match"})
        self.assertEqual(
            sorted((d.field_name, d.odoo_value, d.xero_value) for d in drift),
            sorted(
                [
                    ("name", "ACME (old name)", ACME),
                    ("name", "Brightwater Dental", "Brightwater Dental Group"),
                    ("email", BRIGHTWATER_EMAIL.upper(), BRIGHTWATER_EMAIL),
                    ("email", "someone@else.example", "billing@castlecrown.example"),
                    ("name", "Vatty Trading", "Vatty Trading Limited"),
                    ("vat", "GB 999 888 777", "GB999888777"),
                    ("name", "Support (old)", "Support hour"),
                    ("list_price", "1.0", "85.0"),
                ]
            ),
        )
        self.assertEqual(support.halo_xero_item_code, "SUPPORT-HR")
        self.assertEqual(
            (support.name, support.list_price, support.halo_xero_account_code, support.halo_xero_tax_type),
            ("Support hour", 85.0, "200", "OUTPUT2"),
        )
        self.assertEqual(support.taxes_id, tax20)
        fee = self.env["product.template"].search([("halo_xero_item_code", "=", "PRIORITY-FEE")])
        self.assertEqual(
            (fee.type, fee.list_price, fee.halo_xero_account_code, fee.sale_ok),
            ("service", 150.0, "260", True),
        )
        # taxes: the 5 revenue rates each map to one sale tax; OUTPUT2 to the existing 20 %
        self.assertEqual(tax20.halo_xero_tax_type, "OUTPUT2")
        sale_taxes = self.env["account.tax"].search(
            [("company_id", "=", self.env.company.id), ("halo_xero_tax_type", "!=", False)]
        )
        self.assertEqual(
            sorted(sale_taxes.mapped("halo_xero_tax_type")),
            ["EXEMPTOUTPUT", "NONE", "OUTPUT2", "RROUTPUT", "ZERORATEDOUTPUT"],
        )
        self.assertEqual(imp.taxes_mapped + imp.taxes_created + imp.taxes_review, 5)
        self.assertEqual(sale_taxes.filtered(lambda t: t.halo_xero_tax_type == "RROUTPUT").amount, 5.0)
        # accounts: 15, rounding system account found
        self.assertEqual(imp.accounts_count, 15)
        self.assertEqual(self.connection.rounding_account_code, "860")
        revenue = self.env["halo.xero.account"].search(
            [("connection_id", "=", self.connection.id), ("is_revenue", "=", True)]
        )
        self.assertEqual(sorted(revenue.mapped("code")), ["200", "260", "270"])
        # API calls: organisation (lock dates), accounts, tax rates, currencies, 3 pages of contacts, items = 8
        self.assertEqual(imp.api_calls, 8)
        self.assertEqual(self.connection.halo_xero_currencies, "GBP EUR USD")
        self.assertEqual(
            log,
            [
                ("GET", "/api.xro/2.0/Organisation"),
                ("GET", "/api.xro/2.0/Accounts"),
                ("GET", "/api.xro/2.0/TaxRates"),
                ("GET", "/api.xro/2.0/Currencies"),
                ("GET", "/api.xro/2.0/Contacts"),
                ("GET", "/api.xro/2.0/Contacts"),
                ("GET", "/api.xro/2.0/Contacts"),
                ("GET", "/api.xro/2.0/Items"),
            ],
        )
        self.assertEqual(self.connection.contacts_synced_at, imp.started_at)

    def test_reimport_updates_never_duplicates(self):
        first = self._import()
        self.assertEqual((first.contacts_created, first.items_created), (10, 8))
        taxes_before = self.env["account.tax"].search_count([("company_id", "=", self.env.company.id)])
        second = self._import()
        self.assertNotEqual(first, second)
        self.assertEqual(
            (second.state, second.contacts_created, second.contacts_linked, second.items_created),
            ("done", 0, 0, 0),
        )
        self.assertEqual((second.contacts_updated, second.items_updated), (0, 0))
        self.assertEqual(len(self._xero_partners()), 10)
        self.assertEqual(
            self.env["product.template"].search_count([("halo_xero_connection_id", "=", self.connection.id)]),
            8,
        )
        self.assertEqual(
            self.env["account.tax"].search_count([("company_id", "=", self.env.company.id)]), taxes_before
        )
        self.assertEqual(
            self.env["halo.xero.account"].search_count([("connection_id", "=", self.connection.id)]), 15
        )

    def test_resume_after_rate_limit_mid_contacts(self):
        imp = self.Import._halo_start(self.connection, page_size=4)
        client = self._client()
        imp._halo_step_accounts(client)
        imp._halo_step_taxes(client)
        imp._halo_step_contacts(client)  # page 1
        self.ctl.fault("status", status=429, retry_after=30, problem="day", path="/Contacts")
        imp._halo_run()
        self.assertEqual(
            (imp.state, imp.step, imp.contacts_page, imp.contacts_seen), ("paused", "contacts", 2, 4)
        )
        self.assertIn("daily API limit", imp.last_error)
        self.assertTrue(imp.retry_at)
        self.assertEqual(len(self._xero_partners()), 4)
        # resume: pages 2 and 3 only, then the items
        imp._halo_run()
        self.assertEqual((imp.state, imp.contacts_seen, imp.contacts_created), ("done", 10, 10))
        pages = [(parse_qs(r["query"])["page"][0], r["status"]) for r in self.sandbox_requests("/Contacts")]
        self.assertEqual(pages, [("1", 200), ("2", 429), ("2", 200), ("3", 200)])
        self.assertEqual(len(self._xero_partners()), 10)

    def test_resume_after_dropped_connections(self):
        self.ctl.fault("drop", count=4, method="GET", path="/Contacts")
        imp = self.Import._halo_start(self.connection, page_size=4)
        imp = imp._halo_run()
        self.assertEqual((imp.state, imp.step, imp.contacts_page), ("paused", "contacts", 1))
        self.assertIn("Cannot reach Xero", imp.last_error)
        imp._halo_run()
        self.assertEqual((imp.state, imp.contacts_created, imp.items_created), ("done", 10, 8))
        self.assertEqual(len(self._xero_partners()), 10)

    def test_scheduled_refresh_if_modified_since_and_drift(self):
        self._import()
        juniper = self._xero_partners().filtered(lambda p: p.name == "Juniper Marketing Studio")
        support = self.env["product.template"].search([("halo_xero_item_code", "=", "SUPPORT-HR")])
        # changed in Odoo (despite the read-only form) and in Xero
        juniper.phone = "0161 000 0000"
        client = self._client()
        client.call(
            self.tenant_id,
            "update_or_create_contacts",
            Contacts(
                contacts=[
                    Contact(contact_id=juniper.halo_xero_contact_id, email_address="billing@juniper.example")
                ]
            ),
            idempotency_key="jun",
            write=True,
        )
        client.call(
            self.tenant_id,
            "update_or_create_items",
            Items(
                items=[
                    Item(
                        code="SUPPORT-HR",
                        sales_details=Purchase(unit_price=90.0, account_code="200", tax_type="OUTPUT2"),
                    )
                ]
            ),
            idempotency_key="sup",
            write=True,
        )
        self.ctl.clear_requests()
        refresh = self.Import._halo_start(self.connection, mode="refresh")
        self.assertEqual(refresh.contacts_since, self.connection.contacts_synced_at)
        refresh._halo_run()
        self.assertEqual(refresh.state, "done")
        contacts_call = self.sandbox_requests("/Contacts")[0]
        self.assertIn("If-Modified-Since", {k.title(): v for k, v in contacts_call["headers"].items()})
        # only what changed came back
        self.assertEqual((refresh.contacts_seen, refresh.items_total), (1, 1))
        self.assertEqual((juniper.email, juniper.phone), ("billing@juniper.example", "555 0110"))
        self.assertEqual(support.list_price, 90.0)
        drift = self.env["halo.xero.drift"].search([("connection_id", "=", self.connection.id)])
        summary = sorted((d.record_name, d.field_name, d.side, d.odoo_value, d.xero_value) for d in drift)
        self.assertEqual(
            summary,
            [
                (
                    "Juniper Marketing Studio",
                    "email",
                    "xero",
                    "hello@juniper.example",
                    "billing@juniper.example",
                ),
                ("Juniper Marketing Studio", "phone", "odoo", "0161 000 0000", "555 0110"),
                ("[SUPPORT-HR] Support hour", "list_price", "xero", "85.0", "90.0"),
            ],
        )

    def test_review_link_and_create(self):
        self._prepare_existing_partners()
        imp = self._import()
        review = imp.review_ids
        review.partner_id = self.dun2
        review.action_link()
        self.assertEqual(self.dun2.halo_xero_contact_id, review.xero_contact_id)
        self.assertEqual(self.dun2.name, "Dunmore Logistics plc")
        self.assertEqual(review.state, "linked")
        # a re-import keeps the link and creates no review again
        again = self._import()
        self.assertEqual((again.review_count, again.contacts_created), (0, 0))

    def test_review_create(self):
        self._prepare_existing_partners()
        review = self._import().review_ids
        review.action_create()
        self.assertEqual(review.partner_id.name, "Dunmore Logistics plc")
        self.assertEqual(review.partner_id.halo_xero_contact_id, review.xero_contact_id)
        self.assertFalse(any((self.dun1 | self.dun2).mapped("halo_xero_contact_id")))


@tagged("post_install", "-at_install")
class TestXeroSetupWizard(HaloXeroCommon):
    def test_wizard_custom_connection_to_import(self):
        """Credentials -> connect -> organisation -> preview with counts -> import (no browser:
        the custom-connection path; the consent path is in test_xero_connection)."""
        self.connection.sudo().write({"state": "draft", "tenant_id": False})
        wizard = self.env["halo.xero.setup.wizard"].with_user(self.billing_manager).create({})
        self.assertEqual(wizard.connection_id, self.connection)
        wizard.write(
            {
                "auth_type": "client_credentials",
                "client_id": "HALO-DEMO-CLIENT",
                "client_secret": "halo-demo-secret",
            }
        )
        wizard.action_connect()
        self.assertEqual((wizard.step, wizard.error_message), ("tenant", False))
        self.assertFalse(wizard.client_secret)  # kept on the connection only
        self.assertEqual(wizard.tenant_line_ids.mapped("name"), ["Halo Demo UK Ltd"])
        wizard.tenant_line_ids.action_select()
        self.assertEqual(wizard.step, "preview")
        self.assertEqual(
            (
                wizard.xero_contacts,
                wizard.xero_items,
                wizard.xero_tax_rates,
                wizard.xero_revenue_accounts,
                wizard.odoo_linked_partners,
            ),
            (10, 8, 5, 3, 0),
        )
        wizard.action_import()
        self.assertEqual(
            (
                wizard.step,
                wizard.import_state,
                wizard.import_contacts_created,
                wizard.import_items_created,
                wizard.import_progress,
            ),
            ("import", "done", 10, 8, 100.0),
        )
        action = wizard.action_open_customers()
        self.assertEqual(len(self.env["res.partner"].search(action["domain"])), 10)

    def test_wizard_wrong_credentials_message(self):
        self.xero_calls_expected = True
        wizard = self.env["halo.xero.setup.wizard"].create(
            {"auth_type": "client_credentials", "client_id": "HALO-DEMO-CLIENT", "client_secret": "wrong"}
        )
        wizard.action_connect()
        self.assertEqual(wizard.step, "credentials")
        self.assertIn("does not recognise this app's client id and secret", wizard.error_message)

    def test_wizard_refused_to_billing_user(self):
        self.xero_calls_expected = False
        with self.assertRaises(AccessError):
            self.env["halo.xero.setup.wizard"].with_user(self.billing_user).create({})
