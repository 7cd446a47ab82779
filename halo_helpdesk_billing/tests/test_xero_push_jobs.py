# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoices to Xero in background jobs (OCA queue_job), against the sandbox (real HTTP, real SDK): one job
per organisation and batch of 50, enqueued in the posting transaction; a worker killed after Xero answered
sends nothing twice; the push cron only takes what the jobs have not sent."""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from ..models.xero.account_move_xero import AccountMove
from ..services import xero_client as xc
from .test_xero_push_common import HaloXeroPushCommon

JOB_METHOD = "_halo_job_xero_push"


class WorkerKilled(Exception):
    """Stands for the end of a worker process: nothing after it runs."""


@tagged("post_install", "-at_install")
class TestXeroPushJobs(HaloXeroPushCommon):
    def push_jobs(self, trap):
        return [job for job in trap.enqueued_jobs if job.method_name == JOB_METHOD]

    def perform(self, job):
        """Run ``job`` as queue_job's runner does. The push job commits (its function allows it), so queue_job
        gives it a cursor of its own: here one that wraps the test's transaction."""
        with self.enter_registry_test_mode():
            result = job.perform()
        self.env.invalidate_all()
        return result

    def perform_all(self, trap):
        with self.enter_registry_test_mode():
            trap.perform_enqueued_jobs()
        self.env.invalidate_all()

    def perform_killed(self, job):
        """Run ``job`` until it raises WorkerKilled. Not ``assertRaises``: Odoo's rolls back to a savepoint,
        and what the job committed before it was killed must stay, as it does in production."""
        try:
            self.perform(job)
        except WorkerKilled:
            return
        self.fail("the job was not killed")

    def run_push_cron(self, **kwargs):
        """The push cron as the scheduler runs it, its commits turned into no-ops (a test's transaction)."""
        with patch.object(type(self.env["ir.cron"]), "_commit_progress", lambda *args, **kw: 0):
            self.env["account.move"]._cron_halo_xero_push(**kwargs)

    def test_posting_enqueues_one_job_per_batch_of_50(self):
        with trap_jobs() as trap:
            moves = self.make_invoices(55)
            jobs = self.push_jobs(trap)
            # 55 invoices of one organisation: a batch of 50 and one of 5, on the Xero channel
            self.assertEqual(sorted(len(job.recordset) for job in jobs), [5, 50])
            self.assertEqual({job.channel for job in jobs}, {"root.halo_xero"})
            self.assertEqual(set().union(*(set(job.recordset.ids) for job in jobs)), set(moves.ids))
            self.assertTrue(all(moves.mapped("halo_xero_queued_at")))
            self.assertFalse(self.invoice_writes(), "nothing is sent inside the posting transaction")
            self.perform_all(trap)
        self.assertEachOnceInXero(moves)
        self.assertEqual(len(self.invoice_writes()), 2, "one request per job")
        # the push cron finds nothing left to send
        self.ctl.clear_requests()
        self.run_push_cron()
        self.assertFalse(self.invoice_writes())

    def test_the_job_is_part_of_the_posting_transaction(self):
        Job = self.env["queue.job"].sudo()
        before = Job.search_count([("method_name", "=", JOB_METHOD)])
        with self.assertRaises(WorkerKilled), self.env.cr.savepoint():
            self.make_invoices(2)
            self.assertEqual(Job.search_count([("method_name", "=", JOB_METHOD)]), before + 1)
            raise WorkerKilled()
        # the post was rolled back: so was its job
        self.assertEqual(Job.search_count([("method_name", "=", JOB_METHOD)]), before)
        moves = self.make_invoices(2)
        job = Job.search([("method_name", "=", JOB_METHOD)], order="id desc", limit=1)
        self.assertEqual((job.model_name, sorted(job.records.ids)), ("account.move", sorted(moves.ids)))
        self.assertEqual((job.channel, job.state), ("root.halo_xero", "pending"))
        self.xero_calls_expected = False

    def test_worker_killed_before_its_request_sends_once(self):
        """The job commits 'sending' and dies before its request reaches Xero: the retry looks the invoices
        up in Xero (one read), does not find them, and sends them once."""
        with trap_jobs() as trap:
            moves = self.make_invoices(3)
            (job,) = self.push_jobs(trap)
        original = xc.XeroClient.call
        calls = []

        def killed_at_the_invoices(client, tenant_id, method_name, *args, **kwargs):
            calls.append(method_name)
            if method_name == "create_invoices":
                raise WorkerKilled()
            return original(client, tenant_id, method_name, *args, **kwargs)

        with patch.object(xc.XeroClient, "call", killed_at_the_invoices):
            self.perform_killed(job)
        self.assertEqual(calls, ["create_contacts", "create_invoices"])
        self.env.invalidate_all()
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"sending"})
        self.assertEqual(self.xero_invoices(), [])
        self.assertIn("3 sent", self.perform(job))  # queue_job's retry
        self.assertEachOnceInXero(moves)
        self.assertEqual(len(self.invoice_writes()), 1)

    def test_worker_killed_after_sending_was_committed_looks_up_first(self):
        """In production the job commits 'sending' before its request. Killed after Xero answered, and
        retried after Xero's 6 minutes of idempotency replay: the retry finds the invoices in Xero by
        number and sends nothing again."""
        with trap_jobs() as trap:
            moves = self.make_invoices(3)
            (job,) = self.push_jobs(trap)
        with patch.object(AccountMove, "_halo_xero_apply_results", side_effect=WorkerKilled):
            self.perform_killed(job)
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"sending"})
        self.ctl.advance(7 * 60)
        self.ctl.clear_requests()
        self.assertIn("3 sent", self.perform(job))
        self.assertEachOnceInXero(moves)
        self.assertEqual(len(self.xero_invoices()), 3)
        self.assertFalse(self.invoice_writes(), "found in Xero, not sent again")

    def test_cron_leaves_fresh_invoices_to_their_jobs(self):
        with trap_jobs() as trap:
            moves = self.make_invoices(2)
            (job,) = self.push_jobs(trap)
        # the scheduled action: only what is still queued 10 minutes after queuing
        self.run_push_cron(grace_minutes=10)
        self.assertFalse(self.invoice_writes())
        self.assertEqual(set(moves.mapped("halo_xero_state")), {"queued"})
        # the job runner was down: 11 minutes later the cron sends them
        moves.write({"halo_xero_queued_at": fields.Datetime.now() - timedelta(minutes=11)})
        self.run_push_cron(grace_minutes=10)
        self.assertEachOnceInXero(moves)
        self.assertEqual(len(self.invoice_writes()), 1)
        # ...and their job, run at last, sends nothing
        self.ctl.clear_requests()
        self.assertIn("Nothing to send", self.perform(job))
        self.assertFalse(self.ctl.requests())

    def test_send_now_enqueues_jobs_for_failed_and_waiting_invoices(self):
        with trap_jobs():
            failed, waiting = self.make_invoices(2)
        failed.sudo().write({"halo_xero_state": "failed", "halo_xero_error": "Xero refused it"})
        with trap_jobs() as trap:
            (failed | waiting).action_halo_xero_send_now()
            jobs = self.push_jobs(trap)
            self.assertEqual(set().union(*(set(job.recordset.ids) for job in jobs)), {failed.id, waiting.id})
            self.assertEqual((failed.halo_xero_state, failed.halo_xero_payload_version), ("queued", 2))
            self.perform_all(trap)
        self.assertEachOnceInXero(failed | waiting)
