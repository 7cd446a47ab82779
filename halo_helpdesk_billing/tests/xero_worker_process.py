# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One Odoo worker process for ``test_xero_worker_processes`` (not a test module): its own registry and
cursors on the test database, as an Odoo worker of a multi-worker deployment has.

One of the two (``--create``) creates and commits the Xero connection both use (on a company of the database
that has none); the other reads its id from a file beside ``--go``. Each prints ``READY``, waits for the
``--go`` file, then for ``--seconds`` (or until ``--calls`` calls were made) runs ``--threads`` threads at once,
each on its own cursor: two push invoices (``PUT /Invoices``, as the push cron), the third polls
(``_halo_xero_poll``, the safety-net cron, through the ORM, committing its work; in the creator only: the poll's
cron job runs in one process at a time) or reads invoices as the webhook processing does (the other). Then the
creator, once both are done, deletes the connection and commits; each prints one JSON line: the calls it made
and the seconds it waited. ``--process-throttle`` bypasses the shared PostgreSQL throttle (the process's own
throttle only).

    python xero_worker_process.py --config odoo.conf --db DB --url SANDBOX --tenant ID --token JSON \
        --scope SCOPE --contact CONTACT_ID --go PATH --tag NAME [--seconds 65] [--calls N] [--threads 3] [--create]
"""

import argparse
import json
import os
import sys
import threading
import time
from datetime import date
from decimal import Decimal


class Stop(BaseException):
    """The run's time is over while a call waits for its turn (not an error: nothing was sent)."""


def parse_args(argv):
    parser = argparse.ArgumentParser()
    for name in ("--config", "--db", "--url", "--tenant", "--token", "--scope", "--contact", "--go", "--tag"):
        parser.add_argument(name, required=True)
    parser.add_argument("--seconds", type=float, default=65.0)
    parser.add_argument("--calls", type=int, default=0, help="stop after this many calls (0: no limit)")
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--process-throttle", action="store_true")
    parser.add_argument("--create", action="store_true", help="create (and at the end delete) the connection")
    return parser.parse_args(argv)


def shared_connection(args, registry, xc):
    """The id of the connection both processes use (as two workers of one database share the company's
    connection): created and committed by ``--create`` on a company without one (no res.company is created:
    that would wait for the test's lock on res_users), read from a file by the other."""
    from odoo import SUPERUSER_ID, api

    shared = os.path.join(os.path.dirname(args.go), "connection")
    if not args.create:
        while not os.path.exists(shared):
            time.sleep(0.05)
        with open(shared) as src:
            return int(src.read())
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        Connection = env["halo.xero.connection"].with_context(active_test=False)
        used = Connection.search([]).company_id
        company = env["res.company"].search([("id", "not in", used.ids)], order="id", limit=1)
        if not company:
            raise SystemExit("no company without a Xero connection in %s" % args.db)
        conn = Connection.create(
            {
                "name": args.tag,
                "company_id": company.id,
                "client_id": "HALO-DEMO-CLIENT",
                "client_secret": "halo-demo-secret",
            }
        )
        conn._halo_set_base_url(args.url)
        conn._halo_store_token(xc.normalise_token(json.loads(args.token)))
        conn.write({"tenant_id": args.tenant, "tenant_name": args.tag, "state": "connected"})
        conn_id = conn.id
        # a worker process of its own, as Odoo's worker commits
        cr.commit()  # pylint: disable=invalid-commit
    with open(shared + ".tmp", "w") as out:
        out.write(str(conn_id))
    os.rename(shared + ".tmp", shared)
    return conn_id


