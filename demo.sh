#!/usr/bin/env bash
# Command 1: set everything up (first run only), create the demo database once (addon + demo data),
# start the local Xero sandbox and Odoo 19 on http://localhost:8069.
#   ./demo.sh           start again, keeping the demo data
#   ./demo.sh --reset   drop the demo database and the sandbox's data, then re-create them
# Environment: HALO_DEMO_DB (halo_demo), HALO_HTTP_PORT (8069), HALO_GEVENT_PORT (8072), HALO_SANDBOX_PORT (8099),
#   HALO_WORKERS (2), HALO_QUEUE_CHANNELS (root:2,root.halo_billing:2).
# Odoo runs as in production: prefork workers with Odoo's default limits and queue_job's job runner.
set -euo pipefail
cd "$(dirname "$0")"
reset=""
for arg in "$@"; do
  case "$arg" in
    --reset) reset=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done
source tools/setup.sh
DB="${HALO_DEMO_DB:-halo_demo}"
PORT="${HALO_HTTP_PORT:-8069}"
SANDBOX_PORT="${HALO_SANDBOX_PORT:-8099}"
GEVENT_PORT="${HALO_GEVENT_PORT:-8072}"
WORKERS="${HALO_WORKERS:-2}"
CHANNELS="${HALO_QUEUE_CHANNELS:-root:2,root.halo_billing:2}"
# the server's configuration: the shared one plus prefork workers and the job runner
DEMO_CONF="$HALO_CACHE/odoo-demo.conf"
{
  cat "$HALO_ODOO_CONF"
  printf 'workers = %s\nmax_cron_threads = 1\nserver_wide_modules = web,queue_job\n' "$WORKERS"
  printf '\n[queue_job]\nchannels = %s\n' "$CHANNELS"
} > "$DEMO_CONF"
SANDBOX_DATA="$HALO_CACHE/xero_sandbox_demo.json"
PY="$HALO_VENV/bin/python"

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
  echo "[demo] creating database $DB with halo_helpdesk_billing and its demo data (about a minute, once)"
  "$ODOO_BIN" -c "$HALO_ODOO_CONF" -d "$DB" -i halo_helpdesk_billing --with-demo --stop-after-init \
    --log-level=warn
  "$PY" tools/demo_configure.py "$DB" "http://127.0.0.1:$SANDBOX_PORT" "http://localhost:$PORT"
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -f xero_sandbox/__main__.py ]; then
  "$PY" -m xero_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --data "$SANDBOX_DATA" \
    >"$HALO_CACHE/xero_sandbox.log" 2>&1 &
  pids+=($!)
  echo "[demo] Xero sandbox: http://127.0.0.1:$SANDBOX_PORT/ (log: .cache/xero_sandbox.log)"
fi

cat <<MSG
[demo] Odoo 19 with halo_helpdesk_billing: http://localhost:$PORT/odoo
[demo] log in as admin / admin (Billing Manager); technician: tech / tech; billing user: biller / biller
[demo] $WORKERS workers (Odoo's default limits) and the job runner (channels $CHANNELS); jobs: Settings > Technical > Job Queue
[demo] stop with Ctrl+C
MSG
"$ODOO_BIN" -c "$DEMO_CONF" -d "$DB" --db-filter "^${DB}\$" --http-port "$PORT" --gevent-port "$GEVENT_PORT" \
  --log-level=warn &
pids+=($!)
wait "${pids[-1]}"
