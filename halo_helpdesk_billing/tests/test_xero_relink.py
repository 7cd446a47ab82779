# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A billing manager re-links a customer (and a product) to another Xero contact (item) of the same
organisation, through the SDK against the sandbox; technicians and billing users are refused over JSON-RPC."""

from odoo.tests import tagged

from .rpc_common import HaloRpcCase
from .test_xero_push_common import HaloXeroPushCommon

LINK = "halo.xero.contact.link"
PRODUCT_LINK = "halo.xero.product.link"


@tagged("post_install", "-at_install")
class TestXeroRelink(HaloXeroPushCommon, HaloRpcCase):
    halo_other_company = True

    def setUp(self):
        super().setUp()
        org = self.sandbox.state.orgs[self.tenant_id]
        self.contacts = {c["ContactNumber"]: c["ContactID"] for c in org["contacts"].values()}
        self.customer = self.customers[0]
        self.customer.halo_xero_contact_id = self.contacts["UK-C001"]  # Acme Facilities Ltd
        self.link = self.customer.sudo().halo_xero_contact_link_ids

    def test_manager_relinks_a_customer_by_name_and_the_push_bills_that_contact(self):
        client = self.rpc(self.billing_manager)
        client.call(LINK, "write", [self.link.id], {"relink_to": "Castle & Crown Solicitors"})
        client.call(LINK, "action_relink", [self.link.id])
        self.link.invalidate_recordset()
        self.assertEqual((self.link.xero_contact_id, self.link.relink_to), (self.contacts["UK-C003"], False))
        self.assertEqual(self.customer.halo_xero_contact_id, self.contacts["UK-C003"])
        self.assertIn("Re-linked by Max Manager", self.customer.message_ids[0].body)
        # found in Xero by name (GET /Contacts?where=Name==...), nothing written there
        self.assertEqual(len(self.sandbox_requests("/Contacts", method="GET")), 1)
        move = self.make_invoices(1, partner=self.customer)
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "sent", move.halo_xero_error)
        self.assertEqual(self.xero_by_number(move.name)[0]["ContactID"], self.contacts["UK-C003"])

    def test_relink_follows_a_merged_contact_and_refuses_an_archived_or_unknown_one(self):
        self.ctl.call(
            "POST",
            "merge-contacts",
            {"tenant": self.tenant_id, "contact": self.contacts["UK-C004"], "into": self.contacts["UK-C005"]},
        )
        self.link.relink_to = self.contacts["UK-C004"]  # by ContactID: merged into UK-C005
        self.link.with_user(self.billing_manager).action_relink()
        self.assertEqual(self.link.xero_contact_id, self.contacts["UK-C005"])
        org = self.sandbox.state.orgs[self.tenant_id]
        org["contacts"][self.contacts["UK-C006"]]["ContactStatus"] = "ARCHIVED"
        for target, message in (
            (self.contacts["UK-C006"], "is archived in Xero"),
            ("No Such Customer plc", "Xero has no contact No Such Customer plc"),
        ):
            self.link.relink_to = target
            with self.assertRaisesRegex(Exception, message):
                self.link.with_user(self.billing_manager).action_relink()
            self.assertEqual(self.link.xero_contact_id, self.contacts["UK-C005"])  # unchanged

    def test_relink_refuses_another_customers_contact(self):
        other = self.customers[1]
        other.halo_xero_contact_id = self.contacts["UK-C002"]
        self.link.relink_to = self.contacts["UK-C002"]
        with self.assertRaisesRegex(Exception, "already linked to %s" % other.name):
            self.link.with_user(self.billing_manager).action_relink()
        self.assertEqual(self.link.xero_contact_id, self.contacts["UK-C001"])

    def test_manager_relinks_a_product_to_another_item(self):
        self.connection.with_user(self.billing_manager).action_halo_refresh_lists()
        tmpl = self.product_xero.product_tmpl_id
        link = tmpl.sudo().halo_xero_product_link_ids
        onsite = self.connection.xero_item_ids.filtered(lambda i: i.code == "ONSITE-HR")
        client = self.rpc(self.billing_manager)
        client.call(PRODUCT_LINK, "write", [link.id], {"relink_item_id": onsite.id})
        client.call(PRODUCT_LINK, "action_relink", [link.id])
        link.invalidate_recordset()
        self.assertEqual(
            (link.item_code, link.item_id, link.account_code), ("ONSITE-HR", onsite.xero_id, "200")
        )
        self.customer.halo_xero_contact_id = self.contacts["UK-C001"]
        move = self.make_invoices(1, partner=self.customer)
        move._halo_xero_push()
        self.assertEqual(self.xero_by_number(move.name)[0]["LineItems"][0]["ItemCode"], "ONSITE-HR")

    def test_technicians_billing_users_and_other_companies_cannot_relink(self):
        self.connection.with_user(self.billing_manager).action_halo_refresh_lists()
        self.ctl.clear_requests()
        item_link = self.product_xero.product_tmpl_id.sudo().halo_xero_product_link_ids
        onsite = self.connection.xero_item_ids.filtered(lambda i: i.code == "ONSITE-HR")
        item_link.relink_item_id = onsite
        self.link.relink_to = "Castle & Crown Solicitors"
        for user in (self.technician, self.billing_user, self.manager_b):
            client = self.rpc(user)
            self.assertRpcRefused(client, LINK, "action_relink", [self.link.id])
            self.assertRpcRefused(client, PRODUCT_LINK, "action_relink", [item_link.id])
            self.assertRpcRefused(
                client, LINK, "write", [self.link.id], {"xero_contact_id": self.contacts["UK-C002"]}
            )
            self.assertRpcRefused(client, PRODUCT_LINK, "write", [item_link.id], {"item_code": "ONSITE-HR"})
            self.assertRpcRefused(
                client,
                LINK,
                "create",
                {
                    "connection_id": self.connection.id,
                    "partner_id": self.customers[2].id,
                    "xero_contact_id": self.contacts["UK-C002"],
                },
            )
            # nor through the customer's own field (it writes the link), whatever the context says
            self.assertRpcRefused(
                client,
                "res.partner",
                "write",
                [self.customer.id],
                {"halo_xero_contact_id": self.contacts["UK-C002"]},
                context={"halo_engine": True},
            )
        self.link.invalidate_recordset()
        item_link.invalidate_recordset()
        self.assertEqual(
            (self.link.xero_contact_id, item_link.item_code), (self.contacts["UK-C001"], "SUPPORT-HR")
        )
        self.assertSandboxCalls(0)
