"""Invoice push benchmark against xero_sandbox with its limits ENFORCED (5 in flight, 60 calls/min, real time).

Run from the repository root after ./test.sh has set up the cache (Odoo, venv, PostgreSQL):

    source tools/setup.sh && .cache/venv/bin/python bench/bench_xero_push.py [--invoices 1000] [--lines 100]
        [--attachments 0] [--db EXISTING_DB]   (default: a throwaway database with the addon installed, dropped at the end)

1. push: ``--invoices`` posted itemised invoices of ``--lines`` lines each, with descriptions of a few hundred
   characters like a billing run's explanations (date, technician, ticket, what was done, how the time was
   billed), for customers already bound to Xero contacts, go through ``account.move._halo_xero_push()`` (the
   worker the cron runs: payloads, batches cut by count and serialised size, the SDK, HTTP) to the sandbox as
   DRAFT without PDF. Reported: invoice-write calls (batches) and their sizes, the largest request in bytes,
   all calls, 413 and 429 answers, seconds, invoices per minute, and the sandbox's own usage counters
   (calls, egress bytes, peak calls in 60 s, peak concurrent calls, refusals). Target: every invoice sent,
   no request over Xero's 3.5 MB (3,670,016 bytes), no 413, no 429.
2. follow-ups (``--attachments N``, default 0): N more invoices, AUTHORISED with the PDF attached
   (``IncludeOnline``) and the online-invoice URL fetched: 1 invoice write per 50, then 2 paced calls per
   invoice; the figures are measured on that sample and extrapolated to ``--invoices``.
Nothing is committed: the Odoo transaction is rolled back at the end (the sandbox keeps the invoices).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from odoo_bench_env import odoo_env  # noqa: E402

# xero_sandbox is an installed package (tools/setup.sh installs it into the venv)
XERO_CAP = 3_670_016  # 3.5 MB: Xero answers 413 above


WORK = [
    (
        "replaced the fuser unit, cleared the paper path and ran test prints from every floor",
        "Printer on the second floor jams on every job",
    ),
    (
        "renewed the expired TLS certificate on the mail gateway, restarted the transport service and checked the "
        "queue drained",
        "Outlook keeps asking for the password",
    ),
    (
        "restored the finance share from last night's backup, verified the permissions of the accounts group and "
        "documented the cause for the customer",
        "Finance folder missing",
    ),
    (
        "patched the hypervisor hosts, migrated the virtual machines back and confirmed the nightly replication job",
        "Monthly patching window",
    ),
    (
        "reset the VPN profile, reinstalled the client and tested access to the line-of-business application from "
        "home",
        "Cannot connect from home",
    ),
]
PEOPLE = ("Terry Technician", "Priya Patel", "Sam O'Neill", "Alex Morgan")


def description(n):
    """A billing-run style explanation of one charge: 300-600 characters, different for each line."""
    what, ticket = WORK[n % len(WORK)]
    minutes = 25 + (n * 7) % 95
    billed = max(60, -(-minutes // 15) * 15)
    day, hour = 1 + n % 28, 8 + n % 9
    text = (
        "%02d/07/2026 %02d:%02d-%02d:%02d %s, ticket HD-%05d %s: %s. %d min %s; billed %d min (minimum 60 "
        "min, 15-min increments rounded up) at GBP 95.00/h = GBP %.2f%s."
        % (
            day,
            hour,
            (n * 13) % 60,
            hour + 1,
            (n * 29) % 60,
            PEOPLE[n % len(PEOPLE)],
            1000 + n % 9000,
            ticket,
            what,
            minutes,
            "on site" if n % 3 else "remotely",
            billed,
            billed * 95 / 60,
            ""
            if n % 4
            else "; out of hours x1.5 after 17:00 as agreed in the support contract, which covers "
            "the first two hours of each month from the prepaid block before hourly charges apply",
        )
    )
    return text


def make_invoices(env, partners, count, tax, product, lines=1, chunk=50, label="invoices"):
    """``count`` posted invoices of ``lines`` lines each, made ``chunk`` at a time as a billing run makes
    itemised invoices: Odoo creates each invoice with its first line, the other lines (same accounting values,
    own description) are copied in bulk (``account.move._halo_bulk_add_lines``), then the chunk is posted."""
    from odoo import Command

    from odoo.addons.halo_helpdesk_billing.models.halo_engine import BILLING_RUN

    ids = []
    started = time.time()
    for first in range(0, count, chunk):
        numbers = range(first, min(first + chunk, count))
        batch = (
            BILLING_RUN.on(env["account.move"])
            .with_context(skip_analytic_sync=True)
            .create(
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
                                    "name": description(i * lines) if lines > 1 else "Remote support %d" % i,
                                    "quantity": 1.5,
                                    "price_unit": 95.0,
                                    "sequence": 1,
                                    "tax_ids": [Command.set(tax.ids)],
                                }
                            )
                        ],
                    }
                    for i in numbers
                ]
            )
        )
        if lines > 1:
            copies = []
            for i, move in zip(numbers, batch, strict=True):
                prototype = move.invoice_line_ids[:1].id
                copies += [
                    (
                        prototype,
                        {
                            "name": description(i * lines + n),
                            "quantity": 1.5,
                            "price_unit": 95.0,
                            "sequence": n + 1,
                        },
                    )
                    for n in range(1, lines)
                ]
            batch.with_context(skip_analytic_sync=True)._halo_bulk_add_lines(copies)
        BILLING_RUN.on(batch).action_post()
        ids += batch.ids
        env.flush_all()
        env.invalidate_all()
        if lines > 1 and (first // chunk) % 4 == 3:
            print(
                "  %d %s created and posted (%.0f s)" % (len(ids), label, time.time() - started), flush=True
            )
    return env["account.move"].browse(ids)


def measure(server, ctl, moves, label):
    ctl.clear_requests()
    ctl.call("POST", "usage/reset", {})
    started = time.time()
    stats = moves._halo_xero_push()
    seconds = time.time() - started
    # the sandbox runs in this process: its request log is read directly (bodies of several MB each)
    log = [r for r in list(server.state.requests) if "/api.xro/" in r["path"]]
    writes = [r for r in log if r["method"] in ("PUT", "POST") and r["path"].lower().endswith("/invoices")]
    sizes = [len(r["body"].encode()) for r in log if r["method"] in ("PUT", "POST")]
    attach = [r for r in log if "/attachments/" in r["path"].lower()]
    online = [r for r in log if r["path"].lower().endswith("/onlineinvoice")]
    times = sorted(r["time"] for r in log)
    peak = max((sum(1 for t in times if s <= t < s + 60) for s in times), default=0)
    sent = len(moves.filtered(lambda m: m.halo_xero_state == "sent"))
    documents = [len(json.loads(r["body"])["Invoices"]) for r in writes if r["status"] == 200]
    return {
        "label": label,
        "invoices": len(moves),
        "sent": sent,
        "stats": stats,
        "seconds": seconds,
        "calls": len(log),
        "invoice_writes": len(writes),
        "attachments": len(attach),
        "online": len(online),
        "429": sum(1 for r in log if r["status"] == 429),
        "413": sum(1 for r in log if r["status"] == 413),
        "largest": max(sizes, default=0),
        "write_sizes": [len(r["body"].encode()) for r in writes],
        "documents_per_write": documents,
        "peak_calls_in_60s": peak,
        "calls_per_invoice": len(log) / max(1, len(moves)),
        "invoices_per_minute": sent / seconds * 60 if seconds else 0.0,
        "usage": ctl.call("GET", "usage"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--attachments", type=int, default=0)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--db")
    args = parser.parse_args()

    db = args.db or "halo_bench_xero_%d" % os.getpid()
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
        from odoo.addons.halo_helpdesk_billing.services import xero_push

        xc.reset_default_throttle()  # the production defaults: 60/min, 5 in flight, 5000/day - 10 %
        company = env.company
        journal = env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
        )
        connection = env["halo.xero.connection"].create(
            {
                "name": "Bench",
                "company_id": company.id,
                "client_id": "HALO-DEMO-CLIENT",
                "client_secret": "halo-demo-secret",
                "invoice_status": "DRAFT",
                "invoice_numbering": "odoo",
                "attach_pdf": False,
                "rounding_account_code": "860",
                "default_account_code": "200",
                "payment_journal_id": journal.id,
            }
        )
        connection._halo_set_base_url(server.url)
        connection._halo_store_token(xc.normalise_token(ctl.grant()))
        connection.write({"tenant_id": UK_TENANT_ID, "tenant_name": "Halo Demo UK Ltd", "state": "connected"})
        ctl.seed(UK_TENANT_ID, contacts=args.customers)
        contacts = [c for c in server.state.orgs[UK_TENANT_ID]["contacts"].values()][: args.customers]
        partners = env["res.partner"].create(
            [
                {"name": c["Name"], "is_company": True, "halo_xero_contact_id": c["ContactID"]}
                for c in contacts
            ]
        )
        tax = env["account.tax"].create(
            {
                "name": "VAT 20% (bench)",
                "amount": 20,
                "type_tax_use": "sale",
                "halo_xero_tax_type": "OUTPUT2",
                "company_id": company.id,
            }
        )
        product = env["product.product"].create(
            {"name": "Support (bench)", "type": "service", "halo_xero_account_code": "200"}
        )
        t0 = time.time()
        moves = make_invoices(env, partners, args.invoices, tax, product, lines=args.lines)
        print(
            "created and posted %d invoices of %d lines in %.0f s"
            % (len(moves), args.lines, time.time() - t0),
            flush=True,
        )
        results = [measure(server, ctl, moves, "push (DRAFT, no PDF)")]
        if args.attachments:
            connection.write({"attach_pdf": True, "invoice_status": "AUTHORISED"})
            sample = make_invoices(env, partners, args.attachments, tax, product)
            results.append(measure(server, ctl, sample, "PDF + online URL sample"))
        print()
        print(
            "%-26s %8s %6s %8s %7s %6s %5s %5s %10s %6s %8s %9s"
            % (
                "run",
                "invoices",
                "sent",
                "seconds",
                "writes",
                "calls",
                "413",
                "429",
                "largest",
                "peak60",
                "calls/inv",
                "inv/min",
            )
        )
        for r in results:
            print(
                "%-26s %8d %6d %8.1f %7d %6d %5d %5d %10d %6d %9.3f %9.1f"
                % (
                    r["label"],
                    r["invoices"],
                    r["sent"],
                    r["seconds"],
                    r["invoice_writes"],
                    r["calls"],
                    r["413"],
                    r["429"],
                    r["largest"],
                    r["peak_calls_in_60s"],
                    r["calls_per_invoice"],
                    r["invoices_per_minute"],
                )
            )
        push = results[0]
        sizes = push["write_sizes"]
        print(
            "\nbatches (invoice writes): %d; documents per batch min/max %s/%s; request bytes min/mean/max "
            "%d/%d/%d (Xero's cap %d, the addon's %d)"
            % (
                len(sizes),
                min(push["documents_per_write"], default=0),
                max(push["documents_per_write"], default=0),
                min(sizes, default=0),
                sum(sizes) / max(1, len(sizes)),
                max(sizes, default=0),
                XERO_CAP,
                xero_push.MAX_REQUEST_BYTES,
            )
        )
        print("bytes sent in invoice writes: %d (%.1f MB)" % (sum(sizes), sum(sizes) / 1e6))
        print("sandbox usage counters: %s" % json.dumps(push["usage"], sort_keys=True))
        if args.attachments:
            sample = results[-1]
            per_invoice = sample["calls"] / sample["invoices"]
            total = args.invoices * per_invoice
            print(
                "\nextrapolated to %d invoices with PDFs: ~%.0f calls, ~%.1f min at 60 calls/min "
                "(measured %.1f invoices/min on %d)"
                % (args.invoices, total, total / 60, sample["invoices_per_minute"], sample["invoices"])
            )
        ok = (
            push["sent"] == args.invoices
            and push["largest"] <= XERO_CAP
            and all(r["429"] == 0 and r["413"] == 0 for r in results)
        )
        print(
            "\ntarget (%d invoices of %d lines sent, no request over %d bytes, no 413, no 429): %s"
            % (args.invoices, args.lines, XERO_CAP, "MET" if ok else "MISSED")
        )
    finally:
        cr.rollback()
        cr.close()
        server.stop()
        if not args.db:
            subprocess.run(
                ["dropdb", "--if-exists", db],
                check=False,
                env={
                    **os.environ,
                    "PGUSER": os.environ.get("HALO_DB_USER", ""),
                    "PGPASSWORD": os.environ.get("HALO_DB_PASSWORD", ""),
                },
            )


if __name__ == "__main__":
    main()
