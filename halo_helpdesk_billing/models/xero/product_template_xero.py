# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

XERO_PRODUCT_FIELDS = ("default_code", "name", "list_price")
LINK_FIELDS = {
    "halo_xero_item_code": "item_code",
    "halo_xero_item_id": "item_id",
    "halo_xero_account_code": "account_code",
    "halo_xero_tax_type": "tax_type",
    "halo_xero_synced_values": "synced_values",
    "halo_xero_updated_at": "updated_at",
}


class ProductTemplate(models.Model):
    _name = "product.template"
    _inherit = ["product.template", "halo.xero.linked.mixin"]
    _halo_link_model = "halo.xero.product.link"
    _halo_link_field = "product_tmpl_id"
    _halo_link_o2m = "halo_xero_product_link_ids"

    halo_xero_product_link_ids = fields.One2many(
        "halo.xero.product.link",
        "product_tmpl_id",
        string="Xero Items",
        copy=False,
        groups=BILLING_USER,
        help="The product's item, account code and tax type in each Xero organisation.",
    )
    # the link of the current company's Xero connection
    halo_xero_item_code = fields.Char(
        string="Xero Item Code",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        search="_search_halo_xero_item_code",
        compute_sudo=True,
        help="Code of the item in Xero (sent as ItemCode on invoice lines).",
    )
    halo_xero_item_id = fields.Char(
        string="Xero Item ID",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        compute_sudo=True,
    )
    halo_xero_account_code = fields.Char(
        string="Xero Revenue Account",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        compute_sudo=True,
        help="Xero account code of the invoice lines of this product.",
    )
    halo_xero_tax_type = fields.Char(
        string="Xero Tax Type",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        compute_sudo=True,
    )
    halo_xero_connection_id = fields.Many2one(
        "halo.xero.connection",
        string="Xero Connection",
        compute="_compute_halo_xero_link",
        search="_search_halo_xero_connection_id",
        compute_sudo=True,
    )
    # holds Xero's sales price: billing staff only
    halo_xero_synced_values = fields.Json(
        copy=False,
        groups=BILLING_USER,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        compute_sudo=True,
        help="Xero-owned values as last imported.",
    )
    halo_xero_updated_at = fields.Datetime(
        string="Updated in Xero",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        compute_sudo=True,
    )

    @api.depends_context("company")
    @api.depends(
        "halo_xero_product_link_ids.item_code",
        "halo_xero_product_link_ids.account_code",
        "halo_xero_product_link_ids.tax_type",
    )
    def _compute_halo_xero_link(self):
        self._halo_compute_link_fields(LINK_FIELDS)
        links = self._halo_current_links()
        for tmpl in self:
            link = links.get(tmpl.id)
            tmpl.halo_xero_connection_id = link.connection_id if link and link.item_code else False

    def _inverse_halo_xero_link(self):
        self._halo_inverse_link_fields(LINK_FIELDS)

    def _search_halo_xero_item_code(self, operator, value):
        return self._halo_search_link_field("item_code", operator, value)

    def _search_halo_xero_connection_id(self, operator, value):
        if operator != "in":
            return NotImplemented
        ids = [v.id if hasattr(v, "id") else v for v in value if v]
        return [
            ("halo_xero_product_link_ids", "any", [("connection_id", "in", ids), ("item_code", "!=", False)])
        ]
