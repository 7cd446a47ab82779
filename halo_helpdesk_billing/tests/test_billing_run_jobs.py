"""Billing runs as background jobs: the same invoices as the engine worked at once, chunks that
fail are retried and end exactly once, chunks that keep failing leave a run that says which
customers to look at, and a client cannot steer the chunks."""

from datetime import date
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.exception import FailedJobError, RetryableJobError
from odoo.addons.queue_job.tests.common import trap_jobs

from ..models.billing.halo_billing_run import HaloBillingRun as BaseRun
from ..models.billing.halo_billing_run_chunk import CHUNK_MAX_RETRIES
from ..models.billing.halo_billing_run_chunk import HaloBillingRunChunk as Chunk
from .billing_common import HaloBillingRunCommon
from .rpc_common import HaloRpcCase

QUIET_JOBS = mute_logger(
    "odoo.addons.halo_helpdesk_billing.models.billing.halo_billing_run_chunk",
    "odoo.addons.halo_helpdesk_billing.models.billing.halo_billing_run",
)


class HaloBillingRunJobsCommon(HaloBillingRunCommon):
    """5 customers (every layout, one invoiced per ticket) with 2 tickets of work each: 10
    charges per customer; chunks of at most 20 charges (2 customers)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.customers = (
            cls.customer
            | cls.other_customer
            | Partner.create([{"name": f"Customer {index}", "is_company": True} for index in range(3)])
        )
        cls.tickets = cls.env["helpdesk.ticket"]
        for customer in cls.customers:
            for name in ("Printer", "Laptop"):
                cls.tickets |= cls.env["helpdesk.ticket"].create(
                    {
                        "name": f"{name} of {customer.name}",
                        "description": "x",
                        "partner_id": customer.id,
                        "team_id": cls.team.id,
                    }
                )
        # every layout, and a per-ticket grouping
        layouts = ["itemised", "summary_ticket", "summary_invoice", "itemised", "summary_ticket"]
        for customer, layout in zip(cls.customers, layouts, strict=True):
            customer.halo_invoice_layout = layout
        cls.customers[3].halo_invoice_grouping = "ticket"

    def setUp(self):
        super().setUp()
        for index, ticket in enumerate(self.tickets):
            self._work(ticket, day=6 + index % 4)
        # 2 tickets × 5 charges = 10 charges per customer; chunks of at most 20 charges: 2 customers
        self.startPatcher(patch.object(Chunk, "_halo_chunk_size", lambda chunk: 20))

    # ------------------------------------------------------------------ helpers
    def _snapshot(self, run):
        """Everything an invoice bills, to the cent, per customer (names left out)."""
        result = {}
        for move in run.invoice_ids.sorted(lambda m: (m.partner_id.id, m.amount_untaxed, m.id)):
            lines = sorted(
                (
                    line.name,
                    line.product_id.id,
                    line.quantity,
                    round(line.price_unit, 6),
                    line.price_subtotal,
                    line.price_total,
                    tuple(line.tax_ids.ids),
                    line.account_id.id,
                )
                for line in move.invoice_line_ids
            )
            result.setdefault(move.partner_id.id, []).append(
                (move.state, move.amount_untaxed, move.amount_tax, move.amount_total, lines)
            )
        return result

    def _perform(self, trap, fail_budget=None):
        """Run the trapped jobs as queue_job's runner does, until none is left: each in a
        savepoint rolled back if it fails, a retryable failure enqueued again, a job out of
        retries marked failed with its on-fail hook called. Returns the number of retries."""
        retries = 0
        while trap.enqueued_jobs:
            jobs, trap.enqueued_jobs = trap.enqueued_jobs, []
            for job in sorted(jobs, key=lambda job: job.priority):
                try:
                    with self.env.cr.savepoint():
                        job.perform()
                except RetryableJobError:
                    retries += 1
                    trap.enqueued_jobs.append(job)
                except FailedJobError as err:
                    job.on_fail({"exc_name": type(err).__name__, "exc_message": str(err), "exc_info": ""})
            self.env.invalidate_all()
        return retries

    def _billed_once(self, run):
        """Every included charge of ``run`` on exactly one invoice line, and its work invoiced."""
        charges = run.line_ids.filtered(lambda line: line.state == "included")
        self.assertTrue(charges)
        self.assertTrue(all(charges.mapped("invoice_line_id")))
        self.env.cr.execute(
            "SELECT res_model, res_id, count(*) FROM halo_billing_run_line WHERE invoice_id IS NOT NULL "
            "GROUP BY res_model, res_id HAVING count(*) > 1"
        )
        self.assertEqual(self.env.cr.fetchall(), [])
        self.assertEqual(
            set(
                self.env["account.analytic.line"]
                .search([("halo_ticket_id", "in", self.tickets.ids)])
                .mapped("halo_billing_state")
            ),
            {"invoiced"},
        )

    def _assert_chunk_jobs(self, trap, count):
        jobs = [job for job in trap.enqueued_jobs if job.method_name == "_halo_job_run"]
        self.assertEqual(len(jobs), count)
        self.assertTrue(all(job.channel == "root.halo_billing" for job in jobs))
        self.assertTrue(all(job.job_config.retry_pattern for job in jobs))

    def _background(self, run):
        return run.with_context(halo_billing_background=True)


@tagged("post_install", "-at_install")
class TestBillingRunJobs(HaloBillingRunJobsCommon):
    def test_jobs_give_the_same_invoices_as_the_engine_at_once_for_every_layout(self):
        # the engine at once, rolled back afterwards
        savepoint = self.env.cr.savepoint()
        at_once = self._run()
        at_once.action_preview()
        at_once.action_create_invoices()
        expected = self._snapshot(at_once)
        expected_total = at_once.amount_total
        self.env.flush_all()
        savepoint.close(rollback=True)
        self.env.invalidate_all()
        # 5 customers × 10 charges, 2 customers a chunk: 3 chunks per step; 6 invoices (one
        # customer invoiced per ticket); 10 tickets × £360.57
        self.assertEqual(len(expected), 5)
        self.assertEqual(sum(len(moves) for moves in expected.values()), 6)
        self.assertAlmostEqual(expected_total, 10 * 360.57, places=2)

        run = self._run()
        with trap_jobs() as trap:
            self.assertTrue(self._background(run).action_preview())
            self.assertEqual(run.state, "previewing")
            self._assert_chunk_jobs(trap, 3)
            self.assertEqual((run.halo_chunk_total, run.halo_chunk_done, run.halo_charge_total), (3, 0, 50))
            self.assertFalse(run.line_ids)
            # the preview fills in as chunks finish
            first = trap.enqueued_jobs.pop(0)
            first.perform()
            self.env.invalidate_all()
            self.assertEqual((run.halo_chunk_done, run.halo_charge_done), (1, 20))
            self.assertEqual(len(run.line_ids), 20)
            self.assertEqual(run.state, "previewing")
            self.assertTrue(run.halo_estimate)
            self.assertEqual(self._perform(trap), 0)
            self.assertEqual(run.state, "previewed")
            self.assertEqual(run.line_count, 50)
            self.assertAlmostEqual(run.amount_total, expected_total, places=2)

            self.assertTrue(self._background(run).action_create_invoices())
            self.assertEqual(run.state, "invoicing")
            self._assert_chunk_jobs(trap, 3)
            self.assertFalse(run.invoice_ids)
            self.assertEqual(self._perform(trap), 0)
        self.assertEqual(run.state, "invoiced")
        self.assertEqual(self._snapshot(run), expected)
        self._billed_once(run)
        self.assertFalse(run.halo_problem_partner_ids)
        # one message when it ends, to the responsible
        message = run.message_ids.filtered(lambda m: "6 invoices created" in (m.body or ""))
        self.assertEqual(len(message), 1)
        self.assertIn(run.user_id.partner_id, message.partner_ids)

    def test_a_chunk_killed_after_some_invoices_is_retried_and_bills_exactly_once(self):
        run = self._run()
        with trap_jobs() as trap:
            self._background(run).action_preview()
            self._perform(trap)
            self.assertEqual(run.state, "previewed")
            original = BaseRun._halo_create_invoice_chunk
            victim = self.customers[2]
            calls = {"killed": 0}

            def crash_after_invoices(self_run, groups, *args, **kwargs):
                moves = original(self_run, groups, *args, **kwargs)
                if groups[0][0].partner_id == victim.id and not calls["killed"]:
                    # the chunk's invoices are created, posted and linked to their charges
                    self_run.env.cr.execute(
                        "SELECT count(*) FROM account_move WHERE halo_run_id = %s", [run.id]
                    )
                    calls["killed"] = self_run.env.cr.fetchone()[0]
                    raise RuntimeError("worker killed mid-chunk")
                return moves

            self._background(run).action_create_invoices()
            with patch.object(BaseRun, "_halo_create_invoice_chunk", crash_after_invoices), QUIET_JOBS:
                retries = self._perform(trap)
        self.assertEqual(retries, 1)
        self.assertGreaterEqual(calls["killed"], 2)  # the victim's chunk had made its invoices
        self.assertEqual(run.state, "invoiced")
        self.assertEqual(len(run.invoice_ids), 6)
        self.assertEqual(run.invoice_ids.partner_id, self.customers)
        self.assertAlmostEqual(sum(run.invoice_ids.mapped("amount_untaxed")), 10 * 360.57, places=2)
        self._billed_once(run)
        # a chunk delivered again after it was done does nothing
        chunk = run.halo_chunk_ids[0]
        self.assertFalse(chunk._halo_job_run())
        self.assertEqual(len(run.invoice_ids), 6)

    def test_a_chunk_that_keeps_failing_leaves_its_customers_as_problems(self):
        run = self._run()
        victim = self.customers[4]  # alone in the last chunk
        with trap_jobs() as trap:
            self._background(run).action_preview()
            self._perform(trap)
            original = BaseRun._halo_create_invoice_chunk

            def always_failing(self_run, groups, *args, **kwargs):
                if any(group[0].partner_id == victim.id for group in groups):
                    raise ValueError("Xero tax code missing")
                return original(self_run, groups, *args, **kwargs)

            self._background(run).action_create_invoices()
            with patch.object(BaseRun, "_halo_create_invoice_chunk", always_failing), QUIET_JOBS:
                retries = self._perform(trap)
            # tried CHUNK_MAX_RETRIES times, then marked failed; the other chunks stay done
            self.assertEqual(retries, CHUNK_MAX_RETRIES - 1)
            self.assertEqual(run.state, "done_with_problems")
            self.assertEqual(run.halo_problem_partner_ids, victim)
            self.assertEqual(run.halo_chunk_failed, 1)
            self.assertIn(
                "Xero tax code missing", run.halo_chunk_ids.filtered(lambda c: c.state == "failed").error
            )
            self.assertEqual(run.invoice_ids.partner_id, self.customers - victim)
            self.assertFalse(run.line_ids.filtered(lambda line: line.partner_id == victim).invoice_id)
            self.assertTrue(run.activity_ids)
            # what the run bills is frozen; it cannot be cancelled while invoices are posted
            with self.assertRaises(UserError):
                run.date_invoice = date(2026, 8, 1)
            # fixed: invoice what is left (small enough to be worked at once, by the same
            # engine): only the victim's charges, none of the invoiced ones again
            run.action_create_invoices()
            self.assertFalse(trap.enqueued_jobs)
        self.assertEqual(run.state, "invoiced")
        self.assertEqual(run.invoice_ids.partner_id, self.customers)
        self.assertEqual(len(run.invoice_ids), 6)
        self._billed_once(run)

    def test_a_preview_chunk_that_keeps_failing_is_previewed_again_later(self):
        run = self._run()
        victim = self.customers[0]
        original = BaseRun._halo_insert_lines

        def failing_insert(self_run, vals_list):
            if any(vals["partner_id"] == victim.id for vals in vals_list):
                raise ValueError("rating service down")
            return original(self_run, vals_list)

        with trap_jobs() as trap:
            self._background(run).action_preview()
            with patch.object(BaseRun, "_halo_insert_lines", failing_insert), QUIET_JOBS:
                self._perform(trap)
            self.assertEqual(run.state, "previewed")
            # nothing of the victim's chunk (it holds another customer too) was collected
            self.assertEqual(run.halo_problem_partner_ids, self.customers[:2])
            self.assertEqual(run.line_ids.partner_id, self.customers[2:])
            self.assertEqual(len(run.line_ids), 30)
            self.assertEqual(
                set(
                    self.env["account.analytic.line"]
                    .search([("halo_ticket_id.partner_id", "in", self.customers[:2].ids)])
                    .mapped("halo_billing_state")
                ),
                {"unbilled"},
            )
            self._background(run).action_preview()
            self._perform(trap)
        self.assertEqual(run.state, "previewed")
        self.assertEqual(len(run.line_ids), 50)
        self.assertFalse(run.halo_problem_partner_ids)

    def test_runs_in_one_go_with_queue_job_no_delay(self):
        run = self._background(self._run()).with_context(queue_job__no_delay=True)
        run.action_preview()
        self.assertEqual(run.state, "previewed")
        run.action_create_invoices()
        self.assertEqual(run.state, "invoiced")
        self.assertEqual(len(run.invoice_ids), 6)
        self.assertEqual(run.halo_chunk_total, 3)
        self._billed_once(run)

    def test_small_runs_are_worked_at_once(self):
        with trap_jobs() as trap:
            run = self._run(partner_ids=[(6, 0, self.customer.ids)])
            run.action_preview()
            run.action_create_invoices()
            trap.assert_jobs_count(0)
        self.assertEqual(run.state, "invoiced")
        self.assertFalse(run.halo_chunk_ids)

    def test_nothing_can_be_done_to_a_run_while_it_is_worked(self):
        run = self._run()
        with trap_jobs():
            self._background(run).action_preview()
            for action in (run.action_preview, run.action_create_invoices, run.action_cancel):
                with self.assertRaisesRegex(UserError, "background"):
                    action()
            with self.assertRaises(UserError):
                run.date_cutoff = date(2026, 6, 30)

    def test_a_job_found_dead_too_often_fails_its_chunk(self):
        """queue_job's runner marks a job whose worker was killed too often failed in SQL,
        without its on-fail hook: the run takes note when asked (or when acted on)."""
        run = self._background(self._run())
        run.action_preview()  # jobs stored, not run (no runner in tests)
        chunks = run.halo_chunk_ids
        self.assertEqual(len(chunks), 3)
        self.assertTrue(all(chunks.mapped("job_uuid")))
        jobs = self.env["queue.job"].sudo().search([("uuid", "in", chunks.mapped("job_uuid"))])
        self.assertEqual(len(jobs), 3)
        self.assertEqual(set(jobs.mapped("channel")), {"root.halo_billing"})
        run.action_halo_check_jobs()
        self.assertEqual(run.state, "previewing")
        self.env.cr.execute(
            "UPDATE queue_job SET state = 'failed', exc_info = 'Job found dead after too many retries' "
            "WHERE uuid = %s",
            [chunks[1].job_uuid],
        )
        self.env["queue.job"].invalidate_model()
        run.action_halo_check_jobs()
        self.assertEqual(chunks[1].state, "failed")
        self.assertEqual(chunks[1].error, "Job found dead after too many retries")
        self.assertEqual(run.state, "previewing")  # the other two are still pending
        for chunk in chunks[0] | chunks[2]:
            with QUIET_JOBS:
                chunk.with_context(queue_job__no_delay=True)._halo_job_run()
        self.env.invalidate_all()
        self.assertEqual(run.state, "previewed")
        self.assertEqual(run.halo_problem_partner_ids, chunks[1].partner_ids)
        self.assertEqual(len(run.line_ids), 30)

    def test_clients_cannot_steer_chunks_or_progress(self):
        run = self._run().with_user(self.billing_user)
        # a chunk scope sent as a plain context value is ignored: the whole run is previewed
        run.with_context(halo_billing_chunk_scope=[self.customer.id]).action_preview()
        self.assertEqual(len(run.line_ids), 50)
        for vals in (
            {"halo_job_kind": "invoice"},
            {"halo_chunk_ids": [(5, 0, 0)]},
            {"halo_job_started": "2026-07-01 00:00:00"},
        ):
            with self.assertRaises(AccessError):
                run.write(vals)
        with trap_jobs():
            self._background(run).action_create_invoices()
        chunk = run.halo_chunk_ids[:1]
        with self.assertRaises(AccessError):
            chunk.write({"state": "done"})


@tagged("post_install", "-at_install")
class TestBillingRunJobsRpc(HaloBillingRunJobsCommon, HaloRpcCase):
    def test_the_button_enqueues_and_answers_at_once_over_json_rpc(self):
        client = self.rpc(self.billing_user)
        run_id = client.call(
            "halo.billing.run", "create", {"date_cutoff": "2026-07-31", "date_invoice": "2026-07-31"}
        )
        run_id = run_id[0] if isinstance(run_id, list) else run_id
        # a chunk scope forged in the context is a plain list: ignored, the whole run is planned
        self.assertTrue(
            client.call(
                "halo.billing.run",
                "action_preview",
                [run_id],
                context={"halo_billing_background": True, "halo_billing_chunk_scope": [self.customer.id]},
            )
        )
        run = self.env["halo.billing.run"].browse(run_id)
        self.assertEqual(run.state, "previewing")
        self.assertFalse(run.line_ids)
        chunks = run.halo_chunk_ids
        self.assertEqual(len(chunks), 3)
        self.assertEqual(chunks.partner_ids, self.customers)
        jobs = self.env["queue.job"].sudo().search([("uuid", "in", chunks.mapped("job_uuid"))])
        self.assertEqual(set(jobs.mapped("state")), {"pending"})
        self.assertEqual(set(jobs.mapped("user_id")), {self.billing_user})
        read = client.call(
            "halo.billing.run", "read", [run_id], ["halo_chunk_total", "halo_charge_total", "state"]
        )
        self.assertEqual((read[0]["halo_chunk_total"], read[0]["halo_charge_total"]), (3, 50))
        # the jobs' methods are private; chunks and progress are not writable
        self.assertRpcRefused(client, "halo.billing.run.chunk", "_halo_job_run", [chunks[0].id])
        self.assertRpcRefused(client, "halo.billing.run", "_halo_job_check_done", [run_id])
        self.assertRpcRefused(client, "halo.billing.run.chunk", "write", [chunks[0].id], {"state": "done"})
        self.assertRpcRefused(client, "halo.billing.run", "write", [run_id], {"state": "previewed"})
        self.assertRpcRefused(client, "halo.billing.run", "action_cancel", [run_id], names=("UserError",))
