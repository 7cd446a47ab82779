# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models


class HaloXeroTaxRate(models.Model):
    """A tax rate of the connected Xero organisation (as last imported): what a TaxType may be."""

    _name = "halo.xero.tax.rate"
    _description = "Xero Tax Rate"
    _order = "connection_id, tax_type"
    _rec_name = "tax_type"
    _rec_names_search = ["tax_type", "name"]

    connection_id = fields.Many2one("halo.xero.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    tax_type = fields.Char(required=True)
    name = fields.Char()
    status = fields.Char()
    effective_rate = fields.Float(digits=(16, 4))
    can_apply_to_revenue = fields.Boolean(string="Revenue")

    _tax_type_uniq = models.Constraint("UNIQUE(connection_id, tax_type)", "A Xero tax type is unique.")

    @api.depends("tax_type", "name")
    def _compute_display_name(self):
        for rate in self:
            rate.display_name = "%s (%s)" % (rate.tax_type, rate.name) if rate.name else rate.tax_type

    @api.model
    def _halo_store(self, connection, rates):
        """Store Xero's tax rates (plain dicts with the field names of this model) for ``connection``."""
        existing = {r.tax_type: r for r in self.sudo().search([("connection_id", "=", connection.id)])}
        creates = []
        for vals in rates:
            if not vals.get("tax_type"):
                continue
            record = existing.get(vals["tax_type"])
            if record:
                record.write(vals)
            else:
                creates.append(dict(vals, connection_id=connection.id))
        self.sudo().create(creates)
