from odoo.tests import tagged

from odoo.addons.halo_helpdesk_billing.constants import IN_RUN, INVOICED, NOT_BILLABLE, UNBILLED

from ..models.halo_engine import BILLING_ENGINE
from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingStateWriter(HaloBillingRunCommon):
    """``halo.billable.mixin._halo_write_billing_state``: the one writer of the billing state of
    work (runs claim and release, posting records numbers, a full credit note releases)."""

    def _states(self, records):
        # read through the ORM: the writer's SQL must have invalidated what the cache held
        return [record.halo_billing_state for record in records]

    def test_claim_skips_invoiced_work_and_release_leaves_work_another_run_holds(self):
        _actions, trip, _expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        other = self._run(partner_ids=[(6, 0, self.customer.ids)])
        Trip, Item = self.env["halo.mileage"], self.env["halo.ticket.item"]
        self.assertEqual(self._states([trip, item]), [UNBILLED, UNBILLED])  # (cached now)
        self.assertEqual(Trip._halo_write_billing_state(IN_RUN, trip.ids, run_id=run.id), 1)
        self.assertEqual(Item._halo_write_billing_state(IN_RUN, item.ids, run_id=run.id), 1)
        self.assertEqual(self._states([trip, item]), [IN_RUN, IN_RUN])
        self.assertEqual(trip.halo_run_id, run)
        # released for the other run: the trip is held by ``run``, so it stays there
        self.assertEqual(Trip._halo_write_billing_state(UNBILLED, trip.ids, held_by=other.ids), 0)
        self.assertEqual((trip.halo_run_id, trip.halo_billing_state), (run, IN_RUN))
        # released by its own run: unbilled again; a trip no longer billable: not billable
        BILLING_ENGINE.on(item).sudo().write({"billable": False})  # (a locked field: the engine writes it)
        self.assertEqual(Trip._halo_write_billing_state(UNBILLED, trip.ids, held_by=run.ids), 1)
        self.assertEqual(Item._halo_write_billing_state(UNBILLED, item.ids, held_by=run.ids), 1)
        self.assertEqual(self._states([trip, item]), [UNBILLED, NOT_BILLABLE])
        self.assertFalse(trip.halo_run_id)

    def test_invoiced_work_is_never_claimed_nor_released_by_a_run_and_a_credit_note_releases_it(self):
        actions, trip, expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        invoice = run.invoice_ids
        self.assertEqual(invoice.state, "posted")
        work = [actions[0], actions[1], trip, expense, item]
        self.assertEqual(self._states(work), [INVOICED] * 5)
        self.assertEqual({record.halo_invoice_number for record in work}, {invoice.name})
        other = self._run(partner_ids=[(6, 0, self.customer.ids)])
        Trip = self.env["halo.mileage"]
        # invoiced work: a claim and a release by a run change nothing
        self.assertEqual(Trip._halo_write_billing_state(IN_RUN, trip.ids, run_id=other.id), 0)
        self.assertEqual(Trip._halo_write_billing_state(UNBILLED, trip.ids), 0)
        self.assertEqual((trip.halo_run_id, trip.halo_billing_state), (run, INVOICED))
        # recording the numbers again is idempotent: the five pieces of work, one per row
        written = sum(
            self.env[model]._halo_write_billing_state(INVOICED, moves=invoice)
            for model in ("account.analytic.line", "halo.mileage", "halo.expense", "halo.ticket.item")
        )
        self.assertEqual(written, 5)
        # released by the invoice credited in full: invoice forgotten, history kept (two lines)
        released = Trip._halo_write_billing_state(UNBILLED, trip.ids, invoice=invoice, history="first")
        self.assertEqual(released, 1)
        self.assertEqual(
            (trip.halo_billing_state, trip.halo_invoice_number, trip.halo_run_id.id), (UNBILLED, False, False)
        )
        Trip._halo_write_billing_state(IN_RUN, trip.ids, run_id=other.id)
        self.assertEqual(trip.halo_billing_state, IN_RUN)
        # a second release by the same invoice finds nothing billed on it any more
        self.assertEqual(Trip._halo_write_billing_state(UNBILLED, trip.ids, invoice=invoice, history="x"), 0)
        self.assertEqual(trip.halo_billing_history, "first")

    def test_an_unknown_state_is_refused(self):
        with self.assertRaises(ValueError):
            self.env["halo.mileage"]._halo_write_billing_state("paid", [1])
