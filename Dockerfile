# Odoo 19 (official image) + this addon's Python requirements + OCA helpdesk_mgmt.
# The addon itself is mounted by docker-compose.yml as an extra addons path.
FROM odoo:19
USER root
COPY requirements-addon.txt /tmp/requirements-addon.txt
RUN pip3 install --no-cache-dir --break-system-packages -r /tmp/requirements-addon.txt
COPY xero_sandbox /opt/xero_sandbox/xero_sandbox
# Odoo's master password from ODOO_ADMIN_PASSWD (no default: Odoo refuses to start without it), database list off
COPY docker/odoo-entrypoint.sh /usr/local/bin/halo-odoo-entrypoint.sh
RUN chmod 0755 /usr/local/bin/halo-odoo-entrypoint.sh
USER odoo
ENTRYPOINT ["/usr/local/bin/halo-odoo-entrypoint.sh"]
CMD ["odoo"]
