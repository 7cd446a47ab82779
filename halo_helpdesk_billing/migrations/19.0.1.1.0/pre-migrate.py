# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Customer billing settings became company-dependent (a jsonb column of values per
company): each stored value is kept for every company, so nothing changes until a
company sets its own."""

from odoo.tools import SQL

COLUMNS = (
    "halo_calendar_id",
    "halo_rounding_scope",
    "halo_expense_markup_custom",
    "halo_expense_markup",
    "halo_invoice_grouping",
    "halo_invoice_layout",
)


def _column_type(cr, column):
    cr.execute(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'res_partner' AND column_name = %s",
        [column],
    )
    row = cr.fetchone()
    return row and row[0]


def migrate(cr, version):
    for column in COLUMNS:
        kind = _column_type(cr, column)
        if not kind or kind == "jsonb":
            continue
        old = f"{column}_before_company"
        cr.execute(
            SQL("ALTER TABLE res_partner RENAME COLUMN %s TO %s", SQL.identifier(column), SQL.identifier(old))
        )
        cr.execute(SQL("ALTER TABLE res_partner ADD COLUMN %s jsonb", SQL.identifier(column)))
        cr.execute(
            SQL(
                """UPDATE res_partner p
                  SET %s = (SELECT jsonb_object_agg(c.id::text, to_jsonb(p.%s)) FROM res_company c)
                WHERE p.%s IS NOT NULL""",
                SQL.identifier(column),
                SQL.identifier(old),
                SQL.identifier(old),
            )
        )
        cr.execute(SQL("ALTER TABLE res_partner DROP COLUMN %s", SQL.identifier(old)))
