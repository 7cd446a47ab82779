"""Xero traffic benchmark: (a) the first poll of an organisation with 20,000 historical documents, in cron
chunks; (b) a month of a 1,000-invoice/month MSP, in calls and bytes pulled from Xero (egress), per purpose.

Run from the repository root after tools/setup.sh has set up the cache:

    source tools/setup.sh && .cache/venv/bin/python bench/bench_xero_money.py [--invoices 1000] [--payments 600]
        [--history 20000] [--db EXISTING_DB]   (default: a throwaway database, dropped at the end)

(a) The sandbox's scale seed (``--history`` documents, half sales invoices, half bills). Two cases: the history
    last changed at the seed epoch (an established organisation connected today) and, the worst case, every
    document changed after the poll's start (as after a bulk update in Xero). The safety-net poll runs as Odoo's
    cron runner runs it: a job run calls ``_cron_halo_xero_poll`` while it reports work remaining (at least 10
    times, or 10 s: ``cron_end_time``), a call that does nothing ends the run, which is rescheduled at once.
    Reported: each callback's and each job run's wall time (Odoo kills a cron job run after 120 s in
    multi-worker mode), the calls and the bytes Xero sent.
(b) A month: ``--invoices`` posted invoices pushed on day 1 (the push worker, in its batches); a few credit
    notes from Odoo; ``--payments`` payments made in Xero over days 2-29 (some deleted, some "remove & redo");
    a prepayment and a credit note raised in Xero allocated; every change delivered as Xero's webhooks (one
    delivery per hour with the hour's events) and processed; the safety-net poll every hour (its cron's
    cadence, 720 polls). The sandbox's clock moves an hour at a time; its rate limits are off (the figures are
    calls and bytes, not pacing). Reported: calls and bytes per purpose and endpoint, and Odoo's open amounts
    against Xero's AmountDue at the end.
Xero-side actions (payments, deletions, allocations) go through the sandbox's control API: they are the
finance team's, not the addon's, and are not counted.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from odoo_bench_env import odoo_env  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def purpose_of(row, phase):
    """What an addon call was for, from the phase and the request."""
    path = row["path"].split("/api.xro/2.0/")[-1]
    endpoint = "%s /%s" % (row["method"], path.split("/")[0])
    query = row.get("query") or ""
    if endpoint == "GET /Invoices":
        what = (
            "summaries changed since the watermark" if "summaryOnly=True" in query else "full invoices by id"
        )
    elif endpoint == "GET /Payments":
        what = "payments deleted since the watermark"
    elif endpoint == "GET /CreditNotes":
        what = "credit notes changed since the watermark" if "page=" in query else "credit notes by id"
    elif row["method"] in ("PUT", "POST"):
        what = "write"
    else:
        what = "read"
    return phase, endpoint, what


class Meter:
    """The sandbox's request log (in process) read per phase: calls and response bytes by purpose."""

    def __init__(self, server):
        self.server = server
        self.seen = 0
        self.table = collections.defaultdict(lambda: [0, 0])

    def take(self, phase):
        rows = [r for r in list(self.server.state.requests) if r.get("seq", 0) > self.seen]
        self.seen = max([self.seen] + [r.get("seq", 0) for r in rows])
        calls = 0
        for row in rows:
            if "/api.xro/" not in row["path"]:
                continue
            calls += 1
            cell = self.table[purpose_of(row, phase)]
            cell[0] += 1
            cell[1] += len((row.get("response") or "").encode())
        return calls  # the sandbox keeps its last 5,000 requests: read after every phase

    def print(self):
        print("\n%-34s %-18s %-40s %7s %12s" % ("purpose", "endpoint", "what", "calls", "bytes pulled"))
        total = [0, 0]
        for (phase, endpoint, what), (calls, size) in sorted(self.table.items()):
            print("%-34s %-18s %-40s %7d %12d" % (phase, endpoint, what, calls, size))
            total[0] += calls
            total[1] += size
        print("%-34s %-18s %-40s %7d %12d" % ("total", "", "", total[0], total[1]))


