# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

from ...services.contract_dates import PERIOD_MONTHS, PERIODS, day_count, invoice_date_of, period_bounds
from .halo_customer_device import DEVICE_TYPES


class HaloContractRecurringLine(models.Model):
    """Something invoiced every period with the contract (hosting, domains, licences):
    a fixed quantity, or the customer's number of active devices on the billing date.

    Periods are aligned on the contract's start date; a line starting or ending inside a
    period is prorated by days when ``prorate`` is set.
    """

    _name = "halo.contract.recurring.line"
    _description = "Contract Recurring Item"
    _order = "contract_id, sequence, id"
    _check_company_auto = True

    contract_id = fields.Many2one(comodel_name="halo.contract", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
    sequence = fields.Integer(default=10)
    product_id = fields.Many2one(comodel_name="product.product", required=True, check_company=True)
    name = fields.Char(string="Description")
    quantity_mode = fields.Selection(
        selection=[("fixed", "Fixed quantity"), ("devices", "Active devices")],
        default="fixed",
        required=True,
    )
    quantity = fields.Float(default=1.0, digits=(16, 4))
    device_type = fields.Selection(
        selection=DEVICE_TYPES, help="Devices counted; empty = every active device."
    )
    price_unit = fields.Monetary(currency_field="currency_id", groups=BILLING_USER)
    period = fields.Selection(selection=PERIODS, default="monthly", required=True)
    date_start = fields.Date(required=True, default=fields.Date.context_today)
    date_end = fields.Date()
    next_date = fields.Date(
        compute="_compute_next_date",
        store=True,
        readonly=False,
        copy=False,
        help="Start of the next period to invoice.",
    )
    prorate = fields.Boolean(default=True, help="Bill part periods by days.")
    period_ids = fields.One2many(
        comodel_name="halo.contract.period",
        inverse_name="recurring_line_id",
        string="Invoiced Periods",
    )

    _dates_ordered = models.Constraint(
        "CHECK (date_end IS NULL OR date_end >= date_start)",
        "A recurring item cannot end before it starts.",
    )
    _quantity_positive = models.Constraint("CHECK (quantity >= 0)", "The quantity cannot be negative.")

    @api.depends("date_start")
    def _compute_next_date(self):
        for line in self:
            line.next_date = line.next_date if line.period_ids else line.date_start

    @api.constrains("date_start", "contract_id")
    def _check_within_contract(self):
        for line in self:
            if line.date_start < line.contract_id.date_start:
                raise ValidationError(
                    self.env._(
                        "Recurring item %(item)s cannot start before its contract (%(date)s).",
                        item=line.name or line.product_id.display_name,
                        date=line.contract_id.date_start,
                    )
                )

    def _halo_bounds(self, day):
        self.ensure_one()
        return period_bounds(self.contract_id.date_start, PERIOD_MONTHS[self.period], day)

    def _halo_next_invoice_dates(self):
        dates = []
        for line in self:
            start = line.next_date or line.date_start
            if line.date_end and start > line.date_end:
                continue
            ps, pe = line._halo_bounds(start)
            dates.append(line._halo_invoice_date(start, ps, pe))
        return dates

    def _halo_invoice_date(self, start, period_start, period_end):
        # in advance a line starting mid-period is invoiced on its first day
        if self.contract_id.invoice_timing == "advance":
            return max(start, period_start)
        return invoice_date_of("arrears", period_start, period_end)

    def _halo_due_periods(self, date_ref, devices):
        """Period vals of this line whose invoice is due on ``date_ref`` (see the contract)."""
        self.ensure_one()
        contract = self.contract_id
        last = (
            min(d for d in (self.date_end, contract.date_end) if d)
            if (self.date_end or contract.date_end)
            else None
        )
        start = max(self.next_date or self.date_start, self.date_start)
        result = []
        for _i in range(1200):
            if last and start > last:
                break
            ps, pe = self._halo_bounds(start)
            invoice_date = self._halo_invoice_date(start, ps, pe)
            if invoice_date - timedelta(days=contract.days_ahead) > date_ref:
                break
            end = min(pe, last) if last else pe
            factor = 1.0
            if self.prorate and (start > ps or end < pe):
                # e.g. 17 of 31 days: 17 / 31
                factor = day_count(start, end) / day_count(ps, pe)
            device_count = 0
            if self.quantity_mode == "devices":
                device_count = devices._halo_count(
                    contract.partner_id,
                    self.device_type,
                    invoice_date,
                    company=contract.company_id,
                    site=contract.site_partner_id,
                )
                base_quantity = device_count
            else:
                base_quantity = self.quantity
            result.append(
                {
                    "contract_id": contract.id,
                    "recurring_line_id": self.id,
                    "kind": "recurring",
                    "date_start": start,
                    "date_end": end,
                    "period_end": pe,
                    "invoice_date": invoice_date,
                    "product_id": self.product_id.id,
                    "quantity": base_quantity,
                    # prorated on the price: invoice quantities have 2 decimals only
                    "price_unit": self.sudo().price_unit * factor,
                    "factor": factor,
                    "device_count": device_count,
                    "name": self._halo_period_label(start, end, device_count, factor),
                }
            )
            start = pe + timedelta(days=1)
        return result

    def _halo_period_label(self, start, end, device_count, factor):
        self.ensure_one()
        label = self.env._(
            "%(item)s %(start)s - %(end)s",
            item=self.name or self.product_id.display_name,
            start=start,
            end=end,
        )
        if self.quantity_mode == "devices":
            label += self.env._(" (%(count)s active devices)", count=device_count)
        if factor != 1.0:
            label += self.env._(
                " (prorated %(days)s/%(total)s days)",
                days=day_count(start, end),
                total=round(day_count(start, end) / factor),
            )
        return label
