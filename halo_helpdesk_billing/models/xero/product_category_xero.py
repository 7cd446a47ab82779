# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

LINK_FIELDS = {"halo_xero_account_code": "account_code"}


class ProductCategory(models.Model):
    _name = "product.category"
    _inherit = ["product.category", "halo.xero.linked.mixin"]
    _halo_link_model = "halo.xero.category.link"
    _halo_link_field = "categ_id"
    _halo_link_o2m = "halo_xero_category_link_ids"

    halo_xero_category_link_ids = fields.One2many(
        "halo.xero.category.link", "categ_id", string="Xero Accounts", copy=False, groups=BILLING_USER
    )
    halo_xero_account_code = fields.Char(
        string="Xero Revenue Account",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        compute_sudo=True,
        help="Xero account code of the invoice lines of this category's products that have none of their own "
        "(in the current company's Xero organisation).",
    )

    @api.depends_context("company")
    @api.depends("halo_xero_category_link_ids.account_code")
    def _compute_halo_xero_link(self):
        self._halo_compute_link_fields(LINK_FIELDS)

    def _inverse_halo_xero_link(self):
        # a category without an account code has no link (the link's code is required)
        empty = self.filtered(lambda c: not c.halo_xero_account_code)
        if empty:
            Link = self.env["halo.xero.category.link"]
            from .halo_xero_link_mixin import halo_check_link_writer

            halo_check_link_writer(self.env)
            Link.sudo().search(
                [("connection_id", "=", Link._halo_current_connection().id), ("categ_id", "in", empty.ids)]
            ).unlink()
        (self - empty)._halo_inverse_link_fields(LINK_FIELDS)

    def _halo_xero_account_codes(self, connection):
        """{category id: account code} of these categories in ``connection``, a category without one taking
        its nearest parent's."""
        chain_ids = {
            cat.id: [int(i) for i in (cat.parent_path or "").split("/") if i][::-1] or [cat.id]
            for cat in self
        }
        all_ids = {i for ids in chain_ids.values() for i in ids}
        links = self.env["halo.xero.category.link"]._halo_links_of(
            connection, self.browse(all_ids), "categ_id"
        )
        return {
            cid: next((links[i].account_code for i in ids if i in links), False)
            for cid, ids in chain_ids.items()
        }
