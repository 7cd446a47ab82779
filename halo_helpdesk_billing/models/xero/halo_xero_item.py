# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models


class HaloXeroItem(models.Model):
    """An item of the connected Xero organisation (as last imported): what an ItemCode may be."""

    _name = "halo.xero.item"
    _description = "Xero Item"
    _order = "connection_id, code"
    _rec_names_search = ["code", "name"]

    connection_id = fields.Many2one("halo.xero.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    xero_id = fields.Char(string="Xero ItemID", required=True)
    code = fields.Char(required=True)
    name = fields.Char()
    is_sold = fields.Boolean(string="Sold")
    is_tracked = fields.Boolean(string="Tracked Inventory")
    account_code = fields.Char(string="Sales Account Code")
    tax_type = fields.Char(string="Sales Tax Type")

    _code_uniq = models.Constraint("UNIQUE(connection_id, code)", "A Xero item code is unique.")

    @api.depends("code", "name")
    def _compute_display_name(self):
        for item in self:
            item.display_name = "%s %s" % (item.code, item.name or "")

    @api.model
    def _halo_store(self, connection, items):
        """Store Xero's items (plain dicts with the field names of this model) for ``connection``."""
        existing = {i.code: i for i in self.sudo().search([("connection_id", "=", connection.id)])}
        creates = []
        for vals in items:
            if not vals.get("code"):
                continue
            record = existing.get(vals["code"])
            if record:
                record.write(vals)
            else:
                creates.append(dict(vals, connection_id=connection.id))
        self.sudo().create(creates)
