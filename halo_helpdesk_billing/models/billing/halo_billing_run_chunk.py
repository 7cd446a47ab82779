# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The chunks of a billing run worked as background jobs (see ``halo_billing_run_jobs.py``)."""

import logging

from odoo import fields, models

from odoo.addons.queue_job.exception import RetryableJobError

from .halo_billing_run_jobs import CHUNK_SCOPE_KEY, RUNNING_STATES, _ChunkScope

_logger = logging.getLogger(__name__)


class HaloBillingRunChunk(models.Model):
    """One background job of a billing run: some whole customers of its preview or invoicing."""

    _name = "halo.billing.run.chunk"
    _description = "Billing Run Chunk"
    _order = "run_id, sequence"

    run_id = fields.Many2one(
        comodel_name="halo.billing.run", required=True, index=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one(related="run_id.company_id", store=True, readonly=True)
    kind = fields.Selection(
        selection=[("preview", "Preview"), ("invoice", "Create invoices")], required=True, readonly=True
    )
    sequence = fields.Integer(readonly=True)
    partner_ids = fields.Many2many(comodel_name="res.partner", string="Customers", readonly=True)
    no_partner = fields.Boolean(string="Work Without Customer", readonly=True)
    charge_count = fields.Integer(string="Charges", readonly=True)
    state = fields.Selection(
        selection=[("pending", "Pending"), ("done", "Done"), ("failed", "Failed")],
        default="pending",
        required=True,
        readonly=True,
    )
    date_done = fields.Datetime(readonly=True)
    error = fields.Text(readonly=True)
    job_uuid = fields.Char(string="Job", readonly=True, index=True)

    def _halo_job_run(self):
        """Job: preview or invoice this chunk's customers with the run's engine, all or nothing."""
        self.ensure_one()
        if self.state != "pending" or self.run_id.state not in RUNNING_STATES:
            return False  # done already (a job delivered twice does nothing)
        run = self.run_id.with_company(self.run_id.company_id)
        scoped = run.with_context(**{CHUNK_SCOPE_KEY: _ChunkScope(self.partner_ids.ids, self.no_partner)})
        try:
            with self.env.cr.savepoint():
                if self.kind == "preview":
                    scoped._halo_collect()
                elif scoped._halo_read_charges():
                    scoped._halo_create_invoices()
        except RetryableJobError:
            raise
        except Exception as err:
            # the chunk left nothing behind (savepoint, and the job's transaction is rolled
            # back): queue_job tries it again later, then calls _halo_job_failed
            _logger.info("Billing run %s, chunk %s failed: %s", run.name, self.sequence, err)
            raise RetryableJobError(str(err)) from err
        self.sudo().write({"state": "done", "date_done": fields.Datetime.now(), "error": False})
        self.run_id.with_delay(
            description=self.env._("%(run)s: check completion", run=run.name)
        )._halo_job_check_done()
        return True

    def _halo_job_failed(self, **failure):
        """queue_job's on-fail hook: the chunk kept failing; its customers are the run's
        problems, the other chunks stay done, and the run finishes without it."""
        self.ensure_one()
        if self.state != "pending":
            return
        self.sudo().write(
            {
                "state": "failed",
                "date_done": fields.Datetime.now(),
                "error": failure.get("exc_message") or failure.get("exc_name") or "",
            }
        )
        self.run_id._halo_job_check_done()
