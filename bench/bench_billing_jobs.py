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

Options beyond one run per layout:
- ``--workers-list 1,2``: the same layout once per worker count, each on a fresh copy of the database;
  prints the speed-up of the most workers over the fewest (wall time click to last invoice posted);
- ``--kill-worker-at 0.5``: one more run per layout (with the most workers) in which, once half of the
  run's invoices exist, the worker process running an invoicing chunk (the queue.job's ``worker_pid``,
  checked to be a child of our server) is killed with SIGKILL; Odoo respawns it and the job runner
  requeues the job. It then checks that every timesheet line is on exactly one posted invoice line,
  that no customer has two invoices, and that each customer's total equals, to the cent, the one of
  the first run without the kill;
- ``--peers``: the database is built by bench_billing.py's set-up (sale_timesheet too, and the same
  number of timesheet lines on sale orders), and bench_billing.py's in-process phases run on copies
  of it in the same invocation: ours (``ours-summary`` / ``ours-itemised``), ``peer`` (sale_timesheet)
  for the summarised layout and ``plain-itemised`` (account.move.create) for the itemised one. The
  ratios printed compare in-process with in-process (the engine's own cost against the peer's);
  the server's wall time is printed beside them, labelled, as it includes the job runner's latency
  and the workers' parallelism, which the peers do not have.
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
import bench_billing  # noqa: E402
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


def kill_a_worker_at(db, server_pid, run_id, expected, fraction, timeout=3600):
    """``kill -9`` a worker running an invoicing chunk once ``fraction`` of ``expected`` invoices exist.

    The worker is the one queue_job recorded on the started job (``worker_pid``), and must be a child
    of our server (so nothing else can be hit). Returns what was done, for the report."""
    import psutil

    started = time.monotonic()
    children = {process.pid for process in psutil.Process(server_pid).children(recursive=True)}
    while time.monotonic() - started < timeout:
        created = psql(f"SELECT count(*) FROM account_move WHERE halo_run_id = {run_id}", db=db)[0][0]
        if created >= fraction * expected:
            rows = psql(
                "SELECT worker_pid, uuid FROM queue_job WHERE state = 'started' AND method_name = '_halo_job_run' "
                "AND worker_pid IS NOT NULL ORDER BY date_started LIMIT 1",
                db=db,
            )
            if rows:
                pid, uuid = rows[0]
                if pid not in children:  # a worker respawned since: look again
                    children = {p.pid for p in psutil.Process(server_pid).children(recursive=True)}
                if pid in children:
                    os.kill(pid, signal.SIGKILL)
                    return {
                        "killed_worker": pid,
                        "killed_job": uuid,
                        "killed_at_invoices": created,
                        "killed_at_s": round(time.monotonic() - started, 1),
                    }
            elif created >= expected:
                return {"killed_worker": None, "killed_at_invoices": created}
        time.sleep(0.2)
    return {"killed_worker": None}


def billed_once(db):
    """Every timesheet line on exactly one posted invoice line, one invoice per customer."""
    lines = psql(
        """SELECT count(*) FILTER (WHERE n = 0), count(*) FILTER (WHERE n > 1) FROM (
             SELECT a.id, count(aml.id) AS n FROM account_analytic_line a
               LEFT JOIN halo_billing_run_line rl ON rl.res_model = 'account.analytic.line' AND rl.res_id = a.id
               LEFT JOIN account_move_line aml ON aml.id = rl.invoice_line_id AND aml.parent_state = 'posted'
              WHERE a.halo_ticket_id IS NOT NULL GROUP BY a.id) s""",
        db=db,
    )[0]
    moves = psql(
        """SELECT (SELECT count(*) FROM (SELECT 1 FROM account_move WHERE halo_run_id IS NOT NULL
                                          GROUP BY partner_id HAVING count(*) > 1) d),
                  (SELECT count(*) FROM account_move WHERE halo_run_id IS NOT NULL AND state != 'posted')""",
        db=db,
    )[0]
    return {
        "timesheets_not_on_invoice": lines[0],
        "timesheets_on_2_invoice_lines": lines[1],
        "customers_invoiced_twice": moves[0],
        "invoices_not_posted": moves[1],
    }


