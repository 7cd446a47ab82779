# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class AccountAccount(models.Model):
    _inherit = "account.account"

    halo_xero_code = fields.Char(
        string="Xero Account Code", copy=False, index="btree_not_null",
        help="Code of the matching revenue account in Xero.")
