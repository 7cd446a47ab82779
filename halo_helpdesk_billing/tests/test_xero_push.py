# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoices to Xero against the sandbox (real HTTP, real SDK): the happy path, totals that agree,
numbering, edits after sending (credit notes: test_xero_credit_notes.py)."""

from ast import literal_eval
from datetime import date

from odoo.exceptions import UserError
from odoo.tests import tagged

from .test_xero_push_common import HaloXeroPushCommon


@tagged("post_install", "-at_install")
class TestXeroPush(HaloXeroPushCommon):
    def test_post_queues_and_push_sends_once(self):
        moves = self.make_invoices(3)
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"queued"})
        self.assertEqual(moves.mapped("halo_xero_payload_version"), [1, 1, 1])
        stats = moves._halo_xero_push()
        self.assertEqual(stats["sent"], 3)
        xero = self.assertEachOnceInXero(moves)
        self.assertEqual(len(xero), 3)
        move = moves[0]
        inv = self.xero_by_number(move.name)[0]
        self.assertEqual(move.halo_xero_status, "AUTHORISED")
        self.assertEqual(move.halo_xero_number, move.name)
        self.assertEqual(inv["Total"], move.amount_total)  # 1.5 × 95 = 142.50 + 28.50
        self.assertEqual(inv["DueDate"], "2026-08-30")
        line = inv["LineItems"][0]
        self.assertEqual(
            (line["ItemCode"], line["AccountCode"], line["TaxType"]), ("SUPPORT-HR", "200", "OUTPUT2")
        )
        self.assertTrue(move.halo_xero_url and "/online/" in move.halo_xero_url)
        # one contact per customer, created once and bound
        self.assertTrue(all(moves.partner_id.mapped("halo_xero_contact_id")))
        writes = self.invoice_writes()
        self.assertEqual(len(writes), 1, "3 invoices, 1 request")
        put = writes[0]
        self.assertEqual(put["method"], "PUT")
        self.assertIn("summarizeErrors=False", put["query"])
        self.assertIn("unitdp=4", put["query"])
        self.assertTrue(put["headers"].get("Idempotency-Key", "").startswith("halo-create-"))
        self.assertTrue(
            all(
                r["headers"].get("Idempotency-Key")
                for r in self.ctl.requests()
                if r["method"] in ("PUT", "POST")
            )
        )
        # the log says what happened, per invoice
        self.assertEqual(move.halo_xero_log_ids.filtered(lambda log: log.action == "create").outcome, "ok")
        # nothing left to send: a second run makes no invoice write
        self.ctl.clear_requests()
        moves._halo_xero_push()
        self.assertFalse(self.invoice_writes())

    def test_bound_contacts_are_not_created_again(self):
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers[0].halo_xero_contact_id = contact_id
        moves = self.make_invoices(2, partner=self.customers[0])
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        self.assertFalse(self.sandbox_requests("/Contacts"))
        self.assertEqual({i["ContactID"] for i in self.xero_invoices()}, {contact_id})

    def test_existing_contact_name_is_bound_not_duplicated(self):
        org = self.sandbox.state.orgs[self.tenant_id]
        existing = next(iter(org["contacts"].values()))
        partner = self.env["res.partner"].create({"name": existing["Name"], "is_company": True})
        moves = self.make_invoices(1, partner=partner)
        moves._halo_xero_push()
        self.assertEqual(partner.halo_xero_contact_id, existing["ContactID"])
        self.assertEqual(len([c for c in org["contacts"].values() if c["Name"] == existing["Name"]]), 1)
        self.assertEachOnceInXero(moves)

    def test_pdf_attached_online(self):
        self.connection.attach_pdf = True
        moves = self.make_invoices(2)
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        attachments = self.sandbox.state.orgs[self.tenant_id]["attachments"]
        for move in moves:
            files = list(attachments[move.halo_xero_invoice_id].values())
            self.assertEqual(len(files), 1)
            self.assertTrue(files[0]["IncludeOnline"])
            self.assertTrue(move.halo_xero_pdf_sent)
            self.assertFalse(move.halo_xero_followup)

    def test_draft_status_and_xero_numbering(self):
        self.connection.write({"invoice_status": "DRAFT", "invoice_numbering": "xero"})
        moves = self.make_invoices(2)
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        for move in moves:
            inv = [i for i in self.xero_invoices() if i["Reference"] == move.name][0]
            self.assertEqual(inv["Status"], "DRAFT")
            self.assertRegex(move.halo_xero_number, r"^INV-\d{4}$")
            self.assertEqual(inv["InvoiceNumber"], move.halo_xero_number)
            self.assertEqual(inv["DueDate"], "2026-08-30", "DueDate is sent for drafts too")
            self.assertFalse(move.halo_xero_url, "Xero has no online invoice for drafts")

    # -- totals agree ---------------------------------------------------------------------------------
    def test_rounding_line_when_per_line_tax_differs_by_a_cent(self):
        """Odoo rounding globally: 3 × 3.33 = 9.99, VAT 20 % = 1.998 → 2.00, total 11.99.
        Xero rounds each line's tax: 0.666 → 0.67, × 3 = 2.01, total 12.00 → a −0.01 line on ROUNDING (860)."""
        self.company.tax_calculation_rounding_method = "round_globally"
        move = self.make_invoices(1, lines=[("A", 1, 3.33), ("B", 1, 3.33), ("C", 1, 3.33)])
        self.assertAlmostEqual(move.amount_total, 11.99)
        move._halo_xero_push()
        inv = self.xero_by_number(move.name)[0]
        self.assertEqual(inv["Total"], 11.99)
        self.assertEqual(inv["TotalTax"], 2.01)
        rounding = inv["LineItems"][-1]
        self.assertEqual(
            (rounding["AccountCode"], rounding["TaxType"], rounding["LineAmount"]), ("860", "NONE", -0.01)
        )

    def test_rounding_line_upwards(self):
        """3 × 1.02 = 3.06, VAT 20 % = 0.612 → 0.61 in Odoo (global); Xero 0.204 → 0.20 × 3 = 0.60: +0.01."""
        self.company.tax_calculation_rounding_method = "round_globally"
        move = self.make_invoices(1, lines=[("A", 1, 1.02), ("B", 1, 1.02), ("C", 1, 1.02)])
        self.assertAlmostEqual(move.amount_total, 3.67)
        move._halo_xero_push()
        inv = self.xero_by_number(move.name)[0]
        self.assertEqual((inv["Total"], inv["LineItems"][-1]["LineAmount"]), (3.67, 0.01))

    def test_no_rounding_line_when_totals_agree(self):
        self.company.tax_calculation_rounding_method = "round_per_line"
        move = self.make_invoices(1, lines=[("A", 1, 3.33), ("B", 1, 3.33), ("C", 1, 3.33)])
        self.assertAlmostEqual(move.amount_total, 12.00)
        move._halo_xero_push()
        inv = self.xero_by_number(move.name)[0]
        self.assertEqual((inv["Total"], len(inv["LineItems"])), (12.0, 3))

    def test_unit_price_sent_at_4dp(self):
        self.env.ref("product.decimal_price").digits = 5
        move = self.make_invoices(1, lines=[("A", 3, 1.79549)])
        move._halo_xero_push()
        inv = self.xero_by_number(move.name)[0]
        self.assertEqual(inv["LineItems"][0]["UnitAmount"], 1.7955)
        self.assertEqual(inv["Total"], move.amount_total)

    def test_tax_type_with_another_rate_in_xero_is_flagged(self):
        tax15 = self.env["account.tax"].create(
            {
                "name": "15 % mapped to Xero's 20 %",
                "amount": 15,
                "type_tax_use": "sale",
                "halo_xero_tax_type": "OUTPUT2",
            }
        )
        move = self.make_invoices(1, post=False)
        move.invoice_line_ids.tax_ids = tax15
        move.action_post()
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "sent")
        self.assertIn("differs from Odoo's", move.halo_xero_error)

    # -- element errors ---------------------------------------------------------------------------------
    def test_one_invalid_invoice_in_a_batch_of_fifty(self):
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})
        good = self.make_invoices(49, post=False)
        bad = self.make_invoices(1, lines=[("Bad", 1, 10.0, self.product_bad)], post=False)
        moves = good[:20] | bad | good[20:]
        moves.action_post()
        moves._halo_xero_push()
        self.assertEqual(len(self.invoice_writes()), 1, "50 invoices, one request")
        self.assertEqual(bad.halo_xero_state, "failed")
        self.assertIn("Account code '999'", bad.halo_xero_error)
        self.assertEachOnceInXero(good)
        self.assertEqual(len(self.xero_invoices()), 49)
        # fixed and retried: a new payload version, hence a new Idempotency-Key
        self.product_bad.halo_xero_account_code = "200"
        bad.action_halo_xero_retry()
        self.assertEqual((bad.halo_xero_state, bad.halo_xero_payload_version), ("queued", 2))
        bad._halo_xero_push()
        self.assertEachOnceInXero(good | bad)

    def test_payload_error_fails_only_that_invoice(self):
        self.tax20.halo_xero_tax_type = False
        move = self.make_invoices(1)
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "failed")
        self.assertIn("no Xero tax type", move.halo_xero_error)
        self.assertFalse(self.invoice_writes())

    def test_batches_of_fifty(self):
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})
        moves = self.make_invoices(120)
        moves._halo_xero_push()
        self.assertEqual([len(self.body(r)["Invoices"]) for r in self.invoice_writes()], [50, 50, 20])
        self.assertEachOnceInXero(moves)

    # -- edits after sending ------------------------------------------------------------------------------
    def test_edit_of_a_draft_in_xero_updates_it(self):
        self.connection.invoice_status = "DRAFT"
        move = self.make_invoices(1)
        move._halo_xero_push()
        xero_id = move.halo_xero_invoice_id
        move.button_draft()
        move.invoice_line_ids[0].price_unit = 100.0
        move.action_post()
        self.assertEqual((move.halo_xero_state, move.halo_xero_payload_version), ("queued", 2))
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_invoice_id, xero_id)
        self.assertEqual(len(self.xero_invoices()), 1)
        inv = self.xero_by_number(move.name)[0]
        self.assertEqual(inv["Total"], 180.0)  # 1.5 × 100 + 20 %
        self.assertEqual(self.invoice_writes()[-1]["method"], "POST")

    def test_edit_of_an_authorised_invoice_is_refused(self):
        move = self.make_invoices(1)
        move._halo_xero_push()
        with self.assertRaisesRegex(UserError, "credit note"):
            move.button_draft()

    def test_authorised_in_xero_meanwhile_fails_the_update_clearly(self):
        self.connection.invoice_status = "DRAFT"
        move = self.make_invoices(1)
        move._halo_xero_push()
        move.button_draft()
        # someone approves it in Xero before Odoo sends the change
        inv = self.xero_by_number(move.name)[0]
        inv["Status"] = "AUTHORISED"
        move.invoice_line_ids[0].price_unit = 100.0
        move.action_post()
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "failed")
        self.assertIn("credit note", move.halo_xero_error)

    # -- credit notes: see test_xero_credit_notes.py ----------------------------------------------------
    def test_credit_notes_are_pushed_not_as_invoices(self):
        refund = self.make_invoices(1, move_type="out_refund")
        self.assertEqual(refund.halo_xero_state, "queued")
        self.assertFalse(refund.halo_xero_error)
        self.assertIn(
            refund, self.env["account.move"].search(self.env["account.move"]._halo_xero_push_domain())
        )
        refund._halo_xero_push()
        self.assertEqual(refund.halo_xero_state, "sent", refund.halo_xero_error)
        self.assertFalse(self.invoice_writes())  # /CreditNotes, not /Invoices
        self.assertFalse(self.xero_invoices())

    def test_ticket_shows_xero_number_and_status(self):
        ticket = self.env["helpdesk.ticket"].create(
            {"name": "Printer down", "description": "x", "partner_id": self.customers[0].id}
        )
        item = self.env["halo.ticket.item"].create(
            {
                "ticket_id": ticket.id,
                "date": date(2026, 7, 7),
                "kind": "adhoc",
                "name": "Cable",
                "quantity": 1,
                "unit_cost": 1.0,
                "unit_price": 2.0,
            }
        )
        move = self.make_invoices(1, partner=self.customers[0])
        move._halo_xero_push()
        # what the billing run records on the work it bills (see account_move._halo_record_numbers)
        self.env.cr.execute(
            "UPDATE halo_ticket_item SET halo_invoice_id = %s, halo_invoice_number = %s WHERE id = %s",
            (move.id, move.name, item.id),
        )
        self.env.invalidate_all()
        self.assertEqual(ticket.halo_invoice_ids, move)
        self.assertEqual(ticket.halo_xero_summary, "%s: %s (AUTHORISED)" % (move.name, move.halo_xero_number))
        self.assertTrue(ticket.halo_invoice_ids.halo_xero_url)

    def test_dashboard_send_now_and_retry(self):
        moves = self.make_invoices(2)
        Job = self.env["queue.job"].sudo()
        jobs = Job.search_count([("method_name", "=", "_halo_job_xero_push")])
        action = moves.action_halo_xero_send_now()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(
            Job.search_count([("method_name", "=", "_halo_job_xero_push")]),
            jobs + 1,
            "Send now enqueues a push job, which commits 'sending' before each request",
        )
        moves[0].write({"halo_xero_state": "failed", "halo_xero_error": "x"})
        moves[0].action_halo_xero_retry()
        self.assertEqual(
            (moves[0].halo_xero_state, moves[0].halo_xero_payload_version, moves[0].halo_xero_error),
            ("queued", 2, False),
        )
        dashboard = self.env.ref("halo_helpdesk_billing.account_move_action_halo_xero")
        views = self.env["account.move"].get_views([(v.view_id.id, v.view_mode) for v in dashboard.view_ids])
        self.assertEqual(set(views["views"]), {"kanban", "list"})
        self.assertEqual(self.env["account.move"].search(literal_eval(dashboard.domain)) & moves, moves)
        self.xero_calls_expected = False

    def test_tracking_category_from_a_line_field(self):
        # the option must exist in Xero (the sandbox's "Region" has North and South): sent in Xero's spelling
        self.connection.write(
            {"tracking_category_name": "region", "tracking_option_field": "partner_id.city"}
        )
        self.customers[0].city = "north"
        move = self.make_invoices(1, partner=self.customers[0])
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "sent", move.halo_xero_error)
        line = self.body(self.invoice_writes()[0])["Invoices"][0]["LineItems"][0]
        self.assertEqual(line["Tracking"], [{"Name": "Region", "Option": "North"}])