def connect(env, server, ctl, xc, tenant, name="Bench"):
    company = env.company
    Connection = env["halo.xero.connection"].with_context(active_test=False)
    Connection.search([("company_id", "=", company.id)]).unlink()
    journal = env["account.journal"].search([("type", "=", "bank"), ("company_id", "=", company.id)], limit=1)
    conn = Connection.create(
        {
            "name": name,
            "company_id": company.id,
            "client_id": "HALO-DEMO-CLIENT",
            "client_secret": "halo-demo-secret",
            "invoice_status": "AUTHORISED",
            "invoice_numbering": "odoo",
            "attach_pdf": False,
            "rounding_account_code": "860",
            "default_account_code": "200",
            "payment_journal_id": journal.id,
            "webhook_key": "halo-demo-webhook-key",
        }
    )
    conn._halo_set_base_url(server.url)
    conn._halo_store_token(xc.normalise_token(ctl.grant()))
    conn.write({"tenant_id": tenant, "tenant_name": "Halo Demo UK Ltd", "state": "connected"})
    env.cr.commit()
    return conn


def run_cron_like_odoo(env, meter, phase):
    """Odoo's cron runner (ir_cron._run_job) around ``_cron_halo_xero_poll``: job runs until fully done."""
    Connection = env["halo.xero.connection"]
    runs = []
    while True:
        start = time.monotonic()
        end = start + 10  # MIN_TIME_PER_JOB
        loop, callbacks, remaining, status = 0, [], 0, None
        while status is None and (loop < 10 or time.monotonic() < end):
            before = meter.seen
            t0 = time.monotonic()
            remaining = Connection.with_context(cron_end_time=end)._cron_halo_xero_poll()
            calls = meter.take(phase)
            callbacks.append(time.monotonic() - t0)
            loop += 1
            if remaining == 0:
                status = "fully done"
            elif meter.seen == before and not calls:
                status = "partially done"  # nothing done: the run ends, rescheduled at once
        runs.append(
            {"seconds": time.monotonic() - start, "callbacks": callbacks, "status": status or "partially"}
        )
        if remaining == 0:
            return runs


def bench_first_poll(args, env, server, ctl, xc, tenant):
    from xero_sandbox import seed

    meter = Meter(server)
    org = server.state.orgs[tenant]
    results = []
    for label, updated in (
        ("history last changed at the seed epoch", None),
        ("worst case: every document changed since the poll's start", "now"),
    ):
        org["invoices"] = {
            k: v for k, v in org["invoices"].items() if not (v.get("Reference") or "").startswith("HIST-")
        }
        conn = connect(env, server, ctl, xc, tenant)
        stamp = server.state.now() + 60 if updated else seed.SEED_EPOCH
        seed.synthetic_documents(org, args.history // 2, args.history - args.history // 2, updated=stamp)
        ctl.advance(120)
        ctl.call("POST", "usage/reset", {})
        meter.take("before")
        meter.table.clear()
        t0 = time.monotonic()
        runs = run_cron_like_odoo(env, meter, "first poll")
        seconds = time.monotonic() - t0
        usage = ctl.call("GET", "usage").get(tenant, {})
        results.append((label, runs, seconds, usage, dict(meter.table)))
        conn.invalidate_recordset()
        assert not conn.halo_xero_poll_resume
    print(
        "\n(a) first poll on %d historical documents (%d sales invoices, %d bills)"
        % (args.history, args.history // 2, args.history - args.history // 2)
    )
    for label, runs, seconds, usage, table in results:
        callbacks = [c for r in runs for c in r["callbacks"]]
        print(
            "  %s: %.1f s in %d job runs (%d callbacks); max job run %.1f s, max callback %.1f s; %d calls, "
            "%d bytes pulled (egress)"
            % (
                label,
                seconds,
                len(runs),
                len(callbacks),
                max(r["seconds"] for r in runs),
                max(callbacks),
                usage.get("calls", 0),
                usage.get("egress_bytes", 0),
            )
        )
        for (_phase, endpoint, what), (calls, size) in sorted(table.items()):
            print("      %-18s %-42s %5d calls %11d bytes" % (endpoint, what, calls, size))


def make_invoices(env, partners, count, tax, product):
    from odoo import Command

    moves = env["account.move"]
    for first in range(0, count, 50):
        batch = env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partners[i % len(partners)].id,
                    "invoice_date": date(2026, 7, 31),
                    "invoice_date_due": date(2026, 8, 30),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": product.id,
                                "name": "Managed services %d" % i,
                                "quantity": 1.5,
                                "price_unit": 95.0,
                                "tax_ids": [Command.set(tax.ids)],
                            }
                        )
                    ],
                }
                for i in range(first, min(first + 50, count))
            ]
        )
        batch.action_post()
        moves |= batch
        env.cr.commit()
    return moves


