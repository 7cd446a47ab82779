"""Settings of the demo database that depend on the machine: the Xero sandbox's URLs and web.base.url.

Usage: python tools/demo_configure.py DB SANDBOX_URL ODOO_URL (called by ./demo.sh after creating DB).
"""

import os
import sys

import odoo.init  # noqa: F401  (sets up the odoo namespace: SUPERUSER_ID, api, ...)
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config


def main(db, sandbox_url, odoo_url):
    config.parse_config(["-c", os.environ["HALO_ODOO_CONF"], "--log-level=warn"])
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        params = env["ir.config_parameter"]
        params.set_param("web.base.url", odoo_url)
        params.set_param("web.base.url.freeze", "True")
        companies = env["res.company"].search([])
        if hasattr(companies, "_halo_xero_use_sandbox"):
            companies._halo_xero_use_sandbox(sandbox_url)


if __name__ == "__main__":
    main(*sys.argv[1:4])
