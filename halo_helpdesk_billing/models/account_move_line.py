# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    halo_run_line_id = fields.Many2one(
        comodel_name="halo.billing.run.line", string="Billed Charge", readonly=True, copy=False,
        index="btree_not_null",
        help="The charge this itemised invoice line bills (empty on summarised lines).",
    )
