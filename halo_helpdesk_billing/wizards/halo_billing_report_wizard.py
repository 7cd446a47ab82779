# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER


class HaloBillingReportWizard(models.TransientModel):
    """The monthly billing workbook for a chosen month or date range and company."""

    _name = "halo.billing.report.wizard"
    _description = "Monthly Billing Report (XLSX)"

    period = fields.Selection(
        selection=[("month", "A month"), ("range", "A date range")],
        default="month",
        required=True,
    )
    month = fields.Date(
        default=lambda self: fields.Date.context_today(self).replace(day=1),
        help="Any day of the month to export.",
    )
    date_from = fields.Date(string="From")
    date_to = fields.Date(string="To")
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
        domain=lambda self: [("id", "in", self.env.companies.ids)],
    )

    @api.onchange("period", "month")
    def _onchange_period(self):
        if self.period == "month" and self.month:
            self.date_from, self.date_to = self._halo_month_bounds()

    def _halo_month_bounds(self):
        first = self.month.replace(day=1)
        return first, first + relativedelta(months=1, days=-1)

    def _halo_bounds(self):
        self.ensure_one()
        if self.period == "month":
            if not self.month:
                raise UserError(self.env._("Choose the month to export."))
            return self._halo_month_bounds()
        if not self.date_from or not self.date_to or self.date_from > self.date_to:
            raise UserError(self.env._("Choose a start date on or before the end date."))
        return self.date_from, self.date_to

    def action_export(self):
        """Download the workbook of the period and company (the caller's companies only; cost and
        margin columns for Billing Managers)."""
        self.ensure_one()
        Report = self.env["halo.billing.report"]
        Report._halo_check_reader()
        if self.company_id not in self.env.companies:
            raise UserError(self.env._("Choose one of the companies you are working in."))
        date_from, date_to = self._halo_bounds()
        domain = [("date", ">=", date_from), ("date", "<=", date_to), ("company_id", "=", self.company_id.id)]
        data = Report._halo_xlsx(domain, self.env.user.has_group(BILLING_MANAGER))
        attachment = self.env["ir.attachment"].create(
            {
                "name": f"billing-report-{self.company_id.name}-{date_from}-{date_to}.xlsx".replace("/", "-"),
                "raw": data,
                "res_model": self._name,
                "res_id": self.id,
                "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "self",
        }
