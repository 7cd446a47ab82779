# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The first hour with Xero: the menu opens the company's connection in the set-up wizard (prefilled,
no stacked breadcrumbs), the wizard asks for what the push and the payments need and ends with a
checklist, and invoices posted before connecting reach Xero (Send to Xero, Not in Xero, on connect)."""

import importlib.util
from datetime import timedelta
from pathlib import Path

from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .test_xero_push_common import HaloXeroPushCommon
from .xero_common import SANDBOX_CLIENT_ID


@tagged("post_install", "-at_install")
class TestXeroFirstHour(HaloXeroPushCommon):
    halo_other_company = True

    def _open_from_menu(self, user):
        menu = self.env.ref("halo_helpdesk_billing.menu_halo_xero_setup")
        self.assertEqual(menu.action, self.env.ref("halo_helpdesk_billing.halo_xero_setup_open_action"))
        return menu.action.with_user(user).run()

    def _wizard(self, action):
        self.assertEqual((action["res_model"], action["target"]), ("halo.xero.setup.wizard", "main"))
        return self.env["halo.xero.setup.wizard"].with_user(self.billing_manager).browse(action["res_id"])

    def _posted_before_connecting(self, days_ago):
        """Invoices posted while the company was not connected: never queued."""
        self.connection.sudo().state = "draft"
        today = fields.Date.context_today(self.connection)
        moves = self.env["account.move"]
        for days in days_ago:
            moves |= self.make_invoices(invoice_date=today - timedelta(days=days))
        self.connection.sudo().state = "connected"
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"not_queued"})
        return moves

    # -- the entry point ----------------------------------------------------------------------------
    def test_menu_opens_company_connection_prefilled(self):
        self.xero_calls_expected = False
        wizard = self._wizard(self._open_from_menu(self.billing_manager))
        self.assertEqual(wizard.connection_id, self.connection)
        self.assertEqual(
            (wizard.client_id, wizard.auth_type, wizard.connection_state),
            (SANDBOX_CLIENT_ID, "code", "connected"),
        )
        self.assertEqual(wizard.display_name, "Xero Set-up: %s" % self.env.company.name)
        # connected already: it opens at the checklist, with the connection's settings
        self.assertEqual(wizard.step, "checklist")
        self.assertEqual(
            (
                wizard.payment_journal_id,
                wizard.default_account_code,
                wizard.rounding_account_code,
                wizard.webhook_key_set,
            ),
            (self.bank_journal, "200", "860", True),
        )
        self.assertFalse(wizard.webhook_key)  # a system field: never read back into the wizard
        # a company without a connection: the credentials step, nothing prefilled
        self.connection.sudo().write({"company_id": self.company_b.id, "payment_journal_id": False})
        fresh = self._wizard(self._open_from_menu(self.billing_manager))
        self.assertEqual((fresh.step, fresh.connection_id.id, fresh.client_id), ("credentials", False, False))

    def test_menu_refused_to_others(self):
        self.xero_calls_expected = False
        for user in (self.billing_user, self.technician):
            with self.assertRaises(AccessError):
                self._open_from_menu(user)
            with self.assertRaises(AccessError):
                self.env["halo.xero.setup.wizard"].with_user(user).action_open_company_setup()

    def test_steps_replace_the_wizard(self):
        """Each step answers with the same wizard as the main action: the breadcrumbs do not grow."""
        self.xero_calls_expected = False
        wizard = self._wizard(self._open_from_menu(self.billing_manager))
        for method in ("action_settings", "action_save_settings", "action_back"):
            action = getattr(wizard, method)()
            self.assertEqual(
                (action["res_id"], action["target"], action["name"]),
                (wizard.id, "main", wizard.display_name),
                method,
            )

    # -- settings and checklist -----------------------------------------------------------------------
    def test_settings_and_checklist(self):
        self.xero_calls_expected = False
        conn = self.connection.sudo()
        conn.write({"payment_journal_id": False, "rounding_account_code": False, "webhook_key": False})
        wizard = self._wizard(self._open_from_menu(self.billing_manager))
        # nothing imported, no journal, no rounding account: red, and it says what to fix
        self.assertFalse(wizard.checklist_ok)
        todo = [label for ok, label, _fix in wizard._halo_checklist() if not ok]
        self.assertEqual(
            todo,
            [
                "Customers and items imported",
                "Payment journal for payments from Xero",
                "Rounding account",
                "Webhook key: payments come back at once",
            ],
        )
        self.assertIn("without it, payments from Xero cannot be recorded", wizard.checklist_html)
        self.assertIn("o_halo_check_todo", wizard.checklist_html)
        # hostile: another company's journal, or a sales journal, is refused
        wizard.action_settings()
        self.assertEqual(wizard.step, "settings")
        for journal in (
            self.company_b_data["default_journal_bank"],
            self.company_data["default_journal_sale"],
        ):
            wizard.sudo().payment_journal_id = journal
            with self.assertRaises(ValidationError):
                wizard.action_save_settings()
        self.assertFalse(conn.payment_journal_id)
        # the real settings
        self.env["halo.xero.contact.link"].sudo().create(
            {
                "connection_id": conn.id,
                "partner_id": self.customers[0].id,
                "xero_contact_id": next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"])),
            }
        )
        wizard.write(
            {
                "payment_journal_id": self.bank_journal.id,
                "rounding_account_code": " 860 ",
                "invoice_status": "DRAFT",
                "webhook_key": "key-typed-in-the-wizard",
            }
        )
        wizard.action_save_settings()
        self.assertEqual(
            (conn.payment_journal_id, conn.rounding_account_code, conn.invoice_status, conn.webhook_key),
            (self.bank_journal, "860", "DRAFT", "key-typed-in-the-wizard"),
        )
        self.assertEqual(
            (wizard.step, wizard.webhook_key, wizard.webhook_key_set), ("checklist", False, True)
        )
        wizard.invalidate_recordset()
        self.assertTrue(wizard.checklist_ok)
        self.assertNotIn("o_halo_check_todo", wizard.checklist_html)
        self.assertTrue(wizard.webhook_url.endswith("/halo_xero/webhook"))
        # a billing user cannot save settings on a manager's wizard
        with self.assertRaises(AccessError):
            wizard.with_user(self.billing_user).action_save_settings()

    # -- invoices posted before connecting -----------------------------------------------------------
    def test_connect_offers_to_send_recent_unsent_invoices(self):
        recent, old = self._posted_before_connecting([5, 60])
        wizard = self._wizard(self._open_from_menu(self.billing_manager))
        self.assertEqual((wizard.send_days, wizard.unsent_count), (30, 1))
        wizard.send_days = 90
        self.assertEqual(wizard.unsent_count, 2)
        wizard.send_days = 30
        answer = wizard.action_send_unsent()
        self.assertEqual(answer["params"]["message"], "1 posted invoices will be sent to Xero in a moment.")
        self.assertEqual((recent.halo_xero_state, old.halo_xero_state), ("queued", "not_queued"))
        self.assertEqual(wizard.unsent_count, 0)
        (recent | old)._halo_xero_push()  # what the cron sends: the queued one only
        self.assertEachOnceInXero(recent)
        self.assertFalse(self.xero_by_number(old.name))

    def test_send_to_xero_action_and_filter(self):
        moves = self._posted_before_connecting([1, 2])
        draft = self.make_invoices(post=False)
        # the "Not in Xero" filter of the invoice list finds exactly them
        arch = self.env["account.move"].get_view(
            self.env.ref("account.view_account_invoice_filter").id, "search"
        )["arch"]
        node = etree.fromstring(arch).xpath("//filter[@name='halo_not_in_xero']")[0]
        found = self.env["account.move"].search(safe_eval(node.get("domain")))
        self.assertEqual(found & (moves | draft), moves)
        # refused: a draft, a technician, a company not connected
        with self.assertRaises(UserError):
            draft.with_user(self.billing_user).action_halo_xero_send()
        with self.assertRaises(AccessError):
            moves.with_user(self.technician).action_halo_xero_send()
        self.connection.sudo().state = "draft"
        with self.assertRaises(UserError):
            moves.with_user(self.billing_user).action_halo_xero_send()
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"not_queued"})
        self.connection.sudo().state = "connected"
        # the list's "Send to Xero" (a server action bound to invoices) as a billing user
        action = self.env.ref("halo_helpdesk_billing.account_move_action_server_halo_xero_send")
        answer = (
            action.with_user(self.billing_user)
            .with_context(active_model="account.move", active_ids=moves.ids)
            .run()
        )
        self.assertEqual(answer["params"]["message"], "2 invoices will be sent to Xero in a moment.")
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"queued"})
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        # once in Xero, they are no longer "not in Xero" and cannot be sent again this way
        self.assertFalse(self.env["account.move"].search(safe_eval(node.get("domain"))) & moves)
        with self.assertRaises(UserError):
            moves.with_user(self.billing_user).action_halo_xero_send()


@tagged("post_install", "-at_install")
class TestDemoConfigure(HaloXeroPushCommon):
    """tools/demo_configure.py (run by ./demo.sh): 20 % VAT everywhere, ad hoc lines included, and a
    complete Xero connection."""

    def test_vat_on_products_and_ad_hoc_lines_and_complete_connection(self):
        self.xero_calls_expected = False
        # tools/ is the repository's scripts folder, not a package: load the script by its path
        # (the repository root is not on sys.path under Odoo's own test runner)
        script = Path(__file__).resolve().parents[2] / "tools" / "demo_configure.py"
        spec = importlib.util.spec_from_file_location("halo_demo_configure", script)
        demo_configure = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(demo_configure)

        company = self.env.company
        company.account_sale_tax_id = self.tax20
        bare = self.env["product.template"].create(
            {"name": "No tax yet (demo)", "type": "service", "taxes_id": [(5, 0, 0)]}
        )
        journal = self.company_data["default_journal_sale"]
        journal.default_account_id.tax_ids = [(5, 0, 0)]
        self.assertEqual(demo_configure.apply_vat(self.env, company), self.tax20)
        self.assertEqual(bare.taxes_id, self.tax20)
        self.assertIn(self.tax20, journal.default_account_id.tax_ids)
        # an ad hoc line (no product) of 100.00 is taxed 20 %: 120.00
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customers[0].id,
                "journal_id": journal.id,
                "invoice_line_ids": [(0, 0, {"name": "Ad hoc cable", "quantity": 1, "price_unit": 100.0})],
            }
        )
        self.assertEqual(move.invoice_line_ids.tax_ids, self.tax20)
        self.assertEqual(move.amount_total, 120.0)
        self.connection.sudo().write(
            {"payment_journal_id": False, "webhook_key": False, "rounding_account_code": False}
        )
        conn = demo_configure.complete_connection(self.env, company)
        self.assertEqual(conn, self.connection)
        self.assertEqual(
            (
                conn.payment_journal_id.type,
                conn.webhook_key,
                conn.rounding_account_code,
                conn.default_account_code,
            ),
            ("bank", "halo-demo-webhook-key", "860", "200"),
        )
