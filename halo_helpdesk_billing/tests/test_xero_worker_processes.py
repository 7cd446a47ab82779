# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Two Odoo worker processes (real OS processes, each with its own registry and cursors, committing their own
work) push invoices and poll the same Xero organisation at once; the sandbox counts what the organisation saw.

Each process runs ``xero_worker_process.py`` with 3 threads (2 pushing, 1 running the real poll through the ORM),
so together they want 6 calls in flight and, with every call answered within about 0.3 s, several hundred calls
a minute; each process alone is paced by its own throttle at Xero's 60/min and 5 in flight. Only the shared row in
PostgreSQL (``halo.xero.rate.limit``) keeps the organisation within 60 calls in any 60 s and 5 in flight: the
variant with that row bypassed (``--process-throttle``) shows the sandbox counting more than Xero allows within a
few seconds (and refusing calls with 429), so the real-time test fails if the shared throttle is bypassed.

The real-time run lasts 65 s: past one full minute, so the window's slide (calls of the first seconds leaving
it while the processes keep calling) is checked in real time, not only with the fake clock of
``test_xero_reconcile``. Both use one connection (as two workers of one database), created and committed by one of them
on a company of the database that has none, and deleted by it at the end; the test also removes whatever they left
(a crashed process) and the throttle's row, from a cursor of its own, since the database is shared."""

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid

from odoo import sql_db
from odoo.tests import tagged
from odoo.tools import config

from .test_xero_push_common import HaloXeroPushCommon

_logger = logging.getLogger(__name__)
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xero_worker_process.py")


@tagged("post_install", "-at_install")
class TestXeroWorkerProcesses(HaloXeroPushCommon):
    sandbox_limits = True  # Xero's 60/min and 5 in flight, answered with 429 beyond

    def setUp(self):
        super().setUp()
        self.ctl.limits(enabled=True, minute=60, concurrent=5, day=1000000, reset_counters=True)
        self.contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.tag = "halo-worker-%s" % uuid.uuid4().hex[:8]
        self.scope = uuid.uuid4().hex[:12]
        self.xero_calls_expected = False  # the calls are the worker processes', not this process's
        self.addCleanup(self.remove_workers_data)

    def remove_workers_data(self):
        with contextlib.closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute("DELETE FROM halo_xero_connection WHERE name = %s", [self.tag])  # its token cascades
            cr.execute("DELETE FROM halo_xero_rate_limit WHERE key LIKE %s", [self.scope + "|%"])
            # the worker processes' rows were committed by them
            cr.commit()  # pylint: disable=invalid-commit

    def run_processes(self, seconds, calls=0, bypass=False):
        """Start two worker processes, let them go at the same moment, return their reports and the sandbox's
        usage of the organisation."""
        go = os.path.join(tempfile.mkdtemp(prefix="halo-workers-"), "go")
        procs = []
        try:
            for n in range(2):
                cmd = [
                    sys.executable,
                    WORKER,
                    "--config",
                    config.rcfile,
                    "--db",
                    self.env.cr.dbname,
                    "--url",
                    self.sandbox_url,
                    "--tenant",
                    self.tenant_id,
                    "--token",
                    json.dumps(self.ctl.grant()),
                    "--scope",
                    self.scope,
                    "--contact",
                    self.contact_id,
                    "--go",
                    go,
                    "--tag",
                    self.tag,
                    "--seconds",
                    str(seconds),
                    "--calls",
                    str(calls),
                ]
                if bypass:
                    cmd.append("--process-throttle")
                if n == 0:
                    cmd.append("--create")
                procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            spawned = time.monotonic()
            for proc in procs:  # both registries loaded and their connections committed
                line = proc.stdout.readline()
                self.assertEqual(
                    line.strip(), "READY", proc.stderr.read() if proc.poll() is not None else line
                )
            _logger.info("worker processes ready in %.1f s", time.monotonic() - spawned)
            self.ctl.call("POST", "usage/reset", {})
            with open(go, "w"):
                pass
            started = time.monotonic()
            reports = []
            for proc in procs:
                out, err = proc.communicate(timeout=seconds + 120)
                self.assertEqual(proc.returncode, 0, err[-3000:])
                reports.append(json.loads(out.strip().splitlines()[-1]))
            elapsed = time.monotonic() - started
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        usage = self.ctl.call("GET", "usage")[self.tenant_id]
        _logger.info("worker processes: %s in %.1f s; the organisation saw %s", reports, elapsed, usage)
        return reports, usage, elapsed

    def test_two_worker_processes_keep_within_xeros_limits_in_real_time(self):
        self.ctl.fault("delay", seconds=0.3, count=100000)  # every call in flight for 0.3 s
        reports, usage, elapsed = self.run_processes(seconds=65)
        self.ctl.clear_faults()
        self.assertEqual([r["errors"] for r in reports], [[], []])
        # past one full minute of Xero's window (a worker stops as soon as its next wait would pass its 65 s, so
        # the run may end a little before 65 s: seen 64.7 s)
        self.assertGreater(elapsed, 61)
        # the organisation saw at most 60 calls in any 60 s and 5 in flight, and refused none
        self.assertLessEqual(usage["peak_minute"], 60, usage)
        self.assertLessEqual(usage["peak_concurrent"], 5, usage)
        self.assertEqual(usage["refused"], {}, usage)
        # ...while the processes wanted more: the first minute's 60 calls were made (by both), and then they
        # waited for the window (at 0.3 s a call, 6 threads alone would make some 1,300 calls in 65 s)
        self.assertGreater(usage["calls"], 60, usage)
        self.assertTrue(all(r["calls"] > 5 for r in reports), reports)
        self.assertTrue(all(r["waited"] > 10 for r in reports), reports)
        # both pushed and polled: invoices created in the sandbox by both processes, and polls read
        refs = [
            i.get("Reference") or "" for i in self.sandbox.state.orgs[self.tenant_id]["invoices"].values()
        ]
        self.assertTrue(any(r.startswith(self.tag) for r in refs))
        self.assertTrue(self.sandbox_requests("/CreditNotes", "GET"))

    def test_bypassing_the_shared_throttle_exceeds_xeros_limits(self):
        """The same two processes, each paced by its own throttle only: within seconds the organisation sees
        more than 60 calls a minute and more than 5 in flight (the sandbox refuses the excess with 429)."""
        self.ctl.fault("delay", seconds=0.3, count=100000)
        _reports, usage, _elapsed = self.run_processes(seconds=20, calls=45, bypass=True)
        self.ctl.clear_faults()
        self.assertGreater(usage["peak_minute"], 60, usage)  # 2 x 45 calls wanted within ~20 s
        self.assertGreater(usage["peak_concurrent"], 5, usage)  # 2 x 3 threads, each process allowing 5
        self.assertTrue(usage["refused"], usage)
