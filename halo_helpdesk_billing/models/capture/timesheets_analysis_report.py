# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

from odoo.addons.halo_helpdesk_billing.constants import TIMESHEET_COST_GROUPS


class TimesheetsAnalysisReport(models.Model):
    """The timesheet analysis shows each line's cost: same groups as the line's amount."""

    _inherit = "timesheets.analysis.report"

    amount = fields.Monetary(groups=TIMESHEET_COST_GROUPS)
