# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models
from odoo.exceptions import UserError


class HaloRerateWizard(models.TransientModel):
    """Re-rate unbilled actions with the prices in force now, recording what changed."""

    _name = "halo.rerate.wizard"
    _description = "Re-rate Helpdesk Work"

    line_ids = fields.Many2many(
        comodel_name="account.analytic.line",
        default=lambda self: self.env["account.analytic.line"].browse(self.env.context.get("active_ids", [])),
    )
    reason = fields.Char(required=True)

    def action_rerate(self):
        self.ensure_one()
        lines = self.line_ids.filtered(lambda line: line.halo_billing_state == "unbilled")
        if not lines:
            raise UserError(self.env._("Only unbilled actions can be re-rated."))
        audits = self.env["halo.rating"]._halo_rerate(lines, self.reason)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Re-rating changes"),
            "res_model": "halo.rating.audit",
            "view_mode": "list",
            "domain": [("id", "in", audits.ids)],
        }
