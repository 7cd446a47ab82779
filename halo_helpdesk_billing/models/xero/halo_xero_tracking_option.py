# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models


class HaloXeroTrackingOption(models.Model):
    """A tracking option of the connected Xero organisation (with its category), as last read."""

    _name = "halo.xero.tracking.option"
    _description = "Xero Tracking Option"
    _order = "connection_id, category_name, name"

    connection_id = fields.Many2one("halo.xero.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    category_name = fields.Char(string="Category", required=True)
    category_status = fields.Char()
    name = fields.Char(string="Option", required=True)
    status = fields.Char()

    _option_uniq = models.Constraint(
        "UNIQUE(connection_id, category_name, name)", "A Xero tracking option is unique in its category."
    )

    @api.model
    def _halo_store(self, connection, categories):
        """Replace the stored options of ``connection`` with ``categories``:
        [(category name, category status, [(option name, option status)])]."""
        self.sudo().search([("connection_id", "=", connection.id)]).unlink()
        self.sudo().create(
            [
                {
                    "connection_id": connection.id,
                    "category_name": name,
                    "category_status": status,
                    "name": option,
                    "status": option_status,
                }
                for name, status, options in categories
                for option, option_status in options
                if name and option
            ]
        )
