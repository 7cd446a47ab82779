"""Run every test of the repository and print one summary line.

Steps (each one counts; any failure makes the exit code non-zero):
  1. lint: the pre-commit hooks of .pre-commit-config.yaml over every file (ruff, ruff format,
     pylint-odoo, OCA's module and .po checks, prettier for XML), in check mode: nothing is
     rewritten (tools/format.sh fixes); hooks listed in .pre-commit-pending are skipped;
  2. a fresh throwaway database with the addon installed (a failed install fails the run);
  3. the addon's tests with pytest + pytest-odoo (against that database);
  4. the plain-Python tests (services, xero_sandbox, repository checks) with pytest;
  5. the browser tours (headless Chromium) with Odoo's own test runner, tagged ``halo_tour``;
  6. the translation template: ``i18n/<addon>.pot`` must hold exactly the strings Odoo exports
     from the installed addon (``--update-pot`` rewrites it from the export and merges every
     ``.po`` with it, tools/i18n.py); every ``.po`` must be merged and have no format error.

Called by ./test.sh after tools/setup.sh; not meant to be run alone.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import i18n  # tools/i18n.py, beside this script

ROOT = Path(os.environ["HALO_ROOT"])
CACHE = Path(os.environ["HALO_CACHE"])
VENV = Path(os.environ["HALO_VENV"])
CONF = os.environ["HALO_ODOO_CONF"]
ODOO = os.environ["ODOO_BIN"]
ADDON = "halo_helpdesk_billing"
OUT = Path(os.environ.get("HALO_TEST_OUT") or CACHE / "test-results")
PLAIN_TEST_PATHS = [f"{ADDON}/services/tests", "xero_sandbox/tests", "tests"]
TOUR_GLOB = "test_tour*.py"
POT = ROOT / ADDON / "i18n" / f"{ADDON}.pot"
PENDING = ROOT / ".pre-commit-pending"


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.problems = []

    def add_junit(self, path, label):
        if not path.exists():
            self.fail(f"{label}: no result file (the runner crashed)")
            return
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        tests = failures = errors = skipped = 0
        for suite in suites:
            tests += int(suite.get("tests", 0))
            failures += int(suite.get("failures", 0))
            errors += int(suite.get("errors", 0))
            skipped += int(suite.get("skipped", 0))
        self.passed += tests - failures - errors - skipped
        self.failed += failures + errors
        self.skipped += skipped
        if failures or errors:
            self.problems.append(f"{label}: {failures} failed, {errors} errors")
        if not tests:
            self.fail(f"{label}: ran no test")
        print(
            f"== {label}: {tests - failures - errors - skipped} passed, "
            f"{failures + errors} failed, {skipped} skipped",
            flush=True,
        )

    def fail(self, message):
        self.failed += 1
        self.problems.append(message)
        print(f"== FAILED: {message}", flush=True)


def run(cmd, log=None, timeout=None, env=None):
    print("$", " ".join(str(c) for c in cmd), flush=True)
    if log:
        with open(log, "w") as fh:
            proc = subprocess.run(
                cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout, cwd=ROOT, env=env
            )
    else:
        proc = subprocess.run(cmd, timeout=timeout, cwd=ROOT, env=env)
    return proc.returncode


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql_query(db, sql):
    import psycopg2

    conn = psycopg2.connect(
        host=os.environ["PGHOST"],
        port=os.environ["PGPORT"],
        user=os.environ["HALO_DB_USER"],
        password=os.environ["HALO_DB_PASSWORD"],
        dbname=db,
    )
    try:
        with conn.cursor() as cr:
            cr.execute(sql)
            return cr.fetchall()
    finally:
        conn.close()


def drop_db(db):
    import psycopg2

    conn = psycopg2.connect(
        host=os.environ["PGHOST"],
        port=os.environ["PGPORT"],
        user=os.environ["HALO_DB_USER"],
        password=os.environ["HALO_DB_PASSWORD"],
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    conn.close()


def odoo_log_errors(log):
    text = Path(log).read_text(errors="replace")
    return [line for line in text.splitlines() if re.search(r"\d \d+ (ERROR|CRITICAL) ", line)]


def pot_entries(path):
    """The (context, msgid) pairs of a .pot file: what translators see, without file references."""
    from babel.messages.pofile import read_po

    with open(path, "rb") as fh:
        catalog = read_po(fh)
    return {
        (message.context, message.id if isinstance(message.id, str) else message.id[0])
        for message in catalog
        if message.id
    }


def check_pot(db, totals, update=False):
    exported = OUT / f"{ADDON}.pot"
    exported.unlink(missing_ok=True)
    rc = run(
        [ODOO, "i18n", "export", "-c", CONF, "-d", db, "-o", str(exported), ADDON],
        log=OUT / "i18n-export.log",
    )
    if rc or not exported.exists():
        totals.fail(f"translation template: export failed (rc={rc}); log: {OUT / 'i18n-export.log'}")
        return
    if update:
        POT.parent.mkdir(exist_ok=True)
        POT.write_bytes(exported.read_bytes())
        print(f"== translation template: {POT.relative_to(ROOT)} rewritten", flush=True)
        for path, (added, obsoleted) in i18n.merge().items():
            print(
                f"   {path.relative_to(ROOT)} merged: {added} new strings to translate, {obsoleted} obsolete",
                flush=True,
            )
        return
    if not POT.exists():
        totals.fail(f"translation template: {POT.relative_to(ROOT)} is missing (./test.sh --update-pot)")
        return
    want, have = pot_entries(exported), pot_entries(POT)
    missing, stale = sorted(want - have, key=str), sorted(have - want, key=str)
    if missing or stale:
        for context, msgid in missing[:20]:
            print(f"   not in the .pot: {msgid!r}" + (f" (context {context})" if context else ""))
        for context, msgid in stale[:20]:
            print(f"   no longer in the code: {msgid!r}" + (f" (context {context})" if context else ""))
        totals.fail(
            f"translation template: {len(missing)} strings missing, {len(stale)} stale; "
            "regenerate it with ./test.sh --only pot --update-pot"
        )
    else:
        totals.passed += 1
        print(f"== translation template: {len(want)} strings, current", flush=True)


def pending_hooks():
    """Hook ids of .pre-commit-pending (one a line, # comments): checks whose one-time fix over the
    whole tree (tools/format.sh) has not been committed yet; the lint step skips them."""
    if not PENDING.exists():
        return []
    lines = (line.split("#", 1)[0].strip() for line in PENDING.read_text().splitlines())
    return [line for line in lines if line]


def lint(totals):
    """The pre-commit hooks in check mode, over every file of the repository."""
    env = dict(os.environ, PRE_COMMIT_HOME=os.environ.get("PRE_COMMIT_HOME") or str(CACHE / "pre-commit"))
    skipped = pending_hooks()
    if skipped:
        env["SKIP"] = ",".join(filter(None, [env.get("SKIP", ""), *skipped]))
        print(
            f"   lint: skipping {', '.join(skipped)} until tools/format.sh has been run "
            f"(.pre-commit-pending)",
            flush=True,
        )
    rc = run(
        [str(VENV / "bin" / "pre-commit"), "run", "--all-files", "--show-diff-on-failure", "--color=never"],
        env=env,
    )
    print(f"== lint: {'ok' if rc == 0 else 'FAILED'}", flush=True)
    if rc:
        totals.fail("lint: a pre-commit hook found problems (tools/format.sh fixes the formatting)")
    else:
        totals.passed += 1


def check_translations(totals):
    """Every .po of the addon is readable, merged with the .pot and has no format error
    (placeholders, QWeb expressions, HTML tags); untranslated strings are only counted."""
    problems, stats = i18n.check()
    for problem in problems[:40]:
        print(f"   {problem}")
    summary = ", ".join(f"{path.name} {done}/{total} translated" for path, (done, total) in stats.items())
    if problems:
        totals.fail(f"translations: {len(problems)} problems ({summary}); python tools/i18n.py check")
    else:
        totals.passed += 1
        print(f"== translations: no format error ({summary or 'no .po file'})", flush=True)


def run_tours(db, totals):
    """The browser tours, with Odoo's own runner."""
    tours = sorted((ROOT / ADDON / "tests").glob(TOUR_GLOB))
    if tours:
        log = OUT / "tours.log"
        run(
            [
                ODOO,
                "-c",
                CONF,
                "-d",
                db,
                "--test-tags",
                f"halo_tour/{ADDON}",
                "--stop-after-init",
                "--log-level=info",
                "--http-port",
                str(free_port()),
            ],
            log=log,
            timeout=1800,
        )
        text = log.read_text(errors="replace")
        match = re.findall(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests", text)
        if not match:
            totals.fail(f"browser tours: no result line; log: {log}")
        else:
            failed, errors_n, ran = (int(x) for x in match[-1])
            totals.passed += ran - failed - errors_n
            totals.failed += failed + errors_n
            print(
                f"== browser tours (headless Chromium): {ran - failed - errors_n} passed, "
                f"{failed + errors_n} failed",
                flush=True,
            )
            if failed or errors_n:
                print("\n".join(odoo_log_errors(log)[:40]))
                totals.problems.append(f"browser tours: see {log}")
            if not ran:
                totals.fail("browser tours: ran no test")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep-db", action="store_true", help="keep the test database")
    parser.add_argument(
        "--only",
        choices=["lint", "addon", "plain", "tours", "pot"],
        action="append",
        help="run only these steps (the install always runs for addon/tours/pot)",
    )
    parser.add_argument(
        "--update-pot",
        action="store_true",
        help="rewrite the addon's .pot from Odoo's export instead of checking it",
    )
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for the addon pytest run")
    args = parser.parse_args()
    steps = set(args.only or ["lint", "addon", "plain", "tours", "pot"])
    OUT.mkdir(parents=True, exist_ok=True)
    totals = Totals()
    started = time.time()
    py = str(VENV / "bin" / "python")

    if "lint" in steps:
        lint(totals)

    if "plain" in steps:
        junit = OUT / "plain.xml"
        junit.unlink(missing_ok=True)
        paths = [p for p in PLAIN_TEST_PATHS if (ROOT / p).is_dir()]
        run(
            [
                py,
                "-m",
                "pytest",
                "-p",
                "no:odoo",
                "-p",
                "no:cacheprovider",
                "-q",
                f"--junitxml={junit}",
                *paths,
            ]
        )
        totals.add_junit(junit, "plain-Python tests (services, xero_sandbox, repository)")

    db = None
    if steps & {"addon", "tours", "pot"}:
        db = f"halo_test_{os.getpid()}_{int(time.time())}"
        log = OUT / "install.log"
        rc = run(
            [
                ODOO,
                "-c",
                CONF,
                "-d",
                db,
                "-i",
                ADDON,
                "--stop-after-init",
                "--log-level=info",
                "--http-port",
                str(free_port()),
            ],
            log=log,
            timeout=1800,
        )
        errors = odoo_log_errors(log)
        try:
            state = psql_query(db, f"SELECT state FROM ir_module_module WHERE name = '{ADDON}'")
        except Exception as exc:  # noqa: BLE001 - reported as an install failure
            state = [(f"database unreadable: {exc}",)]
        if rc != 0 or errors or state != [("installed",)]:
            print("\n".join(errors[:40]))
            totals.fail(f"install of {ADDON} failed (rc={rc}, state={state}); log: {log}")
            db_ok = False
        else:
            print(f"== install: {ADDON} installed in {db}", flush=True)
            db_ok = True

        if db_ok and "pot" in steps:
            check_pot(db, totals, update=args.update_pot)
        if "pot" in steps:
            check_translations(totals)

        if db_ok and "addon" in steps:
            junit = OUT / "addon.xml"
            junit.unlink(missing_ok=True)
            run(
                [
                    py,
                    "-m",
                    "pytest",
                    "-p",
                    "no:cacheprovider",
                    "-q",
                    f"--odoo-database={db}",
                    f"--odoo-config={CONF}",
                    "--odoo-http",
                    f"--ignore-glob=**/{TOUR_GLOB}",
                    f"--junitxml={junit}",
                    f"{ADDON}/tests",
                    *args.pytest_args,
                ],
                timeout=3600,
            )
            totals.add_junit(junit, "addon tests (pytest-odoo)")

        if db_ok and "tours" in steps:
            run_tours(db, totals)

        if db and not args.keep_db:
            drop_db(db)
        elif db:
            print(f"kept database {db}")

    print(f"== took {time.time() - started:.0f} s")
    for problem in totals.problems:
        print(f"   problem: {problem}")
    print(f"summary: {totals.passed} passed, {totals.failed} failed, {totals.skipped} skipped")
    return 1 if totals.failed else 0


if __name__ == "__main__":
    sys.exit(main())
