# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Several Xero organisations: a customer and a product shared by two companies, each connected to its own
organisation of the sandbox (UK and NZ), keep one ContactID / item code / account code / tax type per
connection, through the SDK against the sandbox."""

from datetime import date

from odoo import Command
from odoo.tests import tagged

from .test_xero_push_common import HaloXeroPushCommon
from .xero_common import NZ_TENANT_ID


@tagged("post_install", "-at_install")
class TestXeroLinksPerOrganisation(HaloXeroPushCommon):
    halo_other_company = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.connection_b = cls._halo_xero_connection(
            cls.company_b,
            "Xero NZ (test)",
            default_account_code="200",
            invoice_status="AUTHORISED",
            attach_pdf=False,
        )
        # one customer and one product shared by both companies (no company)
        cls.shared = cls.env["res.partner"].create(
            {"name": "Shared Customer Ltd", "is_company": True, "email": "ap@shared.example"}
        )
        cls.tax_b = (
            cls.env["account.tax"]
            .with_company(cls.company_b)
            .create(
                {
                    "name": "Zero rated (NZ, links test)",
                    "amount": 0,
                    "amount_type": "percent",
                    "type_tax_use": "sale",
                    "company_id": cls.company_b.id,
                }
            )
        )

    def setUp(self):
        super().setUp()
        self.connect_sandbox(self.connection_b, tenant_id=NZ_TENANT_ID)
        # organisation 2's mapping, written in company B: it must not touch organisation 1's
        product_b = self.product_xero.product_tmpl_id.with_company(self.company_b)
        product_b.write({"halo_xero_item_code": "ONSITE-HR", "halo_xero_account_code": "260"})
        self.tax_b.with_company(self.company_b).halo_xero_tax_type = "ZERORATED"

    def invoice(self, company, tax, journal):
        move = (
            self.env["account.move"]
            .with_company(company)
            .create(
                {
                    "move_type": "out_invoice",
                    "company_id": company.id,
                    "journal_id": journal.id,
                    "partner_id": self.shared.id,
                    "invoice_date": date(2026, 7, 31),
                    "invoice_date_due": date(2026, 8, 30),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_xero.id,
                                "name": "Remote support",
                                "quantity": 2,
                                "price_unit": 50.0,
                                "tax_ids": [Command.set(tax.ids)],
                            }
                        )
                    ],
                }
            )
        )
        move.action_post()
        return move

    def test_each_organisation_gets_its_own_contact_item_account_and_tax_type(self):
        tmpl = self.product_xero.product_tmpl_id
        links = tmpl.sudo().halo_xero_product_link_ids
        self.assertEqual(
            sorted((k.connection_id.id, k.item_code, k.account_code) for k in links),
            sorted([(self.connection.id, "SUPPORT-HR", "200"), (self.connection_b.id, "ONSITE-HR", "260")]),
        )
        # the convenience fields read the current company's organisation
        self.assertEqual(
            (
                tmpl.with_company(self.company_a).halo_xero_item_code,
                tmpl.with_company(self.company_b).halo_xero_item_code,
            ),
            ("SUPPORT-HR", "ONSITE-HR"),
        )
        move_a = self.invoice(self.company_a, self.tax20, self.company_data["default_journal_sale"])
        move_b = self.invoice(self.company_b, self.tax_b, self.company_b_data["default_journal_sale"])
        self.assertEqual(
            (move_a.halo_xero_connection_id, move_b.halo_xero_connection_id),
            (self.connection, self.connection_b),
        )
        # the push cron works on both companies' invoices
        (move_a | move_b).with_context(
            allowed_company_ids=[self.company_a.id, self.company_b.id]
        )._halo_xero_push()
        self.assertEqual((move_a.halo_xero_state, move_a.halo_xero_error), ("sent", False))
        self.assertEqual((move_b.halo_xero_state, move_b.halo_xero_error), ("sent", False))
        contacts = self.shared.sudo().halo_xero_contact_link_ids
        by_conn = {k.connection_id: k.xero_contact_id for k in contacts}
        self.assertEqual(set(by_conn), {self.connection, self.connection_b})
        self.assertNotEqual(by_conn[self.connection], by_conn[self.connection_b])
        orgs = self.sandbox.state.orgs
        uk = orgs[self.tenant_id]["invoices"][move_a.halo_xero_invoice_id]
        nz = orgs[NZ_TENANT_ID]["invoices"][move_b.halo_xero_invoice_id]
        # each organisation's invoice carries its own contact (a contact of that organisation), item,
        # account code and tax type
        self.assertEqual(uk["ContactID"], by_conn[self.connection])
        self.assertIn(by_conn[self.connection], orgs[self.tenant_id]["contacts"])
        self.assertEqual(nz["ContactID"], by_conn[self.connection_b])
        self.assertIn(by_conn[self.connection_b], orgs[NZ_TENANT_ID]["contacts"])
        self.assertNotIn(by_conn[self.connection_b], orgs[self.tenant_id]["contacts"])
        line_uk, line_nz = uk["LineItems"][0], nz["LineItems"][0]
        self.assertEqual(
            (line_uk["ItemCode"], line_uk["AccountCode"], line_uk["TaxType"]),
            ("SUPPORT-HR", "200", "OUTPUT2"),
        )
        self.assertEqual(
            (line_nz["ItemCode"], line_nz["AccountCode"], line_nz["TaxType"]),
            ("ONSITE-HR", "260", "ZERORATED"),
        )
        # 2 x 50.00 = 100.00 net in both; UK VAT 20 % = 20.00 -> 120.00; NZ zero rated -> 100.00
        self.assertEqual((uk["Total"], nz["Total"]), (120.0, 100.0))

    def test_an_import_into_b_never_overwrites_as_links(self):
        hauraki = self.env["res.partner"].create({"name": "Hauraki Law", "is_company": True})
        uk_contact = self.seed_uk_contact()
        hauraki.with_company(self.company_a).halo_xero_contact_id = uk_contact
        tmpl = self.product_xero.product_tmpl_id
        name_before = tmpl.name
        imp = self.env["halo.xero.import"].sudo()._halo_start(self.connection_b)._halo_run()
        self.assertEqual(imp.state, "done", imp.last_error)
        # organisation 1's links are untouched
        self.assertEqual(hauraki.with_company(self.company_a).halo_xero_contact_id, uk_contact)
        self.assertEqual(
            (
                tmpl.with_company(self.company_a).halo_xero_item_code,
                tmpl.with_company(self.company_a).halo_xero_account_code,
            ),
            ("SUPPORT-HR", "200"),
        )
        # organisation 2 matched the shared customer by its exact name to its own contact
        nz_contact = next(
            cid
            for cid, c in self.sandbox.state.orgs[NZ_TENANT_ID]["contacts"].items()
            if c["Name"] == "Hauraki Law"
        )
        self.assertEqual(hauraki.with_company(self.company_b).halo_xero_contact_id, nz_contact)
        # the shared product follows its first organisation (name kept); organisation 2's item values
        # (ONSITE-HR: account 200, OUTPUT2 in the NZ seed) are kept on its own link
        self.assertEqual(tmpl.name, name_before)
        self.assertEqual(
            (
                tmpl.with_company(self.company_b).halo_xero_item_code,
                tmpl.with_company(self.company_b).halo_xero_account_code,
                tmpl.with_company(self.company_b).halo_xero_tax_type,
            ),
            ("ONSITE-HR", "200", "OUTPUT2"),
        )
        # the tax rates of organisation 2 are its own list
        self.assertEqual(
            sorted(self.connection_b.xero_tax_rate_ids.mapped("tax_type")),
            ["GSTONIMPORTS", "INPUT2", "NONE", "OUTPUT2", "ZERORATED"],
        )
        self.assertFalse(self.connection.xero_tax_rate_ids)

    def seed_uk_contact(self):
        return next(
            cid
            for cid, c in self.sandbox.state.orgs[self.tenant_id]["contacts"].items()
            if c["Name"] == "Acme Facilities Ltd"
        )
