"""Billing-run benchmark: our engine against Odoo's own ``sale_timesheet`` invoicing, same data, same run.

Run from the repository root after ./test.sh has set up the cache (Odoo, venv, PostgreSQL):

    source tools/setup.sh && .cache/venv/bin/python bench/bench_billing.py [--customers 1000] [--charges 100]

What it does:
1. builds one database with halo_helpdesk_billing + sale_timesheet, then ``customers × charges`` timesheet
   lines on tickets (bulk SQL copies of one ORM-made line, so set-up stays quick) and the same number of
   timesheet lines on one sale order line per customer for the peer; VACUUM ANALYZE;
2. copies that database (``CREATE DATABASE ... TEMPLATE``) for each measured engine and runs each in its own
   process (so the peak memory is the engine's own):
   - ``rate``: re-rating every stored action through the ORM (``halo.rating._rate_timesheets``);
   - ``ours-summary`` / ``ours-itemised``: a billing run from preview to created and posted invoices, the
     rating included (the stored ratings are cleared first, so the run rates everything itself);
   - ``peer``: ``sale.order._create_invoices()`` + ``action_post()`` of the same number of lines;
   - ``plain-itemised``: one plain ``account.move.create`` per invoice with one line per timesheet line
     (the baseline of the itemised target), then post;
   the peers run in one transaction (their fastest case: the cache stays warm from creating to posting);
   ours previews in one transaction and invoices in a second, as a user reviews the preview before
   clicking Create Invoices;
3. prints one table: seconds, SQL queries per invoice, peak RSS, and the ratios the issue asks for.
The template is analysed (VACUUM ANALYZE) at the end of set-up, before any journal item exists, as in
a fresh database: PostgreSQL then plans foreign-key checks against the journal tables for empty tables.
Our run refreshes those statistics once it has outgrown them (``halo.billing.run._halo_keep_statistics``);
Odoo's baselines do not, and nothing here does it for them.
Machine speed drifts during a day, so only the ratios of one run mean much.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from odoo_bench_env import odoo_env  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def psql(sql, db="postgres", autocommit=True):
    import psycopg2

    conn = psycopg2.connect(
        host=os.environ["PGHOST"],
        port=os.environ["PGPORT"],
        user=os.environ["HALO_DB_USER"],
        password=os.environ["HALO_DB_PASSWORD"],
        dbname=db,
    )
    conn.autocommit = autocommit
    with conn.cursor() as cr:
        cr.execute(sql)
        rows = cr.fetchall() if cr.description else None
    conn.close()
    return rows


def clone_rows(cr, table, template_id, count, overrides):
    """INSERT ``count`` copies of row ``template_id`` with SQL expressions (using ``g``, 0..count-1)."""
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name != 'id'",
        (table,),
    )
    columns = [row[0] for row in cr.fetchall()]
    select = [overrides.get(column, f'src."{column}"') for column in columns]
    cr.execute(
        f'INSERT INTO "{table}" ({", ".join(f"{c!r}".replace(chr(39), chr(34)) for c in columns)}) '
        f'SELECT {", ".join(select)} FROM "{table}" src, generate_series(0, {count - 1}) g WHERE src.id = {template_id}'
    )


def setup(db, customers, charges):
    from datetime import date, datetime

    import odoo.init  # noqa: F401
    from odoo import Command

    psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    subprocess.run(
        [
            os.environ["ODOO_BIN"],
            "-c",
            os.environ["HALO_ODOO_CONF"],
            "-d",
            db,
            "-i",
            "halo_helpdesk_billing,sale_timesheet",
            "--stop-after-init",
            "--log-level=warn",
        ],
        check=True,
    )
    cr, env = odoo_env(db)
    company = env.company
    calendar = company.resource_calendar_id
    calendar.tz = "Europe/London"
    company.write({"halo_invoice_grouping": "customer", "halo_post_invoices": True})
    product = env["product.product"].create(
        {
            "name": "Support hour",
            "type": "service",
            "list_price": 95.0,
            "invoice_policy": "delivery",
            "service_type": "timesheet",
            "service_policy": "delivered_timesheet",
            "uom_id": env.ref("uom.product_uom_hour").id,
        }
    )
    rate = env["halo.charge.rate"].create({"name": "Remote", "product_id": product.id})
    env["halo.charge.rate.version"].create(
        {
            "rate_id": rate.id,
            "date_from": date(2026, 1, 1),
            "hourly_price": 95,
            "min_minutes": 15,
            "increment_minutes": 15,
            "ooh_multiplier": 1.5,
        }
    )
    project = env["project.project"].create({"name": "Support", "allow_timesheets": True})
    employee = env["hr.employee"].create({"name": "Bench tech", "user_id": env.user.id})
    team = env["helpdesk.ticket.team"].create({"name": "Bench", "halo_project_id": project.id})
    partners = env["res.partner"].create(
        [{"name": f"Customer {i:04d}", "is_company": True} for i in range(customers)]
    )
    tickets = env["helpdesk.ticket"].create(
        [
            {"name": f"Ticket {i}", "description": "bench", "partner_id": p.id, "team_id": team.id}
            for i, p in enumerate(partners)
        ]
    )
    from odoo.addons.halo_helpdesk_billing.models.halo_engine import NO_RATING  # noqa: PLC0415

    template = NO_RATING.on(env["account.analytic.line"]).create(
        {
            "halo_ticket_id": tickets[0].id,
            "employee_id": employee.id,
            "halo_charge_rate_id": rate.id,
            "halo_start": datetime(2026, 7, 1, 9, 0),
            "halo_end": datetime(2026, 7, 1, 9, 40),
            "name": "Work",
        }
    )
    env.flush_all()
    ticket_ids = tickets.ids
    # charge g: ticket g // charges; day 1..28, start hour 8..18 (some out of hours), 20..120 minutes
    cr.execute(
        "CREATE TEMP TABLE bench_tickets AS SELECT row_number() OVER () - 1 AS n, id FROM unnest(%s::int[]) id",
        (ticket_ids,),
    )
    clone_rows(
        cr,
        "account_analytic_line",
        template.id,
        customers * charges,
        {
            "halo_ticket_id": f"(SELECT id FROM bench_tickets WHERE n = g / {charges})",
            "halo_start": "timestamp '2026-07-01 07:00' + ((g % 28) || ' days')::interval + ((g % 11) || ' hours')::interval",
            "halo_end": "timestamp '2026-07-01 07:00' + ((g % 28) || ' days')::interval + ((g % 11) || ' hours')::interval"
            " + ((20 + (g * 7) % 100) || ' minutes')::interval",
            "date": "date '2026-07-01' + (g % 28)",
            "unit_amount": "(20 + (g * 7) % 100) / 60.0",
            "partner_id": "(SELECT commercial_partner_id FROM helpdesk_ticket t WHERE t.id = "
            f"(SELECT id FROM bench_tickets WHERE n = g / {charges}))",
        },
    )
    cr.execute("DELETE FROM account_analytic_line WHERE id = %s", (template.id,))
    # the peer: one confirmed sale order per customer, its timesheets on the order line
    orders = env["sale.order"].create(
        [
            {
                "partner_id": p.id,
                "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 1})],
            }
            for p in partners
        ]
    )
    orders.action_confirm()
    sol_ids = orders.order_line.ids
    peer_template = NO_RATING.on(env["account.analytic.line"]).create(
        {
            "project_id": project.id,
            "employee_id": employee.id,
            "name": "Peer work",
            "unit_amount": 1.0,
            "date": date(2026, 7, 1),
            "so_line": sol_ids[0],
        }
    )
    env.flush_all()
    cr.execute(
        "CREATE TEMP TABLE bench_sols AS SELECT row_number() OVER () - 1 AS n, id FROM unnest(%s::int[]) id",
        (sol_ids,),
    )
    clone_rows(
        cr,
        "account_analytic_line",
        peer_template.id,
        customers * charges,
        {
            "so_line": f"(SELECT id FROM bench_sols WHERE n = g / {charges})",
            "unit_amount": "(20 + (g * 7) % 100) / 60.0",
            "date": "date '2026-07-01' + (g % 28)",
            "order_id": f"(SELECT order_id FROM sale_order_line WHERE id = (SELECT id FROM bench_sols WHERE n = g / {charges}))",
        },
    )
    cr.execute("DELETE FROM account_analytic_line WHERE id = %s", (peer_template.id,))
    env.invalidate_all()
    orders.order_line._compute_qty_delivered()
    env.flush_all()
    cr.commit()
    cr.close()
    from odoo.sql_db import close_all

    close_all()
    psql("VACUUM ANALYZE", db=db)
    return {"customers": customers, "charges": charges}


def measure(phase, db):
    from datetime import date

    cr, env = odoo_env(db)
    result = {"phase": phase}
    if phase in ("ours-summary", "ours-itemised"):
        env.company.halo_invoice_layout = "summary_invoice" if phase == "ours-summary" else "itemised"
        cr.execute(
            "UPDATE account_analytic_line SET halo_rating_data = NULL WHERE halo_ticket_id IS NOT NULL"
        )
        env.invalidate_all()
        cr.commit()
    start_queries = cr.sql_log_count
    started = time.time()
    if phase == "rate":
        lines = env["account.analytic.line"].search([("halo_ticket_id", "!=", False)])
        env["halo.rating"]._rate_timesheets(lines)
        result["lines"] = len(lines)
        invoices = 0
    elif phase.startswith("ours"):
        # a run of more than one chunk goes to queue_job: its chunks run here, in this process
        # and transaction, one after the other (the engine's own cost; bench_billing_jobs.py
        # measures the real job runner with workers)
        run = (
            env["halo.billing.run"]
            .with_context(queue_job__no_delay=True)
            .create({"date_cutoff": date(2026, 7, 31), "date_invoice": date(2026, 7, 31)})
        )
        run.action_preview()
        # the user previews, then creates the invoices: two clicks, two transactions
        cr.commit()
        result["preview_s"] = round(time.time() - started, 1)
        run.action_create_invoices()
        invoices = len(run.invoice_ids)
        result["invoice_lines"] = len(run.invoice_ids.invoice_line_ids)
    elif phase == "peer":
        orders = env["sale.order"].search([("invoice_status", "=", "to invoice")])
        moves = orders._create_invoices()
        result["create_s"] = round(time.time() - started, 1)
        moves.action_post()
        invoices = len(moves)
        result["invoice_lines"] = len(moves.invoice_line_ids)
    elif phase == "plain-itemised":
        from collections import defaultdict

        from odoo import Command  # odoo.init already imported by odoo_env

        cr.execute("""SELECT t.commercial_partner_id, a.id, a.unit_amount, a.account_id FROM account_analytic_line a
                        JOIN helpdesk_ticket t ON t.id = a.halo_ticket_id ORDER BY a.id""")
        per_partner = defaultdict(list)
        for partner_id, line_id, hours, account_id in cr.fetchall():
            per_partner[partner_id].append((line_id, hours, account_id))
        product = env["product.product"].search([("name", "=", "Support hour")], limit=1)
        moves = env["account.move"]
        for partner_id, lines in per_partner.items():
            moves |= env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": partner_id,
                    "invoice_date": date(2026, 7, 31),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": product.id,
                                "name": f"Work {line_id}",
                                "quantity": round(hours, 4),
                                "price_unit": 95.0,
                                "analytic_distribution": {str(account_id): 100},
                            }
                        )
                        for line_id, hours, account_id in lines
                    ],
                }
            )
        result["create_s"] = round(time.time() - started, 1)
        moves.action_post()
        invoices = len(moves)
        result["invoice_lines"] = len(moves.invoice_line_ids)
    env.flush_all()
    result["seconds"] = round(time.time() - started, 1)
    result["queries"] = cr.sql_log_count - start_queries
    result["invoices"] = invoices
    if invoices:
        result["queries_per_invoice"] = round(result["queries"] / invoices, 1)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    cr.rollback()
    cr.close()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--charges", type=int, default=100)
    parser.add_argument("--db", default="halo_bench")
    parser.add_argument("--phases", default="rate,ours-summary,peer,ours-itemised,plain-itemised")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--reuse", action="store_true", help="reuse an already prepared --db")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="write a cProfile of each phase to DIR/<phase>.prof (slower; for finding costs, not timing)",
    )
    args = parser.parse_args()
    if args.phase:
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(measure, args.phase, args.db)
            profiler.dump_stats(os.path.join(args.profile, f"{args.phase}.prof"))
        else:
            result = measure(args.phase, args.db)
        print(json.dumps(result))
        return
    if not args.reuse:
        t0 = time.time()
        setup(args.db, args.customers, args.charges)
        print(
            f"set-up: {args.customers} customers x {args.charges} charges in {time.time() - t0:.0f} s",
            flush=True,
        )
    else:
        # the prepared database may predate the current code: bring the addon up to date first
        subprocess.run(
            [
                os.environ["ODOO_BIN"],
                "-c",
                os.environ["HALO_ODOO_CONF"],
                "-d",
                args.db,
                "-u",
                "halo_helpdesk_billing",
                "--stop-after-init",
                "--log-level=warn",
            ],
            check=True,
        )
        psql("VACUUM ANALYZE", db=args.db)
    results = {}
    for phase in args.phases.split(","):
        copy = f"{args.db}_{phase.replace('-', '_')}"
        psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{copy}" TEMPLATE "{args.db}"')
        command = [PY, __file__, "--phase", phase, "--db", copy]
        if args.profile:
            os.makedirs(args.profile, exist_ok=True)
            command += ["--profile", args.profile]
        out = subprocess.run(command, capture_output=True, text=True)
        psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        if out.returncode:
            print(f"{phase}: FAILED\n{out.stderr[-3000:]}", flush=True)
            continue
        results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(results[phase]), flush=True)
    if not args.reuse:
        print(
            f"\n{args.customers} customers x {args.charges} charges = {args.customers * args.charges} charges"
        )
    print(f"{'phase':16} {'seconds':>8} {'invoices':>8} {'lines':>8} {'queries/inv':>11} {'peak MiB':>9}")
    for phase, r in results.items():
        print(
            f"{phase:16} {r['seconds']:>8} {r.get('invoices', 0):>8} {r.get('invoice_lines', r.get('lines', 0)):>8} "
            f"{r.get('queries_per_invoice', '-'):>11} {r['peak_rss_mib']:>9}"
        )
    if "rate" in results:
        r = results["rate"]
        print(
            f"ORM rating: {r['lines']} stored actions in {r['seconds']} s ({r['queries']} SQL queries in total)"
        )
    if "ours-summary" in results and "peer" in results:
        print(
            f"summarised: ours / sale_timesheet time = {results['ours-summary']['seconds'] / results['peer']['seconds']:.2f}"
            " (target <= 1.00, ours includes rating)"
        )
    if "ours-itemised" in results and "plain-itemised" in results:
        print(
            f"itemised: plain create / ours time = "
            f"{results['plain-itemised']['seconds'] / results['ours-itemised']['seconds']:.2f} (target >= 3.00)"
        )


if __name__ == "__main__":
    main()