def deliver_webhooks(env, server, xero_push):
    """One delivery of the queued events (as Xero batches them), then their processing (the events cron)."""
    queue = server.state.webhook_queue
    events = [e for e in list(queue)]
    queue.clear()
    if not events:
        return 0
    Event = env["halo.xero.webhook.event"]
    for first in range(0, len(events), 100):
        body = json.dumps(
            {
                "events": events[first : first + 100],
                "firstEventSequence": 1,
                "lastEventSequence": 1,
                "entropy": "BENCH",
            }
        ).encode()
        assert Event._halo_receive(body, xero_push.webhook_signature(body, "halo-demo-webhook-key")) == 200
    while Event.search_count([("state", "=", "new")]):
        Event._cron_halo_xero_events()
    env.cr.commit()
    return len(events)


def bench_month(args, env, server, ctl, xc, tenant):
    from odoo.addons.halo_helpdesk_billing.services import xero_push

    org = server.state.orgs[tenant]
    org["invoices"] = {
        k: v for k, v in org["invoices"].items() if not (v.get("Reference") or "").startswith("HIST-")
    }
    conn = connect(env, server, ctl, xc, tenant, "Bench month")
    ctl.limits(enabled=False)
    xc.reset_default_throttle(per_minute=100000, concurrent=5, daily=1_000_000)
    ctl.seed(tenant, contacts=100)
    contacts = list(org["contacts"].values())[:100]
    partners = env["res.partner"].create(
        [{"name": c["Name"], "is_company": True, "halo_xero_contact_id": c["ContactID"]} for c in contacts]
    )
    tax = env["account.tax"].create(
        {
            "name": "VAT 20% (bench)",
            "amount": 20,
            "type_tax_use": "sale",
            "halo_xero_tax_type": "OUTPUT2",
            "company_id": env.company.id,
        }
    )
    product = env["product.product"].create(
        {"name": "Support (bench)", "type": "service", "halo_xero_account_code": "200"}
    )
    t0 = time.time()
    moves = make_invoices(env, partners, args.invoices, tax, product)
    print("\n(b) %d invoices created and posted in %.0f s" % (len(moves), time.time() - t0), flush=True)
    meter = Meter(server)
    meter.take("set-up")
    meter.table.clear()
    ctl.call("POST", "usage/reset", {})
    server.state.webhook_queue.clear()
    started = time.time()
    # day 1: the billing run's invoices pushed (the push worker), then a few Odoo credit notes
    moves._halo_xero_push()
    env.cr.commit()
    meter.take("push invoices (day 1)")
    refunds = moves[:5]._reverse_moves(cancel=False)
    refunds.action_post()
    refunds._halo_xero_push()
    env.cr.commit()
    meter.take("push credit notes (day 1)")
    sent = moves.filtered(lambda m: m.halo_xero_invoice_id)
    payable = sent[5:]
    schedule = collections.defaultdict(list)  # hour of the month -> invoices paid then
    for n, move in enumerate(payable[: args.payments]):
        schedule[24 + (n * 7) % (27 * 24)].append(move)
    paid = {}
    for hour in range(30 * 24):
        ctl.advance(3600)
        for move in schedule.get(hour, []):
            amount = 100.0 if len(paid) % 10 == 0 else None  # one in ten partial
            paid[move.id] = ctl.pay(tenant, move.halo_xero_invoice_id, amount=amount)
        if hour == 10 * 24:  # bounced payments deleted, bank reconciliation "remove & redo"
            for pay in list(paid.values())[:20]:
                ctl.call("POST", "payments/delete", {"tenant": tenant, "payment": pay["PaymentID"]})
            for pay in list(paid.values())[20:40]:
                ctl.call("POST", "payments/redo", {"tenant": tenant, "payment": pay["PaymentID"]})
        if hour == 15 * 24:  # a prepayment and a credit note raised in Xero, allocated there
            rest = [m for m in payable[args.payments : args.payments + 2]]
            for kind, move in zip(("prepayment", "overpayment"), rest, strict=False):
                xero = org["invoices"][move.halo_xero_invoice_id]
                credit = ctl.call(
                    "POST",
                    "credits",
                    {"tenant": tenant, "kind": kind, "contact": xero["ContactID"], "amount": 50},
                )
                ctl.call(
                    "POST",
                    "allocate",
                    {
                        "tenant": tenant,
                        "kind": kind,
                        "id": credit["PrepaymentID" if kind == "prepayment" else "OverpaymentID"],
                        "invoice": move.halo_xero_invoice_id,
                        "amount": 50,
                    },
                )
        deliver_webhooks(env, server, xero_push)
        meter.take("webhooks: events processed")
        XERO_poll(env, conn)
        meter.take("safety-net poll (hourly cron)")
    seconds = time.time() - started
    usage = ctl.call("GET", "usage").get(tenant, {})
    meter.print()
    env.invalidate_all()
    mismatched = [
        m.name
        for m in sent
        if abs(m.amount_residual - org["invoices"][m.halo_xero_invoice_id]["AmountDue"]) > 0.005
    ]
    print(
        "\nmonth simulated in %.0f s: %d addon calls, %d bytes pulled from Xero (sandbox usage counters: %s)"
        % (seconds, usage.get("calls", 0), usage.get("egress_bytes", 0), json.dumps(usage, sort_keys=True))
    )
    print(
        "payments made in Xero: %d (20 deleted, 20 removed and redone, 1 in 10 partial); invoices whose "
        "Odoo open amount differs from Xero's AmountDue: %d %s" % (len(paid), len(mismatched), mismatched[:5])
    )