def customer_totals(db):
    return {
        partner: round(float(total), 2)
        for partner, total in psql(
            "SELECT partner_id, sum(amount_total) FROM account_move WHERE halo_run_id IS NOT NULL "
            "AND state = 'posted' GROUP BY partner_id",
            db=db,
        )
    }


def measure(db, layout, port, workers, kill=False, kill_at=None):
    psql(f"UPDATE res_company SET halo_invoice_layout = '{layout}'", db=db)
    # the run rates everything itself (a --peers database comes with its actions rated)
    psql(
        "UPDATE account_analytic_line SET halo_rating_data = NULL "
        "WHERE halo_ticket_id IS NOT NULL AND halo_rating_data IS NOT NULL",
        db=db,
    )
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
        expected = psql(
            f"SELECT count(DISTINCT partner_id) FROM halo_billing_run_line WHERE run_id = {run_id} "
            "AND state = 'included'",
            db=db,
        )[0][0]
        started = time.monotonic()
        client.call("halo.billing.run", "action_create_invoices", [run_id])
        result["invoice_click_s"] = round(time.monotonic() - started, 2)
        if kill:
            result["killed_worker"] = kill_a_worker(db)
        if kill_at is not None:
            result["kill_at"] = kill_at
            result.update(kill_a_worker_at(db, server.pid, run_id, expected, kill_at))
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
    result.update(billed_once(db))
    if result.get("killed_job"):
        job = psql(f"SELECT state, retry FROM queue_job WHERE uuid = '{result['killed_job']}'", db=db)[0]
        result.update(killed_job_state=job[0], killed_job_tries=job[1])
    result["_totals"] = customer_totals(db)
    result["total"] = round(sum(result["_totals"].values()), 2)
    return result


def once(r):
    return (
        not r["unbilled"]
        and not r["billed_twice"]
        and r["invoices"] == r["invoices_in_db"]
        and not r["timesheets_not_on_invoice"]
        and not r["timesheets_on_2_invoice_lines"]
        and not r["customers_invoiced_twice"]
        and not r["invoices_not_posted"]
    )


def copy_db(template, copy):
    psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')


def run_peers(db, layout):
    """bench_billing.py's in-process phases for ``layout`` on copies of ``db``, one process each."""
    phases = ("ours-summary", "peer") if layout == "summary_invoice" else ("ours-itemised", "plain-itemised")
    results = {}
    for phase in phases:
        copy = f"{db}_{phase.replace('-', '_')}"
        copy_db(db, copy)
        out = subprocess.run(
            [sys.executable, bench_billing.__file__, "--phase", phase, "--db", copy],
            capture_output=True,
            text=True,
        )
        psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        if out.returncode:
            print(f"{phase}: FAILED\n{out.stderr[-3000:]}", flush=True)
            continue
        results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(results[phase]), flush=True)
    return results


def print_table(results):
    print(
        "\nlayout           workers  kill  preview click  preview  invoice click  invoices  peak/worker  jobs  retried"
        "  failed  longest job  billed once"
    )
    for r in results:
        kill = (
            f"{r['kill_at']:.2f}"
            if r.get("kill_at") is not None
            else ("yes" if r.get("killed_worker") else "-")
        )
        print(
            f"{r['layout']:<16} {r['workers']:>7}  {kill:>4}  {r['preview_click_s']:>11.2f}s  {r['preview_s']:>6.1f}s"
            f"  {r['invoice_click_s']:>11.2f}s  {r['invoice_s']:>7.1f}s  {r['peak_worker_mib']:>8} MiB"
            f"  {r['jobs']:>4}  {r['jobs_retried']:>7}  {r['jobs_failed']:>6}  {r['longest_job_s']:>9.1f}s"
            f"  {'yes' if once(r) else 'NO'}"
        )


