# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Xero link of customers, products and taxes moved from one field each to one link row per Xero
connection (``halo.xero.contact.link``, ``.product.link``, ``.tax.link``): a record shared by two
companies connected to two organisations keeps one ContactID / item / account code / TaxType per
organisation. Before the upgrade, the old columns are set aside (``<column>_before_links``); the
post-migration moves each value to the link of its connection and drops them. The Xero code of an
Odoo account became company-dependent (like the account's own code): it is kept for the companies of
the account that are connected to Xero."""

from odoo.tools import SQL

MOVED = {
    "res_partner": (
        "halo_xero_contact_id",
        "halo_xero_connection_id",
        "halo_xero_synced_values",
        "halo_xero_updated_at",
    ),
    "product_template": (
        "halo_xero_item_code",
        "halo_xero_item_id",
        "halo_xero_account_code",
        "halo_xero_tax_type",
        "halo_xero_connection_id",
        "halo_xero_synced_values",
        "halo_xero_updated_at",
    ),
    "account_tax": (
        "halo_xero_tax_type",
        "halo_xero_effective_rate",
        "halo_xero_rate_known",
        "halo_xero_review",
    ),
}
SUFFIX = "_before_links"


def column_type(cr, table, column):
    cr.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
        [table, column],
    )
    row = cr.fetchone()
    return row and row[0]


def set_aside(cr):
    for table, columns in MOVED.items():
        for column in columns:
            if column_type(cr, table, column) and not column_type(cr, table, column + SUFFIX):
                cr.execute(
                    SQL(
                        "ALTER TABLE %s RENAME COLUMN %s TO %s",
                        SQL.identifier(table),
                        SQL.identifier(column),
                        SQL.identifier(column + SUFFIX),
                    )
                )


def account_codes_per_company(cr):
    """account.account.halo_xero_code: a plain column becomes {company id: code} for the account's companies
    that have a Xero connection."""
    kind = column_type(cr, "account_account", "halo_xero_code")
    if not kind or kind == "jsonb":
        return
    old = "halo_xero_code" + SUFFIX
    cr.execute(SQL("ALTER TABLE account_account RENAME COLUMN halo_xero_code TO %s", SQL.identifier(old)))
    cr.execute("ALTER TABLE account_account ADD COLUMN halo_xero_code jsonb")
    cr.execute(
        SQL(
            """UPDATE account_account a
              SET halo_xero_code = sub.codes
             FROM (SELECT rel.account_account_id AS id,
                          jsonb_object_agg(rel.res_company_id::text, to_jsonb(acc.%(old)s)) AS codes
                     FROM account_account_res_company_rel rel
                     JOIN account_account acc ON acc.id = rel.account_account_id
                     JOIN halo_xero_connection conn ON conn.company_id = rel.res_company_id
                    WHERE acc.%(old)s IS NOT NULL AND acc.%(old)s <> ''
                 GROUP BY rel.account_account_id) sub
            WHERE sub.id = a.id""",
            old=SQL.identifier(old),
        )
    )
    cr.execute(SQL("ALTER TABLE account_account DROP COLUMN %s", SQL.identifier(old)))


def migrate(cr, version):
    set_aside(cr)
    account_codes_per_company(cr)
