# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import io
from collections import defaultdict

from odoo import fields, models, tools
from odoo.exceptions import AccessError
from odoo.tools import SQL

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"
BILLING_MANAGER = "halo_helpdesk_billing.group_halo_billing_manager"


class HaloBillingReport(models.Model):
    """Billed and unbilled amounts by month, customer, technician, charge rate and contract.

    Billed: charges of billing runs that are on an invoice. Unbilled: work recorded on
    tickets and not invoiced yet, at its last rated amount.
    """

    _name = "halo.billing.report"
    _description = "Helpdesk Billing Analysis"
    _auto = False
    _order = "date desc"
    _rec_name = "date"

    date = fields.Date(readonly=True)
    company_id = fields.Many2one(comodel_name="res.company", readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    partner_id = fields.Many2one(comodel_name="res.partner", string="Customer", readonly=True)
    ticket_id = fields.Many2one(comodel_name="helpdesk.ticket", readonly=True)
    user_id = fields.Many2one(comodel_name="res.users", string="Technician", readonly=True)
    rate_id = fields.Many2one(comodel_name="halo.charge.rate", string="Charge Rate", readonly=True)
    contract_id = fields.Many2one(comodel_name="halo.contract", readonly=True)
    invoice_id = fields.Many2one(comodel_name="account.move", readonly=True)
    kind = fields.Selection(
        selection=[("labour", "Labour"), ("travel", "Travel time"), ("mileage", "Mileage"),
                   ("expense", "Expense"), ("item", "Item"), ("recurring", "Recurring"),
                   ("contract_fee", "Contract fee"), ("prepay", "Prepay consumption")],
        readonly=True,
    )
    status = fields.Selection(selection=[("billed", "Billed"), ("unbilled", "Unbilled")], readonly=True)
    hours = fields.Float(readonly=True, aggregator="sum")
    amount = fields.Monetary(readonly=True, aggregator="sum", groups=BILLING_USER)
    cost = fields.Monetary(readonly=True, aggregator="sum", groups=BILLING_MANAGER)
    margin = fields.Monetary(readonly=True, aggregator="sum", groups=BILLING_MANAGER)

    def _query(self):
        return SQL("""
            SELECT l.id * 10 + 1 AS id, l.date, l.company_id, l.partner_id, l.ticket_id, l.user_id,
                   l.rate_id, l.contract_id, l.invoice_id, l.kind, 'billed' AS status,
                   CASE WHEN l.kind IN ('labour', 'travel') THEN l.quantity ELSE 0 END AS hours,
                   l.amount, COALESCE(l.cost, 0) AS cost, l.amount - COALESCE(l.cost, 0) AS margin
              FROM halo_billing_run_line l
             WHERE l.invoice_id IS NOT NULL AND l.state = 'included'
            UNION ALL
            SELECT a.id * 10 + 2, a.date, a.company_id, t.commercial_partner_id, a.halo_ticket_id, a.user_id,
                   a.halo_charge_rate_id, NULL, NULL, COALESCE(a.halo_kind, 'labour'), 'unbilled',
                   COALESCE(a.halo_billable_hours, 0), COALESCE(a.halo_rated_amount, 0), -a.amount,
                   COALESCE(a.halo_rated_amount, 0) + a.amount
              FROM account_analytic_line a JOIN helpdesk_ticket t ON t.id = a.halo_ticket_id
             WHERE a.halo_billing_state IN ('unbilled', 'in_run')
            UNION ALL
            SELECT m.id * 10 + 3, m.date, m.company_id, m.partner_id, m.ticket_id, m.user_id,
                   NULL, NULL, NULL, 'mileage', 'unbilled', 0, COALESCE(m.halo_amount, 0), 0,
                   COALESCE(m.halo_amount, 0)
              FROM halo_mileage m WHERE m.halo_billing_state IN ('unbilled', 'in_run')
            UNION ALL
            SELECT e.id * 10 + 4, e.date, e.company_id, e.partner_id, e.ticket_id, e.user_id,
                   NULL, NULL, NULL, 'expense', 'unbilled', 0, COALESCE(e.halo_amount, e.amount, 0),
                   COALESCE(e.amount, 0), COALESCE(e.halo_amount, e.amount, 0) - COALESCE(e.amount, 0)
              FROM halo_expense e WHERE e.halo_billing_state IN ('unbilled', 'in_run')
            UNION ALL
            SELECT i.id * 10 + 5, i.date, i.company_id, i.partner_id, i.ticket_id, i.user_id,
                   NULL, NULL, NULL, 'item', 'unbilled', 0, COALESCE(i.unit_price, 0) * i.quantity,
                   COALESCE(i.unit_cost, 0) * i.quantity,
                   (COALESCE(i.unit_price, 0) - COALESCE(i.unit_cost, 0)) * i.quantity
              FROM halo_ticket_item i WHERE i.halo_billing_state IN ('unbilled', 'in_run')
        """)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query()))

    def _halo_xlsx(self, domain, with_cost):
        """Workbook with one sheet per dimension (customer, technician, charge rate, contract) and a
        column per month: billed and unbilled amounts (and cost and margin for managers)."""
        from openpyxl import Workbook
        from openpyxl.styles import Font

        measures = ["amount"] + (["cost", "margin"] if with_cost else [])
        workbook = Workbook()
        workbook.remove(workbook.active)
        for dimension, title in (("partner_id", "Customers"), ("user_id", "Technicians"),
                                 ("rate_id", "Charge rates"), ("contract_id", "Contracts")):
            # as the caller: their companies' rows only (record rule), their measures only
            groups = self._read_group(
                domain, [dimension, "date:month", "status"], [f"{m}:sum" for m in measures]
            )
            months = sorted({month for _key, month, _status, *_values in groups if month})
            data = defaultdict(dict)
            for key, month, status, *values in groups:
                data[key.display_name or "-"][(month, status)] = values
            sheet = workbook.create_sheet(title)
            header = [title[:-1]]
            for month in months:
                for status in ("billed", "unbilled"):
                    for measure in measures:
                        header.append(f"{month:%Y-%m} {status} {measure}")
            sheet.append(header)
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            totals = [0.0] * (len(header) - 1)
            for name in sorted(data):
                row = [name]
                for month in months:
                    for status in ("billed", "unbilled"):
                        values = data[name].get((month, status), [0.0] * len(measures))
                        row.extend(round(value or 0.0, 2) for value in values)
                sheet.append(row)
                totals = [total + value for total, value in zip(totals, row[1:], strict=True)]
            if data:
                sheet.append([self.env._("Total")] + [round(total, 2) for total in totals])
                for cell in sheet[sheet.max_row]:
                    cell.font = Font(bold=True)
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()

    def _halo_check_reader(self):
        """Reports and exports are for billing groups, whatever else the caller may read."""
        if not self.env.su and not self.env.user.has_group(BILLING_USER):
            raise AccessError(self.env._("Only billing users can export the billing analysis."))
        self.check_access("read")

    def action_export_xlsx(self):
        """Download the analysis of the caller's companies (current filters are not applied:
        use the pivot's own export for ad hoc views); managers get cost and margin columns."""
        self._halo_check_reader()
        data = self._halo_xlsx([], self.env.user.has_group(BILLING_MANAGER))
        attachment = self.env["ir.attachment"].create({
            "name": f"billing-report-{fields.Date.context_today(self)}.xlsx", "raw": data,
            "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        })
        return {"type": "ir.actions.act_url", "url": f"/web/content/{attachment.id}?download=true",
                "target": "self"}
