# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models

from odoo.addons.halo_helpdesk_billing.constants import TIMESHEET_COST_GROUPS


class ProjectProject(models.Model):
    """The project's profitability (panel and project updates) adds up its analytic lines as
    superuser, timesheet costs included: only for those who may read the timesheet cost."""

    _inherit = "project.project"

    def _halo_reads_timesheet_cost(self):
        return any(self.env.user.has_group(group) for group in TIMESHEET_COST_GROUPS.split(","))

    def _show_profitability(self):
        return super()._show_profitability() and self._halo_reads_timesheet_cost()

    def _get_profitability_values(self):
        if not self._halo_reads_timesheet_cost():
            return {}, False
        return super()._get_profitability_values()
