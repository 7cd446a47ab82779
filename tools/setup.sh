#!/usr/bin/env bash
# Shared, idempotent set-up for ./demo.sh and ./test.sh.
# Everything it fetches or builds lives in $HALO_CACHE (default: .cache/ in the repository, git-ignored).
# Source it; it exports: HALO_ROOT HALO_CACHE HALO_VENV ODOO_ROOT ODOO_BIN HALO_ODOO_CONF PG* variables.
set -euo pipefail

HALO_ROOT="${HALO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
HALO_CACHE="${HALO_CACHE:-$HALO_ROOT/.cache}"
HALO_VENV="$HALO_CACHE/venv"
mkdir -p "$HALO_CACHE"
export HALO_ROOT HALO_CACHE HALO_VENV

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
fi

# ---------------------------------------------------------------- system packages
apt_updated=""
apt_install() {
  if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
    die "missing system packages: $*. Install them with: sudo apt-get install -y $*"
  fi
  if [ -z "$apt_updated" ]; then
    log "apt-get update"; $SUDO apt-get update -qq >&2 || log "apt-get update reported errors (continuing)"; apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >&2
}

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

need=()
command -v wkhtmltopdf >/dev/null 2>&1 || need+=(wkhtmltopdf)
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then need+=(chromium); fi
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libmagic.so.1 ] || need+=(libmagic1)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

# ---------------------------------------------------------------- Odoo 19
ODOO_CACHE="$HALO_CACHE/odoo19"
if [ -n "${ODOO_PATH:-}" ]; then
  # An existing Odoo 19 tree: the folder that contains the `odoo` package.
  [ -d "$ODOO_PATH/odoo" ] || die "ODOO_PATH=$ODOO_PATH does not contain an 'odoo' package folder"
  ODOO_ROOT="$ODOO_PATH"
