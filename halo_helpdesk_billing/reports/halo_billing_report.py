# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import io
from collections import defaultdict

from odoo import fields, models, tools
from odoo.exceptions import AccessError
from odoo.fields import Domain
from odoo.tools import SQL

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER, BILLING_USER, REPORT_KINDS


def _rate(currency, company, day):
    """SQL: the rate of ``currency`` on ``day`` for ``company``, as Odoo reads it
    (``res.currency._get_rates``): the last rate on or before the day, else the first one, else 1."""
    return SQL(
        """COALESCE(
            (SELECT r.rate FROM res_currency_rate r
              WHERE r.currency_id = %(currency)s AND r.name <= %(day)s
                AND (r.company_id = %(company)s OR r.company_id IS NULL)
           ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1),
            (SELECT r.rate FROM res_currency_rate r
              WHERE r.currency_id = %(currency)s AND (r.company_id = %(company)s OR r.company_id IS NULL)
           ORDER BY r.company_id NULLS LAST, r.name ASC LIMIT 1),
            1.0)""",
        currency=currency,
        company=company,
        day=day,
    )


def _fx_join(alias, currency, company, day):
    """SQL: a lateral join giving ``alias.factor``, what converts an amount in ``currency`` to the
    company's currency at the rate of ``day`` (1 when ``currency`` is empty or the company's);
    ``c`` is the row's company."""
    return SQL(
        """LEFT JOIN LATERAL (
               SELECT CASE WHEN %(currency)s IS NULL OR %(currency)s = c.currency_id THEN 1.0
                           ELSE %(company_rate)s / NULLIF(%(rate)s, 0) END AS factor) %(alias)s ON TRUE""",
        currency=currency,
        alias=SQL.identifier(alias),
        company_rate=_rate(SQL("c.currency_id"), company, day),
        rate=_rate(currency, company, day),
    )


