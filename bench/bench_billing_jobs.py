"""Billing runs as background jobs on a real server: prefork workers, Odoo's default limits, queue_job's runner.

Run from the repository root once the cache is set up (Odoo, venv, PostgreSQL):

    source tools/setup.sh && .cache/venv/bin/python bench/bench_billing_jobs.py [--customers 100] [--charges 100]

What it does:
1. builds one database with halo_helpdesk_billing and ``customers × charges`` timesheet lines on one ticket
   per customer (bulk SQL copies of one ORM-made line, as bench_billing.py does), the ratings cleared so
   the run rates everything itself; VACUUM ANALYZE;
2. for each layout (summarised per invoice, itemised), copies that database and starts the real server on
   it: ``--workers N`` (default 2), Odoo's default limits (nothing set: 60 s CPU and 120 s wall time per
   request or job, 2 GiB / 2.5 GiB of memory per worker), ``--load=web,queue_job`` and the channels
   ``root:N,root.halo_billing:N``;
3. as a user's browser does, through JSON-RPC (``/web/session/authenticate``, ``/web/dataset/call_kw``):
   creates a billing run, clicks *Preview*, reads the run until it is previewed, clicks *Create invoices*,
   reads the run until it is invoiced, sampling the memory of every server process meanwhile;
4. prints: the time each click took to answer, wall time from the click to the run previewed and to the
   last invoice posted, peak memory of each worker, jobs run, jobs retried, jobs failed, the longest job,
   and whether every charge was billed exactly once.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.cookiejar import CookieJar

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_billing import clone_rows, psql  # noqa: E402
from odoo_bench_env import odoo_env  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup(db, customers, charges):
    from datetime import date, datetime

    psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
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
        ],
        check=True,
    )
    cr, env = odoo_env(db)
    company = env.company
    company.resource_calendar_id.tz = "Europe/London"
    company.write({"halo_invoice_grouping": "customer", "halo_post_invoices": True})
    product = env["product.product"].create(
        {
            "name": "Support hour",
            "type": "service",
            "list_price": 95.0,
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
    cr.execute(
        "CREATE TEMP TABLE bench_tickets AS SELECT row_number() OVER () - 1 AS n, id FROM unnest(%s::int[]) id",
        (tickets.ids,),
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
            "halo_rating_data": "NULL",
        },
    )
    cr.execute("DELETE FROM account_analytic_line WHERE id = %s", (template.id,))
    cr.commit()
    cr.close()
    from odoo.sql_db import close_all

    close_all()
    # the tables the run reads and writes (a database-wide VACUUM can trip over other sessions' temp tables)
    psql(
        "VACUUM ANALYZE account_analytic_line, helpdesk_ticket, res_partner, account_move, account_move_line, "
        "halo_billing_run_line, queue_job",
        db=db,
    )


class Client:
    """A browser's JSON-RPC session."""

    def __init__(self, url):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def post(self, path, params, timeout=600):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": 1}).encode()
        request = urllib.request.Request(self.url + path, body, {"Content-Type": "application/json"})
        with self.opener.open(request, timeout=timeout) as response:
            result = json.loads(response.read())
        if result.get("error"):
            raise RuntimeError(json.dumps(result["error"])[:2000])
        return result["result"]

    def call(self, model, method, *args, **kwargs):
        return self.post(
            "/web/dataset/call_kw", {"model": model, "method": method, "args": list(args), "kwargs": kwargs}
        )


class MemorySampler(threading.Thread):
    """Peak resident memory of every process of the server, sampled twice a second."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peaks = {}
        self.names = {}
        self.stop = threading.Event()

    def run(self):
        import psutil

        while not self.stop.is_set():
            try:
                processes = [self.root] + self.root.children(recursive=True)
            except psutil.Error:
                break
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    self.names.setdefault(process.pid, " ".join(process.cmdline()[-2:]))
                except psutil.Error:
                    continue
                self.peaks[process.pid] = max(self.peaks.get(process.pid, 0), rss)
            self.stop.wait(0.5)


def start_server(db, port, workers, log):
    env = dict(os.environ, ODOO_QUEUE_JOB_CHANNELS=f"root:{workers},root.halo_billing:{workers}")
    command = [
        os.environ["ODOO_BIN"],
        "-c",
        os.environ["HALO_ODOO_CONF"],
        "-d",
        db,
        "--db-filter",
        f"^{db}$",
        "--http-port",
        str(port),
        "--gevent-port",
        str(port + 1),
        "--workers",
        str(workers),
        "--max-cron-threads",
        "1",
        "--load",
        "web,queue_job",
        "--log-level",
        "info",
        "--logfile",
        log,
    ]
    server = subprocess.Popen(command, env=env, start_new_session=True)
    for _attempt in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/web/login", timeout=5)
            return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError(f"the server did not start (see {log})")


def wait_state(client, run_id, states, timeout):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        run = client.call(
            "halo.billing.run",
            "read",
            [run_id],
            ["state", "halo_chunk_done", "halo_chunk_total", "halo_charge_done", "halo_charge_total"],
        )[0]
        if run["state"] in states:
            return run
        time.sleep(1)
    raise RuntimeError(f"run {run_id} not {states} after {timeout} s: {run}")


def kill_a_worker(db, timeout=120):
    """``kill -9`` the worker running an invoicing chunk, a second into its work."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        rows = psql(
            "SELECT worker_pid FROM queue_job WHERE state = 'started' AND method_name = '_halo_job_run' "
            "AND worker_pid IS NOT NULL AND date_started < now() at time zone 'utc' - interval '1 second' "
            "LIMIT 1",
            db=db,
        )
        if rows:
            os.kill(rows[0][0], signal.SIGKILL)
            return rows[0][0]
        time.sleep(0.2)
    return None