class Run:
    """The calls of this process: counted as they pass its throttle, its waits summed, stopped at the end."""

    def __init__(self, args, registry, local, conn_id):
        self.args, self.registry, self.conn_id = args, registry, conn_id
        self.calls, self.waited, self.errors = 0, 0.0, []
        self.lock = threading.Lock()
        self.deadline = None
        self._acquire, self._sleep = local.acquire, local.sleep
        local.acquire, local.sleep = self.acquire, self.sleep

    def acquire(self, tenant_id):
        with self.lock:
            self.calls += 1  # every call passes the process's throttle first, the shared one then
        return self._acquire(tenant_id)

    def sleep(self, seconds):
        if time.monotonic() + seconds > self.deadline:
            raise Stop()
        with self.lock:
            self.waited += seconds
        self._sleep(seconds)

    def more(self):
        return time.monotonic() < self.deadline and not (self.args.calls and self.calls >= self.args.calls)

    def push(self, n):
        """Invoices sent one per request (``PUT /Invoices``, idempotency key), as the push cron sends them."""
        from xero_python.accounting import Contact, Invoice, Invoices, LineItem

        from odoo import SUPERUSER_ID, api

        args = self.args
        with self.registry.cursor() as cr:
            client = (
                api.Environment(cr, SUPERUSER_ID, {})["halo.xero.connection"]
                .browse(self.conn_id)
                ._halo_client()
            )
            seq = 0
            while self.more():
                seq += 1
                key = "%s-%s-%s-%s" % (args.tag, os.getpid(), n, seq)
                invoice = Invoice(
                    type="ACCREC",
                    contact=Contact(contact_id=args.contact),
                    date=date(2026, 8, 1),
                    due_date=date(2026, 8, 31),
                    status="AUTHORISED",
                    reference=key,
                    line_items=[
                        LineItem(
                            description="Remote support",
                            quantity=Decimal("1.5"),
                            unit_amount=Decimal("95"),
                            account_code="200",
                            tax_type="OUTPUT2",
                        )
                    ],
                )
                client.call(
                    args.tenant,
                    "create_invoices",
                    Invoices(invoices=[invoice]),
                    summarize_errors=False,
                    idempotency_key=key,
                    write=True,
                )

    def poll(self, _n):
        """The safety-net poll as its cron runs it (invoices, deleted payments, credit notes), committed."""
        from odoo import SUPERUSER_ID, api

        with self.registry.cursor() as cr:
            connection = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})["halo.xero.connection"]
            connection = connection.browse(self.conn_id)
            while self.more():
                connection._halo_xero_poll()
                # each poll commits, as the cron does
                cr.commit()  # pylint: disable=invalid-commit

    def fetch(self, _n):
        """Invoices read as the webhook events' processing reads them (the poll cron runs in one process at a
        time: its job is locked; the webhook processing and the push run anywhere)."""
        from odoo import SUPERUSER_ID, api

        with self.registry.cursor() as cr:
            client = (
                api.Environment(cr, SUPERUSER_ID, {})["halo.xero.connection"]
                .browse(self.conn_id)
                ._halo_client()
            )
            while self.more():
                client.call(
                    self.args.tenant,
                    "get_invoices",
                    page=1,
                    page_size=50,
                    where='Type=="ACCREC"',
                    summary_only=True,
                )

    def run(self, target, n):
        try:
            target(n)
        except Stop:
            return
        except Exception as err:  # noqa: BLE001 - reported to the test
            self.errors.append("%s: %s" % (type(err).__name__, err))

    def go(self):
        """Threads 0, 1 push, thread 2 polls (the creator) or reads invoices as webhooks do (the other), and so
        on; returns the seconds they ran."""
        self.deadline = time.monotonic() + self.args.seconds
        third = self.poll if self.args.create else self.fetch
        threads = [
            threading.Thread(target=self.run, args=(third if n % 3 == 2 else self.push, n))
            for n in range(self.args.threads)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started


def main(argv=None):
    args = parse_args(argv)
    import odoo.init  # noqa: F401  (sets up the odoo namespace)
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["-c", args.config, "--log-level=warn"])
    from odoo.addons.halo_helpdesk_billing.services import xero_client as xc

    registry = Registry(args.db)
    # the process's own throttle (Xero's 60/min and 5 in flight, per process); the shared one (PostgreSQL) is
    # keyed by ``scope`` and tenant, the same for both processes of the test
    local = xc.reset_default_throttle(per_minute=60, concurrent=5, shared_scope=args.scope)
    if args.process_throttle:
        # bypassed: the organisation's row is never read (as when PostgreSQL cannot be reached), each process
        # paces itself only - Xero's limits as before the shared throttle
        from odoo.addons.halo_helpdesk_billing.models.xero.halo_xero_throttle import SharedThrottle

        SharedThrottle._with_row = lambda self, tenant_id, work: 0.0
    conn_id = shared_connection(args, registry, xc)
    run = Run(args, registry, local, conn_id)
    # the test reads this process's stdout
    print("READY", flush=True)  # pylint: disable=print-used
    while not os.path.exists(args.go):
        time.sleep(0.05)
    elapsed = run.go()
    folder = os.path.dirname(args.go)
    with open(os.path.join(folder, "done-%s" % os.getpid()), "w"):
        pass
    if args.create:  # the other process is done too: the connection (and its token) deleted
        while len([f for f in os.listdir(folder) if f.startswith("done-")]) < 2:
            time.sleep(0.05)
        with registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["halo.xero.connection"].browse(conn_id).unlink()
            # the process's own clean-up
            cr.commit()  # pylint: disable=invalid-commit
    report = json.dumps(
        {
            "calls": run.calls,
            "errors": run.errors,
            "waited": round(run.waited, 1),
            "seconds": round(elapsed, 1),
        }
    )
    print(report, flush=True)  # pylint: disable=print-used
    return 0


if __name__ == "__main__":
    sys.exit(main())
