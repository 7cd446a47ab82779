# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models


class HaloXeroDrift(models.Model):
    """What changed on either side for a record Xero owns (customers, items), found by an import
    or the scheduled refresh. Xero is the master: its value is applied, the change is listed here."""

    _name = "halo.xero.drift"
    _description = "Xero Drift"
    _order = "id desc"

    connection_id = fields.Many2one("halo.xero.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    import_id = fields.Many2one("halo.xero.import", ondelete="set null")
    res_model = fields.Char(string="Model", required=True)
    res_id = fields.Many2oneReference(string="Record", model_field="res_model", required=True)
    record_name = fields.Char()
    field_name = fields.Char(string="Field", required=True)
    odoo_value = fields.Char(string="Value in Odoo (before)")
    xero_value = fields.Char(string="Value in Xero (applied)")
    previous_value = fields.Char(string="Last Imported Value")
    side = fields.Selection(
        [
            ("xero", "Changed in Xero"),
            ("odoo", "Changed in Odoo"),
            ("both", "Changed on both sides"),
            ("match", "Differed when linked"),
        ],
        required=True,
    )
    state = fields.Selection([("open", "To check"), ("done", "Checked")], default="open", required=True)

    @api.model
    def _halo_log(self, connection, record, drifts, importer=None):
        importer_id = importer.id if importer and isinstance(importer.id, int) else False
        self.create(
            [
                dict(
                    drift,
                    connection_id=connection.id,
                    res_model=record._name,
                    res_id=record.id,
                    record_name=record.display_name,
                    import_id=importer_id,
                )
                for drift in drifts
            ]
        )

    def action_mark_checked(self):
        self.write({"state": "done"})
        return True

    def action_open_record(self):
        self.ensure_one()
        return self.env[self.res_model].browse(self.res_id)._get_records_action()
