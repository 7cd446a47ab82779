# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The remaining customer billing settings became company-dependent (a jsonb column of
values per company): invoice line template, invoice PDF, Excel template, billing currency
and the mileage price, unit and surcharge. Each stored value is kept for every company,
so nothing changes until a company sets its own. The mileage price and surcharge were
Monetary columns (numeric) and are now company-dependent Floats: the amounts are kept as
they were, in the customer's billing currency."""

from odoo.tools import SQL

COLUMNS = (
    "halo_line_template",
    "halo_invoice_report",
    "halo_xlsx_template_id",
    "halo_billing_currency_id",
    "halo_mileage_unit",
    "halo_mileage_price",
    "halo_mileage_surcharge",
)
# numbers are stored as JSON numbers (not strings), as the ORM writes them
NUMERIC = ("halo_mileage_price", "halo_mileage_surcharge")


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
        value = (
            SQL("p.%s::float", SQL.identifier(old)) if column in NUMERIC else SQL("p.%s", SQL.identifier(old))
        )
        # an empty text or a zero amount is "not set": no value for any company
        empty = (
            SQL("p.%s <> 0", SQL.identifier(old))
            if column in NUMERIC
            else (
                SQL("p.%s <> ''", SQL.identifier(old))
                if kind in ("text", "character varying")
                else SQL("TRUE")
            )
        )
        cr.execute(
            SQL(
                """UPDATE res_partner p
                  SET %s = (SELECT jsonb_object_agg(c.id::text, to_jsonb(%s)) FROM res_company c)
                WHERE p.%s IS NOT NULL AND %s""",
                SQL.identifier(column),
                value,
                SQL.identifier(old),
                empty,
            )
        )
        cr.execute(SQL("ALTER TABLE res_partner DROP COLUMN %s", SQL.identifier(old)))
