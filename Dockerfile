# Odoo 19 (official image) + this addon's Python requirements + OCA helpdesk_mgmt.
# The addon itself is mounted by docker-compose.yml as an extra addons path.
FROM odoo:19
USER root
COPY requirements-addon.txt /tmp/requirements-addon.txt
RUN pip3 install --no-cache-dir --break-system-packages -r /tmp/requirements-addon.txt
COPY xero_sandbox /opt/xero_sandbox/xero_sandbox
# the sandbox is its own package (xero_sandbox/pyproject.toml): `python3 -m xero_sandbox` from anywhere
RUN pip3 install --no-cache-dir --break-system-packages /opt/xero_sandbox/xero_sandbox \
    && rm -rf /opt/xero_sandbox/xero_sandbox/build /opt/xero_sandbox/xero_sandbox/*.egg-info
# Odoo's master password from ODOO_ADMIN_PASSWD (no default: Odoo refuses to start without it), database list off
COPY docker/odoo-entrypoint.sh /usr/local/bin/halo-odoo-entrypoint.sh
RUN chmod 0755 /usr/local/bin/halo-odoo-entrypoint.sh
USER odoo
ENTRYPOINT ["/usr/local/bin/halo-odoo-entrypoint.sh"]
CMD ["odoo"]
