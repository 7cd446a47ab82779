"""Xero traffic benchmark: (a) the first poll of an organisation with 20,000 historical documents, in cron
chunks; (b) a month of a 1,000-invoice/month MSP, in calls and bytes pulled from Xero (egress), per purpose.

Run from the repository root after tools/setup.sh has set up the cache:

    source tools/setup.sh && .cache/venv/bin/python bench/bench_xero_money.py [--invoices 1000] [--payments 600]
        [--history 20000] [--skip first-poll|month] [--db EXISTING_DB]
        (default: a throwaway database, dropped at the end)

(a) The sandbox's scale seed (``--history`` documents, half sales invoices, half bills). Two cases: the history
    last changed at the seed epoch (an established organisation connected today) and, the worst case, every
    document changed after the poll's start (as after a bulk update in Xero). The safety-net poll runs as Odoo's
    cron runner runs it: a job run calls ``_cron_halo_xero_poll`` while it reports work remaining (at least 10
    times, or 10 s: ``cron_end_time``), a call that does nothing ends the run, which is rescheduled at once.
    Reported: each callback's and each job run's wall time (Odoo kills a cron job run after 120 s in
    multi-worker mode), the calls and the bytes Xero sent.
(b) A month: ``--invoices`` posted invoices (made as a billing run makes them, 50 at a time) pushed on day 1
    (the push worker, in its batches, then its follow-ups: the online invoice URL of each); a few credit notes
    from Odoo; ``--payments`` payments made in Xero over days 2-29 (20 deleted, 20 "remove & redo", 1 in 10
    partial); a prepayment and an overpayment raised in Xero and allocated; every change delivered as Xero's
    webhooks (one delivery per hour with the hour's events) and processed by the events cron; the safety-net
    poll every hour (its cron's cadence: 720 polls, every one run for real through the SDK, none extrapolated).
    The sandbox's clock moves an hour at a time, and the addon's Xero client reads the time from it (its
    30-minute token is refreshed before the hour's first call, as in real time, not sent expired and retried
    after a 401). The sandbox's rate limits are off and its X-MinLimit-Remaining header kept far from 0: the
    figures are calls and bytes, not pacing (with the header counting down the real minute, the client waited
    for each next minute: 60 calls a real minute, and the month did not finish in 25 minutes).
    Reported: calls and bytes per purpose and endpoint, from the sandbox's request log, next to the sandbox's
    usage counters and the addon's own count (its shared throttle's day count); the token refreshes and the
    webhook deliveries (not API calls); how many polls found nothing new (the same answers as the poll before)
    and what such a poll costs; where the time went; Odoo's open amounts against Xero's AmountDue at the end.
    Figures: README.md, section Benchmarks.
Xero-side actions (payments, deletions, allocations) go through the sandbox's control API: they are the
finance team's, not the addon's, and are not counted.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_xero_push import make_invoices  # noqa: E402
from odoo_bench_env import odoo_env  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def purpose_of(row, phase):
    """What an addon call was for, from the phase and the request (ids in the path shown as ``{id}``)."""
    path = GUID.sub("{id}", row["path"].split("/api.xro/2.0/")[-1])
    endpoint = "%s /%s" % (row["method"], path)
    query = row.get("query") or ""
    watermark = any(k.lower() == "if-modified-since" for k in row.get("headers") or {})
    if endpoint == "GET /Invoices":
        if "summaryOnly=True" in query:
            what = "summaries changed since the watermark"
        else:
            what = "invoices by id (in full: payments, credits)"
    elif endpoint == "GET /Invoices/{id}/OnlineInvoice":
        what = "online invoice URL"
    elif endpoint == "GET /Payments":
        what = "payments deleted since the watermark"
    elif endpoint == "GET /CreditNotes":
        what = "credit notes changed since the watermark" if watermark else "credit notes by id"
    elif row["method"] in ("PUT", "POST"):
        what = "write"
    else:
        what = "read"
    if (row.get("status") or 0) >= 300:
        what += " (HTTP %s)" % row.get("status")
    return phase, endpoint, what


class Meter:
    """The sandbox's request log (in process) read per phase: calls and response bytes by purpose; the token
    refreshes (identity endpoint, outside the API's limits) and anything else counted apart."""

    def __init__(self, server):
        self.server = server
        self.seen = server.state.request_seq  # from now on
        self.table = collections.defaultdict(lambda: [0, 0])
        self.other = collections.Counter()  # non-API requests: "POST /connect/token", ...
        self.last = []  # the API rows of the last take

    def take(self, phase):
        rows = []
        for row in reversed(list(self.server.state.requests)):
            if row.get("seq", 0) <= self.seen:
                break
            rows.append(row)
        rows.reverse()
        if rows and rows[0]["seq"] != self.seen + 1:
            # the sandbox keeps its last 5,000 requests: read after every phase
            raise RuntimeError("request log overrun: %d requests lost" % (rows[0]["seq"] - self.seen - 1))
        self.seen = rows[-1]["seq"] if rows else self.seen
        self.last = [r for r in rows if "/api.xro/" in r["path"]]
        for row in rows:
            if "/api.xro/" not in row["path"]:
                if not row["path"].startswith("/_sandbox/"):
                    self.other["%s %s" % (row["method"], row["path"])] += 1
                continue
            cell = self.table[purpose_of(row, phase)]
            cell[0] += 1
            cell[1] += len((row.get("response") or "").encode())
        return len(self.last)

    def print(self):
        line = "%-30s %-38s %-44s %7s %12s"
        print("\n" + line % ("purpose", "endpoint", "what", "calls", "bytes pulled"))
        total = [0, 0]
        by_endpoint = collections.defaultdict(lambda: [0, 0])
        for (phase, endpoint, what), (calls, size) in sorted(self.table.items()):
            print(line % (phase, endpoint, what, calls, size))
            total[0] += calls
            total[1] += size
            by_endpoint[endpoint][0] += calls
            by_endpoint[endpoint][1] += size
        print(line % ("total", "", "", total[0], total[1]))
        print("\nby endpoint:")
        for endpoint, (calls, size) in sorted(by_endpoint.items()):
            print("  %-38s %7d calls %12d bytes" % (endpoint, calls, size))
        for request, count in sorted(self.other.items()):
            print("  not an API call: %-38s %7d" % (request, count))
        return total


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


def deliver_webhooks(env, server, xero_push):
    """One delivery of the queued events (as Xero batches them), then their processing (the events cron)."""
    queue = server.state.webhook_queue
    events = [{k: v for k, v in e.items() if k != "attempts"} for e in list(queue)]
    queue.clear()
    if not events:
        return 0, 0, 0
    Event = env["halo.xero.webhook.event"]
    payloads = size = 0
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
        payloads += 1
        size += len(body)
    while Event.search_count([("state", "=", "new")]):
        Event._cron_halo_xero_events()
    env.cr.commit()
    return len(events), payloads, size


class SandboxTime:
    """The ``time`` module as the addon's Xero client sees it during the month: ``time()`` is the sandbox's
    clock (token expiry: the client refreshes its 30-minute token before the hourly poll, as in real time,
    instead of sending it expired and retrying after a 401), everything else is the real module."""

    def __init__(self, state):
        self.state = state

    def time(self):
        return self.state.now()

    def __getattr__(self, name):
        return getattr(time, name)


def poll_answers(rows):
    """A poll's requests and answers, without the envelope's Id and DateTimeUTC (new in every answer), with
    each answer's size: two polls with the same are the same calls and bytes."""
    out = []
    for row in rows:
        body = json.loads(row.get("response") or "{}")
        body.pop("Id", None)
        body.pop("DateTimeUTC", None)
        headers = {k.lower(): v for k, v in (row.get("headers") or {}).items()}
        out.append(
            (
                row["method"],
                row["path"],
                row["query"],
                headers.get("if-modified-since"),
                row.get("status"),
                json.dumps(body, sort_keys=True),
                len((row.get("response") or "").encode()),
            )
        )
    return tuple(out)


def addon_calls(env, scope):
    """The API calls the addon counted (the shared throttle's day count of the bench's throttle scope)."""
    env.cr.execute("SELECT state FROM halo_xero_rate_limit WHERE key LIKE %s", [scope + "|%"])
    states = [json.loads(row[0] or "{}") for row in env.cr.fetchall()]
    return sum(s.get("day_count", 0) for s in states), sorted({s["day"] for s in states if s.get("day")})


def bench_month(args, env, server, ctl, xc, tenant):
    org = server.state.orgs[tenant]
    org["invoices"] = {
        k: v for k, v in org["invoices"].items() if not (v.get("Reference") or "").startswith("HIST-")
    }
    conn = connect(env, server, ctl, xc, tenant, "Bench month")
    Account = env["account.account"]
    conn.write(  # where prepayments, overpayments and credit notes allocated in Xero are registered
        {
            "halo_xero_allocation_journal_id": env["account.journal"]
            .search([("type", "=", "general"), ("company_id", "=", env.company.id)], limit=1)
            .id,
            "halo_xero_prepayment_account_id": Account.create(
                {"name": "Customer prepayments (Xero)", "code": "HXP01", "account_type": "liability_current"}
            ).id,
            "halo_xero_overpayment_account_id": Account.create(
                {"name": "Customer overpayments (Xero)", "code": "HXO01", "account_type": "liability_current"}
            ).id,
            "halo_xero_credit_note_account_id": Account.create(
                {"name": "Credit notes raised in Xero", "code": "HXC01", "account_type": "income"}
            ).id,
        }
    )
    # limits off, and their headers far from zero: X-MinLimit-Remaining counts the real minute even with the
    # limits off, and the client waits for the next minute at 0 (60 calls per real minute: the month took hours)
    ctl.limits(enabled=False, minute=1_000_000, day=1_000_000, app_minute=1_000_000, reset_counters=True)
    scope = xc.reset_default_throttle(per_minute=1_000_000, concurrent=5, daily=1_000_000).shared_scope
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
    moves = make_invoices(env, partners, args.invoices, tax, product)  # as a billing run, 50 at a time
    env.cr.commit()
    print("\n(b) %d invoices created and posted in %.0f s" % (len(moves), time.time() - t0), flush=True)
    meter = Meter(server)
    meter.take("set-up")
    meter.table.clear()
    ctl.call("POST", "usage/reset", {})
    server.state.webhook_queue.clear()
    real_time, xc.time = xc.time, SandboxTime(server.state)
    try:
        month(args, env, server, ctl, xc, tenant, conn, moves, meter, scope)
    finally:
        xc.time = real_time


def month(args, env, server, ctl, xc, tenant, conn, moves, meter, scope):
    from odoo.addons.halo_helpdesk_billing.services import xero_push

    org = server.state.orgs[tenant]
    spent = collections.Counter()  # seconds of the month by step
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
    spent["push (day 1)"] = time.time() - started
    print(
        "  day 1: %d invoices and %d credit notes pushed in %.0f s"
        % (len(moves), len(refunds), time.time() - started)
    )
    sent = moves.filtered(lambda m: m.halo_xero_invoice_id)
    payable = sent[5:]
    schedule = collections.defaultdict(list)  # hour of the month -> invoices paid then
    for n, move in enumerate(payable[: args.payments]):
        schedule[24 + (n * 7) % (27 * 24)].append(move)
    paid = {}
    deleted = redone = 0
    hooks = collections.Counter()
    unchanged = collections.Counter()  # (calls, bytes) of a poll that answered as the one before -> polls
    previous = None
    for hour in range(30 * 24):
        if hour % 24 == 0:
            print("  day %d: %.0f s" % (hour // 24 + 1, time.time() - started), flush=True)
        ctl.advance(3600)
        for move in schedule.get(hour, []):
            amount = 100.0 if len(paid) % 10 == 0 else None  # one in ten partial
            paid[move.id] = ctl.pay(tenant, move.halo_xero_invoice_id, amount=amount)
        if hour == 10 * 24:  # bounced payments deleted, bank reconciliation "remove & redo"
            for pay in list(paid.values())[:20]:
                ctl.call("POST", "payments/delete", {"tenant": tenant, "payment": pay["PaymentID"]})
                deleted += 1
            for pay in list(paid.values())[20:40]:
                ctl.call("POST", "payments/redo", {"tenant": tenant, "payment": pay["PaymentID"]})
                redone += 1
        if hour == 15 * 24:  # a prepayment and a credit note raised in Xero, allocated there
            rest = [m for m in payable[args.payments : args.payments + 2]]
            for kind, move in zip(("prepayment", "overpayment"), rest, strict=False):
                xero = org["invoices"][move.halo_xero_invoice_id]
                credit = ctl.call(
                    "POST",
                    "credits",
                    {
                        "tenant": tenant,
                        "kind": kind,
                        "contact": xero["ContactID"],
                        "amount": 50,
                        "currency": xero["CurrencyCode"],  # the invoice's (the company's USD): Xero's rule
                        "rate": xero.get("CurrencyRate"),
                    },
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
        t0 = time.time()
        events, payloads, size = deliver_webhooks(env, server, xero_push)
        hooks.update(events=events, payloads=payloads, bytes=size)
        meter.take("webhooks: events processed")
        t1 = time.time()
        XERO_poll(env, conn)
        meter.take("safety-net poll (hourly cron)")
        spent["webhooks"] += t1 - t0
        spent["polls"] += time.time() - t1
        answers = poll_answers(meter.last)
        if answers == previous:
            unchanged[len(answers), sum(a[-1] for a in answers)] += 1
        previous = answers
    seconds = time.time() - started
    spent["Xero-side actions, clock, meter"] = seconds - sum(spent.values())
    usage = ctl.call("GET", "usage").get(tenant, {})
    counted, days = addon_calls(env, scope)
    total = meter.print()
    print(
        "webhook deliveries (Xero's POSTs to Odoo, not API calls): %d events in %d payloads, %d bytes"
        % (hooks["events"], hooks["payloads"], hooks["bytes"])
    )
    print(
        "polls that found nothing new (the same requests and answers as the poll before, but for the "
        "envelope's Id and DateTimeUTC): %d of 720, %s; every poll was run, none multiplied"
        % (
            sum(unchanged.values()),
            ", ".join("%d x %d calls, %d bytes" % (n, c, b) for (c, b), n in sorted(unchanged.items())),
        )
    )
    env.invalidate_all()
    mismatched = [
        m.name
        for m in sent
        if abs(m.amount_residual - org["invoices"][m.halo_xero_invoice_id]["AmountDue"]) > 0.005
    ]
    print(
        "\nmonth simulated in %.0f s: %d calls, %d bytes pulled from Xero in the request log; the sandbox's usage "
        "counters: %s; the addon's own count (shared throttle, day %s): %d calls"
        % (
            seconds,
            total[0],
            total[1],
            json.dumps(usage, sort_keys=True),
            "/".join(days),
            counted,
        )
    )
    print("where the time went: %s" % ", ".join("%s %.0f s" % item for item in spent.items()))
    print(
        "payments made in Xero: %d (%d deleted, %d removed and redone, 1 in 10 partial); invoices whose "
        "Odoo open amount differs from Xero's AmountDue: %d %s"
        % (len(paid), deleted, redone, len(mismatched), mismatched[:5])
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
