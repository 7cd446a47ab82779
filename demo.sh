#!/usr/bin/env bash
# Command 1: set everything up (first run only), create the demo database once (addon + demo data),
# start the local Xero sandbox and Odoo 19 on http://localhost:8069.
#   ./demo.sh           start again, keeping the demo data
#   ./demo.sh --reset   drop the demo database and the sandbox's data, then re-create them
# Environment: HALO_DEMO_DB (halo_demo), HALO_HTTP_PORT (8069), HALO_GEVENT_PORT (8072), HALO_SANDBOX_PORT (8099),
#   HALO_WORKERS (2), HALO_QUEUE_CHANNELS (root:2,root.halo_billing:2,root.halo_xero:1).
# Odoo runs as in production: prefork workers with Odoo's default limits and queue_job's job runner.
# The console shows the steps, the URL and the logins; Odoo's own log (warnings included) goes to
# .cache/demo_odoo.log.
set -euo pipefail
cd "$(dirname "$0")"
reset=""
for arg in "$@"; do
  case "$arg" in
    --reset) reset=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done
export HALO_SKIP_PRECOMMIT="${HALO_SKIP_PRECOMMIT:-1}"  # the demo lints nothing: no hook environments
source tools/setup.sh
DB="${HALO_DEMO_DB:-halo_demo}"
PORT="${HALO_HTTP_PORT:-8069}"
SANDBOX_PORT="${HALO_SANDBOX_PORT:-8099}"
GEVENT_PORT="${HALO_GEVENT_PORT:-8072}"
WORKERS="${HALO_WORKERS:-2}"
CHANNELS="${HALO_QUEUE_CHANNELS:-root:2,root.halo_billing:2,root.halo_xero:1}"
# the server's configuration: the shared one plus prefork workers and the job runner
DEMO_CONF="$HALO_CACHE/odoo-demo.conf"
{
  cat "$HALO_ODOO_CONF"
  printf 'workers = %s\nmax_cron_threads = 1\nserver_wide_modules = web,queue_job\n' "$WORKERS"
  printf '\n[queue_job]\nchannels = %s\n' "$CHANNELS"
} > "$DEMO_CONF"
SANDBOX_DATA="$HALO_CACHE/xero_sandbox_demo.json"
PY="$HALO_VENV/bin/python"
LOG="$HALO_CACHE/demo_odoo.log"
started=$SECONDS
step() { echo "[demo] $(( SECONDS - started ))s: $*"; }
# every Odoo run appends its log (warnings, deprecations) to $LOG; on a failure, show its end
odoo_quiet() {
  if ! "$ODOO_BIN" -c "$HALO_ODOO_CONF" -d "$DB" --logfile "$LOG" "$@" >>"$LOG" 2>&1; then
    echo "[demo] failed; the end of $LOG:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
}

db_exists() { "$PY" - "$DB" <<'PYEOF'
import os, sys, psycopg2
conn = psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"], user=os.environ["HALO_DB_USER"],
                        password=os.environ["HALO_DB_PASSWORD"], dbname="postgres")
with conn.cursor() as cr:
    cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sys.argv[1],))
    sys.exit(0 if cr.fetchone() else 1)
PYEOF
}

if [ -n "$reset" ]; then
  echo "[demo] resetting: dropping database $DB and the sandbox data"
  "$ODOO_BIN" db --config "$HALO_ODOO_CONF" drop "$DB" >/dev/null 2>&1 || true
  rm -f "$SANDBOX_DATA"
fi

if ! db_exists; then
  step "creating database $DB, once (about 3 minutes on 2 cores; log: .cache/demo_odoo.log)"
  odoo_quiet -i base --with-demo --stop-after-init --log-level=warn
  step "demo company: Halo IT Services Ltd, London, GBP"
  "$PY" tools/demo_configure.py --company "$DB" >>"$LOG" 2>&1
  step "installing halo_helpdesk_billing, the UK chart of accounts and the demo data"
  # l10n_uk in the same pass as account, so that the company's chart is the UK one (not the generic one)
  odoo_quiet -i l10n_uk,halo_helpdesk_billing --with-demo --stop-after-init --log-level=warn
  step "20 % VAT on products, the Xero connection to the local sandbox"
  "$PY" tools/demo_configure.py "$DB" "http://127.0.0.1:$SANDBOX_PORT" "http://localhost:$PORT" >>"$LOG" 2>&1
  step "database ready"
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -f xero_sandbox/__main__.py ]; then
  "$PY" -m xero_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --data "$SANDBOX_DATA" \
    >"$HALO_CACHE/xero_sandbox.log" 2>&1 &
  pids+=($!)
  # the sandbox's webhooks go to this Odoo, signed with the key the demo connection holds
  "$PY" - "$SANDBOX_PORT" "http://127.0.0.1:$PORT/halo_xero/webhook" <<'PYEOF' >>"$LOG" 2>&1 || true
import json, sys, time, urllib.request
url = "http://127.0.0.1:%s/_sandbox/webhooks/config" % sys.argv[1]
body = json.dumps({"url": sys.argv[2], "key": "halo-demo-webhook-key", "auto": True}).encode()
for _ in range(50):
    try:
        urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/json"}), timeout=2)
        break
    except OSError:
        time.sleep(0.2)
PYEOF
  echo "[demo] Xero sandbox: http://127.0.0.1:$SANDBOX_PORT/ (webhooks to this Odoo; log: .cache/xero_sandbox.log)"
fi

"$ODOO_BIN" -c "$DEMO_CONF" -d "$DB" --db-filter "^${DB}\$" --http-port "$PORT" --gevent-port "$GEVENT_PORT" \
  --log-level=warn --logfile "$LOG" >>"$LOG" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
       "http://127.0.0.1:$PORT/web/login" 2>/dev/null; then break; fi
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "[demo] Odoo stopped; see $LOG" >&2; exit 1; }
  sleep 1
done
step "ready"
cat <<MSG
[demo] Odoo 19 with halo_helpdesk_billing: http://localhost:$PORT/odoo
[demo] log in as admin / admin (Billing Manager); technician: tech / tech; billing user: biller / biller
[demo] $WORKERS workers (Odoo's default limits) and the job runner (channels $CHANNELS); jobs: Settings > Technical > Job Queue
[demo] Xero: Billing > Configuration > Xero > Set-up (see README.md); Odoo's log: .cache/demo_odoo.log
[demo] stop with Ctrl+C
MSG
wait "${pids[-1]}"
