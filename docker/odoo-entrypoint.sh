#!/bin/bash
# Entrypoint of the Odoo container: Odoo's master password (which guards creating, copying, dropping,
# backing up and restoring databases) comes from ODOO_ADMIN_PASSWD and has no default; the database
# list is off. Then the official image's entrypoint runs (database host, user and password from
# HOST, USER and PASSWORD).
set -euo pipefail

conf="${HALO_ODOO_CONF:-/tmp/halo-odoo.conf}"
next="${HALO_ODOO_ENTRYPOINT:-/entrypoint.sh}"

case "${1:-odoo}" in
    -- | odoo | -*) ;;                # Odoo itself: below
    *) exec "$next" "$@" ;;          # anything else (the Xero sandbox, a shell) as the image runs it
esac

if [ -z "${ODOO_ADMIN_PASSWD:-}" ]; then
    echo "ODOO_ADMIN_PASSWD is not set: Odoo's master password has no default and Odoo does not start" \
        "without one. Set it in the environment or in a .env file next to docker-compose.yml, e.g." \
        "ODOO_ADMIN_PASSWD=\$(openssl rand -base64 24)" >&2
    exit 64
fi
case "$ODOO_ADMIN_PASSWD" in
    *$'\n'* | *$'\r'*)
        echo "ODOO_ADMIN_PASSWD must be a single line." >&2
        exit 64
        ;;
esac

# Production mode: prefork workers with Odoo's default limits (60 s CPU / 120 s wall time per
# request or job, 2 GiB soft / 2.5 GiB hard memory per worker), and queue_job's runner, which
# dispatches background jobs (billing runs' chunks) to the workers by channel.
workers="${HALO_WORKERS:-2}"
channels="${HALO_QUEUE_CHANNELS:-root:2,root.halo_billing:2,root.halo_xero:1}"
case "$workers$channels" in
    *[!0-9a-z_.:,]*)
        echo "HALO_WORKERS must be a number and HALO_QUEUE_CHANNELS a list like root:2,root.halo_billing:2,root.halo_xero:1." >&2
        exit 64
        ;;
esac

umask 077
cat > "$conf" <<CONF
[options]
addons_path = /mnt/extra-addons
data_dir = /var/lib/odoo
admin_passwd = ${ODOO_ADMIN_PASSWD}
list_db = False
workers = ${workers}
max_cron_threads = 1
server_wide_modules = web,queue_job

[queue_job]
channels = ${channels}
CONF
export ODOO_RC="$conf"
exec "$next" "$@"
