# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Move the Xero values set aside by the pre-migration to one link row per (connection, record).

The connection of a value is the one stored with it (customers and products linked by an import), else
the connection of the record's company, else the database's only connection. A value whose connection
cannot be told (a shared record, several connections, none stored) is not guessed: it is logged and
dropped, and the next import or push links the record again (by ContactID, tax number, e-mail or name).
Afterwards the next scheduled refresh reads Xero's whole item list and chart of accounts (their watermarks
are cleared) so that the mapping screen checks against complete lists."""

import json
import logging

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL

_logger = logging.getLogger(__name__)
SUFFIX = "_before_links"

PLANS = [
    # (table, link model, record field, {old column: link field}, has its own connection column)
    (
        "res_partner",
        "halo.xero.contact.link",
        "partner_id",
        {
            "halo_xero_contact_id": "xero_contact_id",
            "halo_xero_synced_values": "synced_values",
            "halo_xero_updated_at": "updated_at",
        },
        True,
    ),
    (
        "product_template",
        "halo.xero.product.link",
        "product_tmpl_id",
        {
            "halo_xero_item_code": "item_code",
            "halo_xero_item_id": "item_id",
            "halo_xero_account_code": "account_code",
            "halo_xero_tax_type": "tax_type",
            "halo_xero_synced_values": "synced_values",
            "halo_xero_updated_at": "updated_at",
        },
        True,
    ),
    (
        "account_tax",
        "halo.xero.tax.link",
        "tax_id",
        {
            "halo_xero_tax_type": "tax_type",
            "halo_xero_effective_rate": "effective_rate",
            "halo_xero_rate_known": "rate_known",
            "halo_xero_review": "review",
        },
        False,
    ),
]
# the value that makes a row worth a link
KEYS = {"res_partner": "halo_xero_contact_id", "product_template": None, "account_tax": "halo_xero_tax_type"}


def _columns(cr, table):
    cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table])
    return {row[0] for row in cr.fetchall()}


def move_values(env):
    """Create the links from the set-aside columns and drop them. Returns {link model: links created}."""
    cr = env.cr
    cr.execute("SELECT company_id, id FROM halo_xero_connection ORDER BY id")
    by_company = {}
    for company_id, conn_id in cr.fetchall():
        by_company.setdefault(company_id, conn_id)
    only = next(iter(by_company.values())) if len(by_company) == 1 else None
    created = {}
    for table, model, field, mapping, own_connection in PLANS:
        present = _columns(cr, table)
        old = {col: col + SUFFIX for col in mapping if col + SUFFIX in present}
        if not old:
            continue
        conn_col = "halo_xero_connection_id" + SUFFIX
        selects = [SQL("t.id"), SQL("t.company_id")]
        selects.append(
            SQL("t.%s", SQL.identifier(conn_col)) if own_connection and conn_col in present else SQL("NULL")
        )
        selects += [SQL("t.%s", SQL.identifier(old[col])) if col in old else SQL("NULL") for col in mapping]
        # a customer that stored its connection owns the contact before one bound to an already taken contact
        cr.execute(
            SQL(
                "SELECT %s FROM %s t ORDER BY 3 NULLS LAST, 1", SQL(", ").join(selects), SQL.identifier(table)
            )
        )
        vals_list, lost, owned = [], 0, set()
        for rec_id, company_id, conn_id, *values in cr.fetchall():
            vals = {
                link_field: value
                for link_field, value in zip(mapping.values(), values, strict=True)
                if value not in (None, "", False)
            }
            key = KEYS[table]
            if (key and not vals.get(mapping[key])) or not any(
                vals.get(f) for f in ("xero_contact_id", "item_code", "item_id", "account_code", "tax_type")
            ):
                continue
            connection = conn_id or by_company.get(company_id) or only
            if not connection:
                lost += 1
                continue
            if isinstance(vals.get("synced_values"), str):
                vals["synced_values"] = json.loads(vals["synced_values"])
            if table == "res_partner":
                vals["owner"] = (connection, vals["xero_contact_id"]) not in owned
                owned.add((connection, vals["xero_contact_id"]))
            vals_list.append(dict(vals, connection_id=connection, **{field: rec_id}))
        env[model].sudo().create(vals_list)
        created[model] = len(vals_list)
        if lost:
            _logger.warning(
                "Xero links: %s rows of %s had a Xero value but no connection to put it on", lost, table
            )
        for column in old.values():
            cr.execute(SQL("ALTER TABLE %s DROP COLUMN %s", SQL.identifier(table), SQL.identifier(column)))
        if conn_col in present:
            cr.execute(SQL("ALTER TABLE %s DROP COLUMN %s", SQL.identifier(table), SQL.identifier(conn_col)))
    cr.execute("UPDATE halo_xero_connection SET items_synced_at = NULL, accounts_synced_at = NULL")
    return created


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    created = move_values(env)
    _logger.info("Xero links created by the migration: %s", created)
