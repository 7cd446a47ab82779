"""The cron that checks background billing runs: a run whose jobs died for good, or whose
completion check was lost, is finished without anyone clicking *Check jobs*."""

from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from .test_billing_run_jobs import QUIET_JOBS, HaloBillingRunJobsCommon


@tagged("post_install", "-at_install")
class TestBillingRunCron(HaloBillingRunJobsCommon):
    def _cron(self):
        # the cron commits after each run; a test may not (its transaction is rolled back)
        with patch.object(type(self.env["ir.cron"]), "_commit_progress", lambda *args, **kwargs: 0):
            self.env["halo.billing.run"]._cron_halo_check_jobs()
        self.env.invalidate_all()

    def test_the_cron_fails_dead_chunks_and_finishes_a_run_whose_completion_check_was_lost(self):
        cron = self.env.ref("halo_helpdesk_billing.ir_cron_halo_billing_run_check_jobs")
        self.assertEqual((cron.code, cron.active), ("model._cron_halo_check_jobs()", True))
        run = self._run()
        # jobs stored, not run (no job runner in tests)
        self._background(run).action_preview()
        chunks = run.halo_chunk_ids
        # 5 customers × 10 charges in chunks of 20: 2 + 2 + 1 customers
        self.assertEqual(chunks.mapped("charge_count"), [20, 20, 10])
        self._cron()
        self.assertEqual(run.state, "previewing")  # its jobs are only waiting
        # queue_job's runner gave up on the second chunk's job (marked failed in SQL)
        self.env.cr.execute(
            "UPDATE queue_job SET state = 'failed', exc_info = 'Job found dead' WHERE uuid = %s",
            [chunks[1].job_uuid],
        )
        self.env["queue.job"].invalidate_model()
        # the other two run; the completion checks they enqueue never run
        for chunk in chunks[0] | chunks[2]:
            with QUIET_JOBS:
                self.assertTrue(chunk._halo_job_run())
        self.assertEqual(run.state, "previewing")
        self._cron()
        self.assertEqual(chunks[1].state, "failed")
        self.assertEqual(chunks[1].error, "Job found dead")
        self.assertEqual(run.state, "previewed")
        self.assertEqual(run.halo_problem_partner_ids, chunks[1].partner_ids)
        # chunks 1 and 3: 2 customers and 1 customer of 10 charges
        self.assertEqual(len(run.line_ids), 30)
        self.assertTrue(run.halo_job_ended)
        # the run is finished once: a second pass of the cron does nothing
        messages = len(run.message_ids)
        self._cron()
        self.assertEqual(len(run.message_ids), messages)

    def test_every_chunk_done_but_no_completion_check_ran_and_runs_not_worked_are_left_alone(self):
        run = self._run()
        with trap_jobs():
            self._background(run).action_preview()
            for chunk in run.halo_chunk_ids:
                with QUIET_JOBS:
                    chunk._halo_job_run()
            # every chunk done, their completion checks lost: still "being worked"
            self.assertEqual(run.state, "previewing")
            self._cron()
        self.assertEqual(run.state, "previewed")
        self.assertFalse(run.halo_problem_partner_ids)
        self.assertEqual(len(run.line_ids), 50)
        ended = run.halo_job_ended
        other = self._run(partner_ids=[(6, 0, self.customer.ids)])
        self._cron()
        self.assertEqual((run.state, run.halo_job_ended, other.state), ("previewed", ended, "draft"))