def XERO_poll(env, conn):  # noqa: N802 - the cron entry point, as the scheduler calls it
    env["halo.xero.connection"]._cron_halo_xero_poll()
    env.cr.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--payments", type=int, default=600)
    parser.add_argument("--history", type=int, default=20000)
    parser.add_argument("--skip", choices=("first-poll", "month"))
    parser.add_argument("--db")
    args = parser.parse_args()

    db = args.db or "halo_bench_money_%d" % os.getpid()
    if not args.db:
        print("installing halo_helpdesk_billing in %s ..." % db, flush=True)
        subprocess.run(
            [
                os.environ["ODOO_BIN"],
                "-c",
                os.environ["HALO_ODOO_CONF"],
                "-d",
                db,
                "-i",
                "halo_helpdesk_billing",
                "--stop-after-init",
                "--log-level=warn",
                "--without-demo=all",
            ],
            check=True,
        )
    from xero_sandbox import UK_TENANT_ID
    from xero_sandbox.server import SandboxServer
    from xero_sandbox.testing import SandboxControl

    server = SandboxServer(port=0, limits_enabled=True).start()  # 5 in flight, 60/min, 5000/day
    ctl = SandboxControl(server.url)
    cr, env = odoo_env(db)
    try:
        from odoo.addons.halo_helpdesk_billing.services import xero_client as xc

        xc.reset_default_throttle()  # the production defaults: 60/min, 5 in flight, 5000/day - 10 %
        if args.skip != "first-poll":
            bench_first_poll(args, env, server, ctl, xc, UK_TENANT_ID)
        if args.skip != "month":
            bench_month(args, env, server, ctl, xc, UK_TENANT_ID)
    finally:
        cr.rollback()
        cr.close()
        server.stop()
        if not args.db:
            from odoo.sql_db import close_db

            close_db(db)
            subprocess.run(
                ["dropdb", "--if-exists", db],
                check=False,
                env={
                    **os.environ,
                    "PGUSER": os.environ.get("HALO_DB_USER", "halo"),
                    "PGPASSWORD": os.environ.get("HALO_DB_PASSWORD", "halo"),
                },
            )


if __name__ == "__main__":
    main()
