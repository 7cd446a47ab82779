# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    halo_contract_ids = fields.One2many(
        comodel_name="halo.contract", inverse_name="partner_id", string="Contracts"
    )
    halo_contract_count = fields.Integer(
        string="Contract Count", compute="_compute_halo_contract_count", compute_sudo=True
    )

    def _compute_halo_contract_count(self):
        counts = dict(
            self.env["halo.contract"]._read_group(
                [
                    ("partner_id", "in", self.commercial_partner_id.ids),
                    ("company_id", "in", self.env.companies.ids),
                ],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.halo_contract_count = counts.get(partner.commercial_partner_id, 0)

    def action_halo_open_contracts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("halo_helpdesk_billing.halo_contract_action")
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.commercial_partner_id.id}
        return action
