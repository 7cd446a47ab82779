"""What the benchmarks share: an Odoo environment (superuser, mail and tracking quiet) on a database,
using the configuration written by tools/setup.sh (``HALO_ODOO_CONF``)."""

import os


def odoo_env(db):
    """Return ``(cursor, env)``; the caller commits or rolls back and closes the cursor."""
    import odoo.init  # noqa: F401  (sets up the odoo namespace)
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(["-c", os.environ["HALO_ODOO_CONF"], "--log-level=warn"])
    registry = Registry(db)
    cr = registry.cursor()
    return cr, api.Environment(
        cr, SUPERUSER_ID, {"tracking_disable": True, "mail_notrack": True, "mail_create_nolog": True}
    )
