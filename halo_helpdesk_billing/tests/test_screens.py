# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The everyday screens: the billing-run preview (totals of included charges, quantities per
unit, empty state, toasts, the run's invoice list) and the technician's ticket (timer, stop
dialog, contract and remaining hours, own expense amount, product picker, lock message)."""

from datetime import date, datetime

from lxml import etree

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from ..models.halo_engine import BILLING_ENGINE
from .billing_common import HaloBillingRunCommon
from .common import TECHNICIAN_GROUPS, HaloCaptureCommon
from .contract_common import HaloContractCommon
from .rpc_common import HaloRpcCase

LINE = "halo.billing.run.line"


@tagged("post_install", "-at_install")
class TestScreensPreview(HaloBillingRunCommon, HaloRpcCase):
    def _previewed(self):
        """Both customers' month (see ``_work``): per customer 2.5 h of labour (1 h 30 + 1 h),
        20 km, one toll and two cables; £360.57."""
        work = self._work(self.ticket)
        self._work(self.ticket_b)
        run = self._run()
        run.action_preview()
        return run, work

    def test_group_rows_total_included_charges_and_quantities_per_unit(self):
        run, (_actions, _trip, _expense, item) = self._previewed()
        cables = run.line_ids.filtered(
            lambda line: line.res_model == "halo.ticket.item" and line.res_id == item.id
        )
        cables.action_exclude()  # Acme's 2 cables (£50.00) are not billed
        aggregates = [
            "amount:sum",
            "amount_included:sum",
            "qty_hours:sum",
            "qty_km:sum",
            "qty_mi:sum",
            "qty_units:sum",
            "quantity:sum",
        ]
        biller = self.rpc(self.billing_user)
        groups = biller.call(
            LINE, "formatted_read_group", [("run_id", "=", run.id)], ["partner_id"], aggregates[:-1]
        )
        totals = {group["partner_id"][1]: group for group in groups}
        acme, globex = totals[self.customer.display_name], totals[self.other_customer.display_name]
        # 360.57 - 50.00 excluded
        self.assertAlmostEqual(acme["amount:sum"], 310.57, places=2)
        self.assertAlmostEqual(acme["amount_included:sum"], 310.57, places=2)
        self.assertAlmostEqual(globex["amount:sum"], 360.57, places=2)
        # hours, km and units apart; the excluded cables not counted (1 toll left)
        self.assertEqual(
            (acme["qty_hours:sum"], acme["qty_km:sum"], acme["qty_mi:sum"], acme["qty_units:sum"]),
            (2.5, 20.0, 0.0, 1.0),
        )
        self.assertEqual(
            (globex["qty_hours:sum"], globex["qty_km:sum"], globex["qty_units:sum"]), (2.5, 20.0, 3.0)
        )
        # the raw quantity (hours + km + units) is not added up any more
        self.assertFalse(self.env[LINE]._fields["quantity"].aggregator)
        # the same per row (the footer of an ungrouped list adds these)
        self.assertEqual((cables.amount_included, cables.qty_units), (0.0, 0.0))
        self.assertEqual(cables.amount, 50.0)
        # a technician reads no amount, grouped or not
        self.assertRpcRefused(
            self.rpc(self.technician),
            LINE,
            "formatted_read_group",
            [("run_id", "=", run.id)],
            ["partner_id"],
            ["amount_included:sum"],
        )

    def test_preview_list_shows_description_explanation_amount_and_actions(self):
        arch = etree.fromstring(
            self.env[LINE].get_view(
                self.env.ref("halo_helpdesk_billing.halo_billing_run_line_view_list").id, "list"
            )["arch"]
        )
        fields_shown = {node.get("name"): node for node in arch.iter("field")}
        for name in ("name", "amount_included", "explanation"):
            self.assertNotEqual(fields_shown[name].get("optional"), "hide", name)
        # the explanation gets a wide column (text cells wrap inside it)
        self.assertEqual(fields_shown["explanation"].get("width"), "240px")
        buttons = {node.get("string") for node in arch.iter("button")}
        self.assertLessEqual({"Exclude", "Defer", "Adjust", "Include"}, buttons)
        # columns that pushed the actions off-screen are optional and hidden by default
        for name in ("kind", "user_id", "rate_id", "invoice_id", "repriced", "amount"):
            self.assertEqual(fields_shown[name].get("optional"), "hide", name)
        self.assertEqual(fields_shown["amount_included"].get("sum"), "Total billed")
        self.assertIsNone(fields_shown["amount"].get("sum"))

    def test_empty_preview_says_what_to_check(self):
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        self.assertEqual((run.state, run.line_count), ("previewed", 0))
        arch = etree.fromstring(
            run.get_view(self.env.ref("halo_helpdesk_billing.halo_billing_run_view_form").id, "form")["arch"]
        )
        alert = arch.xpath("//div[hasclass('o_halo_nothing_to_bill')]")[0]
        self.assertIn("No unbilled work up to the cut-off", "".join(alert.itertext()))
        self.assertEqual(alert.get("invisible"), "state != 'previewed' or line_count")
        help_html = self.env.ref("halo_helpdesk_billing.halo_billing_run_line_action").help
        self.assertIn("No unbilled work up to the cut-off", help_html)

    def test_cancel_asks_with_clear_buttons(self):
        arch = etree.fromstring(
            self.env["halo.billing.run"].get_view(
                self.env.ref("halo_helpdesk_billing.halo_billing_run_view_form").id, "form"
            )["arch"]
        )
        button = arch.xpath("//button[@name='action_cancel']")[0]
        self.assertEqual(
            (button.get("confirm-title"), button.get("confirm-label"), button.get("cancel-label")),
            ("Cancel this run?", "Cancel the run", "Keep the run"),
        )
        self.assertIn("work becomes unbilled again", button.get("confirm"))

    def test_run_invoice_list_has_a_customer_column(self):
        run, _work = self._previewed()
        run.action_create_invoices()
        self.assertEqual(len(run.invoice_ids), 2)
        action = run.action_open_invoices()
        list_view = dict((mode, view) for view, mode in action["views"])["list"]
        self.assertEqual(list_view, self.env.ref("account.view_out_invoice_tree").id)
        arch = etree.fromstring(self.env["account.move"].get_view(list_view, "list")["arch"])
        # the Customer column is shown in the context of the action
        shown = [
            node
            for node in arch.xpath("//field[@name='invoice_partner_display_name']")
            if not safe_eval(node.get("column_invisible") or "False", {"context": action["context"]})
        ]
        self.assertEqual([node.get("string") for node in shown], ["Customer"])

    def test_refresh_from_xero_gives_feedback(self):
        run, _work = self._previewed()
        run.action_create_invoices()
        action = run.invoice_ids.action_halo_xero_refresh()
        self.assertEqual((action["tag"], action["params"]["type"]), ("display_notification", "warning"))
        self.assertIn("send them first", action["params"]["message"])

    def test_excel_invoice_gives_feedback(self):
        run, _work = self._previewed()
        run.action_create_invoices()
        invoice = run.invoice_ids[:1]
        action = invoice.action_halo_excel_invoice_notify()
        self.assertEqual(action["tag"], "display_notification")
        name = f"{(invoice.name or 'invoice').replace('/', '-')}.xlsx"
        self.assertIn(name, action["params"]["message"])
        self.assertTrue(
            self.env["ir.attachment"].search_count(
                [("res_model", "=", "account.move"), ("res_id", "=", invoice.id), ("name", "=", name)]
            )
        )
        # the server action of the Action menu returns the toast
        server_action = self.env.ref("halo_helpdesk_billing.action_halo_excel_invoice")
        result = server_action.with_context(
            active_model="account.move", active_ids=invoice.ids, active_id=invoice.id
        ).run()
        self.assertEqual(result["tag"], "display_notification")


@tagged("post_install", "-at_install")
class TestScreensTechnician(HaloCaptureCommon, HaloRpcCase):
    def test_running_timer_and_stop_dialog(self):
        ticket = self.ticket.with_user(self.technician)
        self.assertFalse(ticket.halo_running_since)
        ticket.action_halo_start_action()
        ticket.invalidate_recordset()
        self.assertTrue(ticket.halo_running_since)
        self.assertLessEqual(ticket.halo_running_since, fields.Datetime.now())
        # another user's ticket view shows no timer of mine
        self.assertFalse(self.ticket.with_user(self.billing_user).halo_running_since)
        action = ticket.action_halo_stop_action()
        self.assertEqual(action["name"], "Stop action: what did you do?")
        view_id = action["views"][0][0]
        self.assertEqual(view_id, self.env.ref("halo_helpdesk_billing.halo_action_view_form_stop").id)
        arch = etree.fromstring(
            self.env["account.analytic.line"].with_user(self.technician).get_view(view_id, "form")["arch"]
        )
        labelled = {node.get("name"): node.get("string") for node in arch.iter("field") if node.get("string")}
        self.assertEqual(labelled["name"], "What was done")
        self.assertEqual(labelled["halo_charge_rate_id"], "Charge rate")
        self.assertEqual(labelled["halo_billable"], "Billable or no charge")
        ticket.invalidate_recordset()
        self.assertFalse(ticket.halo_running_since)
        # the header shows the timer widget
        form = etree.fromstring(
            self.ticket.with_user(self.technician).get_view(
                self.env.ref("helpdesk_mgmt.ticket_view_form").id, "form"
            )["arch"]
        )
        self.assertEqual(
            form.xpath("//header/field[@name='halo_running_since']")[0].get("widget"), "halo_timer"
        )

    def test_technician_sees_their_own_expense_amount_only(self):
        other_tech = self._halo_user("halo_tech_2", "Other Tech", TECHNICIAN_GROUPS)
        mine = (
            self.env["halo.expense"]
            .with_user(self.technician)
            .create({"ticket_id": self.ticket.id, "type_id": self.expense_type_toll.id, "amount_entry": 7.25})
        )
        client = self.rpc(self.technician)
        values = client.call("halo.expense", "read", [mine.id], ["amount_entry", "halo_own_entry"])[0]
        self.assertEqual((values["amount_entry"], values["halo_own_entry"]), (7.25, True))
        # the billed amount (markup) stays hidden from them
        self.assertRpcRefused(client, "halo.expense", "read", [mine.id], ["amount"])
        self.assertRpcRefused(client, "halo.expense", "read", [mine.id], ["halo_amount"])
        # another technician who may read the expense does not see what was paid
        if self.env["halo.expense"].with_user(other_tech).search_count([("id", "=", mine.id)]):
            values = self.rpc(other_tech).call("halo.expense", "read", [mine.id], ["amount_entry"])[0]
            self.assertEqual(values["amount_entry"], 0.0)
        # billing staff see it
        self.assertEqual(mine.with_user(self.billing_user).amount_entry, 7.25)

    def test_item_product_picker_opens_for_a_technician(self):
        form = etree.fromstring(
            self.env["helpdesk.ticket"]
            .with_user(self.technician)
            .get_view(self.env.ref("helpdesk_mgmt.ticket_view_form").id, "form")["arch"]
        )
        product = form.xpath("//field[@name='halo_item_ids']//field[@name='product_id']")[0]
        self.assertIn("halo_helpdesk_billing.halo_product_view_list_picker", product.get("context"))
        client = self.rpc(self.technician)
        views = client.call(
            "product.product",
            "get_views",
            [[False, "list"], [False, "search"]],
            context={"list_view_ref": "halo_helpdesk_billing.halo_product_view_list_picker"},
        )
        arch = etree.fromstring(views["views"]["list"]["arch"])
        names = [node.get("name") for node in arch.iter("field")]
        self.assertNotIn("avg_cost", names)
        self.assertNotIn("lst_price", names)
        rows = client.call(
            "product.product",
            "web_search_read",
            [("sale_ok", "=", True)],
            {name: {} for name in names},
            limit=5,
        )
        self.assertIn("records", rows)
        # the stock list (what Search more... opened before) needs stock moves a technician cannot read
        self.assertRpcRefused(client, "product.product", "search_read", [], ["avg_cost"], limit=1)

    def test_item_entry_labels_are_plain(self):
        Item = self.env["halo.ticket.item"]
        self.assertEqual(Item._fields["cost_entry"].string, "Cost per Unit")
        self.assertEqual(Item._fields["price_entry"].string, "Sale Price per Unit")

    def test_lock_message_names_the_action(self):
        line = self.env["account.analytic.line"].create(
            {
                "halo_ticket_id": self.ticket.id,
                "halo_kind": "labour",
                "employee_id": self.employee_tech.id,
                "halo_start": datetime(2026, 7, 7, 9, 0),
                "halo_end": datetime(2026, 7, 7, 10, 0),
                "name": "Replaced the fuser",
            }
        )
        BILLING_ENGINE.on(line).write({"halo_invoice_number": "INV/2026/00042"})
        with self.assertRaises(UserError) as caught:
            line.with_user(self.technician).write({"name": "Something else"})
        message = str(caught.exception)
        self.assertIn("Replaced the fuser", message)
        self.assertIn(self.ticket.number, message)
        self.assertNotIn(line.project_id.name, message.replace(line.name, ""))


@tagged("post_install", "-at_install")
class TestScreensTicketContract(HaloContractCommon):
    def test_ticket_shows_contract_and_remaining_hours_never_money(self):
        contract = self._contract(
            prepay_kind="hours", topup_block=10, topup_product_id=self.product_topup.id, topup_price=900
        )
        contract.action_topup()  # +10 h
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Printer", "description": "x", "partner_id": self.customer.id}
        )
        tech_ticket = ticket.with_user(self.technician)
        self.assertEqual(tech_ticket.halo_contract_id, contract)
        self.assertEqual(tech_ticket.halo_contract_id.display_name, contract.display_name)
        self.assertEqual(tech_ticket.halo_contract_remaining, "10.00 h prepaid left")

    def test_money_contract_shows_exhausted_to_technicians(self):
        contract = self._contract(
            prepay_kind="money", topup_block=500, topup_product_id=self.product_topup.id, topup_price=500
        )
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Printer", "description": "x", "partner_id": self.customer.id}
        )
        self.assertEqual(ticket.with_user(self.technician).halo_contract_id, contract)
        self.assertEqual(
            ticket.with_user(self.technician).halo_contract_remaining, "prepaid balance exhausted"
        )
        contract.action_topup()  # +500.00
        ticket.invalidate_recordset()
        remaining = ticket.with_user(self.technician).halo_contract_remaining
        self.assertEqual(remaining, "prepaid balance in credit")
        self.assertNotIn("500", remaining)
        ticket.invalidate_recordset()
        self.assertIn("500", ticket.with_user(self.billing_user).halo_contract_remaining)

    def test_no_contract_nothing_shown(self):
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Printer", "description": "x", "partner_id": self.other_customer.id}
        )
        self.assertFalse(ticket.halo_contract_id)
        self.assertFalse(ticket.halo_contract_remaining)

    def test_dates_in_customer_emails_follow_the_recipient_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.contact.lang = "fr_FR"
        contract = self._contract(name="Ending", date_end=date(2026, 6, 30))
        template = self.env.ref("halo_helpdesk_billing.halo_contract_expiry_mail_template")
        subject = template._render_field("subject", contract.ids)[contract.id]
        body = template._render_field("body_html", contract.ids)[contract.id]
        for text in (subject, body):
            self.assertNotIn("2026-06-30", text)
            self.assertIn("30/06/2026", text)
        self.contact.lang = "en_US"
        subject = template._render_field("subject", contract.ids)[contract.id]
        self.assertIn("06/30/2026", subject)
