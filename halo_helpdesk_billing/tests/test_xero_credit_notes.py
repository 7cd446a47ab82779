# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Customer credit notes to Xero (/CreditNotes) against the sandbox: sent once, allocated to the invoice
they reverse, dropped connections, element errors, status back by polling (an allocation is no payment)."""

from datetime import date

from odoo.tests import tagged

from .test_xero_push_common import HaloXeroPushCommon


@tagged("post_install", "-at_install")
class TestXeroCreditNotes(HaloXeroPushCommon):
    def setUp(self):
        super().setUp()
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})

    # -- helpers --------------------------------------------------------------------------------------
    def sent_invoice(self, lines=None):
        invoice = self.make_invoices(1, lines=lines, partner=self.customers[0])
        invoice._halo_xero_push()
        self.assertEqual(invoice.halo_xero_state, "sent", invoice.halo_xero_error)
        return invoice

    def credit_note_for(self, invoice, price=None):
        """A posted credit note reversing ``invoice`` (Odoo's reversal), optionally for less."""
        refund = invoice._reverse_moves(
            [{"invoice_date": date(2026, 8, 5), "ref": "Credit for %s" % invoice.name}]
        )
        if price is not None:
            refund.invoice_line_ids[0].price_unit = price
        refund.action_post()
        return refund

    def xero_credit_notes(self):
        return list(self.sandbox.state.orgs[self.tenant_id]["credit_notes"].values())

    def credit_note_writes(self):
        return [
            r
            for r in self.ctl.requests()
            if r["method"] in ("PUT", "POST") and r["path"].lower().rstrip("/").endswith("/creditnotes")
        ]

    def xero_invoice(self, move):
        return self.sandbox.state.orgs[self.tenant_id]["invoices"][move.halo_xero_invoice_id]

    # -- tests ----------------------------------------------------------------------------------------
    def test_credit_note_sent_once_allocated_and_both_states_known(self):
        invoice = self.sent_invoice()  # 1.5 × 95 + 20 % = 171.00
        refund = self.credit_note_for(invoice, price=40.0)  # 1.5 × 40 + 20 % = 72.00
        self.assertEqual(refund.halo_xero_state, "queued")
        self.ctl.clear_requests()
        refund._halo_xero_push()
        self.assertEqual(refund.halo_xero_state, "sent", refund.halo_xero_error)
        xero = self.xero_credit_notes()
        self.assertEqual(len(xero), 1)
        cn = xero[0]
        self.assertEqual(
            (cn["CreditNoteID"], cn["CreditNoteNumber"], cn["Type"]),
            (refund.halo_xero_invoice_id, refund.name, "ACCRECCREDIT"),
        )
        self.assertEqual(cn["Total"], refund.amount_total)
        self.assertEqual(refund.halo_xero_number, refund.name)
        writes = self.credit_note_writes()
        self.assertEqual(len(writes), 1)
        self.assertTrue(writes[0]["headers"].get("Idempotency-Key", "").startswith("halo-create-"))
        self.assertFalse(self.invoice_writes(), "a credit note is not sent as an invoice")
        # allocated to the invoice it reverses, with its own Idempotency-Key
        allocations = [r for r in self.ctl.requests() if r["path"].lower().endswith("/allocations")]
        self.assertEqual([r["method"] for r in allocations], ["PUT"])
        self.assertTrue(allocations[0]["headers"].get("Idempotency-Key", "").startswith("halo-allocate-"))
        self.assertEqual(refund.halo_xero_allocation, "done")
        self.assertTrue(refund.halo_xero_allocation_id)
        xero_inv = self.xero_invoice(invoice)
        self.assertEqual((xero_inv["AmountCredited"], xero_inv["AmountDue"]), (72.0, 99.0))
        cn = self.xero_credit_notes()[0]
        self.assertEqual((cn["RemainingCredit"], cn["Status"]), (0.0, "PAID"))
        # Odoo knows both states
        self.assertEqual(refund.halo_xero_status, "PAID")
        self.assertEqual(invoice.halo_xero_status, "AUTHORISED")
        # polling afterwards: the invoice's AmountDue dropped, but a credit is not a payment
        self.ctl.advance(5)
        self.connection._halo_xero_poll()
        self.assertFalse(invoice.halo_xero_payment_ids)
        self.assertFalse(self.env["halo.xero.payment"].search([("move_id", "in", (invoice | refund).ids)]))
        self.assertTrue(self.connection.halo_xero_poll_cn_since)
        # a real payment of the rest is registered, for the rest only
        self.ctl.pay(self.tenant_id, invoice.halo_xero_invoice_id)
        self.ctl.advance(5)
        self.connection._halo_xero_poll()
        self.assertEqual(invoice.halo_xero_payment_ids.mapped("amount"), [99.0])
        self.assertEqual(invoice.halo_xero_status, "PAID")
        # nothing left to send: a second run writes nothing
        self.ctl.clear_requests()
        (invoice | refund)._halo_xero_push()
        self.assertFalse(self.credit_note_writes() + self.invoice_writes())

    def test_full_credit_marks_the_xero_invoice_paid_without_a_payment(self):
        invoice = self.sent_invoice()
        refund = self.credit_note_for(invoice)
        refund._halo_xero_push()
        self.assertEqual(self.xero_invoice(invoice)["Status"], "PAID")
        self.assertEqual(self.xero_invoice(invoice)["AmountDue"], 0.0)
        self.assertEqual((invoice.halo_xero_status, refund.halo_xero_status), ("PAID", "PAID"))
        self.assertFalse(invoice.halo_xero_payment_ids)

    def test_draft_status_setting_leaves_the_credit_note_unallocated(self):
        invoice = self.sent_invoice()
        self.connection.invoice_status = "DRAFT"
        refund = self.credit_note_for(invoice)
        refund._halo_xero_push()
        self.assertEqual((refund.halo_xero_state, refund.halo_xero_status), ("sent", "DRAFT"))
        self.assertEqual(refund.halo_xero_allocation, "skipped")
        log = refund.halo_xero_log_ids.filtered(lambda entry: entry.action == "allocate")
        self.assertIn("DRAFT", log.message)
        self.assertFalse([r for r in self.ctl.requests() if r["path"].lower().endswith("/allocations")])
        self.assertEqual(self.xero_invoice(invoice)["AmountDue"], invoice.amount_total)
        # approved in Xero later: the poll sees it and the next follow-up allocates it
        org = self.sandbox.state.orgs[self.tenant_id]
        self.ctl.advance(5)
        cn = org["credit_notes"][refund.halo_xero_invoice_id]
        org["credit_notes"][cn["CreditNoteID"]] = {
            **cn,
            "Status": "AUTHORISED",
            "UpdatedDateUTC": self.sandbox.state.now(),
        }
        self.connection._halo_xero_poll()
        self.assertEqual((refund.halo_xero_status, refund.halo_xero_allocation), ("AUTHORISED", "pending"))
        refund._halo_xero_followups(self.connection, self.connection._halo_client())
        self.assertEqual(refund.halo_xero_allocation, "done")
        self.assertEqual(self.xero_invoice(invoice)["AmountDue"], 0.0)

    def test_dropped_connection_after_credit_note_put_applied_gives_one_credit_note(self):
        invoice = self.sent_invoice()
        refund = self.credit_note_for(invoice, price=10.0)
        self.ctl.clear_requests()
        self.ctl.fault("drop", after=True, method="PUT", path="/CreditNotes$")
        refund._halo_xero_push()
        self.assertEqual(refund.halo_xero_state, "sent", refund.halo_xero_error)
        self.assertEqual(len(self.xero_credit_notes()), 1)
        self.assertEqual(self.xero_credit_notes()[0]["CreditNoteID"], refund.halo_xero_invoice_id)
        self.assertEqual(
            [(r["method"], r["dropped"]) for r in self.credit_note_writes()],
            [("PUT", True)],
            "found by number, never sent again",
        )
        logs = refund.halo_xero_log_ids.sorted("id")
        self.assertEqual(
            [(log.action, log.outcome) for log in logs][:2], [("create", "unknown"), ("lookup", "ok")]
        )
        # and allocated once
        self.assertEqual(refund.halo_xero_allocation, "done")
        self.assertEqual(self.xero_invoice(invoice)["AmountCredited"], 18.0)

    def test_dropped_allocation_is_looked_up_not_applied_twice(self):
        invoice = self.sent_invoice()
        refund = self.credit_note_for(invoice, price=10.0)
        self.ctl.fault("drop", after=True, method="PUT", path="/Allocations$")
        refund._halo_xero_push()
        self.assertEqual(refund.halo_xero_state, "sent")
        self.assertEqual(refund.halo_xero_allocation, "unknown")
        self.assertTrue(refund.halo_xero_followup)
        refund._halo_xero_followups(self.connection, self.connection._halo_client())
        self.assertEqual(refund.halo_xero_allocation, "done")
        self.assertEqual(self.xero_invoice(invoice)["AmountCredited"], 18.0)
        allocations = [r for r in self.ctl.requests() if r["path"].lower().endswith("/allocations")]
        self.assertEqual(len(allocations), 1, "found in the credit note's allocations, not sent again")

    def test_invalid_credit_note_in_a_batch_fails_alone(self):
        invoices = self.make_invoices(3, partner=self.customers[0])
        invoices._halo_xero_push()
        refunds = self.env["account.move"]
        for invoice in invoices:
            refunds |= self.credit_note_for(invoice, price=5.0)
        refunds[1].button_draft()
        # account code 999 does not exist in Xero: Xero refuses this element only
        refunds[1].invoice_line_ids[0].write(
            {"product_id": self.product_bad.id, "price_unit": 5.0, "tax_ids": [(6, 0, self.tax20.ids)]}
        )
        refunds[1].action_post()
        self.ctl.clear_requests()
        refunds._halo_xero_push()
        self.assertEqual(refunds.mapped("halo_xero_state"), ["sent", "failed", "sent"])
        self.assertIn("999", refunds[1].halo_xero_error)
        self.assertEqual(len(self.credit_note_writes()), 1, "3 credit notes, 1 request")
        self.assertEqual(
            len(
                self.credit_note_writes()[0]["body"]
                and self.body(self.credit_note_writes()[0])["CreditNotes"]
            ),
            3,
        )
        self.assertEqual(
            sorted(cn["CreditNoteNumber"] for cn in self.xero_credit_notes()),
            sorted(refunds[0::2].mapped("name")),
        )
        self.assertEqual(refunds.mapped("halo_xero_allocation"), ["done", False, "done"])

    def test_rounding_line_reconciles_the_credit_note_total(self):
        self.company.tax_calculation_rounding_method = "round_globally"
        invoice = self.sent_invoice(lines=[("Part", 1, 3.33), ("Part", 1, 3.33), ("Part", 1, 3.33)])
        refund = self.credit_note_for(invoice)
        refund._halo_xero_push()
        cn = self.xero_credit_notes()[0]
        self.assertEqual(cn["Total"], refund.amount_total)
        self.assertEqual(cn["LineItems"][-1]["Description"], "Rounding")
        self.assertEqual(self.xero_invoice(invoice)["AmountDue"], 0.0)
