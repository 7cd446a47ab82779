# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    halo_run_id = fields.Many2one(
        comodel_name="halo.billing.run", string="Billing Run", readonly=True, copy=False,
        index="btree_not_null",
    )
