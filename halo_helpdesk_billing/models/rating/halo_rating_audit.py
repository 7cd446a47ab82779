# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER


class HaloRatingAudit(models.Model):
    """What an explicit re-rating changed, line by line (who, when, why, before and after)."""

    _name = "halo.rating.audit"
    _description = "Helpdesk Re-rating Audit"
    _order = "create_date desc, id desc"

    line_id = fields.Many2one(
        comodel_name="account.analytic.line",
        string="Action",
        required=True,
        index=True,
        ondelete="cascade",
    )
    ticket_id = fields.Many2one(related="line_id.halo_ticket_id", store=True)
    company_id = fields.Many2one(related="line_id.company_id", store=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    reason = fields.Char(required=True)
    old_amount = fields.Monetary(groups=BILLING_USER)
    new_amount = fields.Monetary(groups=BILLING_USER)
    old_hours = fields.Float(digits=(16, 4))
    new_hours = fields.Float(digits=(16, 4))
    old_version_id = fields.Many2one(comodel_name="halo.charge.rate.version")
    new_version_id = fields.Many2one(comodel_name="halo.charge.rate.version")
    old_explanation = fields.Text(groups=BILLING_USER)
    new_explanation = fields.Text(groups=BILLING_USER)
