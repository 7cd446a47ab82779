# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    halo_bulk_line_copy = fields.Boolean(
        string="Copy Invoice Lines in Bulk",
        default=True,
        help="Billing runs add the lines of an itemised invoice that share their accounting "
        "values (product, account, taxes, analytic distribution) as database copies of the "
        "first one, and copy the analytic lines the same way when posting: much faster on "
        "large runs, and the same invoices. Off: every line is made by Odoo's ORM. The copy "
        "also stands aside by itself when another installed module computes stored values "
        "from invoice or analytic lines (a warning in the server log says which).",
    )
