# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from .halo_xero_link_mixin import PROBLEM_STATES
from .halo_xero_product_link import CATALOGUE_DEPENDS


class HaloXeroTaxLink(models.Model):
    """The Xero TaxType of an Odoo sales tax in one Xero organisation, with Xero's EffectiveRate of it."""

    _name = "halo.xero.tax.link"
    _inherit = ["halo.xero.link.mixin"]
    _description = "Xero Tax Type of a Tax"
    _order = "problem_order, connection_id, tax_id"
    _rec_name = "tax_id"
    _halo_record_field = "tax_id"

    tax_id = fields.Many2one("account.tax", required=True, ondelete="cascade", index=True)
    tax_amount = fields.Float(related="tax_id.amount", string="Odoo Rate")
    tax_type = fields.Char(string="Xero Tax Type")
    effective_rate = fields.Float(
        string="Xero Effective Rate",
        digits=(16, 4),
        readonly=True,
        help="EffectiveRate of the tax type in Xero, as last imported.",
    )
    rate_known = fields.Boolean(readonly=True)
    review = fields.Boolean(
        string="To Review", help="Created or matched by the Xero import without certainty; check the mapping."
    )
    problem = fields.Text(compute="_compute_problem", store=True)
    problem_state = fields.Selection(PROBLEM_STATES, string="Check", compute="_compute_problem", store=True)
    problem_order = fields.Integer(compute="_compute_problem", store=True)  # problems first

    _tax_uniq = models.Constraint(
        "UNIQUE(connection_id, tax_id)", "A tax has one Xero tax type per Xero connection."
    )

    @api.depends("tax_type", "tax_id.amount", "tax_id.amount_type", "review", *CATALOGUE_DEPENDS)
    def _compute_problem(self):
        for connection, links in self.grouped("connection_id").items():
            index = connection._halo_mapping_index()
            for link in links:
                problems = [
                    connection._halo_tax_type_problem(link.tax_type, index, tax=link.tax_id, required=True)
                ]
                if link.review:
                    problems.append(
                        self.env._("Matched by the import without certainty: check it and untick To Review.")
                    )
                link.problem, link.problem_state, link.problem_order = connection._halo_problem_summary(
                    problems
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("tax_type") and "rate_known" not in vals and vals.get("connection_id"):
                vals.update(self._halo_rate_vals(vals["connection_id"], vals["tax_type"]))
        return super().create(vals_list)

    def write(self, vals):
        if "tax_type" in vals and "rate_known" not in vals:
            # a new tax type: Xero's rate of it is the imported one (unknown until imported)
            for link in self:
                super(HaloXeroTaxLink, link).write(
                    dict(vals, **self._halo_rate_vals(link.connection_id.id, vals["tax_type"]))
                )
            return True
        return super().write(vals)

    @api.model
    def _halo_rate_vals(self, connection_id, tax_type):
        rate = (
            self.env["halo.xero.tax.rate"]
            .sudo()
            .search([("connection_id", "=", connection_id), ("tax_type", "=", tax_type or "")], limit=1)
        )
        return {"effective_rate": rate.effective_rate, "rate_known": bool(rate)}
