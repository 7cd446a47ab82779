"""Settings of the demo database that depend on the machine: the Xero sandbox's URLs and web.base.url.

Usage: python tools/demo_configure.py DB SANDBOX_URL ODOO_URL (called by ./demo.sh after creating DB).
"""

import sys

import odoo
from odoo import api
from odoo.modules.registry import Registry
from odoo.tools import config


def main(db, sandbox_url, odoo_url):
    config.parse_config(["-c", __import__("os").environ["HALO_ODOO_CONF"]])
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, odoo.SUPERUSER_ID, {})
        params = env["ir.config_parameter"]
        params.set_param("web.base.url", odoo_url)
        params.set_param("web.base.url.freeze", "True")
        if hasattr(env.registry, "models") and "halo.xero.connection" in env:
            env["res.company"].search([])._halo_xero_use_sandbox(sandbox_url)


if __name__ == "__main__":
    main(*sys.argv[1:4])
