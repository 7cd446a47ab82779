# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    halo_run_line_id = fields.Many2one(
        comodel_name="halo.billing.run.line", string="Billed Charge", readonly=True, copy=False,
        index="btree_not_null",
        help="The charge this itemised invoice line bills (empty on summarised lines).",
    )
    halo_kind = fields.Selection(
        selection=[("labour", "Labour"), ("travel", "Travel time"), ("mileage", "Mileage"),
                   ("expense", "Expense"), ("item", "Item"), ("contract_fee", "Contract fee"),
                   ("recurring", "Recurring"), ("devices", "Devices"), ("topup", "Top-up")],
        string="Billed Kind", readonly=True, index="btree_not_null",
        help="What a billing run or a contract billed on this line (kept on its credit notes), "
        "for the billing analysis.",
    )
