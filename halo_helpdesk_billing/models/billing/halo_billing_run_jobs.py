# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Billing runs of any size as background jobs (OCA ``queue_job``).

*Preview* and *Create invoices* of a run with more than one chunk of work enqueue one job
per chunk of whole customers (``services.billing_chunks``) and return at once. Each job
runs the run's own engine (``_halo_collect`` / ``_halo_create_invoices``) limited to its
customers, in its own transaction: a job that fails or is killed leaves nothing of its
chunk behind, and is retried (queue_job's retry pattern); a chunk that keeps failing is
marked failed (its customers are the run's problems) without undoing the other chunks.
Work is claimed by the charges' unique ``claim_key`` and invoiced only while a charge has
no invoice line, so a chunk run twice bills nothing twice. After each chunk a small job
checks whether the run is complete and, once, finishes it and tells its responsible.

A run of one chunk or less is worked at once, in the request, by the same engine.
"""

import logging

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tools import SQL

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

from ...services import billing_chunks
from ..halo_engine import BILLING_ENGINE
from .halo_billing_run import SOURCES
from .halo_billing_run import HaloBillingRun as BaseRun

_logger = logging.getLogger(__name__)

# How often a failing chunk is tried before it is marked failed (retry pattern in data)
CHUNK_MAX_RETRIES = 4
RUNNING_STATES = ("previewing", "invoicing")


class _ChunkScope:
    """The customers one chunk works on, as a context value JSON cannot carry: a client
    cannot narrow (or widen) what the engine does by sending a context key."""

    __slots__ = ("no_partner", "partner_ids")

    def __init__(self, partner_ids, no_partner=False):
        self.partner_ids = list(partner_ids)
        self.no_partner = no_partner


CHUNK_SCOPE_KEY = "halo_billing_chunk_scope"


class HaloBillingRun(models.Model):
    _inherit = "halo.billing.run"

    state = fields.Selection(
        selection_add=[
            ("draft",),
            ("previewing", "Previewing"),
            ("previewed",),
            ("invoicing", "Invoicing"),
            ("invoiced",),
            ("done_with_problems", "Finished with problems"),
            ("cancelled",),
        ],
        ondelete={
            "previewing": "set default",
            "invoicing": "set default",
            "done_with_problems": "set default",
        },
    )
    halo_chunk_ids = fields.One2many(
        comodel_name="halo.billing.run.chunk",
        inverse_name="run_id",
        string="Background Jobs",
        readonly=True,
    )
    halo_job_kind = fields.Selection(
        selection=[("preview", "Preview"), ("invoice", "Create invoices")],
        string="Background Work",
        readonly=True,
        copy=False,
    )
    halo_job_started = fields.Datetime(string="Started", readonly=True, copy=False)
    halo_job_ended = fields.Datetime(string="Ended", readonly=True, copy=False)
    halo_chunk_total = fields.Integer(string="Chunks", compute="_compute_halo_progress")
    halo_chunk_done = fields.Integer(string="Chunks Done", compute="_compute_halo_progress")
    halo_chunk_failed = fields.Integer(string="Chunks Failed", compute="_compute_halo_progress")
    halo_charge_total = fields.Integer(string="Charges to Work", compute="_compute_halo_progress")
    halo_charge_done = fields.Integer(string="Charges Worked", compute="_compute_halo_progress")
    halo_progress = fields.Float(string="Progress", compute="_compute_halo_progress")
    halo_elapsed = fields.Char(string="Elapsed", compute="_compute_halo_progress")
    halo_estimate = fields.Char(string="Time Left (estimate)", compute="_compute_halo_progress")
    halo_problem_partner_ids = fields.Many2many(
        comodel_name="res.partner",
        string="Customers to Look At",
        compute="_compute_halo_progress",
        help="Customers whose chunk kept failing: nothing of theirs was previewed or invoiced by "
        "the last background work. Fix the cause and preview or create invoices again.",
    )

    _halo_engine_fields = BaseRun._halo_engine_fields | {
        "halo_chunk_ids",
        "halo_job_kind",
        "halo_job_started",
        "halo_job_ended",
    }

    @api.depends("halo_chunk_ids.state", "halo_job_started", "halo_job_ended")
    def _compute_halo_progress(self):
        now = fields.Datetime.now()
        for run in self:
            # progress is shown to whoever reads the run (the chunks themselves: billing users)
            chunks = run.sudo().halo_chunk_ids
            done = chunks.filtered(lambda chunk: chunk.state != "pending")
            failed = chunks.filtered(lambda chunk: chunk.state == "failed")
            run.halo_chunk_total = len(chunks)
            run.halo_chunk_done = len(done)
            run.halo_chunk_failed = len(failed)
            run.halo_charge_total = sum(chunks.mapped("charge_count"))
            run.halo_charge_done = sum(done.mapped("charge_count"))
            run.halo_progress = (
                100.0 * run.halo_charge_done / run.halo_charge_total if run.halo_charge_total else 0.0
            )
            run.halo_problem_partner_ids = failed.partner_ids.ids
            elapsed = (
                ((run.halo_job_ended or now) - run.halo_job_started).total_seconds()
                if run.halo_job_started
                else 0
            )
            run.halo_elapsed = _duration(elapsed) if run.halo_job_started else False
            if run.state in RUNNING_STATES and run.halo_charge_done and run.halo_charge_total:
                left = elapsed * (run.halo_charge_total - run.halo_charge_done) / run.halo_charge_done
                run.halo_estimate = _duration(left)
            else:
                run.halo_estimate = False

    # ------------------------------------------------------------------ guards
    def _halo_check_user_write(self, vals):
        result = super()._halo_check_user_write(vals)
        for run in self:
            if run.state in RUNNING_STATES + ("done_with_problems",) and {
                "date_cutoff",
                "date_invoice",
                "partner_ids",
                "company_id",
            } & set(vals):
                raise UserError(
                    self.env._(
                        "Billing run %(run)s is being worked or partly invoiced; what it bills cannot "
                        "change.",
                        run=run.name,
                    )
                )
        return result

    def _halo_set_state(self, state):
        # a chunk works on part of the run: the run's state is set once, when all are done
        if self._halo_chunk_partner_ids() is not None:
            return
        super()._halo_set_state(state)

    def _halo_chunk_scope(self):
        scope = self.env.context.get(CHUNK_SCOPE_KEY)
        return scope if isinstance(scope, _ChunkScope) else None

    def _halo_chunk_partner_ids(self):
        scope = self._halo_chunk_scope()
        return scope.partner_ids if scope else None

    def _halo_source_domain(self, model):
        domain = super()._halo_source_domain(model)
        scope = self._halo_chunk_scope()
        if scope is None:
            return domain
        partner_field = (
            "halo_ticket_id.commercial_partner_id" if model == "account.analytic.line" else "partner_id"
        )
        chunk = Domain(partner_field, "in", scope.partner_ids)
        if scope.no_partner:
            chunk |= Domain(partner_field, "=", False)
        return domain & chunk

    def _halo_check_not_running(self):
        self.filtered(lambda run: run.state in RUNNING_STATES)._halo_reconcile_chunks()
        for run in self:
            if run.state in RUNNING_STATES:
                raise UserError(
                    self.env._(
                        "Billing run %(run)s is being worked in the background; wait until it ends.",
                        run=run.name,
                    )
                )

    def _halo_reconcile_chunks(self):
        """Chunks whose job queue_job gave up on without calling the on-fail hook (its runner
        marks a job found dead too often, a worker killed each time, failed in SQL): failed
        too, and the run finishes without them."""
        chunks = self.sudo().halo_chunk_ids.filtered(
            lambda chunk: chunk.state == "pending" and chunk.job_uuid
        )
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

    @api.model
    def _cron_halo_check_jobs(self):
        """Cron: what the *Check jobs* button does, for every run being worked in the background,
        so that a run whose jobs died for good (queue_job gave up on them without the on-fail
        hook) or whose completion check was lost does not stay "being worked" until someone
        clicks: its failed chunks are noted and a run whose chunks are all done is finished.
        One run at a time, committed after each (a run a chunk is finishing right now is
        skipped: its own check finishes it)."""
        runs = self.sudo().search([("state", "in", RUNNING_STATES)], order="id")
        for index, run in enumerate(runs, 1):
            if not run.try_lock_for_update(allow_referencing=True):
                continue
            run._halo_check_stuck()
            self.env["ir.cron"]._commit_progress(1, remaining=len(runs) - index)

    def _halo_check_stuck(self):
        """Note the chunks whose jobs died for good, and finish runs whose chunks are all done
        (their completion job was lost)."""
        self._halo_reconcile_chunks()
        for run in self.filtered(lambda run: run.state in RUNNING_STATES):
            chunks = run.sudo().halo_chunk_ids
            if chunks and all(chunk.state != "pending" for chunk in chunks):
                run.sudo()._halo_job_check_done()

    def action_halo_check_jobs(self):
        """Button of a run being worked: take note of jobs that died for good."""
        # it reads and writes the run's chunks as superuser: billing staff of the run only
        if not self.env.su and not self.env.user.has_group(BILLING_USER):
            raise AccessError(self.env._("Only billing users can check a billing run's jobs."))
        self.check_access("write")
        self._halo_check_stuck()
        return True

    # ------------------------------------------------------------------ actions
    def action_preview(self):
        """Collect the unbilled work: at once for a small run, in background chunks otherwise."""
        self._halo_check_not_running()
        at_once = self.browse()
        for run in self:
            if run.state not in ("draft", "previewed"):
                raise UserError(self.env._("Only draft or previewed runs can be previewed."))
            counts = run._halo_preview_counts()
            if run._halo_in_background(counts):
                run._halo_enqueue("preview", counts)
            else:
                at_once |= run
        if at_once:
            super(HaloBillingRun, at_once).action_preview()
        return True

    def action_create_invoices(self):
        """Create the invoices: at once for a small run, in background chunks otherwise. A run
        that finished with problems invoices what is left (its failed customers)."""
        self._halo_check_not_running()
        at_once = self.browse()
        for run in self:
            if run.state not in ("previewed", "done_with_problems"):
                raise UserError(self.env._("Preview billing run %(run)s first.", run=run.name))
            counts = run._halo_invoice_counts()
            if not counts:
                raise UserError(self.env._("Billing run %(run)s has no charge to invoice.", run=run.name))
            if run.state == "done_with_problems":
                run._halo_set_state("previewed")
            if run._halo_in_background(counts):
                run._halo_check_invoiceable()
                run._halo_enqueue("invoice", counts)
            else:
                at_once |= run
        if at_once:
            return super(HaloBillingRun, at_once).action_create_invoices()
        return True

    def action_cancel(self):
        self._halo_check_not_running()
        return super().action_cancel()

    # ------------------------------------------------------------------ planning
    def _halo_in_background(self, counts):
        """Whether the run's work (``[(customer, charges)]``) goes to background jobs: more
        than one chunk of it (or asked for by the caller, which can only make it slower)."""
        total = sum(count for _partner, count in counts)
        return bool(counts) and (
            self.env.context.get("halo_billing_background") or total > billing_chunks.MAX_CHARGES
        )

    def _halo_preview_counts(self):
        """``[(customer id, work to collect)]`` in customer order, from the same domains the
        engine collects with."""
        self.ensure_one()
        counts = {}
        for model in SOURCES:
            Model = self.env[model].sudo()
            domain = self._halo_source_domain(model)
            if model == "account.analytic.line":
                per_ticket = Model._read_group(domain, ["halo_ticket_id"], ["__count"])
                for ticket, count in per_ticket:
                    partner = ticket.commercial_partner_id or ticket.partner_id
                    counts[partner.id] = counts.get(partner.id, 0) + count
            else:
                for partner, count in Model._read_group(domain, ["partner_id"], ["__count"]):
                    counts[partner.id] = counts.get(partner.id, 0) + count
        return sorted(counts.items(), key=lambda item: item[0] or 0)

    def _halo_invoice_counts(self):
        """``[(customer id, charges still to invoice)]`` in customer order."""
        self.ensure_one()
        self.env["halo.billing.run.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT partner_id, count(*) FROM halo_billing_run_line
                WHERE run_id = %s AND state = 'included' AND invoice_line_id IS NULL
             GROUP BY partner_id ORDER BY partner_id""",
                self.id,
            )
        )
        return self.env.cr.fetchall()

    def _halo_check_invoiceable(self):
        """What the engine refuses for the whole run, refused before any job is enqueued."""
        self.env.cr.execute(
            SQL(
                """SELECT 1 FROM halo_billing_run_line
                WHERE run_id = %s AND state = 'included' AND invoice_line_id IS NULL
                      AND error IS NOT NULL LIMIT 1""",
                self.id,
            )
        )
        if self.env.cr.fetchone():
            raise UserError(self.env._("Fix or exclude the charges with problems first."))

    def _halo_enqueue(self, kind, counts):
        """Cut the run's work into chunks and enqueue one job per chunk."""
        self.ensure_one()
        plan = billing_chunks.plan(counts, self._halo_chunk_size())
        Chunk = self.env["halo.billing.run.chunk"].sudo()
        Chunk.search([("run_id", "=", self.id)]).unlink()
        chunks = Chunk.create(
            [
                {
                    "run_id": self.id,
                    "kind": kind,
                    "sequence": sequence,
                    "partner_ids": [Command.set([partner for partner in partners if partner])],
                    "no_partner": not all(partners),
                    "charge_count": size,
                }
                for sequence, (partners, size) in enumerate(plan, 1)
            ]
        )
        BILLING_ENGINE.on(self).write(
            {
                "halo_job_kind": kind,
                "halo_job_started": fields.Datetime.now(),
                "halo_job_ended": False,
            }
        )
        self._halo_set_state("previewing" if kind == "preview" else "invoicing")
        label = self.env._("Preview") if kind == "preview" else self.env._("Create invoices")
        for chunk in chunks:
            job = chunk.with_delay(
                max_retries=CHUNK_MAX_RETRIES,
                description=self.env._(
                    "%(run)s: %(action)s, chunk %(number)s of %(total)s",
                    run=self.name,
                    action=label,
                    number=chunk.sequence,
                    total=len(chunks),
                ),
            )._halo_job_run()
            if getattr(job, "uuid", None):  # (run at once with queue_job__no_delay)
                chunk.job_uuid = job.uuid
        self.message_post(
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

    # ------------------------------------------------------------------ completion
    def _halo_job_check_done(self):
        """Job: finish the run once all its chunks are done (one of these jobs follows each
        chunk; the first to see every chunk done finishes the run, the others do nothing)."""
        self.ensure_one()
        # concurrent checks queue on the run's row; the later one then sees the run finished
        self.env.cr.execute(SQL("SELECT id FROM halo_billing_run WHERE id = %s FOR NO KEY UPDATE", self.id))
        self.invalidate_recordset()
        if self.state not in RUNNING_STATES:
            return False
        chunks = self.halo_chunk_ids
        if not chunks or any(chunk.state == "pending" for chunk in chunks):
            return False
        failed = chunks.filtered(lambda chunk: chunk.state == "failed")
        run = self.with_company(self.company_id)
        if self.halo_job_kind == "preview":
            state = "previewed"
            body = self.env._("Preview done: %(count)s charges to invoice.", count=run.line_count)
            if run.error_count:
                body += " " + self.env._(
                    "%(count)s charges cannot be billed as they are (see the Problems filter).",
                    count=run.error_count,
                )
        else:
            state = "done_with_problems" if failed else "invoiced"
            body = self.env._("%(count)s invoices created.", count=run.invoice_count)
        if failed:
            body += " " + self.env._(
                "%(count)s chunks kept failing; nothing was done for these customers: %(names)s.",
                count=len(failed),
                names=", ".join(failed.partner_ids.mapped("display_name"))
                + (" " + self.env._("(work without customer)") if any(failed.mapped("no_partner")) else ""),
            )
        BILLING_ENGINE.on(self).write({"halo_job_ended": fields.Datetime.now()})
        self._halo_set_state(state)
        partners = self.user_id.partner_id
        self.message_post(body=body, partner_ids=partners.ids, subtype_xmlid="mail.mt_comment")
        if failed and self.user_id:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                user_id=self.user_id.id,
                summary=self.env._("Billing run finished with problems"),
                note=body,
            )
        if self.user_id:
            self.user_id._bus_send(
                "simple_notification",
                {
                    "type": "warning" if failed else "success",
                    "title": self.name,
                    "message": body,
                    "sticky": bool(failed),
                },
            )
        return True


def _duration(seconds):
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
