"""Invoice push benchmark against xero_sandbox with its limits ENFORCED (5 in flight, 60 calls/min, real time).

Run from the repository root after ./test.sh has set up the cache (Odoo, venv, PostgreSQL):

    source tools/setup.sh && .cache/venv/bin/python bench/bench_xero_push.py [--invoices 1000] [--attachments 120]
        [--db EXISTING_DB]   (default: a throwaway database with the addon installed, dropped at the end)

1. push: ``--invoices`` posted invoices (DRAFT in Xero, no PDF) for customers already bound to Xero contacts
   go through ``account.move._halo_xero_push()`` (the worker the cron runs): counts invoice-write calls, all
   calls, 429 answers, seconds, invoices per minute;
2. follow-ups: ``--attachments`` more invoices, AUTHORISED with the PDF attached (``IncludeOnline``) and the
   online-invoice URL fetched: 1 invoice write per 50, then 2 paced calls per invoice; the figures are
   measured on that sample and extrapolated to ``--invoices`` (1,000 attachments at 60 calls/min would
   take ~17 minutes, plus as many online-URL reads).
Nothing is committed: the Odoo transaction is rolled back at the end (the sandbox keeps the invoices).
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from odoo_bench_env import odoo_env  # noqa: E402

# xero_sandbox is an installed package (tools/setup.sh installs it into the venv)


def make_invoices(env, partners, count, tax, product):
    from odoo import Command

    moves = env["account.move"].create([{
        "move_type": "out_invoice", "partner_id": partners[i % len(partners)].id,
        "invoice_date": date(2026, 7, 31), "invoice_date_due": date(2026, 8, 30),
        "invoice_line_ids": [Command.create({"product_id": product.id, "name": "Remote support %d" % i,
                                             "quantity": 1.5, "price_unit": 95.0,
                                             "tax_ids": [Command.set(tax.ids)]})],
    } for i in range(count)])
    moves.action_post()
    return moves


def measure(ctl, moves, label):
    ctl.clear_requests()
    started = time.time()
    stats = moves._halo_xero_push()
    seconds = time.time() - started
    log = [r for r in ctl.requests() if "/api.xro/" in r["path"]]
    writes = [r for r in log if r["method"] in ("PUT", "POST") and r["path"].lower().endswith("/invoices")]
    attach = [r for r in log if "/attachments/" in r["path"].lower()]
    online = [r for r in log if r["path"].lower().endswith("/onlineinvoice")]
    times = sorted(r["time"] for r in log)
    peak = max((sum(1 for t in times if s <= t < s + 60) for s in times), default=0)
    sent = len(moves.filtered(lambda m: m.halo_xero_state == "sent"))
    return {"label": label, "invoices": len(moves), "sent": sent, "stats": stats, "seconds": seconds,
            "calls": len(log), "invoice_writes": len(writes), "attachments": len(attach), "online": len(online),
            "429": sum(1 for r in log if r["status"] == 429), "peak_calls_in_60s": peak,
            "calls_per_invoice": len(log) / max(1, len(moves)),
            "invoices_per_minute": sent / seconds * 60 if seconds else 0.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--attachments", type=int, default=120)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--db")
    args = parser.parse_args()

    db = args.db or "halo_bench_xero_%d" % os.getpid()
    if not args.db:
        print("installing halo_helpdesk_billing in %s ..." % db, flush=True)
        subprocess.run([os.environ["ODOO_BIN"], "-c", os.environ["HALO_ODOO_CONF"], "-d", db, "-i",
                        "halo_helpdesk_billing", "--stop-after-init", "--log-level=warn", "--without-demo=all"],
                       check=True)
    from xero_sandbox import UK_TENANT_ID
    from xero_sandbox.server import SandboxServer
    from xero_sandbox.testing import SandboxControl

    server = SandboxServer(port=0, limits_enabled=True).start()  # 5 in flight, 60/min, 5000/day
    ctl = SandboxControl(server.url)
    cr, env = odoo_env(db)
    try:
        from odoo.addons.halo_helpdesk_billing.services import xero_client as xc

        xc.reset_default_throttle()  # the production defaults: 60/min, 5 in flight, 5000/day - 10 %
        company = env.company
        journal = env["account.journal"].search([("type", "=", "bank"), ("company_id", "=", company.id)], limit=1)
        connection = env["halo.xero.connection"].create({
            "name": "Bench", "company_id": company.id, "client_id": "HALO-DEMO-CLIENT",
            "client_secret": "halo-demo-secret", "invoice_status": "DRAFT", "invoice_numbering": "odoo",
            "attach_pdf": False, "rounding_account_code": "860", "default_account_code": "200",
            "payment_journal_id": journal.id})
        connection._halo_set_base_url(server.url)
        connection._halo_store_token(xc.normalise_token(ctl.grant()))
        connection.write({"tenant_id": UK_TENANT_ID, "tenant_name": "Halo Demo UK Ltd", "state": "connected"})
        ctl.seed(UK_TENANT_ID, contacts=args.customers)
        contacts = [c for c in server.state.orgs[UK_TENANT_ID]["contacts"].values()][:args.customers]
        partners = env["res.partner"].create([{"name": c["Name"], "is_company": True,
                                               "halo_xero_contact_id": c["ContactID"]} for c in contacts])
        tax = env["account.tax"].create({"name": "VAT 20% (bench)", "amount": 20, "type_tax_use": "sale",
                                         "halo_xero_tax_type": "OUTPUT2", "company_id": company.id})
        product = env["product.product"].create({"name": "Support (bench)", "type": "service",
                                                 "halo_xero_account_code": "200"})
        t0 = time.time()
        moves = make_invoices(env, partners, args.invoices, tax, product)
        print("created and posted %d invoices in %.0f s" % (len(moves), time.time() - t0), flush=True)
        results = [measure(ctl, moves, "push (DRAFT, no PDF)")]
        if args.attachments:
            connection.write({"attach_pdf": True, "invoice_status": "AUTHORISED"})
            sample = make_invoices(env, partners, args.attachments, tax, product)
            results.append(measure(ctl, sample, "PDF + online URL sample"))
        print()
        print("%-26s %8s %6s %8s %7s %6s %5s %6s %8s %9s %9s" % (
            "run", "invoices", "sent", "seconds", "writes", "calls", "429", "peak60", "calls/inv", "inv/min",
            "attach"))
        for r in results:
            print("%-26s %8d %6d %8.1f %7d %6d %5d %6d %9.3f %9.1f %9d" % (
                r["label"], r["invoices"], r["sent"], r["seconds"], r["invoice_writes"], r["calls"], r["429"],
                r["peak_calls_in_60s"], r["calls_per_invoice"], r["invoices_per_minute"], r["attachments"]))
        if args.attachments:
            sample = results[-1]
            per_invoice = sample["calls"] / sample["invoices"]
            total = args.invoices * per_invoice
            print("\nextrapolated to %d invoices with PDFs: ~%.0f calls, ~%.1f min at 60 calls/min "
                  "(measured %.1f invoices/min on %d)" % (
                      args.invoices, total, total / 60, sample["invoices_per_minute"], sample["invoices"]))
        ok = (results[0]["sent"] == args.invoices and results[0]["invoice_writes"] <= 25
              and all(r["429"] == 0 for r in results))
        print("\ntarget (%d invoices in <= 25 invoice writes, no 429): %s" % (args.invoices, "MET" if ok else "MISSED"))
    finally:
        cr.rollback()
        cr.close()
        server.stop()
        if not args.db:
            subprocess.run(["dropdb", "--if-exists", db], check=False,
                           env={**os.environ, "PGUSER": os.environ.get("HALO_DB_USER", ""),
                                "PGPASSWORD": os.environ.get("HALO_DB_PASSWORD", "")})


if __name__ == "__main__":
    main()
