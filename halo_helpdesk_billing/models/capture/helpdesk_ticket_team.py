# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class HelpdeskTicketTeam(models.Model):
    _inherit = "helpdesk.ticket.team"

    halo_project_id = fields.Many2one(
        comodel_name="project.project",
        string="Timesheet Project",
        domain=[("allow_timesheets", "=", True)],
        help="Actions recorded on this team's tickets go to this project (and its analytic "
        "account), so technicians never choose one.",
    )
    halo_default_rate_id = fields.Many2one(
        comodel_name="halo.charge.rate",
        string="Default Charge Rate",
        domain=[("kind", "=", "labour")],
    )