def summarise(layout, runs, peers):
    """The speed-up over worker counts, the kill's verdict and the ratios to the peers."""
    plain = [r for r in runs if r.get("kill_at") is None]
    if len({r["workers"] for r in plain}) > 1:
        few = min(plain, key=lambda r: r["workers"])
        many = max(plain, key=lambda r: r["workers"])
        print(
            f"{layout}: {many['workers']} workers / {few['workers']}: speed-up "
            f"{few['invoice_s'] / many['invoice_s']:.2f}x on Create invoices (click to last invoice posted), "
            f"{(few['preview_s'] + few['invoice_s']) / (many['preview_s'] + many['invoice_s']):.2f}x "
            "on Preview + Create invoices"
        )
    for r in runs:
        if r.get("kill_at") is None or not plain:
            continue
        same = r["_totals"] == plain[0]["_totals"]
        print(
            f"{layout}: worker {r.get('killed_worker')} killed at {r.get('killed_at_invoices')} invoices "
            f"(job tried {r.get('killed_job_tries')} times, {r.get('killed_job_state')}); "
            f"billed exactly once: {'yes' if once(r) else 'NO'}; customer totals equal to the run without "
            f"the kill to the cent: {'yes' if same else 'NO'} ({r['total']:.2f} against {plain[0]['total']:.2f})"
        )
    if not peers:
        return
    ours_phase, peer_phase, peer_name = (
        ("ours-summary", "peer", "sale_timesheet")
        if layout == "summary_invoice"
        else ("ours-itemised", "plain-itemised", "account.move.create")
    )
    if ours_phase in peers and peer_phase in peers:
        ours, peer = peers[ours_phase]["seconds"], peers[peer_phase]["seconds"]
        print(
            f"{layout}: {peer_name} time / ours, both in-process on copies of this database: "
            f"{peer:.1f} s / {ours:.1f} s = {peer / ours:.2f}x"
        )
        for r in plain:
            served = r["preview_s"] + r["invoice_s"]
            print(
                f"{layout}: for information, {peer_name} in-process / ours through the server and jobs "
                f"({r['workers']} workers, Preview + Create invoices, {served:.1f} s): {peer / served:.2f}x"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--charges", type=int, default=100)
    parser.add_argument("--db", default="halo_bench_jobs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--workers-list",
        metavar="N,M",
        help="run each layout once per worker count (e.g. 1,2) and print the speed-up; overrides --workers",
    )
    parser.add_argument("--port", type=int, default=8190, help="HTTP port (the next one is the gevent port)")
    parser.add_argument("--layouts", default="summary_invoice,itemised")
    parser.add_argument("--reuse", action="store_true", help="reuse an already prepared --db (updated first)")
    parser.add_argument(
        "--kill-worker",
        action="store_true",
        help="kill -9 the worker running an invoicing chunk in the middle of it",
    )
    parser.add_argument(
        "--kill-worker-at",
        type=float,
        metavar="FRACTION",
        help="one more run per layout, with the most workers, killing (-9) the worker of a running "
        "invoicing chunk once this fraction of the invoices exist; checks it all against the first run",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="build the database with bench_billing.py's set-up and run its in-process phases (ours, "
        "sale_timesheet, account.move.create) on copies of it in the same invocation",
    )
    args = parser.parse_args()
    workers_list = [int(n) for n in args.workers_list.split(",")] if args.workers_list else [args.workers]
    if not args.reuse:
        started = time.monotonic()
        if args.peers:
            bench_billing.setup(args.db, args.customers, args.charges)
        else:
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
    if args.reuse:  # the size of the prepared database, not the defaults
        tickets, charges = psql(
            "SELECT count(DISTINCT halo_ticket_id), count(*) FROM account_analytic_line "
            "WHERE halo_ticket_id IS NOT NULL",
            db=args.db,
        )[0]
        args.customers, args.charges = tickets, charges // max(tickets, 1)
    results = []
    for layout in args.layouts.split(","):
        peers = run_peers(args.db, layout) if args.peers else {}
        runs = [(workers, False) for workers in workers_list]
        if args.kill_worker_at is not None:
            runs.append((max(workers_list), True))
        layout_results = []
        for workers, kill_at in runs:
            copy = f"{args.db}_{layout}"
            copy_db(args.db, copy)
            result = measure(
                copy,
                layout,
                args.port,
                workers,
                kill=args.kill_worker,
                kill_at=args.kill_worker_at if kill_at else None,
            )
            result.update(customers=args.customers, charges_per_customer=args.charges)
            print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}), flush=True)
            layout_results.append(result)
            psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        summarise(layout, layout_results, peers)
        results += layout_results
    print_table(results)


if __name__ == "__main__":
    main()