def measure(db, layout, port, workers, kill=False):
    psql(f"UPDATE res_company SET halo_invoice_layout = '{layout}'", db=db)
    log = os.path.join(ROOT, ".cache", f"bench_jobs_{db}.log")
    server = start_server(db, port, workers, log)
    sampler = MemorySampler(server.pid)
    sampler.start()
    result = {"layout": layout, "workers": workers}
    try:
        client = Client(f"http://127.0.0.1:{port}")
        client.post("/web/session/authenticate", {"db": db, "login": "admin", "password": "admin"})
        run_id = client.call(
            "halo.billing.run", "create", [{"date_cutoff": "2026-07-31", "date_invoice": "2026-07-31"}]
        )[0]
        started = time.monotonic()
        client.call("halo.billing.run", "action_preview", [run_id])
        result["preview_click_s"] = round(time.monotonic() - started, 2)
        run = wait_state(client, run_id, ("previewed",), 3600)
        result["preview_s"] = round(time.monotonic() - started, 1)
        result["chunks"] = run["halo_chunk_total"]
        result["charges"] = run["halo_charge_total"]
        started = time.monotonic()
        client.call("halo.billing.run", "action_create_invoices", [run_id])
        result["invoice_click_s"] = round(time.monotonic() - started, 2)
        if kill:
            result["killed_worker"] = kill_a_worker(db)
        run = wait_state(client, run_id, ("invoiced", "done_with_problems"), 3600)
        result["invoice_s"] = round(time.monotonic() - started, 1)
        result["state"] = run["state"]
    finally:
        sampler.stop.set()
        sampler.join()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    workers_rss = [rss for pid, rss in sampler.peaks.items() if pid != server.pid]
    result["peak_worker_mib"] = round(max(workers_rss) / 2**20) if workers_rss else None
    result["peak_main_mib"] = round(sampler.peaks.get(server.pid, 0) / 2**20)
    jobs = psql(
        "SELECT count(*), COALESCE(sum(GREATEST(retry - 1, 0)), 0), count(*) FILTER (WHERE state = 'failed'), "
        "COALESCE(max(exec_time), 0) FROM queue_job",
        db=db,
    )[0]
    result.update(
        jobs=jobs[0], jobs_retried=int(jobs[1]), jobs_failed=jobs[2], longest_job_s=round(jobs[3], 1)
    )
    billed = psql(
        "SELECT count(*) FILTER (WHERE invoice_line_id IS NULL), "
        "(SELECT count(*) FROM (SELECT 1 FROM halo_billing_run_line WHERE invoice_id IS NOT NULL "
        "GROUP BY res_model, res_id HAVING count(*) > 1) d), count(DISTINCT invoice_id) "
        "FROM halo_billing_run_line WHERE state = 'included'",
        db=db,
    )[0]
    result.update(
        unbilled=billed[0],
        billed_twice=billed[1],
        invoices=billed[2],
        invoices_in_db=psql("SELECT count(*) FROM account_move WHERE halo_run_id IS NOT NULL", db=db)[0][0],
    )
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--charges", type=int, default=100)
    parser.add_argument("--db", default="halo_bench_jobs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8190, help="HTTP port (the next one is the gevent port)")
    parser.add_argument("--layouts", default="summary_invoice,itemised")
    parser.add_argument("--reuse", action="store_true", help="reuse an already prepared --db (updated first)")
    parser.add_argument(
        "--kill-worker",
        action="store_true",
        help="kill -9 the worker running an invoicing chunk in the middle of it",
    )
    args = parser.parse_args()
    if not args.reuse:
        started = time.monotonic()
        setup(args.db, args.customers, args.charges)
        print(f"set-up: {time.monotonic() - started:.0f} s", flush=True)
    else:
        # the addon as it is now
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
        psql(
            "VACUUM ANALYZE account_analytic_line, helpdesk_ticket, res_partner, account_move, account_move_line, "
            "halo_billing_run_line, queue_job",
            db=args.db,
        )
    results = []
    for layout in args.layouts.split(","):
        copy = f"{args.db}_{layout}"
        psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{copy}" TEMPLATE "{args.db}"')
        result = measure(copy, layout, args.port, args.workers, kill=args.kill_worker)
        result.update(customers=args.customers, charges_per_customer=args.charges)
        print(json.dumps(result), flush=True)
        results.append(result)
        psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    print(
        "\nlayout           workers  preview click  preview  invoice click  invoices  peak/worker  jobs  retried  failed"
        "  longest job  billed once"
    )
    for r in results:
        print(
            f"{r['layout']:<16} {r['workers']:>7}  {r['preview_click_s']:>11.2f}s  {r['preview_s']:>6.1f}s"
            f"  {r['invoice_click_s']:>11.2f}s  {r['invoice_s']:>7.1f}s  {r['peak_worker_mib']:>8} MiB"
            f"  {r['jobs']:>4}  {r['jobs_retried']:>7}  {r['jobs_failed']:>6}  {r['longest_job_s']:>9.1f}s"
            f"  {'yes' if not r['unbilled'] and not r['billed_twice'] and r['invoices'] == r['invoices_in_db'] else 'NO'}"
        )


if __name__ == "__main__":
    main()