else
  ODOO_ROOT="$ODOO_CACHE/root/usr/lib/python3/dist-packages"
  if [ ! -f "$ODOO_CACHE/.done" ]; then
    log "fetching Odoo 19 (Debian package odoo-19) into the cache"
    mkdir -p "$ODOO_CACHE/apt/lists/partial" "$ODOO_CACHE/apt/cache/archives/partial" "$ODOO_CACHE/debs"
    # Re-use the Debian mirror this machine is already configured with (never written into the repo).
    mirror=$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}' || true)
    [ -n "$mirror" ] || mirror=$(grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+/debian/?[[:space:]]' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $NF}' || true)
    [ -n "$mirror" ] || die "cannot find the Debian mirror in /etc/apt/sources.list(.d); set ODOO_PATH to an Odoo 19 tree instead"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || apt_install debian-archive-keyring
    printf 'deb [signed-by=%s] %s sid main\ndeb [signed-by=%s] %s bookworm main\n' "$keyring" "$mirror" "$keyring" "$mirror" > "$ODOO_CACHE/apt/sources.list"
    aptopts=(-o "Dir::Etc::sourcelist=$ODOO_CACHE/apt/sources.list" -o "Dir::Etc::sourceparts=-"
             -o "Dir::State::Lists=$ODOO_CACHE/apt/lists" -o "Dir::Cache=$ODOO_CACHE/apt/cache"
             -o "Dir::State::status=/dev/null" -o "APT::Get::List-Cleanup=0" -o "Debug::NoLocking=1")
    apt-get "${aptopts[@]}" -qq update >&2
    ( cd "$ODOO_CACHE/debs" && apt-get "${aptopts[@]}" -qq download odoo-19 libjs-jquery libjs-jquery-form libjs-underscore \
        fonts-roboto-unhinted fonts-montserrat fonts-ocr-b fonts-font-awesome/bookworm fonts-inconsolata/bookworm >&2 )
    rm -rf "$ODOO_CACHE/root"; mkdir -p "$ODOO_CACHE/root"
    for deb in "$ODOO_CACHE"/debs/*.deb; do dpkg-deb -x "$deb" "$ODOO_CACHE/root"; done
    # Removed from the Debian package for licensing; mail's manifest still lists it.
    seg="$ODOO_ROOT/odoo/addons/mail/static/lib/selfie_segmentation/selfie_segmentation.js"
    mkdir -p "$(dirname "$seg")"; [ -f "$seg" ] || : > "$seg"
    touch "$ODOO_CACHE/.done"
  fi
fi
export ODOO_ROOT

# ---------------------------------------------------------------- virtualenv
req="$HALO_ROOT/requirements.txt"
sandbox_pkg="$HALO_ROOT/xero_sandbox"
stamp="$HALO_VENV/.req-$(cat "$req" "$HALO_ROOT/tools/setup.sh" "$sandbox_pkg/pyproject.toml" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  [ -x "$HALO_VENV/bin/python" ] || { log "creating virtualenv"; "$PYTHON" -m venv "$HALO_VENV"; }
  site=$("$HALO_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$ODOO_ROOT" > "$site/halo_odoo.pth"
  log "installing Python requirements"
  "$HALO_VENV/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  # the local Xero sandbox, its own package (xero_sandbox/pyproject.toml), editable: tests,
  # benchmarks and the demo import it from this checkout
  log "installing xero_sandbox (editable)"
  "$HALO_VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$sandbox_pkg" >&2
  rm -f "$HALO_VENV"/.req-*; touch "$stamp"
fi
ODOO_BIN="$HALO_VENV/bin/odoo-halo"
if [ ! -x "$ODOO_BIN" ]; then
  cat > "$ODOO_BIN" <<PYEOF
#!$HALO_VENV/bin/python
import sys
import odoo.cli
sys.exit(odoo.cli.main())
PYEOF
  chmod +x "$ODOO_BIN"
fi
export ODOO_BIN

# ---------------------------------------------------------------- pre-commit hook environments
# The lint step of ./test.sh runs the hooks of .pre-commit-config.yaml (ruff, pylint-odoo, OCA's
# checks, prettier for XML). Their environments are built here, once per version of that file,
# into the cache: PyPI for the Python tools, npm for prettier on the machine's Node.js.
# HALO_SKIP_PRECOMMIT=1 skips this (./demo.sh, which lints nothing).
export PRE_COMMIT_HOME="$HALO_CACHE/pre-commit"
if [ "${HALO_SKIP_PRECOMMIT:-}" != 1 ] && [ -f "$HALO_ROOT/.pre-commit-config.yaml" ]; then
  pc_stamp="$PRE_COMMIT_HOME/.built-$(cat "$HALO_ROOT/.pre-commit-config.yaml" "$req" | sha1sum | cut -c1-12)"
  if [ ! -f "$pc_stamp" ]; then
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then apt_install nodejs npm; fi
    log "building the pre-commit hook environments into $PRE_COMMIT_HOME (first run only)"
    ( cd "$HALO_ROOT" && "$HALO_VENV/bin/pre-commit" install-hooks ) >&2 \
      || die "pre-commit could not build its hook environments (see above)"
    mkdir -p "$PRE_COMMIT_HOME"; rm -f "$PRE_COMMIT_HOME"/.built-*; touch "$pc_stamp"
  fi
fi

# ---------------------------------------------------------------- PostgreSQL
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}"
HALO_DB_USER="${HALO_DB_USER:-halo}"
HALO_DB_PASSWORD="${HALO_DB_PASSWORD:-halo}"
pg_ok() { "$HALO_VENV/bin/python" - "$@" <<'PYEOF' 2>/dev/null
import os, sys, psycopg2
user, pw = sys.argv[1], sys.argv[2]
try:
    psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"], user=user, password=pw, dbname="postgres", connect_timeout=3).close()
except Exception:
    sys.exit(1)
PYEOF
}
pg_reachable() { "$HALO_VENV/bin/python" -c 'import os,socket,sys
h,p=os.environ["PGHOST"],int(os.environ["PGPORT"])
try:
    if h.startswith("/"):
        s=socket.socket(socket.AF_UNIX); s.connect(os.path.join(h,".s.PGSQL.%d"%p))
    else:
        socket.create_connection((h,p),3)
except OSError: sys.exit(1)' 2>/dev/null; }
create_role_sql="DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='$HALO_DB_USER') THEN CREATE ROLE \"$HALO_DB_USER\" LOGIN CREATEDB PASSWORD '$HALO_DB_PASSWORD'; END IF; END\$\$;"

if ! pg_ok "$HALO_DB_USER" "$HALO_DB_PASSWORD"; then
  if pg_reachable; then
    log "PostgreSQL at $PGHOST:$PGPORT: creating login role $HALO_DB_USER"
    if psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "$create_role_sql" >/dev/null 2>&1; then :
    elif [ "$(id -u)" = 0 ] && command -v runuser >/dev/null && runuser -u postgres -- psql -X -q -d postgres -c "$create_role_sql" >/dev/null 2>&1; then :
    elif [ -n "$SUDO" ] && sudo -n -u postgres psql -X -q -d postgres -c "$create_role_sql" >/dev/null 2>&1; then :
    else
      die "PostgreSQL answers at $PGHOST:$PGPORT but the role '$HALO_DB_USER' cannot be created or cannot log in. Create it with: sudo -u postgres psql -c \"CREATE ROLE $HALO_DB_USER LOGIN CREATEDB PASSWORD '$HALO_DB_PASSWORD'\" (or set PGHOST/PGPORT/HALO_DB_USER/HALO_DB_PASSWORD)"
    fi
    pg_ok "$HALO_DB_USER" "$HALO_DB_PASSWORD" || die "role $HALO_DB_USER exists but cannot log in with its password at $PGHOST:$PGPORT (check pg_hba.conf)"
  else
    # No server: a private cluster inside the cache, on a unix socket.
    bindir=$(pg_bindir) || { apt_install postgresql; bindir=$(pg_bindir) || die "PostgreSQL server binaries not found"; }
    PGDATA_DIR="$HALO_CACHE/pgdata"; PGSOCK="$HALO_CACHE/pgrun"
    mkdir -p "$PGSOCK"
    runas=()
    if [ "$(id -u)" = 0 ]; then
      id halo-pg >/dev/null 2>&1 || useradd --system --no-create-home halo-pg
      chown halo-pg "$HALO_CACHE" "$PGSOCK"; [ -d "$PGDATA_DIR" ] && chown -R halo-pg "$PGDATA_DIR"
      runas=(runuser -u halo-pg --)
    fi
    if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
      log "initialising a private PostgreSQL cluster in the cache"
      "${runas[@]}" "$bindir/initdb" -D "$PGDATA_DIR" -U postgres -A trust --no-sync >/dev/null
    fi
    export PGHOST="$PGSOCK" PGPORT="${HALO_PRIVATE_PGPORT:-54329}"
    if ! pg_reachable; then
      log "starting the private PostgreSQL cluster"
      "${runas[@]}" "$bindir/pg_ctl" -D "$PGDATA_DIR" -l "$HALO_CACHE/postgres.log" -w \
        -o "-k $PGSOCK -p $PGPORT -c listen_addresses=''" start >/dev/null
    fi
    psql -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "$create_role_sql" >/dev/null
  fi
fi
export HALO_DB_USER HALO_DB_PASSWORD

# ---------------------------------------------------------------- Odoo configuration
HALO_ODOO_CONF="$HALO_CACHE/odoo.conf"
cat > "$HALO_ODOO_CONF" <<CONFEOF
[options]
addons_path = $HALO_ROOT,$ODOO_ROOT/odoo/addons
data_dir = $HALO_CACHE/filestore
db_host = $PGHOST
db_port = $PGPORT
db_user = $HALO_DB_USER
db_password = $HALO_DB_PASSWORD
admin_passwd = ${HALO_ADMIN_PASSWD:-admin}
list_db = True
http_interface = ${HALO_HTTP_INTERFACE:-127.0.0.1}
http_port = ${HALO_HTTP_PORT:-8069}
CONFEOF
export HALO_ODOO_CONF