class HaloBillingReport(models.Model):
    """Billed and unbilled amounts by month, customer, technician, charge rate and contract, in
    each company's currency.

    Billed: the lines of posted customer invoices of billing runs and contracts (fees, recurring
    items, devices, top-ups) minus the lines of their posted credit notes, at their accounting
    value (the invoice's currency converted by Odoo at the invoice date), dated by the invoice
    date: a month's billed total is the untaxed total of its invoices less its credit notes.
    Unbilled: work recorded on tickets and not invoiced yet, at its current rating (actions and
    travel as rated when saved, mileage and expenses as priced when recorded, items at their
    price), converted from the customer's currency at the rate of the work's date.
    Prepaid value (managers): the prepaid hours billed work consumed, at its contract's top-up
    price per hour (``topup_price / topup_block``), less what credit notes gave back. Margin:
    billed + prepaid value - cost, where a top-up invoice's lines count as billed but not in the
    margin (their revenue enters it as prepaid value, when the hours are consumed).
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
        selection=REPORT_KINDS,
        readonly=True,
    )
    status = fields.Selection(selection=[("billed", "Billed"), ("unbilled", "Unbilled")], readonly=True)
    hours = fields.Float(readonly=True, aggregator="sum")
    amount = fields.Monetary(readonly=True, aggregator="sum", groups=BILLING_USER)
    cost = fields.Monetary(readonly=True, aggregator="sum", groups=BILLING_MANAGER)
    prepaid_value = fields.Monetary(
        readonly=True,
        aggregator="sum",
        groups=BILLING_MANAGER,
        help="Work covered by prepaid hours, valued at the contract's prepaid rate (top-up price "
        "per hour): the revenue of the top-ups this work consumed.",
    )
    margin = fields.Monetary(
        readonly=True,
        aggregator="sum",
        groups=BILLING_MANAGER,
        help="Billed + prepaid value - cost. Top-up invoices are billed but add nothing to the "
        "margin: their revenue counts as the prepaid hours are consumed (prepaid value).",
    )

    def _query(self):
        timesheet_currency = SQL("NULLIF(a.halo_rating_data->>'currency_id', '')::int")
        return SQL(
            """
            -- billed: product lines of posted invoices and credit notes of runs and contracts
            SELECT aml.id * 10 + 1 AS id, m.invoice_date AS date, m.company_id,
                   m.commercial_partner_id AS partner_id, src.ticket_id, src.user_id, src.rate_id,
                   COALESCE(src.contract_id, m.halo_contract_id, o.halo_contract_id) AS contract_id,
                   m.id AS invoice_id, COALESCE(aml.halo_kind, 'other') AS kind, 'billed' AS status,
                   CASE WHEN m.move_type = 'out_refund'
                        THEN -COALESCE(src.hours, 0) * COALESCE(aml.quantity / NULLIF(origin.quantity, 0), 1)
                        ELSE COALESCE(src.hours, 0) END AS hours,
                   -aml.balance AS amount,
                   CASE WHEN m.move_type = 'out_refund' THEN 0 ELSE COALESCE(src.cost, 0) END AS cost,
                   COALESCE(src.prepaid_value, 0) AS prepaid_value,
                   -- a top-up's revenue is matched to the consumption it pays for (prepaid value)
                   CASE WHEN aml.halo_kind = 'topup' THEN 0 ELSE -aml.balance END
                       - CASE WHEN m.move_type = 'out_refund' THEN 0 ELSE COALESCE(src.cost, 0) END
                       + COALESCE(src.prepaid_value, 0) AS margin
              FROM account_move_line aml
              JOIN account_move m ON m.id = aml.move_id
         LEFT JOIN account_move o ON o.id = m.reversed_entry_id
         LEFT JOIN LATERAL (
                   -- a credit note line bills (negatively) the line of its invoice it was copied from
                   SELECT ol.id, ol.quantity, ol.halo_run_line_id FROM account_move_line ol
                    WHERE m.move_type = 'out_refund' AND ol.move_id = m.reversed_entry_id
                      AND ol.display_type = 'product' AND ol.sequence = aml.sequence
                      AND ol.product_id IS NOT DISTINCT FROM aml.product_id
                 ORDER BY ol.id LIMIT 1) origin ON TRUE
         LEFT JOIN LATERAL (
                   -- the charges an invoice line bills: the charge of an itemised line, the charges
                   -- of a summarised one; hours and cost count on the first line of each charge
                   SELECT CASE WHEN COUNT(DISTINCT l.ticket_id) = 1 THEN MIN(l.ticket_id) END AS ticket_id,
                          CASE WHEN COUNT(DISTINCT l.user_id) = 1 THEN MIN(l.user_id) END AS user_id,
                          CASE WHEN COUNT(DISTINCT l.rate_id) = 1 THEN MIN(l.rate_id) END AS rate_id,
                          MIN(l.contract_id) AS contract_id,
                          SUM(CASE WHEN l.kind IN ('labour', 'travel') AND l.invoice_line_id = COALESCE(origin.id, aml.id)
                                   THEN l.quantity ELSE 0 END) AS hours,
                          SUM(CASE WHEN l.invoice_line_id = COALESCE(origin.id, aml.id) THEN COALESCE(l.cost, 0)
                                   ELSE 0 END) AS cost,
                          SUM(CASE WHEN l.invoice_line_id = COALESCE(origin.id, aml.id) THEN pv.value
                                   ELSE 0 END) AS prepaid_value
                     FROM halo_billing_run_line l
                LEFT JOIN LATERAL (
                          -- prepaid hours this charge consumed (an invoice), or gave back (the
                          -- reversals of a credit note), at the contract's price per hour,
                          -- converted from its currency at the rate of the entry's date
                          SELECT COALESCE(SUM(-le.hours * ct.topup_price / ct.topup_block
                                              * CASE WHEN ct.currency_id = c.currency_id THEN 1.0
                                                     ELSE %(ledger_company_rate)s / NULLIF(%(ledger_rate)s, 0)
                                                END), 0) AS value
                            FROM halo_contract_ledger le
                            JOIN halo_contract ct ON ct.id = le.contract_id
                            JOIN res_company c ON c.id = m.company_id
                           WHERE le.run_line_id = l.id AND le.mode = 'prepay_hours'
                             AND COALESCE(ct.topup_block, 0) > 0
                             AND CASE WHEN m.move_type = 'out_refund'
                                      THEN le.kind = 'reversal' AND le.credit_note_id = m.id
                                      ELSE le.kind = 'consumption' END) pv ON TRUE
                    WHERE l.invoice_line_id = COALESCE(origin.id, aml.id)
                       OR l.id = COALESCE(origin.halo_run_line_id, aml.halo_run_line_id)) src ON TRUE
             WHERE m.state = 'posted' AND m.move_type IN ('out_invoice', 'out_refund')
               AND aml.display_type = 'product'
               AND (m.halo_run_id IS NOT NULL OR m.halo_contract_id IS NOT NULL
                    OR o.halo_run_id IS NOT NULL OR o.halo_contract_id IS NOT NULL)
            UNION ALL
            SELECT a.id * 10 + 2, a.date, a.company_id, t.commercial_partner_id, a.halo_ticket_id, a.user_id,
                   a.halo_charge_rate_id, NULL, NULL, COALESCE(a.halo_kind, 'labour'), 'unbilled',
                   COALESCE(a.halo_billable_hours, 0), ROUND(COALESCE(a.halo_rated_amount, 0) * fx.factor, 2),
                   -a.amount, 0, ROUND(COALESCE(a.halo_rated_amount, 0) * fx.factor, 2) + a.amount
              FROM account_analytic_line a JOIN helpdesk_ticket t ON t.id = a.halo_ticket_id
              JOIN res_company c ON c.id = a.company_id
              %(ts_fx)s
             WHERE a.halo_billing_state IN ('unbilled', 'in_run')
            UNION ALL
            SELECT m.id * 10 + 3, m.date, m.company_id, m.partner_id, m.ticket_id, m.user_id,
                   NULL, NULL, NULL, 'mileage', 'unbilled', 0, ROUND(COALESCE(m.halo_amount, 0) * fx.factor, 2), 0, 0,
                   ROUND(COALESCE(m.halo_amount, 0) * fx.factor, 2)
              FROM halo_mileage m JOIN res_company c ON c.id = m.company_id
              %(mileage_fx)s
             WHERE m.halo_billing_state IN ('unbilled', 'in_run')
            UNION ALL
            SELECT e.id * 10 + 4, e.date, e.company_id, e.partner_id, e.ticket_id, e.user_id,
                   NULL, NULL, NULL, 'expense', 'unbilled', 0, ROUND(COALESCE(e.halo_amount, 0) * fx.factor, 2),
                   COALESCE(e.halo_cost, 0), 0,
                   ROUND(COALESCE(e.halo_amount, 0) * fx.factor, 2) - COALESCE(e.halo_cost, 0)
              FROM halo_expense e JOIN res_company c ON c.id = e.company_id
              %(expense_fx)s
             WHERE e.halo_billing_state IN ('unbilled', 'in_run')
            UNION ALL
            SELECT i.id * 10 + 5, i.date, i.company_id, i.partner_id, i.ticket_id, i.user_id,
                   NULL, NULL, NULL, 'item', 'unbilled', 0, COALESCE(i.unit_price, 0) * i.quantity,
                   COALESCE(i.unit_cost, 0) * i.quantity, 0,
                   (COALESCE(i.unit_price, 0) - COALESCE(i.unit_cost, 0)) * i.quantity
              FROM halo_ticket_item i WHERE i.halo_billing_state IN ('unbilled', 'in_run')
        """,
            ts_fx=_fx_join("fx", timesheet_currency, SQL("a.company_id"), SQL("a.date")),
            mileage_fx=_fx_join("fx", SQL("m.halo_amount_currency_id"), SQL("m.company_id"), SQL("m.date")),
            expense_fx=_fx_join("fx", SQL("e.halo_amount_currency_id"), SQL("e.company_id"), SQL("e.date")),
            ledger_company_rate=_rate(SQL("c.currency_id"), SQL("m.company_id"), SQL("le.date")),
            ledger_rate=_rate(SQL("ct.currency_id"), SQL("m.company_id"), SQL("le.date")),
        )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query())
        )

    def _halo_xlsx(self, domain, with_cost):
        """Workbook with one sheet per dimension (customer, technician, charge rate, contract) and a
        column per month: billed and unbilled amounts (and cost and margin for managers)."""
        from openpyxl import Workbook
        from openpyxl.styles import Font

        measures = ["amount"] + (["cost", "prepaid_value", "margin"] if with_cost else [])
        workbook = Workbook()
        workbook.remove(workbook.active)
        for dimension, title in (
            ("partner_id", "Customers"),
            ("user_id", "Technicians"),
            ("rate_id", "Charge rates"),
            ("contract_id", "Contracts"),
        ):
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

    def action_export_xlsx(self, domain=None):
        """Download the analysis of exactly what the user filtered: ``domain`` (a client passes
        its search domain), else the list's filter (``active_domain`` when all records matching
        it are selected) or the selected rows, else everything; always within the user's
        companies (and read as the user). Managers get cost and margin columns."""
        self._halo_check_reader()
        domain = self._halo_export_domain(domain)
        data = self._halo_xlsx(domain, self.env.user.has_group(BILLING_MANAGER))
        attachment = self.env["ir.attachment"].create(
            {
                "name": f"billing-report-{fields.Date.context_today(self)}.xlsx",
                "raw": data,
                "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "self",
        }

    def _halo_export_domain(self, domain=None):
        """The domain the export reads (see :meth:`action_export_xlsx`), validated as a domain."""
        if domain is None:
            # the web client's action menu sends the list's filter as active_domain, and the
            # selected rows (all those matching with "select all") as the records
            domain = self.env.context.get("active_domain")
            if self.ids and (domain is None or not self._halo_all_selected(Domain(domain))):
                domain = [("id", "in", self.ids)]
        domain = Domain(domain or [])
        # raises on anything that is not a domain over this model's fields...
        domain.validate(self)
        # ... and, searched as the user, on a field the user may not read (a billing user
        # filtering on margins would read them through the export)
        self.search_count(domain, limit=1)
        return domain & Domain("company_id", "in", self.env.companies.ids)

    def _halo_all_selected(self, domain):
        """Whether these records are every row of ``domain`` (the client passes at most
        ``web.active_ids_limit`` of them)."""
        limit = int(self.env["ir.config_parameter"].sudo().get_param("web.active_ids_limit", 20000))
        return len(self.ids) >= limit or len(self.ids) == self.search_count(domain)
