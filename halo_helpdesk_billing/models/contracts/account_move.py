# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    halo_contract_id = fields.Many2one(
        comodel_name="halo.contract",
        string="Contract",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    halo_contract_period_ids = fields.One2many(
        comodel_name="halo.contract.period",
        inverse_name="move_id",
        string="Contract Periods",
    )
