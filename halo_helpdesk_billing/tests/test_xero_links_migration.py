# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The 19.0.1.3.0 migration moves each single Xero value of a customer, product, tax and account to the link
of its connection (the stored one, else the record's company's), and never guesses between two."""

import importlib.util
from pathlib import Path

from odoo.tests import tagged

from .common import HaloBillingCommon

MIGRATIONS = Path(__file__).parents[1] / "migrations" / "19.0.1.3.0"


def _load(name):
    spec = importlib.util.spec_from_file_location(
        "halo_migrate_1_3_0_" + name.replace("-", "_"), MIGRATIONS / ("%s.py" % name)
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestXeroLinksMigration(HaloBillingCommon):
    def test_single_values_move_to_the_link_of_their_connection(self):
        pre, post = _load("pre-migrate"), _load("post-migrate")
        company_a = self.env.company
        company_b = self.setup_other_company(name="Migration Second Ltd")["company"]
        Connection = self.env["halo.xero.connection"].sudo()
        conn_a = Connection.create({"name": "A", "company_id": company_a.id})
        conn_b = Connection.create({"name": "B", "company_id": company_b.id})
        conn_a.items_synced_at = conn_b.items_synced_at = "2026-11-01 00:00:00"
        Partner = self.env["res.partner"]
        stored_b = Partner.create({"name": "Linked by B's import", "is_company": True})
        of_a = Partner.create({"name": "Customer of A", "is_company": True, "company_id": company_a.id})
        unknown = Partner.create({"name": "Shared, no connection stored", "is_company": True})
        product = self.env["product.template"].create({"name": "Support (migration)", "type": "service"})
        tax_b = self.env["account.tax"].create(
            {"name": "GST 15% (migration)", "amount": 15, "type_tax_use": "sale", "company_id": company_b.id}
        )
        account = self.company_data["default_account_revenue"]
        self.env.flush_all()
        cr = self.env.cr
        # back to the columns of 19.0.1.2.0 (rolled back with the test)
        cr.execute("""ALTER TABLE res_partner ADD COLUMN halo_xero_contact_id varchar,
                          ADD COLUMN halo_xero_connection_id int4, ADD COLUMN halo_xero_synced_values jsonb,
                          ADD COLUMN halo_xero_updated_at timestamp""")
        cr.execute("""ALTER TABLE product_template ADD COLUMN halo_xero_item_code varchar,
                          ADD COLUMN halo_xero_item_id varchar, ADD COLUMN halo_xero_account_code varchar,
                          ADD COLUMN halo_xero_tax_type varchar, ADD COLUMN halo_xero_connection_id int4,
                          ADD COLUMN halo_xero_synced_values jsonb, ADD COLUMN halo_xero_updated_at timestamp""")
        cr.execute("""ALTER TABLE account_tax ADD COLUMN halo_xero_tax_type varchar,
                          ADD COLUMN halo_xero_effective_rate numeric, ADD COLUMN halo_xero_rate_known bool,
                          ADD COLUMN halo_xero_review bool""")
        cr.execute("ALTER TABLE account_account ALTER COLUMN halo_xero_code TYPE varchar USING NULL")
        cr.execute(
            "UPDATE res_partner SET halo_xero_contact_id = 'contact-x', halo_xero_connection_id = %s, "
            "halo_xero_synced_values = '{\"name\": \"Linked by B''s import\"}' WHERE id = %s",
            [conn_b.id, stored_b.id],
        )
        cr.execute("UPDATE res_partner SET halo_xero_contact_id = 'contact-y' WHERE id = %s", [of_a.id])
        cr.execute("UPDATE res_partner SET halo_xero_contact_id = 'contact-x' WHERE id = %s", [unknown.id])
        cr.execute(
            "UPDATE product_template SET halo_xero_item_code = 'SUPPORT-HR', halo_xero_account_code = '200', "
            "halo_xero_connection_id = %s WHERE id = %s",
            [conn_a.id, product.id],
        )
        cr.execute(
            "UPDATE account_tax SET halo_xero_tax_type = 'OUTPUT2', halo_xero_effective_rate = 15, "
            "halo_xero_rate_known = TRUE WHERE id = %s",
            [tax_b.id],
        )
        cr.execute("UPDATE account_account SET halo_xero_code = '4000' WHERE id = %s", [account.id])
        pre.migrate(cr, "19.0.1.2.0")
        created = post.move_values(self.env)
        self.env.invalidate_all()
        # 2 customers (the third has no connection to tell), 1 product, 1 tax
        self.assertEqual(
            created, {"halo.xero.contact.link": 2, "halo.xero.product.link": 1, "halo.xero.tax.link": 1}
        )
        Link = self.env["halo.xero.contact.link"].sudo()
        self.assertEqual(
            [
                (k.connection_id, k.xero_contact_id, k.owner, k.synced_values)
                for k in Link.search([("partner_id", "=", stored_b.id)])
            ],
            [(conn_b, "contact-x", True, {"name": "Linked by B's import"})],
        )
        self.assertEqual(stored_b.with_company(company_b).halo_xero_contact_id, "contact-x")
        self.assertFalse(stored_b.with_company(company_a).halo_xero_contact_id)
        self.assertEqual(of_a.with_company(company_a).halo_xero_contact_id, "contact-y")
        self.assertFalse(Link.search([("partner_id", "=", unknown.id)]))
        item = product.sudo().halo_xero_product_link_ids
        self.assertEqual(
            (item.connection_id, item.item_code, item.account_code), (conn_a, "SUPPORT-HR", "200")
        )
        tax_link = tax_b.sudo().halo_xero_tax_link_ids
        self.assertEqual(
            (tax_link.connection_id, tax_link.tax_type, tax_link.effective_rate, tax_link.rate_known),
            (conn_b, "OUTPUT2", 15.0, True),
        )
        # the account's code, kept for its company connected to Xero
        self.assertEqual(account.with_company(company_a).halo_xero_code, "4000")
        # the next refresh reads Xero's whole item list and chart
        self.assertFalse(conn_a.items_synced_at or conn_b.items_synced_at)
        cr.execute(
            "SELECT count(*) FROM information_schema.columns WHERE column_name LIKE %s",
            ["halo_xero_%_before_links"],
        )
        self.assertEqual(cr.fetchone()[0], 0)
