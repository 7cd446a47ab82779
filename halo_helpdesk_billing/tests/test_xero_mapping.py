# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The mapping screen (Billing > Configuration > Xero > Mapping): every row checked against what was read
from Xero (the sandbox's UK organisation: accounts 090/091 bank, 200/260/270 revenue, 280 archived, 610/800/
820/860 system; tax types OUTPUT2 20 %, RROUTPUT 5 %, INPUT2 expenses only...; items SUPPORT-HR...;
tracking Region and Service Line), problems first; category account codes used by the push; guards."""

from odoo.tests import tagged

from .rpc_common import HaloRpcCase
from .test_xero_push_common import HaloXeroPushCommon

CONNECTION = "halo.xero.connection"


@tagged("post_install", "-at_install")
class TestXeroMapping(HaloXeroPushCommon, HaloRpcCase):
    halo_other_company = True

    def product_link(self, code, item=None):
        product = self.env["product.product"].create(
            {
                "name": "Mapped to %s%s" % (code, " / %s" % item if item else ""),
                "type": "service",
                "halo_xero_account_code": code,
                "halo_xero_item_code": item or False,
            }
        )
        return product.product_tmpl_id.sudo().halo_xero_product_link_ids

    def tax_link(self, tax_type, amount=20, amount_type="percent"):
        tax = self.env["account.tax"].create(
            {
                "name": "Tax %s %s" % (tax_type, amount),
                "amount": amount,
                "amount_type": amount_type,
                "type_tax_use": "sale",
                "company_id": self.company.id,
                "halo_xero_tax_type": tax_type,
            }
        )
        return tax.sudo().halo_xero_tax_link_ids

    def test_validation_states_of_every_kind_of_row(self):
        conn = self.connection.sudo()
        support = self.product_xero.product_tmpl_id.sudo().halo_xero_product_link_ids
        # nothing read from Xero yet: the rows cannot be checked
        self.assertEqual(support.problem_state, "unchecked")
        self.assertEqual(conn.mapping_state, "unchecked")
        conn.with_user(self.billing_manager).action_halo_refresh_lists()
        gets = [r["path"].rstrip("/").rsplit("/", 1)[-1] for r in self.sandbox_requests(method="GET")]
        self.assertEqual(sorted(gets), ["Accounts", "Items", "TaxRates", "TrackingCategories"])
        self.assertEqual(len(conn.xero_account_ids), 15)
        self.assertEqual((support.problem_state, support.problem), ("ok", False))
        cases = {
            "280": "is archived in Xero",
            "090": "is a bank or system account",
            "610": "is a bank or system account",
            "999": "is not in the chart of accounts imported from Xero",
        }
        links = {code: self.product_link(code) for code in cases}
        for code, message in cases.items():
            self.assertEqual(links[code].problem_state, "problem", code)
            self.assertIn(message, links[code].problem)
        good = self.product_link("260")
        self.assertEqual(good.problem_state, "ok")
        no_item = self.product_link("200", item="NOPE")
        self.assertIn("Xero has no item NOPE", no_item.problem)
        # the problems are listed first on the screen (as the screen reads them): the 4 above, NOPE and the
        # common fixture's product mapped to 999, then SUPPORT-HR and 260
        conn.invalidate_recordset(["product_link_ids"])
        rows = conn.product_link_ids
        self.assertEqual(rows.mapped("problem_state"), ["problem"] * 6 + ["ok"] * 2)
        # taxes: OUTPUT2 (20 % in Xero) for 20 % is right; the others say what to fix
        self.assertEqual(self.tax20.sudo().halo_xero_tax_link_ids.problem_state, "ok")
        expense = self.tax_link("INPUT2")
        self.assertIn("does not apply to revenue in Xero", expense.problem)
        unknown = self.tax_link("BOGUS")
        self.assertIn(
            "Xero has no tax type BOGUS: choose one of EXEMPTOUTPUT, NONE, OUTPUT2, RROUTPUT, "
            "ZERORATEDOUTPUT.",
            unknown.problem,
        )
        mismatch = self.tax_link("OUTPUT2", amount=15)
        # Xero's EffectiveRate of OUTPUT2 is 20 %, the Odoo tax is 15 %
        self.assertIn("Xero computes OUTPUT2 at 20.0% but the Odoo tax is 15.0%", mismatch.problem)
        self.assertEqual((mismatch.effective_rate, mismatch.rate_known), (20.0, True))
        fixed = self.tax_link("OUTPUT2", amount=5, amount_type="fixed")
        self.assertIn("is not a percentage", fixed.problem)
        # edited in place by a billing manager over JSON-RPC: checked again at once
        self.rpc(self.billing_manager).call(
            "halo.xero.tax.link", "write", [unknown.id], {"tax_type": "RROUTPUT"}
        )
        unknown.invalidate_recordset()
        # RROUTPUT is 5 % in Xero, the tax 20 %: still a problem, with Xero's rate filled in
        self.assertEqual((unknown.effective_rate, unknown.rate_known), (5.0, True))
        self.assertIn("at 5.0% but the Odoo tax is 20.0%", unknown.problem)
        # category, connection accounts and tracking
        categ = self.env["product.category"].create({"name": "Archived revenue (test)"})
        categ.halo_xero_account_code = "280"
        self.assertIn("is archived in Xero", categ.sudo().halo_xero_category_link_ids.problem)
        conn.write(
            {"default_account_code": "860", "rounding_account_code": "200", "tracking_category_name": "Nope"}
        )
        self.assertIn("is a bank or system account", conn.default_account_problem)
        self.assertIn("is not Xero's rounding account", conn.rounding_account_problem)
        self.assertIn(
            "Xero has no tracking category Nope (categories: Region, Service Line)", conn.tracking_problem
        )
        conn.write(
            {
                "default_account_code": "200",
                "rounding_account_code": "860",
                "tracking_category_name": "region",
            }
        )
        self.assertEqual(
            (conn.default_account_problem, conn.rounding_account_problem, conn.tracking_problem),
            (False, False, False),
        )
        # 6 products + 4 taxes (INPUT2, RROUTPUT-at-20, OUTPUT2-at-15, fixed) + 1 category = 11
        self.assertEqual((conn.mapping_state, conn.mapping_problem_count), ("problem", 11))

    def test_push_uses_the_categorys_account_code_when_the_product_has_none(self):
        parent = self.env["product.category"].create({"name": "Projects (xero test)"})
        child = self.env["product.category"].create(
            {"name": "Project days (xero test)", "parent_id": parent.id}
        )
        parent.halo_xero_account_code = "260"
        in_parent, in_child, own = self.env["product.product"].create(
            [
                {"name": "Project work", "type": "service", "categ_id": parent.id},
                {"name": "Project day", "type": "service", "categ_id": child.id},
                {
                    "name": "Project licence",
                    "type": "service",
                    "categ_id": parent.id,
                    "halo_xero_account_code": "270",
                },
            ]
        )
        plain = self.env["product.product"].create({"name": "Plain work", "type": "service"})
        self.customers[0].halo_xero_contact_id = next(
            iter(self.sandbox.state.orgs[self.tenant_id]["contacts"])
        )
        move = self.make_invoices(
            1,
            partner=self.customers[0],
            lines=[
                ("Project work", 1, 100.0, in_parent),
                ("Project day", 1, 100.0, in_child),
                ("Project licence", 1, 100.0, own),
                ("Plain work", 1, 100.0, plain),
            ],
        )
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "sent", move.halo_xero_error)
        lines = self.xero_by_number(move.name)[0]["LineItems"]
        # category 260, the child category its parent's 260, the product's own 270, the connection's 200
        self.assertEqual([line["AccountCode"] for line in lines], ["260", "260", "270", "200"])

    def test_the_screens_actions_are_guarded(self):
        tax_link = self.tax20.sudo().halo_xero_tax_link_ids
        categ = self.env["product.category"].create({"name": "Guarded (test)"})
        for user in (self.technician, self.billing_user, self.manager_b):
            client = self.rpc(user)
            self.assertRpcRefused(client, CONNECTION, "action_halo_refresh_lists", [self.connection.id])
            self.assertRpcRefused(client, CONNECTION, "action_halo_open_mapping", [self.connection.id])
            self.assertRpcRefused(client, "halo.xero.tax.link", "write", [tax_link.id], {"tax_type": "NONE"})
            self.assertRpcRefused(
                client,
                "halo.xero.category.link",
                "create",
                {"connection_id": self.connection.id, "categ_id": categ.id, "account_code": "090"},
            )
            self.assertRpcRefused(
                client, "account.tax", "write", [self.tax20.id], {"halo_xero_tax_type": "NONE"}
            )
        tax_link.invalidate_recordset()
        self.assertEqual(tax_link.tax_type, "OUTPUT2")
        self.assertFalse(categ.sudo().halo_xero_category_link_ids)
        self.assertSandboxCalls(0)
        # the billing manager opens the screen
        action = self.rpc(self.billing_manager).call(
            CONNECTION, "action_halo_open_mapping", [self.connection.id]
        )
        self.assertEqual((action["res_model"], action["res_id"]), (CONNECTION, self.connection.id))
        self.xero_calls_expected = False

    def test_a_new_category_code_needs_no_line_of_code(self):
        """Clearing a category's code removes its link (the code is required on a link)."""
        categ = self.env["product.category"].create({"name": "Cleared (test)"})
        categ.halo_xero_account_code = "260"
        self.assertEqual(categ.sudo().halo_xero_category_link_ids.account_code, "260")
        categ.halo_xero_account_code = False
        self.assertFalse(categ.sudo().halo_xero_category_link_ids)
        self.xero_calls_expected = False
