from datetime import date, datetime

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon
from .contract_common import HaloContractCommon


@tagged("post_install", "-at_install")
class TestCorrections(HaloContractCommon, HaloBillingRunCommon):
    """Credit notes release what an invoice billed; the ledger is append-only; adjustments keep
    contract coverage. Work of ``_work``: £142.50 + £142.50 + £12.00 + £13.57 + £50.00 = £360.57."""

    def _invoiced_run(self, ticket=None):
        work = self._work(ticket or self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        return run, work

    def _reverse(self, invoice, post=True):
        """A credit note through Odoo's Reverse wizard (full refund, left in draft by Odoo)."""
        wizard = (
            self.env["account.move.reversal"]
            .with_context(
                active_model="account.move",
                active_ids=invoice.ids,
            )
            .create(
                {"reason": "Wrong customer", "journal_id": invoice.journal_id.id, "date": date(2026, 8, 3)}
            )
        )
        action = wizard.refund_moves()
        credit = self.env["account.move"].browse(action["res_id"])
        if post:
            credit.action_post()
        return credit

    def _work_records(self, work):
        actions, trip, expense, item = work
        return [actions[0], actions[1], trip, expense, item]

    # ------------------------------------------------------------------ credit notes
    def test_full_credit_note_releases_work_and_a_new_run_bills_it_at_the_same_price(self):
        run, work = self._invoiced_run()
        invoice = run.invoice_ids
        self.assertEqual(invoice.amount_untaxed, 360.57)
        # nothing to bill before the credit note: the work is invoiced
        probe = self._run(partner_ids=[(6, 0, self.customer.ids)])
        probe.action_preview()
        self.assertFalse(probe.line_ids)
        probe.action_cancel()
        credit = self._reverse(invoice)
        self.assertEqual(credit.move_type, "out_refund")
        self.assertEqual(invoice.halo_released_by_id, credit)
        for record in self._work_records(work):
            self.assertEqual(record.halo_billing_state, "unbilled")
            self.assertFalse(record.halo_invoice_number)
            self.assertFalse(record.halo_run_id)
            self.assertIn(invoice.name, record.halo_billing_history)
            self.assertIn(credit.name, record.halo_billing_history)
        self.assertIn(f"{invoice.name} credited by {credit.name}", self.ticket.halo_credited_invoices)
        self.assertTrue(self.ticket.message_ids.filtered(lambda m: credit.name in (m.body or "")))
        # the charges keep their invoice as history but no longer hold the work
        self.assertEqual(set(run.line_ids.mapped("credit_note_id")), {credit})
        self.assertFalse(any(run.line_ids.mapped("claim_key")))
        self.assertEqual(run.line_ids.invoice_id, invoice)
        # a new run bills the same five charges at the same price: 360.57 again
        rebill = self._run(partner_ids=[(6, 0, self.customer.ids)])
        rebill.action_preview()
        self.assertEqual(sorted(rebill.line_ids.mapped("amount")), [12.0, 13.57, 50.0, 142.5, 142.5])
        self.assertEqual(
            sorted(rebill.line_ids.mapped(lambda line: (line.res_model, line.res_id))),
            sorted(run.line_ids.mapped(lambda line: (line.res_model, line.res_id))),
        )
        rebill.action_create_invoices()
        self.assertEqual(rebill.invoice_ids.amount_untaxed, 360.57)
        for record in self._work_records(work):
            self.assertEqual(record.halo_invoice_number, rebill.invoice_ids.name)
            self.assertIn(invoice.name, record.halo_billing_history)
        # nothing billed twice: a third run finds nothing
        third = self._run(partner_ids=[(6, 0, self.customer.ids)])
        third.action_preview()
        self.assertFalse(third.line_ids)
        # the credit note cannot be put back to draft once it released the work
        with self.assertRaisesRegex(UserError, "can be reset to draft"):
            credit.button_draft()
        with self.assertRaisesRegex(UserError, "can be reset to draft"):
            invoice.button_draft()

    def test_partial_credit_note_releases_nothing_and_says_so(self):
        run, work = self._invoiced_run()
        invoice = run.invoice_ids
        credit = self._reverse(invoice, post=False)
        # a goodwill discount: only the £50.00 cables are credited
        credit.write(
            {
                "invoice_line_ids": [
                    Command.unlink(line.id) for line in credit.invoice_line_ids if line.price_subtotal != 50.0
                ]
            }
        )
        credit.action_post()
        self.assertEqual(credit.amount_untaxed, 50.0)
        self.assertFalse(invoice.halo_released_by_id)
        for record in self._work_records(work):
            self.assertEqual(record.halo_billing_state, "invoiced")
            self.assertEqual(record.halo_invoice_number, invoice.name)
        self.assertTrue(all(run.line_ids.mapped("claim_key")))
        message = invoice.message_ids.filtered(
            lambda m: "partial credit note releases nothing" in (m.body or "")
        )
        self.assertTrue(message)
        with self.assertRaisesRegex(UserError, "credit notes"):
            run.action_cancel()
        # crediting the rest (310.57 + tax) completes the credit: now the work is released
        rest = invoice._reverse_moves([{"invoice_date": date(2026, 8, 4)}])
        rest.write(
            {
                "invoice_line_ids": [
                    Command.unlink(line.id) for line in rest.invoice_line_ids if line.price_subtotal == 50.0
                ]
            }
        )
        self.assertEqual(rest.amount_untaxed, 310.57)
        rest.action_post()
        self.assertEqual(invoice.halo_released_by_id, rest)
        self.assertEqual(work[0].mapped("halo_billing_state"), ["unbilled", "unbilled"])

    def test_credit_and_rebill_in_one_action_then_the_old_run_can_be_cancelled(self):
        run, work = self._invoiced_run()
        invoice = run.invoice_ids
        # later work of the same customer is not part of the re-billing
        later = self.env["account.analytic.line"].create(
            {
                "halo_ticket_id": self.ticket.id,
                "employee_id": self.employee.id,
                "halo_charge_rate_id": self.rate_onsite.id,
                "name": "Later",
                "halo_start": datetime(2026, 7, 20, 9, 0),
                "halo_end": datetime(2026, 7, 20, 10, 0),
            }
        )
        with self.assertRaises(AccessError):
            invoice.with_user(self.technician).action_halo_credit_and_rebill()
        action = invoice.with_user(self.billing_user).action_halo_credit_and_rebill()
        rebill = self.env["halo.billing.run"].browse(action["res_id"])
        credit = invoice.reversal_move_ids
        self.assertEqual((credit.state, credit.amount_total), ("posted", invoice.amount_total))
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual(rebill.state, "previewed")
        self.assertEqual(rebill.halo_rebill_move_id, invoice)
        self.assertEqual(sorted(rebill.line_ids.mapped("amount")), [12.0, 13.57, 50.0, 142.5, 142.5])
        self.assertEqual(rebill.amount_total, 360.57)
        self.assertEqual(later.halo_billing_state, "unbilled")
        for record in self._work_records(work):
            self.assertEqual(record.halo_run_id, rebill)
            self.assertEqual(record.halo_billing_state, "in_run")
        with self.assertRaisesRegex(UserError, "already credited"):
            invoice.action_halo_credit_and_rebill()
        # every posted invoice of the old run is credited: it can be cancelled, and the
        # cancellation leaves the re-billing run's claims alone
        run.action_cancel()
        self.assertEqual(run.state, "cancelled")
        self.assertEqual(work[0].halo_run_id, rebill)
        rebill.action_create_invoices()
        self.assertEqual(rebill.invoice_ids.amount_untaxed, 360.57)
        self.assertEqual(work[1].halo_invoice_number, rebill.invoice_ids.name)
        self.assertIn(credit.name, self.ticket.halo_credited_invoices)

    # ------------------------------------------------------------------ ledger
    def _prepay(self, block=2):
        contract = self._contract(
            prepay_kind="hours",
            prepay_rate_ids=[(6, 0, self.rate_onsite.ids)],
            topup_block=block,
            topup_product_id=self.product_topup.id,
            topup_price=95 * block,
        )
        contract.action_topup()
        return contract

    def test_credit_note_reverses_prepay_consumption_and_the_work_consumes_again(self):
        contract = self._prepay()
        run, _work = self._invoiced_run()
        # action 1 (1.5 h) prepaid, action 2: 0.5 h prepaid and 0.5 h PAYG (71.25)
        self.assertAlmostEqual(run.invoice_ids.amount_untaxed, 146.82)
        self.assertEqual(contract.balance_hours, 0)
        credit = self._reverse(run.invoice_ids)
        reversals = contract.ledger_ids.filtered(lambda e: e.kind == "reversal")
        self.assertEqual(sorted(reversals.mapped("hours")), [0.5, 1.5])
        self.assertEqual(reversals.credit_note_id, credit)
        self.assertEqual(reversals.invoice_id, run.invoice_ids)
        self.assertEqual(reversals.run_id, run)
        self.assertEqual(reversals.user_id, self.env.user)
        self.assertEqual(reversals.reversed_entry_id.mapped("kind"), ["consumption", "consumption"])
        self.assertEqual(reversals.run_line_id, reversals.reversed_entry_id.run_line_id)
        self.assertEqual(contract.balance_hours, 2)  # 2 - 1.5 - 0.5 + 1.5 + 0.5
        self.assertEqual(len(contract.ledger_ids), 5)  # top-up, 2 consumptions, 2 reversals
        again = self._run(partner_ids=[(6, 0, self.customer.ids)])
        again.action_preview()
        again.action_create_invoices()
        self.assertAlmostEqual(again.invoice_ids.amount_untaxed, 146.82)
        self.assertEqual(contract.balance_hours, 0)

    def test_cancelled_run_reverses_its_ledger_entries_instead_of_deleting_them(self):
        contract = self._prepay()
        self.env.company.halo_post_invoices = False
        self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        consumption = contract.ledger_ids.filtered(lambda e: e.kind == "consumption")
        self.assertEqual(sorted(consumption.mapped("hours")), [-1.5, -0.5])
        run.action_cancel()
        self.assertTrue(consumption.exists())
        self.assertEqual(
            contract.ledger_ids.sorted("id").mapped("kind"),
            ["topup", "consumption", "consumption", "reversal", "reversal"],
        )
        reversals = contract.ledger_ids.filtered(lambda e: e.kind == "reversal")
        self.assertEqual(reversals.reversed_entry_id, consumption)
        self.assertEqual(reversals.run_id, run)
        self.assertFalse(reversals.credit_note_id)
        self.assertIn("cancelled", reversals[0].reason)
        self.assertEqual(contract.balance_hours, 2)
        # a second release writes nothing more (one reversal per entry)
        self.env["halo.contract"]._halo_release_consumption(run)
        self.assertEqual(len(contract.ledger_ids), 5)

    def test_adjusting_a_prepay_covered_charge_keeps_its_coverage(self):
        contract = self._prepay()
        self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        late = run.line_ids.filtered(lambda line: line.name == "Late")
        self.assertEqual(late.amount, 71.25)  # 0.5 h prepaid, 0.5 h × 142.50
        late._halo_adjust(50.0, "Goodwill")
        self.assertEqual(late.amount, 50.0)
        self.assertEqual([p["coverage"] for p in late.parts], ["prepay_hours", "payg"])
        self.assertIn("covered by the contract and unchanged", late.explanation)
        run.action_create_invoices()
        # 50.00 + 12.00 + 13.57 + 50.00; the 1.5 h + 0.5 h prepaid are still consumed
        self.assertAlmostEqual(run.invoice_ids.amount_untaxed, 125.57)
        consumption = contract.ledger_ids.filtered(lambda e: e.kind == "consumption")
        self.assertEqual(sorted(consumption.mapped("hours")), [-1.5, -0.5])
        self.assertEqual(contract.balance_hours, 0)

    def test_credited_topup_leaves_the_balance(self):
        contract = self._prepay(block=10)
        topup = contract.invoice_ids
        topup.action_post()
        self.assertEqual(contract.balance_hours, 10)
        credit = self._reverse(topup)
        self.assertEqual(contract.balance_hours, 0)
        reversal = contract.ledger_ids.filtered(lambda e: e.kind == "reversal")
        self.assertEqual((reversal.hours, reversal.credit_note_id, reversal.invoice_id), (-10, credit, topup))

    def test_credited_fee_invoice_is_invoiced_again(self):
        contract = self._contract(fixed_fee=True, fee_product_id=self.product_fee.id, fee_amount=500)
        with freeze_time("2026-01-05"):
            moves = self.Contract._cron_halo_contract_invoices()
            self.assertEqual(moves.mapped("invoice_date"), [date(2026, 1, 1)])
            moves.action_post()
            self.assertEqual(contract.next_period_start, date(2026, 2, 1))
            self.assertFalse(self.Contract._cron_halo_contract_invoices())
            action = moves.action_halo_credit_and_rebill()
        again = (
            self.env["account.move"].browse(action["res_id"])
            if action.get("res_id")
            else self.env["account.move"].search(action["domain"])
        )
        self.assertEqual(moves.halo_released_by_id, moves.reversal_move_ids)
        self.assertEqual(len(again), 1)
        self.assertEqual(
            (again.state, again.amount_untaxed, again.invoice_date), ("draft", 500.0, date(2026, 1, 1))
        )
        periods = contract.env["halo.contract.period"].search([("contract_id", "=", contract.id)])
        self.assertEqual(periods.mapped("date_start"), [date(2026, 1, 1), date(2026, 1, 1)])
        self.assertEqual(len(periods.filtered("credit_note_id")), 1)
        self.assertEqual(contract.next_period_start, date(2026, 2, 1))

    # ------------------------------------------------------------------ hostile
    def test_release_marks_cannot_be_forged(self):
        contract = self._prepay()
        run, work = self._invoiced_run()
        invoice = run.invoice_ids
        other = self.env["account.move"].create({"move_type": "out_refund", "partner_id": self.customer.id})
        # marking the invoice released by hand would let the run be cancelled while it stands
        with self.assertRaises(AccessError):
            invoice.with_user(self.billing_manager).write({"halo_released_by_id": other.id})
        with self.assertRaises(AccessError):
            run.line_ids[:1].with_user(self.billing_manager).write({"credit_note_id": other.id})
        with self.assertRaisesRegex(UserError, "credit notes"):
            run.action_cancel()
        consumption = contract.ledger_ids.filtered(lambda e: e.kind == "consumption")
        with self.assertRaisesRegex(UserError, "set by the system"):
            self.Ledger.with_user(self.billing_manager).create(
                {
                    "contract_id": contract.id,
                    "kind": "adjustment",
                    "hours": 1.5,
                    "reason": "x",
                    "reversed_entry_id": consumption[0].id,
                }
            )
        with self.assertRaisesRegex(UserError, "set by the system"):
            self.Ledger.with_user(self.billing_manager).create(
                {
                    "contract_id": contract.id,
                    "kind": "adjustment",
                    "hours": 1.5,
                    "reason": "x",
                    "user_id": self.billing_user.id,
                }
            )
        adjustment = self.Ledger.with_user(self.billing_manager).create(
            {"contract_id": contract.id, "kind": "adjustment", "hours": 1.0, "reason": "Goodwill"}
        )
        self.assertEqual(adjustment.user_id, self.billing_manager)
        with self.assertRaisesRegex(UserError, "set by the system"):
            adjustment.with_user(self.billing_manager).write({"credit_note_id": other.id})
        fee = self._contract(fixed_fee=True, fee_product_id=self.product_fee.id, fee_amount=500)
        with freeze_time("2026-01-05"):
            moves = self.Contract._cron_halo_contract_invoices()
        period = moves.halo_contract_period_ids
        self.assertEqual(period.contract_id, fee)
        with self.assertRaises(AccessError):
            period.with_user(self.billing_manager).write({"credit_note_id": other.id})
        # the work is still billed on the standing invoice
        self.assertEqual(work[0].mapped("halo_invoice_number"), [invoice.name] * 2)

    def test_reverse_and_create_invoice_is_refused_for_run_invoices(self):
        run, work = self._invoiced_run()
        invoice = run.invoice_ids
        wizard = (
            self.env["account.move.reversal"]
            .with_context(
                active_model="account.move",
                active_ids=invoice.ids,
            )
            .create({"reason": "x", "journal_id": invoice.journal_id.id})
        )
        with self.assertRaisesRegex(UserError, "Credit and re-bill"):
            wizard.modify_moves()
        self.assertFalse(invoice.reversal_move_ids)
        self.assertEqual(work[0].mapped("halo_billing_state"), ["invoiced"] * 2)
