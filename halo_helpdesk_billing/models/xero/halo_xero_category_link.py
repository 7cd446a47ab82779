# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from .halo_xero_link_mixin import PROBLEM_STATES
from .halo_xero_product_link import CATALOGUE_DEPENDS


class HaloXeroCategoryLink(models.Model):
    """The Xero revenue account of a product category in one Xero organisation: the account of the lines of
    its products (and of its sub-categories' products) that have none of their own."""

    _name = "halo.xero.category.link"
    _inherit = ["halo.xero.link.mixin"]
    _description = "Xero Account of a Product Category"
    _order = "problem_order, connection_id, categ_id"
    _rec_name = "categ_id"
    _halo_record_field = "categ_id"

    categ_id = fields.Many2one(
        "product.category", string="Product Category", required=True, ondelete="cascade", index=True
    )
    account_code = fields.Char(string="Xero Account Code", required=True)
    problem = fields.Text(compute="_compute_problem", store=True)
    problem_state = fields.Selection(PROBLEM_STATES, string="Check", compute="_compute_problem", store=True)
    problem_order = fields.Integer(compute="_compute_problem", store=True)  # problems first

    _categ_uniq = models.Constraint(
        "UNIQUE(connection_id, categ_id)", "A product category has one Xero account per Xero connection."
    )

    @api.depends("account_code", *CATALOGUE_DEPENDS)
    def _compute_problem(self):
        for connection, links in self.grouped("connection_id").items():
            index = connection._halo_mapping_index()
            for link in links:
                link.problem, link.problem_state, link.problem_order = connection._halo_problem_summary(
                    [connection._halo_account_problem(link.account_code, index)]
                )
