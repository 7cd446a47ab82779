"""The contract cron in background jobs: the same invoices as the cron worked at once."""

from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged

from odoo.addons.queue_job.tests.common import trap_jobs

from ..models.contracts.halo_contract import HaloContract as JobsContract
from .contract_common import HaloContractCommon


@tagged("post_install", "-at_install")
class TestContractCronJobs(HaloContractCommon):
    def _contracts(self):
        return (
            self._contract(fixed_fee=True, fee_product_id=self.product_fee.id, fee_amount=500, days_ahead=14)
            | self._contract(
                fixed_fee=True,
                fee_product_id=self.product_fee.id,
                fee_amount=300,
                billing_period="quarterly",
                invoice_timing="arrears",
                date_end=date(2026, 5, 15),
            )
            | self._contract(
                partner_id=self.other_customer.id,
                contact_id=False,
                fixed_fee=True,
                fee_product_id=self.product_fee.id,
                fee_amount=120,
            )
        )

    def _snapshot(self, contracts):
        return sorted(
            (move.halo_contract_id.id, move.invoice_date, move.state, move.amount_untaxed, move.amount_total)
            for move in contracts.invoice_ids
        )

    def test_many_contracts_are_invoiced_by_jobs_as_the_cron_does_at_once(self):
        contracts = self._contracts()
        savepoint = self.env.cr.savepoint()
        with freeze_time("2026-07-01"):
            at_once = self.Contract._cron_halo_contract_invoices()
        expected = self._snapshot(contracts)
        self.env.flush_all()
        savepoint.close(rollback=True)
        self.env.invalidate_all()
        # Jan-Jul in advance at 500 (August's is created 14 days ahead, from 18 July), Q1 and a
        # prorated Q2 in arrears, Jan-Jul monthly at 120
        self.assertEqual(len(at_once), 7 + 2 + 7)
        self.assertFalse(contracts.invoice_ids)

        with (
            patch.object(JobsContract, "_halo_contract_chunk_size", lambda model: 2),
            trap_jobs() as trap,
            freeze_time("2026-07-01"),
        ):
            self.assertFalse(self.Contract._cron_halo_contract_invoices())
            # one job per 2 contracts of a company; pending jobs are not enqueued again
            self.assertEqual(len(trap.enqueued_jobs), 2)
            self.Contract._cron_halo_contract_invoices()
            self.assertEqual(len(trap.enqueued_jobs), 2)
            self.assertTrue(all(job.channel == "root.halo_billing" for job in trap.enqueued_jobs))
            jobs = list(trap.enqueued_jobs)
            trap.perform_enqueued_jobs()
            self.env.invalidate_all()
            self.assertEqual(self._snapshot(contracts), expected)
            # a job delivered twice adds nothing
            for job in jobs:
                job.perform()
        self.env.invalidate_all()
        self.assertEqual(self._snapshot(contracts), expected)
