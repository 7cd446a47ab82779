# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

LINK_FIELDS = {
    "halo_xero_tax_type": "tax_type",
    "halo_xero_effective_rate": "effective_rate",
    "halo_xero_rate_known": "rate_known",
    "halo_xero_review": "review",
}


class AccountTax(models.Model):
    _name = "account.tax"
    _inherit = ["account.tax", "halo.xero.linked.mixin"]
    _halo_link_model = "halo.xero.tax.link"
    _halo_link_field = "tax_id"
    _halo_link_o2m = "halo_xero_tax_link_ids"

    halo_xero_tax_link_ids = fields.One2many(
        "halo.xero.tax.link", "tax_id", string="Xero Tax Types", copy=False, groups=BILLING_USER
    )
    halo_xero_tax_type = fields.Char(
        string="Xero Tax Type",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        search="_search_halo_xero_tax_type",
        compute_sudo=True,
        help="Xero TaxType code (e.g. OUTPUT2) of invoice lines with this tax (current company's organisation).",
    )
    halo_xero_effective_rate = fields.Float(
        string="Xero Effective Rate",
        digits=(16, 4),
        copy=False,
        readonly=True,
        compute="_compute_halo_xero_link",
        compute_sudo=True,
        help="EffectiveRate of the tax type in Xero, as last imported (Xero computes the tax with it).",
    )
    halo_xero_rate_known = fields.Boolean(
        copy=False, readonly=True, compute="_compute_halo_xero_link", compute_sudo=True
    )
    halo_xero_review = fields.Boolean(
        string="Xero Mapping to Review",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        search="_search_halo_xero_review",
        compute_sudo=True,
        help="Created or matched by the Xero import without certainty; check the mapping.",
    )

    @api.depends_context("company")
    @api.depends(
        "halo_xero_tax_link_ids.tax_type",
        "halo_xero_tax_link_ids.effective_rate",
        "halo_xero_tax_link_ids.rate_known",
        "halo_xero_tax_link_ids.review",
    )
    def _compute_halo_xero_link(self):
        self._halo_compute_link_fields(LINK_FIELDS)

    def _inverse_halo_xero_link(self):
        self._halo_inverse_link_fields({"halo_xero_tax_type": "tax_type", "halo_xero_review": "review"})

    def _search_halo_xero_tax_type(self, operator, value):
        return self._halo_search_link_field("tax_type", operator, value)

    def _search_halo_xero_review(self, operator, value):
        if operator != "in":
            return NotImplemented
        return self._halo_search_link_field("review", "in", list(value))
