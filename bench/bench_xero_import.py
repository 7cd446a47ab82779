"""Xero set-up import benchmark: 10,000 contacts and 2,000 items from xero_sandbox into Odoo.

Run from the repository root, against a database where halo_helpdesk_billing is installed
(e.g. one kept by ``./test.sh --only addon --keep-db``):

    source tools/setup.sh && .cache/venv/bin/python bench/bench_xero_import.py --db <database> \
        [--contacts 10000] [--items 2000] [--page-size 1000]

It starts an in-process sandbox (rate limits on, as in Xero), seeds it through the control API
``seed``, connects the main company (token from the sandbox's ``oauth/grant``), runs the full
import, then a second (idempotent) import, and prints the time and the API calls of each, read
from the sandbox's request log. Everything is rolled back at the end: the database is unchanged.
"""

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from odoo_bench_env import odoo_env  # noqa: E402

# xero_sandbox is an installed package (tools/setup.sh installs it into the venv)


def calls_by_path(ctl):
    rows = ctl.requests()
    counts = collections.Counter("%s %s" % (r["method"], r["path"]) for r in rows)
    return len(rows), dict(sorted(counts.items())), sum(1 for r in rows if r["status"] == 429)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--contacts", type=int, default=10000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()

    from xero_sandbox import UK_TENANT_ID
    from xero_sandbox.server import SandboxServer
    from xero_sandbox.testing import SandboxControl

    cr, env = odoo_env(args.db)
    from odoo.addons.halo_helpdesk_billing.services import xero_client as xc

    sandbox = SandboxServer(port=0, limits_enabled=True).start()
    try:
        ctl = SandboxControl(sandbox.url)
        t0 = time.time()
        ctl.seed(UK_TENANT_ID, contacts=args.contacts, items=args.items)
        seed_s = time.time() - t0
        company = env.ref("base.main_company")
        Connection = env["halo.xero.connection"].with_context(active_test=False)
        Connection.search([("company_id", "=", company.id)]).unlink()
        conn = Connection.create(
            {
                "company_id": company.id,
                "name": "Xero (bench)",
                "client_id": "HALO-DEMO-CLIENT",
                "client_secret": "halo-demo-secret",
            }
        )
        conn._halo_set_base_url(sandbox.url)
        conn._halo_store_token(xc.normalise_token(ctl.grant()))
        conn.write({"tenant_id": UK_TENANT_ID, "tenant_name": "Halo Demo UK Ltd", "state": "connected"})
        xc.reset_default_throttle()
        ctl.clear_requests()
        Import = env["halo.xero.import"]
        results = []
        for label in ("first import", "re-import"):
            ctl.clear_requests()
            started = time.time()
            imp = Import._halo_start(conn, page_size=args.page_size)._halo_run()
            env.flush_all()
            seconds = time.time() - started
            total, by_path, throttled = calls_by_path(ctl)
            results.append((label, imp, seconds, total, by_path, throttled))
        print(
            f"sandbox seeded with {args.contacts} + 10 contacts and {args.items} + 8 items in {seed_s:.1f} s"
        )
        for label, imp, seconds, total, by_path, throttled in results:
            print(
                f"\n{label}: {seconds:.1f} s, state {imp.state}, {total} API calls ({throttled} answered 429)"
            )
            print(
                f"  customers: {imp.contacts_seen} read, {imp.contacts_created} created, {imp.contacts_linked} "
                f"matched, {imp.contacts_updated} updated, {imp.review_count} to review"
            )
            print(
                f"  items: {imp.items_total} read, {imp.items_created} created, {imp.items_linked} matched, "
                f"{imp.items_updated} updated; taxes mapped/created/review: {imp.taxes_mapped}/"
                f"{imp.taxes_created}/{imp.taxes_review}; accounts: {imp.accounts_count}"
            )
            for path, count in by_path.items():
                print(f"    {count:5d}  {path}")
            if seconds:
                print(f"  {imp.contacts_seen / seconds:.0f} customers/s overall")
    finally:
        cr.rollback()
        cr.close()
        sandbox.stop()


if __name__ == "__main__":
    main()
