# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

XERO_PRODUCT_FIELDS = ("default_code", "name", "list_price")


class ProductTemplate(models.Model):
    _inherit = "product.template"

    halo_xero_item_code = fields.Char(
        string="Xero Item Code", index="btree_not_null", copy=False,
        help="Code of the item in Xero (sent as ItemCode on invoice lines).")
    halo_xero_item_id = fields.Char(string="Xero Item ID", copy=False, index="btree_not_null")
    halo_xero_account_code = fields.Char(
        string="Xero Revenue Account", copy=False,
        help="Xero account code of the invoice lines of this product.")
    halo_xero_tax_type = fields.Char(string="Xero Tax Type", copy=False)
    halo_xero_connection_id = fields.Many2one(
        "halo.xero.connection", string="Xero Connection", copy=False, index="btree_not_null",
        ondelete="set null")
    # holds Xero's sales price: billing staff only
    halo_xero_synced_values = fields.Json(
        copy=False, groups=BILLING_USER,
        help="Xero-owned values as last imported.")
    halo_xero_updated_at = fields.Datetime(string="Updated in Xero", copy=False)
