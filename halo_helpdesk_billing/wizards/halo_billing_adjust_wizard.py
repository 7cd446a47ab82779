# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER


class HaloBillingAdjustWizard(models.TransientModel):
    """Change the amount of one charge of a billing run, with a reason (audited)."""

    _name = "halo.billing.adjust.wizard"
    _description = "Adjust a Billing Run Charge"

    line_id = fields.Many2one(comodel_name="halo.billing.run.line", required=True)
    currency_id = fields.Many2one(related="line_id.currency_id")
    current_amount = fields.Monetary(related="line_id.amount", string="Current Amount")
    amount = fields.Monetary(string="New Amount", required=True, groups=BILLING_USER)
    reason = fields.Char(required=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "halo.billing.run.line":
            line = self.env["halo.billing.run.line"].browse(self.env.context.get("active_id"))
            values.setdefault("line_id", line.id)
            values.setdefault("amount", line.amount)
        return values

    def action_apply(self):
        self.ensure_one()
        self.line_id._halo_adjust(self.amount, self.reason)
        return {"type": "ir.actions.act_window_close"}
