# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The daily contract cron in background jobs (OCA ``queue_job``).

With more contracts than one chunk, the cron enqueues one job per chunk of contracts of one
company (channel ``root.halo_billing``) instead of invoicing them all in its own transaction;
each job creates the chunk's due periodic invoices and rolls over its ended periods, which are
idempotent (a period is invoiced once: unique index), so a job retried or run twice adds
nothing. A job's identity key keeps one job per chunk and day while it is pending. Fewer
contracts are worked at once, by the same methods, as before.
"""

from odoo import api, fields, models

from odoo.addons.queue_job.job import identity_exact

# Contracts per job
CONTRACT_CHUNK = 200


class HaloContract(models.Model):
    _inherit = "halo.contract"

    @api.model
    def _cron_halo_contract_invoices(self, date_ref=None):
        date_ref = date_ref or fields.Date.context_today(self)
        size = self._halo_contract_chunk_size()
        contracts = self.search([("state", "in", ("active", "expired"))], order="id")
        if len(contracts) <= size:
            return super()._cron_halo_contract_invoices(date_ref)
        for company, batch in contracts.grouped("company_id").items():
            for start in range(0, len(batch), size):
                chunk = batch[start : start + size]
                chunk.with_delay(
                    identity_key=identity_exact,
                    description=self.env._(
                        "Contracts of %(company)s: periodic invoices and rollovers (%(count)s contracts)",
                        company=company.name,
                        count=len(chunk),
                    ),
                )._halo_job_contract_invoices(date_ref)
        return self.env["account.move"]

    @api.model
    def _halo_contract_chunk_size(self):
        """Hook: contracts per job."""
        return CONTRACT_CHUNK

    def _halo_job_contract_invoices(self, date_ref):
        """Job: the cron's work for these contracts (a job does not keep the context: each
        company's contracts are worked in their company)."""
        moves = self.env["account.move"]
        for company, batch in self.grouped("company_id").items():
            batch = batch.with_company(company).filtered(lambda c: c.state in ("active", "expired"))
            moves |= batch._halo_create_periodic_invoices(date_ref)
            batch._halo_process_rollovers(date_ref)
        return self.env._("%(count)s invoices created.", count=len(moves))
