# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Billing runs of any size as background jobs (OCA ``queue_job``): the chunks of a run.

*Preview* and *Create invoices* of a run with more than one chunk of work enqueue one job
per chunk of whole customers (``services.billing_chunks``) and return at once. Each job
runs the run's own engine (``_halo_collect`` / ``_halo_create_invoices``) limited to its
customers, in its own transaction: a job that fails or is killed leaves nothing of its
chunk behind, and is retried (queue_job's retry pattern); a chunk that keeps failing is
marked failed (its customers are the run's problems) without undoing the other chunks.
Work is claimed by the charges' unique ``claim_key`` and invoiced only while a charge has
no invoice line, so a chunk run twice bills nothing twice. After each chunk a small job
(``halo.billing.run._halo_job_check_done``) checks whether the run is complete and, once,
finishes it and tells its responsible.

A run of one chunk or less is worked at once, in the request, by the same engine. The run
holds the state and progress of its background work; this model plans the chunks (how much
work each customer has, cut into chunks, one job each) and works them.
"""

import logging

from odoo import Command, api, fields, models
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

from ...services import billing_chunks
from ..halo_engine import BILLING_ENGINE
from .halo_billing_run import CHUNK_SCOPE_KEY, RUNNING_STATES, SOURCES, _ChunkScope

_logger = logging.getLogger(__name__)

# How often a failing chunk is tried before it is marked failed (retry pattern in data)
CHUNK_MAX_RETRIES = 4


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

    # ------------------------------------------------------------------ planning (called with the run)
    @api.model
    def _halo_in_background(self, counts):
        """Whether the run's work (``[(customer, charges)]``) goes to background jobs: more
        than one chunk of it (or asked for by the caller, which can only make it slower)."""
        total = sum(count for _partner, count in counts)
        return bool(counts) and (
            self.env.context.get("halo_billing_background") or total > billing_chunks.MAX_CHARGES
        )

    @api.model
    def _halo_preview_counts(self, run):
        """``[(customer id, work to collect)]`` of ``run`` in customer order, from the same
        domains the engine collects with."""
        run.ensure_one()
        counts = {}
        for model in SOURCES:
            Model = self.env[model].sudo()
            domain = run._halo_source_domain(model)
            if model == "account.analytic.line":
                per_ticket = Model._read_group(domain, ["halo_ticket_id"], ["__count"])
                for ticket, count in per_ticket:
                    partner = ticket.commercial_partner_id or ticket.partner_id
                    counts[partner.id] = counts.get(partner.id, 0) + count
            else:
                for partner, count in Model._read_group(domain, ["partner_id"], ["__count"]):
                    counts[partner.id] = counts.get(partner.id, 0) + count
        return sorted(counts.items(), key=lambda item: item[0] or 0)

    @api.model
    def _halo_invoice_counts(self, run):
        """``[(customer id, charges still to invoice)]`` of ``run`` in customer order."""
        run.ensure_one()
        self.env["halo.billing.run.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT partner_id, count(*) FROM halo_billing_run_line
                WHERE run_id = %s AND state = 'included' AND invoice_line_id IS NULL
             GROUP BY partner_id ORDER BY partner_id""",
                run.id,
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _halo_enqueue(self, run, kind, counts):
        """Cut ``run``'s work into chunks and enqueue one job per chunk."""
        run.ensure_one()
        plan = billing_chunks.plan(counts, self._halo_chunk_size())
        Chunk = self.sudo()
        Chunk.search([("run_id", "=", run.id)]).unlink()
        chunks = Chunk.create(
            [
                {
                    "run_id": run.id,
                    "kind": kind,
                    "sequence": sequence,
                    "partner_ids": [Command.set([partner for partner in partners if partner])],
                    "no_partner": not all(partners),
                    "charge_count": size,
                }
                for sequence, (partners, size) in enumerate(plan, 1)
            ]
        )
        BILLING_ENGINE.on(run).write(
            {
                "halo_job_kind": kind,
                "halo_job_started": fields.Datetime.now(),
                "halo_job_ended": False,
            }
        )
        run._halo_set_state("previewing" if kind == "preview" else "invoicing")
        label = self.env._("Preview") if kind == "preview" else self.env._("Create invoices")
        for chunk in chunks:
            job = chunk.with_delay(
                max_retries=CHUNK_MAX_RETRIES,
                description=self.env._(
                    "%(run)s: %(action)s, chunk %(number)s of %(total)s",
                    run=run.name,
                    action=label,
                    number=chunk.sequence,
                    total=len(chunks),
                ),
            )._halo_job_run()
            if getattr(job, "uuid", None):  # (run at once with queue_job__no_delay)
                chunk.job_uuid = job.uuid
        run.message_post(
            body=self.env._(
                "%(action)s started in the background: %(chunks)s chunks, %(charges)s charges.",
                action=label,
                chunks=len(chunks),
                charges=sum(size for _partners, size in plan),
            )
        )
        return chunks

    @api.model
    def _halo_chunk_size(self):
        """Hook: charges per chunk."""
        return billing_chunks.MAX_CHARGES

    # ------------------------------------------------------------------ jobs
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

    def _halo_reconcile_chunks(self):
        """Chunks whose job queue_job gave up on without calling the on-fail hook (its runner
        marks a job found dead too often, a worker killed each time, failed in SQL): failed
        too, and the run finishes without them."""
        chunks = self.sudo().filtered(lambda chunk: chunk.state == "pending" and chunk.job_uuid)
        if not chunks:
            return
        jobs = {
            job.uuid: job
            for job in self.env["queue.job"]
            .sudo()
            .search_fetch(
                [("uuid", "in", chunks.mapped("job_uuid"))], ["uuid", "state", "exc_info", "exc_message"]
            )
        }
        for chunk in chunks:
            job = jobs.get(chunk.job_uuid)
            if job and job.state in ("failed", "cancelled"):
                chunk._halo_job_failed(exc_message=job.exc_info or job.exc_message or job.state)
