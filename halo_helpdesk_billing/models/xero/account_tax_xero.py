# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class AccountTax(models.Model):
    _inherit = "account.tax"

    halo_xero_tax_type = fields.Char(
        string="Xero Tax Type", copy=False, index="btree_not_null",
        help="Xero TaxType code (e.g. OUTPUT2) of invoice lines with this tax.")
    halo_xero_effective_rate = fields.Float(
        string="Xero Effective Rate", digits=(16, 4), copy=False, readonly=True,
        help="EffectiveRate of the tax type in Xero, as last imported (Xero computes the tax with it).")
    halo_xero_rate_known = fields.Boolean(copy=False, readonly=True)
    halo_xero_review = fields.Boolean(
        string="Xero Mapping to Review", copy=False,
        help="Created or matched by the Xero import without certainty; check the mapping.")
