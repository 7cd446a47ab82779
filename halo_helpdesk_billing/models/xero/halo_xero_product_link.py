# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER, BILLING_USER

from .halo_xero_connection import halo_check_caller
from .halo_xero_link_mixin import PROBLEM_STATES

CATALOGUE_DEPENDS = (
    "connection_id.xero_account_ids.code",
    "connection_id.xero_account_ids.status",
    "connection_id.xero_account_ids.account_type",
    "connection_id.xero_account_ids.system_account",
    "connection_id.xero_item_ids.code",
    "connection_id.xero_item_ids.is_sold",
    "connection_id.xero_tax_rate_ids.tax_type",
    "connection_id.xero_tax_rate_ids.status",
    "connection_id.xero_tax_rate_ids.can_apply_to_revenue",
    "connection_id.xero_tax_rate_ids.effective_rate",
)


class HaloXeroProductLink(models.Model):
    """The Xero item, revenue account and tax type of a product in one Xero organisation."""

    _name = "halo.xero.product.link"
    _inherit = ["halo.xero.link.mixin"]
    _description = "Xero Item of a Product"
    _order = "problem_order, connection_id, product_tmpl_id"
    _rec_name = "product_tmpl_id"
    _halo_record_field = "product_tmpl_id"

    product_tmpl_id = fields.Many2one(
        "product.template", string="Product", required=True, ondelete="cascade", index=True
    )
    item_code = fields.Char(string="Xero Item Code", index="btree_not_null")
    item_id = fields.Char(string="Xero ItemID", index="btree_not_null", copy=False)
    account_code = fields.Char(
        string="Xero Account Code", help="Xero account code of this product's invoice lines."
    )
    tax_type = fields.Char(string="Xero Tax Type", help="Sales tax type of the item in Xero.")
    # holds Xero's sales price: billing staff only
    synced_values = fields.Json(copy=False, groups=BILLING_USER, help="Xero-owned values as last imported.")
    updated_at = fields.Datetime(string="Updated in Xero", copy=False)
    relink_item_id = fields.Many2one(
        "halo.xero.item",
        string="Re-link To",
        copy=False,
        domain="[('connection_id', '=', connection_id)]",
        help="Another item of this Xero organisation; then click Re-link.",
    )
    problem = fields.Text(compute="_compute_problem", store=True)
    problem_state = fields.Selection(PROBLEM_STATES, string="Check", compute="_compute_problem", store=True)
    problem_order = fields.Integer(compute="_compute_problem", store=True)  # problems first

    _product_uniq = models.Constraint(
        "UNIQUE(connection_id, product_tmpl_id)", "A product has one Xero item per Xero connection."
    )

    @api.depends("item_code", "account_code", "tax_type", *CATALOGUE_DEPENDS)
    def _compute_problem(self):
        for connection, links in self.grouped("connection_id").items():
            index = connection._halo_mapping_index()
            for link in links:
                problems = [
                    connection._halo_item_problem(link.item_code, index),
                    connection._halo_account_problem(link.account_code, index),
                    connection._halo_tax_type_problem(link.tax_type, index),
                ]
                link.problem, link.problem_state, link.problem_order = connection._halo_problem_summary(
                    problems
                )

    def action_relink(self):
        """Bind the product to the Xero item chosen in ``relink_item_id`` (same organisation, sold, not another
        product's item); its code and ItemID are what the push sends from now on."""
        halo_check_caller(self, BILLING_MANAGER, "write")
        for link in self.sudo():
            item = link.relink_item_id
            if not item:
                raise UserError(
                    self.env._(
                        "Choose the Xero item to link %(product)s to.",
                        product=link.product_tmpl_id.display_name,
                    )
                )
            if item.connection_id != link.connection_id:
                raise UserError(
                    self.env._(
                        "The Xero item %(item)s belongs to another Xero organisation.", item=item.display_name
                    )
                )
            if not item.is_sold:
                raise UserError(
                    self.env._(
                        "The Xero item %(item)s is not sold in Xero: it cannot be invoiced.",
                        item=item.display_name,
                    )
                )
            other = self.search(
                [
                    ("connection_id", "=", link.connection_id.id),
                    ("item_code", "=", item.code),
                    ("id", "!=", link.id),
                ],
                limit=1,
            )
            if other:
                raise UserError(
                    self.env._(
                        "The Xero item %(item)s is already the item of %(product)s.",
                        item=item.display_name,
                        product=other.product_tmpl_id.display_name,
                    )
                )
            old = link.item_code
            link.write(
                {
                    "item_code": item.code,
                    "item_id": item.xero_id,
                    "relink_item_id": False,
                    "account_code": link.account_code or item.account_code or False,
                }
            )
            link.product_tmpl_id.message_post(
                body=self.env._(
                    "Re-linked by %(user)s to the Xero item %(item)s of %(org)s (was %(old)s).",
                    user=self.env.user.name,
                    item=item.display_name,
                    org=link.connection_id.tenant_name or link.connection_id.name,
                    old=old or "-",
                )
            )
        return True
