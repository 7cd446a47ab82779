# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging
from collections import defaultdict
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Domain
from odoo.tools import float_round, format_amount

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER, CONSUMING_MODES
from odoo.addons.queue_job.job import identity_exact

from ...services.contract_dates import PERIOD_MONTHS, PERIODS, day_count, invoice_date_of, period_bounds
from .. import halo_money_thread as money_thread
from ..billing.res_company import ROUNDING_SCOPES
from ..halo_engine import LEDGER_SYSTEM  # lets system code write ledger entries other than adjustments
from .halo_customer_device import within_partner

_logger = logging.getLogger(__name__)

HOURS_DIGITS = 4
EPS = 1e-6
# Contracts per job of the daily contract cron
CONTRACT_CHUNK = 200
MODE_ORDERS = {
    "included_first": ("included", "prepay_hours", "prepay_money"),
    "prepay_first": ("prepay_hours", "prepay_money", "included"),
}


def _hours(value):
    return float_round(value, precision_digits=HOURS_DIGITS)


class HaloContract(models.Model):
    """A customer agreement: what is covered (fixed fee with included hours, prepay
    hours or money, PAYG beyond), how it is invoiced (period, advance/arrears, days
    ahead, recurring items) and its prepay balance, kept as a ledger.

    Rights: technicians read contracts (ticket banner) but no money fields; billing
    users create and edit them; billing managers may delete them.
    """

    _name = "halo.contract"
    _description = "Customer Contract"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "partner_id, date_start desc, id desc"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    reference = fields.Char(copy=False, help="Customer or contract reference shown on invoices.")
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_currency_id",
        store=True,
        readonly=False,
        precompute=True,
        required=True,
        tracking=True,
        help="Currency of the contract's fees, top-ups and money balance: by default the currency the "
        "customer is invoiced in.",
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
    )
    site_partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Site",
        check_company=True,
        domain="[('id', 'child_of', partner_id)]",
        help="Limit the contract to work for this site (a contact or address of the customer).",
    )
    contact_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer Contact",
        check_company=True,
        domain="[('id', 'child_of', partner_id)]",
        help="Receives threshold and expiry e-mails.",
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Account Manager",
        default=lambda self: self.env.user,
        tracking=True,
    )
    notify_partner_ids = fields.Many2many(
        comodel_name="res.partner",
        relation="halo_contract_notify_partner_rel",
        column1="contract_id",
        column2="partner_id",
        string="Notify",
        help="Also e-mailed when a threshold is crossed and before the contract expires.",
    )
    state = fields.Selection(
        selection=[
            ("draft", "Draft"),
            ("active", "Active"),
            ("expired", "Expired"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        copy=False,
        tracking=True,
        index=True,
    )
    date_start = fields.Date(
        string="Start Date", required=True, default=fields.Date.context_today, tracking=True
    )
    date_end = fields.Date(string="End Date", tracking=True, help="Empty = open-ended.")
    auto_renew = fields.Boolean(tracking=True)
    renewal_months = fields.Integer(
        string="Renewal Term (months)",
        default=12,
        help="On its end date an auto-renewing contract is extended by this many months.",
    )
    expiry_notice_days = fields.Integer(
        string="Expiry Reminder (days)",
        default=30,
        help="Reminders are sent this many days before the end date.",
    )
    expiry_reminder_date = fields.Date(
        compute="_compute_expiry_reminder_date",
        store=True,
        help="From this day the contract is listed as expiring soon.",
    )
    reminder_sent_for = fields.Date(
        string="Reminder Sent For End",
        copy=False,
        readonly=True,
        help="End date for which the expiry reminder was sent (one reminder per end date).",
    )
    # invoicing
    billing_period = fields.Selection(selection=PERIODS, default="monthly", required=True)
    invoice_timing = fields.Selection(
        selection=[("advance", "In advance"), ("arrears", "In arrears")],
        default="advance",
        required=True,
        help="In advance: invoice dated the first day of the period; in arrears: the day "
        "after the period ends.",
    )
    days_ahead = fields.Integer(
        default=0,
        help="Periodic invoices are created (as drafts) this many days before their date.",
    )
    next_period_start = fields.Date(
        copy=False,
        readonly=True,
        help="Start of the next fixed-fee period to invoice (advanced by the scheduled action).",
    )
    next_invoice_date = fields.Date(compute="_compute_next_invoice_date")
    # coverage: fixed fee
    fixed_fee = fields.Boolean(tracking=True)
    fee_product_id = fields.Many2one(
        comodel_name="product.product",
        check_company=True,
    )
    fee_amount = fields.Monetary(
        string="Fee per Period", currency_field="currency_id", tracking=True, groups=BILLING_USER
    )
    fee_rate_ids = fields.Many2many(
        comodel_name="halo.charge.rate",
        relation="halo_contract_fee_rate_rel",
        column1="contract_id",
        column2="rate_id",
        string="Rates Covered by the Fee",
        help="Work at these rates is covered by the fee (up to the included hours).",
    )
    included_hours = fields.Float(
        string="Included Hours per Period",
        digits=(16, 2),
        help="0 = unlimited work at the covered rates.",
    )
    rollover_policy = fields.Selection(
        selection=[
            ("none", "None"),
            ("all", "All"),
            ("percent", "Percentage"),
            ("capped", "Capped"),
        ],
        default="none",
        required=True,
        help="Unused included hours of an ended period added to the hours balance.",
    )
    rollover_value = fields.Float(help="Percentage (for 'Percentage') or maximum hours ('Capped').")
    rollover_delay_days = fields.Integer(
        default=5,
        help="Days after a period ends before its unused hours are rolled over "
        "(leaves time to bill the period's work).",
    )
    # coverage: prepay
    prepay_kind = fields.Selection(
        selection=[("none", "None"), ("hours", "Prepaid hours"), ("money", "Prepaid money")],
        default="none",
        required=True,
        tracking=True,
    )
    prepay_rate_ids = fields.Many2many(
        comodel_name="halo.charge.rate",
        relation="halo_contract_prepay_rate_rel",
        column1="contract_id",
        column2="rate_id",
        string="Rates Covered by Prepay",
        help="Empty = all work (for money: every charge, including mileage, expenses, items).",
    )
    consumption_order = fields.Selection(
        selection=[
            ("included_first", "Included → Prepay → PAYG"),
            ("prepay_first", "Prepay → Included → PAYG"),
        ],
        default="included_first",
        required=True,
    )
    topup_block = fields.Float(
        string="Top-up Block",
        digits=(16, 2),
        groups=BILLING_USER,
        help="Hours (prepaid hours) or money (prepaid money) credited by one top-up.",
    )
    topup_product_id = fields.Many2one(
        comodel_name="product.product", string="Top-up Product", check_company=True
    )
    topup_price = fields.Monetary(
        string="Top-up Price",
        currency_field="currency_id",
        groups=BILLING_USER,
        help="Invoiced price of one top-up block.",
    )
    topup_requires_payment = fields.Boolean(
        string="Top-up Counts When Paid",
        help="A top-up adds to the balance only once its invoice is paid.",
    )
    auto_topup = fields.Boolean(
        string="Auto Top-up", help="Create a top-up invoice when the threshold is crossed."
    )
    threshold_type = fields.Selection(
        selection=[("absolute", "Hours / amount remaining"), ("percent", "% remaining")],
    )
    threshold_value = fields.Float(
        groups=BILLING_USER,
        help="Hours (prepaid hours), amount (prepaid money), or percentage of the last top-up.",
    )
    on_exhausted = fields.Selection(
        selection=[("warn", "Warn"), ("block", "Block")],
        default="warn",
        required=True,
        string="New Ticket When Exhausted",
    )
    on_expired = fields.Selection(
        selection=[("payg", "Bill as PAYG"), ("block", "Block")],
        default="payg",
        required=True,
        string="Work After Expiry",
    )
    expire_balance = fields.Boolean(
        string="Balance Expires With Contract",
        default=True,
        help="When the contract expires, the remaining prepay balance is written off.",
    )
    # scope: consumption, rounding and default rate of the work the contract governs
    consumption_multiplier = fields.Float(
        string="Consumption ×",
        default=1.0,
        digits=(6, 3),
        tracking=True,
        help="Prepaid and included hours drawn per hour of covered work (1.5: an hour of "
        "work uses 1.5 hours of the balance).",
    )
    consumption_ooh_multiplier = fields.Float(
        string="Out-of-hours Consumption ×",
        default=1.0,
        digits=(6, 3),
        tracking=True,
        help="Extra factor for out-of-hours time (multiplies the consumption ×).",
    )
    consumption_holiday_multiplier = fields.Float(
        string="Holiday Consumption ×",
        default=1.0,
        digits=(6, 3),
        tracking=True,
        help="Extra factor for holiday time (multiplies the consumption ×).",
    )
    rounding_scope = fields.Selection(
        selection=ROUNDING_SCOPES,
        help="Rounding scope of the work this contract governs; empty = the customer's setting.",
    )
    default_rate_id = fields.Many2one(
        comodel_name="halo.charge.rate",
        string="Default Charge Rate",
        check_company=True,
        domain=[("kind", "=", "labour")],
        help="Charge rate of new actions on tickets this contract governs (before the "
        "customer's, the team's and the company's).",
    )
    threshold_alerted = fields.Boolean(
        string="Threshold Notified",
        copy=False,
        readonly=True,
        help="The crossing of the threshold was notified; set again once the balance is above it.",
    )
    threshold_alert_credit = fields.Float(
        copy=False,
        readonly=True,
        groups=BILLING_USER,
        help="Hours or money credited to the balance when the threshold was notified (more "
        "credited since arms the threshold again).",
    )
    # relations
    ledger_ids = fields.One2many(
        comodel_name="halo.contract.ledger",
        inverse_name="contract_id",
        groups=BILLING_USER,
    )
    recurring_line_ids = fields.One2many(
        comodel_name="halo.contract.recurring.line",
        inverse_name="contract_id",
        string="Recurring Items",
        copy=True,
        groups=BILLING_USER,
    )
    period_ids = fields.One2many(
        comodel_name="halo.contract.period",
        inverse_name="contract_id",
        string="Invoiced Periods",
        groups=BILLING_USER,
    )
    rate_version_ids = fields.One2many(
        comodel_name="halo.charge.rate.version",
        inverse_name="contract_id",
        string="Rate Overrides",
        groups=BILLING_USER,
    )
    invoice_ids = fields.One2many(
        comodel_name="account.move",
        inverse_name="halo_contract_id",
        string="Invoices",
        groups=BILLING_USER,
    )
    invoice_count = fields.Integer(compute="_compute_invoice_count", groups=BILLING_USER)
    # balances (from the ledger, never typed in)
    balance_hours = fields.Float(
        string="Hours Balance",
        compute="_compute_balance",
        store=True,
        digits=(16, 2),
        help="Prepaid and rolled-over hours left (counted ledger entries).",
    )
    balance_amount = fields.Monetary(
        string="Money Balance",
        compute="_compute_balance",
        store=True,
        currency_field="currency_id",
        groups=BILLING_USER,
    )
    threshold_reached = fields.Boolean(compute="_compute_balance", store=True)
    included_remaining = fields.Float(
        string="Included Hours Left",
        compute="_compute_included_remaining",
        digits=(16, 2),
        help="Included hours left in the current period.",
    )
    contract_type = fields.Char(compute="_compute_contract_type")

    _dates_ordered = models.Constraint(
        "CHECK (date_end IS NULL OR date_end >= date_start)",
        "A contract cannot end before it starts.",
    )
    _non_negative = models.Constraint(
        "CHECK (included_hours >= 0 AND days_ahead >= 0 AND topup_block >= 0 "
        "AND rollover_value >= 0 AND threshold_value >= 0 AND expiry_notice_days >= 0 "
        "AND renewal_months >= 0 AND rollover_delay_days >= 0)",
        "Hours, days, blocks and thresholds cannot be negative.",
    )
    _consumption_positive = models.Constraint(
        "CHECK (consumption_multiplier > 0 AND consumption_ooh_multiplier > 0 "
        "AND consumption_holiday_multiplier > 0)",
        "Consumption multipliers must be positive.",
    )

    # ------------------------------------------------------------------ chatter (messages carry money)
    def _mail_get_operation_for_mail_message_operation(self, message_operation):
        return money_thread.read_needs_write(
            self.env,
            super()._mail_get_operation_for_mail_message_operation(message_operation),
            message_operation,
        )

    def _notify_get_recipients(self, message, msg_vals=False, **kwargs):
        recipients = super()._notify_get_recipients(message, msg_vals=msg_vals, **kwargs)
        return money_thread.billing_recipients(self.env, recipients, message, msg_vals)

    def _halo_money_recipients(self, partners):
        """``partners`` without those of internal users outside the billing groups."""
        billing_uids = money_thread.billing_user_ids(self.env)
        return partners.filtered(
            lambda partner: (
                not any(not user.share and user.id not in billing_uids for user in partner.sudo().user_ids)
            )
        )

    # ------------------------------------------------------------------ computes

    @api.depends("date_end", "expiry_notice_days", "state")
    def _compute_expiry_reminder_date(self):
        for contract in self:
            contract.expiry_reminder_date = contract.date_end and (
                contract.date_end - timedelta(days=contract.expiry_notice_days)
            )

    @api.depends("next_period_start", "recurring_line_ids.next_date", "state", "fixed_fee")
    def _compute_next_invoice_date(self):
        for contract in self:
            dates = []
            if contract.state == "active" and contract.fixed_fee:
                start = contract.next_period_start or contract.date_start
                if not contract.date_end or start <= contract.date_end:
                    ps, pe = contract._halo_period_bounds(start)
                    dates.append(invoice_date_of(contract.invoice_timing, ps, pe))
            if contract.state == "active":
                dates += [d for d in contract.sudo().recurring_line_ids._halo_next_invoice_dates() if d]
            contract.next_invoice_date = min(dates) if dates else False

    def _compute_invoice_count(self):
        counts = dict(
            self.env["account.move"]._read_group(
                [("halo_contract_id", "in", self.ids)], ["halo_contract_id"], ["__count"]
            )
        )
        for contract in self:
            contract.invoice_count = counts.get(contract, 0)

    @api.depends(
        "ledger_ids.hours",
        "ledger_ids.amount",
        "ledger_ids.is_counted",
        "ledger_ids.bucket",
        "threshold_type",
        "threshold_value",
        "prepay_kind",
    )
    def _compute_balance(self):
        groups = (
            self.env["halo.contract.ledger"]
            .sudo()
            ._read_group(
                [("contract_id", "in", self.ids), ("bucket", "=", "prepay"), ("is_counted", "=", True)],
                ["contract_id"],
                ["hours:sum", "amount:sum"],
            )
        )
        balances = {contract.id: (hours, amount) for contract, hours, amount in groups}
        for contract in self:
            hours, amount = balances.get(contract.id, (0.0, 0.0))
            contract.balance_hours = _hours(hours)
            contract.balance_amount = contract.currency_id.round(amount)
            level = contract._halo_threshold_level()
            contract.threshold_reached = (
                level is not None and contract._halo_threshold_balance() <= level + EPS
            )

    @api.depends_context("date")
    def _compute_included_remaining(self):
        today = fields.Date.context_today(self)
        remaining = self._halo_included_remaining_at(today)
        for contract in self:
            contract.included_remaining = remaining.get(contract.id, 0.0)

    @api.depends("fixed_fee", "included_hours", "prepay_kind")
    def _compute_contract_type(self):
        labels = dict(self._fields["prepay_kind"]._description_selection(self.env))
        for contract in self:
            parts = []
            if contract.fixed_fee:
                parts.append(
                    self.env._("Fixed fee (%(hours)s h included)", hours=contract.included_hours)
                    if contract.included_hours
                    else self.env._("Fixed fee")
                )
            if contract.prepay_kind != "none":
                parts.append(labels[contract.prepay_kind])
            parts.append(self.env._("PAYG"))
            contract.contract_type = " + ".join(parts)

    @api.depends("name", "reference", "partner_id")
    def _compute_display_name(self):
        for contract in self:
            ref = f" [{contract.reference}]" if contract.reference else ""
            contract.display_name = f"{contract.name or ''}{ref}"

    # ---------------------------------------------------------------- constraints

    def write(self, vals):
        """A money balance is kept in the contract's currency: it cannot change under it."""
        if "currency_id" in vals or "partner_id" in vals:
            before = {contract.id: contract.currency_id for contract in self}
            result = super().write(vals)
            for contract in self:
                if contract.currency_id != before[contract.id] and contract.sudo().ledger_ids.filtered(
                    "amount"
                ):
                    raise ValidationError(
                        self.env._(
                            "Contract %(contract)s already has money balance movements in %(currency)s; "
                            "its currency cannot change.",
                            contract=contract.display_name,
                            currency=before[contract.id].name,
                        )
                    )
            return result
        return super().write(vals)

    @api.constrains(
        "fixed_fee",
        "fee_product_id",
        "auto_topup",
        "topup_product_id",
        "topup_block",
        "prepay_kind",
        "site_partner_id",
        "partner_id",
        "rollover_policy",
        "rollover_value",
    )
    def _check_configuration(self):
        for contract in self:
            if contract.fixed_fee and not contract.fee_product_id:
                raise ValidationError(
                    self.env._(
                        "Contract %(name)s: a fixed fee needs a fee product.", name=contract.display_name
                    )
                )
            if contract.auto_topup and (
                contract.prepay_kind == "none" or not contract.topup_product_id or contract.topup_block <= 0
            ):
                raise ValidationError(
                    self.env._(
                        "Contract %(name)s: auto top-up needs a prepay kind, a top-up product and a block.",
                        name=contract.display_name,
                    )
                )
            if contract.site_partner_id and (
                contract.site_partner_id.commercial_partner_id != contract.partner_id.commercial_partner_id
            ):
                raise ValidationError(
                    self.env._(
                        "Contract %(name)s: the site must belong to the customer.", name=contract.display_name
                    )
                )
            if contract.rollover_policy == "percent" and contract.rollover_value > 100:
                raise ValidationError(
                    self.env._(
                        "Contract %(name)s: a rollover percentage cannot exceed 100.",
                        name=contract.display_name,
                    )
                )

    # ------------------------------------------------------------------- helpers

    @api.depends("partner_id", "company_id")
    def _compute_currency_id(self):
        for contract in self:
            if contract.partner_id:
                contract.currency_id = contract.partner_id._halo_billing_currency(contract.company_id)
            elif not contract.currency_id:
                contract.currency_id = (contract.company_id or self.env.company).currency_id

    def _halo_period_bounds(self, day):
        self.ensure_one()
        return period_bounds(self.date_start, PERIOD_MONTHS[self.billing_period], day)

    def _halo_covers_date(self, day):
        self.ensure_one()
        return self.date_start <= day and (not self.date_end or day <= self.date_end)

    # ------------------------------------------------------- scope of the work

    def _halo_covers_site(self, work_partner):
        """The work of ``work_partner`` (a ticket's partner) is for this contract's site:
        always for a customer-wide contract; for a site contract when the partner is the
        site or one of its contacts / addresses."""
        self.ensure_one()
        return not self.site_partner_id or within_partner(work_partner, self.site_partner_id)

    def _halo_covers_rate(self, rate_id):
        """Work at ``rate_id`` is what this contract covers: a rate of its fixed fee or of
        its prepay (a prepay without rates covers all), a rate it overrides, or any rate
        for a contract with neither fee nor prepay (a price agreement)."""
        self.ensure_one()
        contract = self.sudo()
        if not contract.fixed_fee and contract.prepay_kind == "none":
            return True
        if rate_id in contract.rate_version_ids.rate_id.ids:
            return True
        if contract.fixed_fee and rate_id in contract.fee_rate_ids.ids:
            return True
        return contract.prepay_kind != "none" and (
            not contract.prepay_rate_ids or rate_id in contract.prepay_rate_ids.ids
        )

    @api.model
    def _halo_scope_contracts(self, partners, company):
        """Contracts of the customers of ``partners`` with ``company`` that can govern work:
        active, or expired (for work inside their dates), newest first."""
        commercial = partners.commercial_partner_id
        if not commercial:
            return self.browse()
        return self.sudo().search(
            [
                ("partner_id", "in", commercial.ids),
                ("company_id", "=", company.id),
                ("state", "in", ("active", "expired")),
            ],
            order="date_start desc, id desc",
        )

    def _halo_in_scope(self, work_partner, day):
        """``self`` (candidates, newest first) that cover ``day`` and the site of the work,
        a site's own contracts first."""
        mine = self.filtered(
            lambda c: (
                c.partner_id == work_partner.commercial_partner_id
                and c._halo_covers_date(day)
                and c._halo_covers_site(work_partner)
            )
        )
        return mine.sorted(lambda c: 0 if c.site_partner_id else 1)

    def _halo_governing_contract(self, work_partner, day, rate_id):
        """The contract that governs work of ``work_partner`` on ``day`` at ``rate_id``
        (its price overrides, rounding scope and consumption apply): the first of
        ``self`` (candidates from ``_halo_scope_contracts``) in scope that covers the
        rate; an empty recordset when none does."""
        for contract in self._halo_in_scope(work_partner, day):
            if contract._halo_covers_rate(rate_id):
                return contract
        return self.browse()

    def _halo_consumption_factor(self, charge):
        """Hours of the balance drawn per hour of ``charge``: the contract's multiplier ×
        the charge rate's, × the out-of-hours / holiday factor for that time (averaged over
        the charge's ``segments``: {"normal"|"ooh"|"holiday": hours})."""
        self.ensure_one()
        rate = self.env["halo.charge.rate"].sudo().browse(charge.get("rate_id") or [])
        base = self.consumption_multiplier * (rate.consumption_multiplier if rate else 1.0)
        segments = {k: v for k, v in (charge.get("segments") or {}).items() if v}
        total = sum(segments.values())
        if not total:
            return base
        extra = {"ooh": self.consumption_ooh_multiplier, "holiday": self.consumption_holiday_multiplier}
        return base * sum(hours * extra.get(kind, 1.0) for kind, hours in segments.items()) / total

    def _halo_threshold_balance(self):
        """The balance thresholds and exhaustion look at: hours or money."""
        self.ensure_one()
        return self.sudo().balance_amount if self.prepay_kind == "money" else self.balance_hours

    def _halo_threshold_level(self):
        """Threshold in balance units, or None when the contract has none."""
        self.ensure_one()
        contract = self.sudo()  # money on money contracts: billing groups only
        if contract.prepay_kind == "none" or not contract.threshold_type:
            return None
        if contract.threshold_type == "absolute":
            return contract.threshold_value
        reference = contract.topup_block or contract._halo_last_topup_size()
        if not reference:
            return None
        return reference * contract.threshold_value / 100.0

    def _halo_last_topup_size(self):
        self.ensure_one()
        last = (
            self.env["halo.contract.ledger"]
            .sudo()
            .search(
                [("contract_id", "=", self.id), ("kind", "=", "topup"), ("is_counted", "=", True)],
                order="date desc, id desc",
                limit=1,
            )
        )
        return last.amount if self.prepay_kind == "money" else last.hours

    def _halo_format_balance(self, value, kind=None, show_money=True):
        self.ensure_one()
        if (kind or self.prepay_kind) == "money":
            if not show_money:
                return self.env._("(amount visible to billing users)")
            return format_amount(self.env, value, self.currency_id)
        return self.env._("%(hours)s h", hours=f"{value:.2f}")

    def _halo_shows_money(self):
        """Whether the current user may read money amounts (a billing group, or the system
        itself, e.g. the billing engine rendering a customer's e-mail)."""
        return self.env.su or self.env.user.has_group(BILLING_USER)

    def halo_balance_text(self):
        """Remaining balance as text, for mail templates (rendered by any user). Callers
        outside the billing groups get hours, or "exhausted" / a placeholder for money."""
        self.ensure_one()
        self.check_access("read")
        balance = self.sudo()._halo_threshold_balance()
        if self.prepay_kind == "money" and not self._halo_shows_money():
            if balance <= EPS:
                return self.env._("exhausted")
            return self._halo_format_balance(balance, show_money=False)
        return self._halo_format_balance(balance)

    def _halo_ticket_remaining_text(self, day):
        """What is left of the contract, as shown on a ticket to anyone who reads it: prepaid
        hours, included hours of a fixed fee this period; for prepaid money the amount to
        billing users only, "exhausted" or "in credit" to the others (never an amount)."""
        self.ensure_one()
        contract = self.sudo()
        parts = []
        if contract.prepay_kind == "hours":
            parts.append(
                self.env._("%(hours)s h prepaid left", hours=f"{contract._halo_threshold_balance():.2f}")
            )
        elif contract.prepay_kind == "money":
            balance = contract._halo_threshold_balance()
            if balance <= EPS:
                parts.append(self.env._("prepaid balance exhausted"))
            elif self._halo_shows_money():
                parts.append(
                    self.env._("%(amount)s prepaid left", amount=contract._halo_format_balance(balance))
                )
            else:
                parts.append(self.env._("prepaid balance in credit"))
        if contract.fixed_fee and contract.fee_rate_ids:
            included = contract._halo_included_remaining_at(day)[contract.id]
            parts.append(self.env._("%(hours)s h included left this period", hours=f"{included:.2f}"))
        return ", ".join(parts) or False

    def halo_projected_balance_text(self):
        """Balance left once the rated work not invoiced yet is billed, as text (mail
        templates)."""
        self.ensure_one()
        self.check_access("read")
        contract = self.sudo()
        pending = contract._halo_pending_consumption().get(contract.id, 0.0)
        return self._halo_format_balance(
            contract._halo_threshold_balance() - pending,
            show_money=self._halo_shows_money(),
        )

    def _halo_has_balance(self):
        """The contract has a balance that work uses up: prepaid hours or money, or
        included hours of a fixed fee that covers rates (a fee covering no rate has none)."""
        self.ensure_one()
        return self.prepay_kind != "none" or bool(self.fixed_fee and self.fee_rate_ids)

    def _halo_allocation_state(self):
        """Balances and included-hour usage of ``self``, read once for an allocation."""
        Ledger = self.env["halo.contract.ledger"].sudo()
        state = {
            contract.id: {"hours": 0.0, "amount": 0.0, "included": defaultdict(float), "rolled": set()}
            for contract in self
        }
        if not self:
            return state
        for contract, hours, amount in Ledger._read_group(
            [("contract_id", "in", self.ids), ("bucket", "=", "prepay"), ("is_counted", "=", True)],
            ["contract_id"],
            ["hours:sum", "amount:sum"],
        ):
            state[contract.id]["hours"] = hours
            state[contract.id]["amount"] = amount
        by_id = {contract.id: contract for contract in self}
        entries = Ledger.search_fetch(
            [("contract_id", "in", self.ids), ("bucket", "=", "included")],
            ["contract_id", "date", "hours", "kind", "period_start"],
        )
        for entry in entries:
            contract = by_id[entry.contract_id.id]
            if entry.kind == "rollover":
                state[contract.id]["rolled"].add(entry.period_start)
            start = contract._halo_period_bounds(entry.date)[0]
            # consumption is negative, hours rolled in from the previous period positive
            state[contract.id]["included"][start] -= entry.hours
        return state

    def _halo_included_available(self, st, day):
        """Included hours left for the period of ``day`` (inf when unlimited)."""
        self.ensure_one()
        if not self.fixed_fee or not self._halo_covers_date(day):
            return 0.0
        if not self.included_hours:
            return float("inf")
        start = self._halo_period_bounds(day)[0]
        if start in st["rolled"]:
            return 0.0  # closed: its unused hours were rolled over to the next period
        return max(self.included_hours - st["included"][start], 0.0)

    def _halo_included_remaining_at(self, day):
        state = self._halo_allocation_state()
        result = {}
        for contract in self:
            available = contract._halo_included_available(state[contract.id], day)
            result[contract.id] = 0.0 if available == float("inf") else _hours(available)
        return result

    def _halo_is_exhausted(self, day, state=None):
        """All the coverage of the contract is used up on ``day``."""
        self.ensure_one()
        state = state or self._halo_allocation_state()
        st = state[self.id]
        if self.fixed_fee and self.fee_rate_ids and self._halo_included_available(st, day) > EPS:
            return False
        if st["hours"] > EPS:
            return False
        if self.prepay_kind == "money" and st["amount"] > EPS:
            return False
        return True

    # ------------------------------------------------------------------- actions

    def action_activate(self):
        for contract in self.filtered(lambda c: c.state == "draft"):
            contract.write(
                {
                    "state": "active",
                    "next_period_start": contract.next_period_start or contract.date_start,
                }
            )

    def action_cancel(self):
        self.write({"state": "cancelled"})

    def action_reset_draft(self):
        self.filtered(lambda c: c.state == "cancelled").write({"state": "draft"})

    def action_topup(self):
        """Button: create the top-up invoice of the configured block."""
        contracts = self.filtered(lambda c: c.prepay_kind != "none")
        if not contracts:
            raise UserError(self.env._("Only prepay contracts can be topped up."))
        for contract in contracts:
            if not contract.topup_product_id or contract.topup_block <= 0:
                raise UserError(
                    self.env._(
                        "Contract %(name)s: set a top-up product and block first.", name=contract.display_name
                    )
                )
        moves = contracts._halo_create_topups()
        return moves._get_records_action(name=self.env._("Top-up Invoices"))

    def action_open_invoices(self):
        self.ensure_one()
        return self.invoice_ids._get_records_action(name=self.env._("Contract Invoices"))

    def action_open_ledger(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "halo_helpdesk_billing.halo_contract_ledger_action"
        )
        action["domain"] = [("contract_id", "=", self.id)]
        action["context"] = {"default_contract_id": self.id, "default_kind": "adjustment"}
        return action

    # ------------------------------------------------------------------ top-ups

    def _prepare_topup_invoice_vals(self):
        self.ensure_one()
        if self.prepay_kind == "money":
            what = format_amount(self.env, self.topup_block, self.currency_id)
        else:
            what = self.env._("%(hours)s hours", hours=f"{self.topup_block:.2f}")
        return {
            "move_type": "out_invoice",
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "invoice_date": fields.Date.context_today(self),
            "invoice_origin": self.display_name,
            "halo_contract_id": self.id,
            "invoice_line_ids": [
                Command.create(
                    {
                        "product_id": self.topup_product_id.id,
                        "name": self.env._(
                            "Prepay top-up %(what)s - %(contract)s", what=what, contract=self.display_name
                        ),
                        "quantity": 1.0,
                        "price_unit": self.sudo().topup_price,
                        "halo_kind": "topup",
                    }
                )
            ],
            "currency_id": self.currency_id.id,
        }

    def _prepare_topup_ledger_vals(self, move):
        self.ensure_one()
        money = self.prepay_kind == "money"
        return {
            "contract_id": self.id,
            "date": fields.Date.context_today(self),
            "kind": "topup",
            "bucket": "prepay",
            "hours": 0.0 if money else self.topup_block,
            "amount": self.topup_block if money else 0.0,
            "invoice_id": move.id,
            "requires_payment": self.topup_requires_payment,
            "explanation": self.env._(
                "Top-up invoiced on %(invoice)s%(paid)s",
                invoice=move.display_name,
                paid=self.env._(" (counts once paid)") if self.topup_requires_payment else "",
            ),
        }

    def _halo_create_topups(self):
        """Create one top-up invoice (draft) and its ledger entry per contract."""
        moves = (
            self.env["account.move"]
            .sudo()
            .create([contract._prepare_topup_invoice_vals() for contract in self])
        )
        self.env["halo.contract.ledger"].sudo().with_context(**{LEDGER_SYSTEM.key: LEDGER_SYSTEM}).create(
            [contract._prepare_topup_ledger_vals(move) for contract, move in zip(self, moves, strict=True)]
        )
        for contract, move in zip(self, moves, strict=True):
            contract.message_post(
                body=self.env._("Top-up invoice %(invoice)s created.", invoice=move.display_name)
            )
        return moves.sudo(False)

    # ---------------------------------------------------------------- thresholds

    def _halo_check_thresholds(self, before=None):
        """Thresholds after a billing run's consumption (``before``, the balances before it,
        is no longer needed: see ``_halo_update_threshold_alerts``)."""
        return self._halo_update_threshold_alerts()

    @api.model
    def _halo_check_work_thresholds(self, tickets):
        """Thresholds checked as work is rated, for the prepay contracts of the tickets'
        customers with the tickets' companies."""
        tickets = tickets.sudo()
        for company, batch in tickets.grouped("company_id").items():
            contracts = self.sudo().search(
                [
                    ("partner_id", "in", batch.commercial_partner_id.ids),
                    ("company_id", "=", (company or self.env.company).id),
                    ("state", "=", "active"),
                    ("prepay_kind", "!=", "none"),
                    ("threshold_type", "!=", False),
                ]
            )
            contracts._halo_update_threshold_alerts()

    def _halo_update_threshold_alerts(self):
        """Notify (and auto top-up) the contracts whose balance, once the rated work not
        invoiced yet is billed (``_halo_pending_consumption``), is at or below their
        threshold: once (``threshold_alerted``). A contract is armed again when that balance
        is above the threshold, or when something was credited since the alert (a top-up
        counted, paid or not checked in between). Returns the contracts notified."""
        contracts = self.sudo().filtered(lambda c: c._halo_threshold_level() is not None)
        if not contracts:
            return self.browse()
        pending = contracts._halo_pending_consumption()
        credits = contracts._halo_credit_totals()
        crossed = self.browse()
        for contract in contracts:
            level = contract._halo_threshold_level()
            if contract.threshold_alerted and credits.get(contract.id, 0.0) > (
                contract.threshold_alert_credit + EPS
            ):
                contract.threshold_alerted = False
            projected = contract._halo_threshold_balance() - pending.get(contract.id, 0.0)
            if projected <= level + EPS:
                if not contract.threshold_alerted:
                    crossed |= contract
            elif contract.threshold_alerted:
                contract.threshold_alerted = False
        return crossed._halo_notify_threshold()

    def _halo_credit_totals(self):
        """{contract id: hours (or money) ever credited to the prepay balance and counted}."""
        result = {}
        for contract, hours, amount in (
            self.env["halo.contract.ledger"]
            .sudo()
            ._read_group(
                [
                    ("contract_id", "in", self.ids),
                    ("bucket", "=", "prepay"),
                    ("is_counted", "=", True),
                    "|",
                    ("hours", ">", 0),
                    ("amount", ">", 0),
                ],
                ["contract_id"],
                ["hours:sum", "amount:sum"],
            )
        ):
            result[contract.id] = amount if contract.prepay_kind == "money" else hours
        return result

    def _halo_notify_threshold(self):
        """The threshold notification (billing staff: notify partners, account manager;
        the customer contact) and the auto top-up, once per crossing."""
        if not self:
            return self
        contracts = self.sudo()
        template = self.env.ref("halo_helpdesk_billing.halo_contract_threshold_mail_template")
        for contract in contracts:
            partners = contract.notify_partner_ids | contract.contact_id | contract.user_id.partner_id
            # contract messages are for billing staff and the customer: no technician
            partners = contract._halo_money_recipients(partners)
            contract.message_post_with_source(
                template,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                partner_ids=partners.ids,
            )
        to_topup = contracts.filtered(lambda c: c.auto_topup and not c._halo_pending_topup())
        if to_topup:
            to_topup._halo_create_topups()
        credits = contracts._halo_credit_totals()  # the auto top-up included
        for contract in contracts:
            contract.write(
                {
                    "threshold_alerted": True,
                    "threshold_alert_credit": credits.get(contract.id, 0.0),
                }
            )
        return self

    def _halo_pending_consumption(self):
        """{contract id: hours (prepaid hours) or money (prepaid money)} that the rated
        actions and travel time of the contracts' customers not invoiced yet will draw
        from the balance, allocated as a billing run of each contract's company would."""
        result = defaultdict(float)
        for company, contracts in self.sudo().grouped("company_id").items():
            # not invoiced yet; the work of an invoiced run (draft invoices) is in the ledger
            lines = (
                self.env["account.analytic.line"]
                .sudo()
                .search_fetch(
                    [
                        ("halo_ticket_id.commercial_partner_id", "in", contracts.partner_id.ids),
                        ("company_id", "=", company.id),
                        ("halo_billing_state", "in", ("unbilled", "in_run")),
                        "|",
                        ("halo_run_id", "=", False),
                        ("halo_run_id.state", "!=", "invoiced"),
                        ("halo_rate_version_id", "!=", False),
                    ],
                    [
                        "halo_ticket_id",
                        "halo_kind",
                        "halo_charge_rate_id",
                        "halo_billable_hours",
                        "halo_rated_amount",
                        "halo_rating_data",
                        "date",
                    ],
                )
            )
            charges = []
            for line in lines:
                segments = defaultdict(float)
                for seg in (line.halo_rating_data or {}).get("segments") or []:
                    segments[seg["kind"]] += float(seg["quantity"])
                ticket = line.halo_ticket_id
                charges.append(
                    {
                        "key": line.id,
                        "partner_id": ticket.commercial_partner_id.id,
                        "work_partner_id": ticket.partner_id.id or ticket.commercial_partner_id.id,
                        "date": line.date,
                        "kind": line.halo_kind or "labour",
                        "rate_id": line.halo_charge_rate_id.id,
                        "hours": line.halo_billable_hours,
                        "amount": line.halo_rated_amount,
                        "segments": dict(segments),
                        # rated in the customer's billing currency; a money balance is in the contract's
                        "currency_id": (line.halo_rating_data or {}).get("currency_id")
                        or ticket.commercial_partner_id._halo_billing_currency(company).id,
                    }
                )
            for parts in self._halo_allocate_charges(charges, company).values():
                for part in parts:
                    if part["contract_id"] not in contracts.ids:
                        continue
                    if part["mode"] == "prepay_hours":
                        result[part["contract_id"]] += part.get("consumed", part["hours"])
                    elif part["mode"] == "prepay_money":
                        result[part["contract_id"]] += part.get("balance_amount", part["amount"])
        return dict(result)

    def _halo_pending_topup(self):
        """A top-up invoice still waiting for payment (prevents a second auto top-up)."""
        self.ensure_one()
        return (
            self.env["halo.contract.ledger"]
            .sudo()
            .search_count(
                [
                    ("contract_id", "=", self.id),
                    ("kind", "=", "topup"),
                    ("is_counted", "=", False),
                    ("invoice_id.state", "!=", "cancel"),
                ],
                limit=1,
            )
        )

    # ------------------------------------------------------- billing-engine API

    @api.model
    def _halo_allocate_charges(self, charges, company=None):
        """Split rated charges over the customers' contracts of ``company`` (the company of
        the billing run; default: the current one), never another company's.

        ``charges``: list of dicts {"key", "partner_id", "date", "kind", "rate_id", "hours",
        "amount"}, optionally "work_partner_id" (the ticket's partner: a site contract covers
        the work of its site only; default: ``partner_id``) and "segments" ({"normal" |
        "ooh" | "holiday": hours}, for the consumption multipliers). Returns {key: [part,
        ...]}, a part being {"mode": "included" | "prepay_hours" | "prepay_money" | "payg" |
        "blocked", "contract_id", "hours", "amount", "explanation"}, hour-based parts also
        "consumed" (the hours drawn from the balance: ``hours`` × the consumption factor).
        The parts of a charge sum exactly to its hours and its amount: included and
        prepay_hours parts carry the PAYG value they cover (billed at 0), prepay_money
        parts the money taken from the balance, payg/blocked parts the amount to bill.
        Charges are allocated in date order; each one sees the ledger balances minus what
        earlier charges of this call took. Nothing is written.
        """
        if not charges:
            return {}
        company = company or self.env.company
        self = self.with_company(company)  # noqa: PLW0642 - amounts rounded in its currency
        partners = self.env["res.partner"].browse({charge["partner_id"] for charge in charges})
        work_partners = (
            self.env["res.partner"]
            .sudo()
            .browse({charge.get("work_partner_id") or charge["partner_id"] for charge in charges})
        )
        contracts = self.sudo().search(
            [
                ("partner_id", "in", partners.commercial_partner_id.ids),
                ("company_id", "=", company.id),
                ("state", "in", ("active", "expired")),
            ],
            order="date_start desc, id desc",
        )
        state = contracts._halo_allocation_state()
        by_partner = defaultdict(list)
        for contract in contracts:
            by_partner[contract.partner_id.id].append(contract)
        result = {}
        commercial = {partner.id: partner.commercial_partner_id.id for partner in partners}
        order = sorted(range(len(charges)), key=lambda i: (charges[i]["date"], i))
        for index in order:
            charge = charges[index]
            customer_contracts = by_partner.get(commercial[charge["partner_id"]])
            if not customer_contracts:
                result[charge["key"]] = self._halo_allocate_one(charge, [], state)
                continue
            work_partner = work_partners.browse(charge.get("work_partner_id") or charge["partner_id"])
            candidates = [
                contract for contract in customer_contracts if contract._halo_covers_site(work_partner)
            ]
            # a site's own contract goes before the customer-wide ones
            candidates.sort(key=lambda c: 0 if c.site_partner_id else 1)
            result[charge["key"]] = self._halo_allocate_one(charge, candidates, state)
        return result

    @api.model
    def _halo_allocate_one(self, charge, candidates, state):
        currency = self.env.company.currency_id
        day = charge["date"]
        total_hours = charge.get("hours") or 0.0
        total_amount = charge.get("amount") or 0.0
        hours_left, amount_left = total_hours, total_amount
        parts = []
        in_date = [c for c in candidates if c._halo_covers_date(day)]
        for contract in in_date:
            for mode in MODE_ORDERS[contract.consumption_order]:
                if hours_left <= EPS and abs(amount_left) <= EPS:
                    break
                taken = contract._halo_take(mode, charge, hours_left, amount_left, state[contract.id])
                if not taken:
                    continue
                hours, amount, explanation, consumed = taken
                part = {
                    "mode": mode,
                    "contract_id": contract.id,
                    "hours": hours,
                    "amount": amount,
                    "explanation": explanation,
                }
                if consumed is not None:
                    part["consumed"] = consumed
                if "balance_taken" in state[contract.id]:
                    part["balance_amount"] = state[contract.id].pop("balance_taken")
                parts.append(part)
                hours_left = _hours(hours_left - hours)
                amount_left = currency.round(amount_left - amount)
        if hours_left > EPS or abs(amount_left) > EPS or not parts:
            parts.append(self._halo_remainder_part(charge, in_date, candidates, hours_left, amount_left))
        return parts

    def _halo_take(self, mode, charge, hours_left, amount_left, st):
        """How much of the charge's remainder ``mode`` of this contract covers:
        (hours, amount, explanation, consumed) or None, ``consumed`` being the hours drawn
        from the balance (None for money); updates ``st`` (the pending balances)."""
        self.ensure_one()
        currency = self.currency_id
        rate_id = charge.get("rate_id")
        day = charge["date"]
        if mode == "prepay_money":
            if self.prepay_kind != "money" or amount_left <= EPS or st["amount"] <= EPS:
                return None
            if self.prepay_rate_ids and rate_id not in self.prepay_rate_ids.ids:
                return None
            before = st["amount"]
            # the balance is in the contract's currency, the charge in the customer's
            charge_currency = self.env["res.currency"].browse(charge.get("currency_id") or currency.id)
            rate = 1.0
            if charge_currency != currency:
                rate = charge_currency._get_conversion_rate(charge_currency, currency, self.company_id, day)
            left = currency.round(amount_left * rate)
            taken = currency.round(min(left, before))
            if taken >= left - EPS:
                amount = amount_left
            else:
                amount = charge_currency.round(taken / rate) if rate else 0.0
            hours = hours_left if amount >= amount_left - EPS else _hours(hours_left * amount / amount_left)
            st["amount"] = currency.round(before - taken)
            # what the balance gives, in the contract's currency (see _halo_allocate_one)
            st["balance_taken"] = taken
            return (
                hours,
                amount,
                self.env._(
                    "%(amount)s from the prepaid money of %(contract)s (balance %(before)s → %(after)s)",
                    amount=format_amount(self.env, taken, currency),
                    contract=self.display_name,
                    before=format_amount(self.env, before, currency),
                    after=format_amount(self.env, st["amount"], currency),
                ),
                None,
            )
        if hours_left <= EPS or not rate_id:
            return None
        factor = self._halo_consumption_factor(charge)
        if mode == "included":
            if rate_id not in self.fee_rate_ids.ids:
                return None
            available = self._halo_included_available(st, day)
            if available <= EPS:
                return None
            hours, consumed = self._halo_draw(hours_left, available, factor)
            start = self._halo_period_bounds(day)[0]
            st["included"][start] += consumed
            if available == float("inf"):
                detail = self.env._("unlimited")
            else:
                detail = self.env._(
                    "%(left)s of %(included)s h left for the period from %(start)s",
                    left=f"{self.included_hours - st['included'][start]:.2f}",
                    included=f"{self.included_hours:.2f}",
                    start=start,
                )
            explanation = self.env._(
                "%(hours)s h included in the fixed fee of %(contract)s (%(detail)s)",
                hours=self._halo_consumed_text(hours, consumed, factor),
                contract=self.display_name,
                detail=detail,
            )
        else:  # prepay_hours
            covered = self.prepay_kind == "hours" and (
                not self.prepay_rate_ids or rate_id in self.prepay_rate_ids.ids
            )
            if not covered or st["hours"] <= EPS:
                return None
            before = st["hours"]
            hours, consumed = self._halo_draw(hours_left, before, factor)
            st["hours"] = _hours(before - consumed)
            explanation = self.env._(
                "%(hours)s h from the prepaid hours of %(contract)s (balance %(before)s → %(after)s h)",
                hours=self._halo_consumed_text(hours, consumed, factor),
                contract=self.display_name,
                before=f"{before:.2f}",
                after=f"{st['hours']:.2f}",
            )
        amount = (
            amount_left if hours >= hours_left - EPS else currency.round(amount_left * hours / hours_left)
        )
        return hours, amount, explanation, consumed

    @staticmethod
    def _halo_draw(hours_left, available, factor):
        """(work hours covered, balance hours drawn) when ``available`` balance hours pay
        for work at ``factor`` balance hours per hour of work."""
        if available == float("inf") or hours_left * factor <= available + EPS:
            return _hours(hours_left), _hours(hours_left * factor)
        return _hours(available / factor), _hours(available)

    def _halo_consumed_text(self, hours, consumed, factor):
        if abs(factor - 1.0) <= EPS:
            return f"{hours:.2f}"
        return self.env._(
            "%(hours)s h of work × %(factor)s consumption = %(consumed)s",
            hours=f"{hours:.2f}",
            factor=f"{factor:g}",
            consumed=f"{consumed:.2f}",
        )

    @api.model
    def _halo_remainder_part(self, charge, in_date, candidates, hours, amount):
        ended = [c for c in candidates if c.date_end and c.date_end < charge["date"]]
        if not in_date and ended:
            last = max(ended, key=lambda c: (c.date_end, c.id))
            if last.on_expired == "block":
                return {
                    "mode": "blocked",
                    "contract_id": last.id,
                    "hours": hours,
                    "amount": amount,
                    "explanation": self.env._(
                        "Blocked: contract %(contract)s ended on %(date)s and does not allow "
                        "work after expiry.",
                        contract=last.display_name,
                        date=last.date_end,
                    ),
                }
        if in_date:
            explanation = self.env._(
                "PAYG: beyond what %(contracts)s cover.", contracts=", ".join(c.display_name for c in in_date)
            )
        else:
            explanation = self.env._("PAYG: no contract in force on %(date)s.", date=charge["date"])
        return {
            "mode": "payg",
            "contract_id": in_date[0].id if in_date else False,
            "hours": hours,
            "amount": amount,
            "explanation": explanation,
        }

    @api.model
    def _halo_commit_consumption(self, run_lines):
        """Write the consumption ledger entries of invoiced run lines (idempotent: one entry
        per run line, contract and mode, enforced by a unique index), then check thresholds."""
        Ledger = self.env["halo.contract.ledger"].sudo()
        parts = run_lines.sudo()._halo_contract_parts()
        parts = [p for p in parts if p["contract_id"] and p["mode"] in CONSUMING_MODES]
        if not parts:
            return Ledger
        existing = {
            (entry.run_line_id.id, entry.contract_id.id, entry.mode)
            for entry in Ledger.search([("run_line_id", "in", run_lines.ids)])
        }
        todo = [p for p in parts if (p["run_line"].id, p["contract_id"], p["mode"]) not in existing]
        contracts = self.browse({p["contract_id"] for p in todo}).sudo()
        before = {contract.id: contract._halo_threshold_balance() for contract in contracts}
        vals_list = [self._prepare_consumption_ledger_vals(part) for part in todo]
        entries = Ledger.with_context(**{LEDGER_SYSTEM.key: LEDGER_SYSTEM}).create(vals_list)
        contracts._halo_check_thresholds(before)
        return entries

    @api.model
    def _prepare_consumption_ledger_vals(self, part):
        line = part["run_line"]
        money = part["mode"] == "prepay_money"
        return {
            "contract_id": part["contract_id"],
            "date": line.date or line.run_id.date_invoice or fields.Date.context_today(self),
            "kind": "consumption",
            "bucket": "included" if part["mode"] == "included" else "prepay",
            "mode": part["mode"],
            "hours": 0.0 if money else -part.get("consumed", part["hours"]),
            "amount": -part["amount"] if money else 0.0,
            "run_id": line.run_id.id,
            "run_line_id": line.id,
            "explanation": part.get("explanation") or line.name,
        }

    @api.model
    def _halo_release_consumption(self, run):
        """Give back what a cancelled run consumed: reversal entries for its consumption
        entries not reversed yet (the ledger keeps both)."""
        entries = (
            self.env["halo.contract.ledger"]
            .sudo()
            .search([("run_id", "in", run.ids), ("kind", "=", "consumption")])
        )
        reason = self.env._("Billing run %(run)s cancelled", run=", ".join(run.mapped("display_name")))
        return self._halo_reverse_entries(entries, reason).contract_id

    @api.model
    def _halo_reverse_entries(self, entries, reason, credit_note=None, invoice=None):
        """Write one reversal entry per entry of ``entries`` not reversed yet (and not a
        reversal itself): same contract, bucket, mode and date (so included hours return to
        their period), opposite hours and amount, linked to the entry, its run and charge, the
        credit note and invoice that caused it and the user. Posts a summary on the contracts
        and checks their thresholds (a reversed top-up lowers the balance)."""
        Ledger = self.env["halo.contract.ledger"].sudo()
        entries = entries.sudo().filtered(lambda e: e.kind != "reversal" and not e.reversal_ids)
        if not entries:
            return Ledger
        contracts = entries.contract_id
        before = {contract.id: contract._halo_threshold_balance() for contract in contracts}
        vals_list = [
            {
                "contract_id": entry.contract_id.id,
                "date": entry.date,
                "kind": "reversal",
                "bucket": entry.bucket,
                "mode": entry.mode,
                "hours": -entry.hours,
                "amount": -entry.amount,
                "reversed_entry_id": entry.id,
                "run_id": entry.run_id.id,
                "run_line_id": entry.run_line_id.id,
                "invoice_id": (invoice or entry.invoice_id).id,
                "credit_note_id": credit_note.id if credit_note else False,
                "requires_payment": entry.requires_payment,
                "user_id": self.env.uid,
                "reason": reason,
                "explanation": self.env._(
                    "%(reason)s: reverses %(entry)s",
                    reason=reason,
                    entry=entry.explanation or entry.display_name,
                ),
            }
            for entry in entries
        ]
        reversals = LEDGER_SYSTEM.on(Ledger).create(vals_list)
        for contract in contracts:
            mine = reversals.filtered(lambda e, c=contract: e.contract_id == c)
            contract.message_post(
                body=self.env._(
                    "%(reason)s: %(count)s ledger entries reversed (%(hours)s h, %(amount)s).",
                    reason=reason,
                    count=len(mine),
                    hours=f"{sum(mine.mapped('hours')):+.2f}",
                    amount=format_amount(self.env, sum(mine.mapped("amount")), contract.currency_id),
                )
            )
        contracts._halo_check_thresholds(before)
        return reversals

    # ------------------------------------------------------- periodic invoices

    def _halo_due_period_vals(self, date_ref):
        """Period vals (fee and recurring lines) whose invoice must exist on ``date_ref``:
        invoice date minus ``days_ahead`` on or before it, and not invoiced yet."""
        period_vals = []
        devices = self.env["halo.customer.device"]._halo_devices_of(self.partner_id, self.company_id)
        for contract in self:
            if contract.state not in ("active", "expired"):
                continue
            if contract.fixed_fee:
                period_vals += contract._halo_due_fee_periods(date_ref)
            for line in contract.recurring_line_ids:
                period_vals += line._halo_due_periods(date_ref, devices)
        existing = {
            (period.contract_id.id, period.recurring_line_id.id, period.date_start)
            for period in self.env["halo.contract.period"]
            .sudo()
            .search([("contract_id", "in", self.ids), ("credit_note_id", "=", False)])
        }
        return [
            vals
            for vals in period_vals
            if (vals["contract_id"], vals.get("recurring_line_id") or False, vals["date_start"])
            not in existing
        ]

    def _halo_due_fee_periods(self, date_ref):
        self.ensure_one()
        result = []
        start = self.next_period_start or self.date_start
        for _i in range(1200):  # guard: 100 years of monthly periods
            if self.date_end and start > self.date_end:
                break
            ps, pe = self._halo_period_bounds(start)
            invoice_date = invoice_date_of(self.invoice_timing, ps, pe)
            if invoice_date - timedelta(days=self.days_ahead) > date_ref:
                break
            end = min(pe, self.date_end) if self.date_end else pe
            factor = 1.0 if end == pe else day_count(start, end) / day_count(ps, pe)
            result.append(
                {
                    "contract_id": self.id,
                    "kind": "fee",
                    "date_start": start,
                    "date_end": end,
                    "period_end": pe,
                    "invoice_date": invoice_date,
                    "quantity": 1.0,
                    # prorated on the price: invoice quantities have 2 decimals only
                    "price_unit": self.sudo().fee_amount * factor,
                    "factor": factor,
                    "product_id": self.fee_product_id.id,
                    "name": self.env._(
                        "%(contract)s: fixed fee %(start)s - %(end)s",
                        contract=self.display_name,
                        start=start,
                        end=end,
                    ),
                }
            )
            start = pe + timedelta(days=1)
        return result

    def _halo_periodic_invoice_vals(self, date_ref):
        """Invoices due on ``date_ref``, one per (contract, invoice date):
        list of {"contract_id", "invoice_date", "period_vals": [...], "invoice_vals": {...}}.
        Creates nothing; ``_halo_create_periodic_invoices`` does."""
        grouped = defaultdict(list)
        for vals in self._halo_due_period_vals(date_ref):
            grouped[(vals["contract_id"], vals["invoice_date"])].append(vals)
        result = []
        for (contract_id, invoice_date), period_vals in sorted(grouped.items()):
            contract = self.browse(contract_id)
            result.append(
                {
                    "contract_id": contract_id,
                    "invoice_date": invoice_date,
                    "period_vals": period_vals,
                    "invoice_vals": contract._prepare_periodic_invoice_vals(invoice_date, period_vals),
                }
            )
        return result

    def _prepare_periodic_invoice_vals(self, invoice_date, period_vals):
        self.ensure_one()
        return {
            "move_type": "out_invoice",
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "invoice_date": invoice_date,
            "invoice_origin": self.display_name,
            "ref": self.reference or False,
            "halo_contract_id": self.id,
            "currency_id": self.currency_id.id,
            "invoice_line_ids": [
                Command.create(self._prepare_periodic_invoice_line_vals(vals)) for vals in period_vals
            ],
        }

    def _prepare_periodic_invoice_line_vals(self, period_vals):
        # product_id makes Odoo fill account, taxes (mapped by the fiscal position) and UoM
        return {
            "product_id": period_vals["product_id"],
            "name": period_vals["name"],
            "quantity": period_vals["quantity"],
            "price_unit": period_vals["price_unit"],
            "halo_kind": self._halo_period_kind(period_vals),
        }

    def _halo_period_kind(self, period_vals):
        """The billing analysis kind of a periodic invoice line: fee, recurring or devices."""
        if period_vals["kind"] == "fee":
            return "contract_fee"
        line = self.env["halo.contract.recurring.line"].browse(period_vals.get("recurring_line_id"))
        return "devices" if line.quantity_mode == "devices" else "recurring"

    def _halo_create_periodic_invoices(self, date_ref):
        """Create the draft periodic invoices due on ``date_ref``. Idempotent: a period is
        invoiced once (unique index on (contract, recurring line, period start))."""
        todo = self._halo_periodic_invoice_vals(date_ref)
        if not todo:
            return self.env["account.move"]
        Period = self.env["halo.contract.period"].sudo()
        periods = Period.create([vals for item in todo for vals in item["period_vals"]])
        moves = self.env["account.move"].sudo().create([item["invoice_vals"] for item in todo])
        index = 0
        for item, move in zip(todo, moves, strict=True):
            count = len(item["period_vals"])
            periods[index : index + count].move_id = move
            index += count
        # advance the schedules to the day after the last invoiced (aligned) period
        for contract, fee_periods in (
            periods.filtered(lambda p: p.kind == "fee").grouped("contract_id").items()
        ):
            contract.next_period_start = max(fee_periods.mapped("period_end")) + timedelta(days=1)
        for line, line_periods in periods.filtered("recurring_line_id").grouped("recurring_line_id").items():
            line.next_date = max(line_periods.mapped("period_end")) + timedelta(days=1)
        _logger.info("Contracts: %s periodic invoices created for %s", len(moves), date_ref)
        return moves

    def _halo_process_rollovers(self, date_ref):
        """Roll unused included hours of ended periods into the hours balance (once per
        period; unique index on (contract, period) for rollover entries)."""
        vals_list = []
        contracts = self.filtered(lambda c: c.fixed_fee and c.included_hours and c.rollover_policy != "none")
        state = contracts._halo_allocation_state()
        for contract in contracts:
            st = state[contract.id]
            last_day = date_ref - timedelta(days=contract.rollover_delay_days + 1)
            if contract.date_end:
                last_day = min(last_day, contract.date_end)
            start = contract.date_start
            while True:
                ps, pe = contract._halo_period_bounds(start)
                if pe > last_day:
                    break
                if ps not in st["rolled"]:
                    used = st["included"][ps]  # net of hours rolled in
                    unused = max(contract.included_hours - used, 0.0)
                    next_start = pe + timedelta(days=1)
                    ends = contract.date_end and contract.date_end < next_start
                    rolled = 0.0 if ends else contract._halo_rollover_hours(unused)
                    st["included"][next_start] -= rolled
                    vals_list.append(
                        {
                            "contract_id": contract.id,
                            "date": next_start,
                            "kind": "rollover",
                            "bucket": "included",
                            "hours": rolled,
                            "period_start": ps,
                            "explanation": self.env._(
                                "Period %(start)s - %(end)s: %(unused)s included hours unused, "
                                "%(rolled)s h rolled over to the next period (%(policy)s).",
                                start=ps,
                                end=pe,
                                unused=f"{unused:.2f}",
                                rolled=f"{rolled:.2f}",
                                policy=contract._halo_rollover_policy_label(),
                            ),
                        }
                    )
                start = pe + timedelta(days=1)
        return (
            self.env["halo.contract.ledger"]
            .sudo()
            .with_context(**{LEDGER_SYSTEM.key: LEDGER_SYSTEM})
            .create(vals_list)
        )

    def _halo_rollover_hours(self, unused):
        self.ensure_one()
        if self.rollover_policy == "all":
            return _hours(unused)
        if self.rollover_policy == "percent":
            return _hours(unused * self.rollover_value / 100.0)
        if self.rollover_policy == "capped":
            return _hours(min(unused, self.rollover_value))
        return 0.0

    def _halo_rollover_policy_label(self):
        self.ensure_one()
        if self.rollover_policy == "percent":
            return self.env._("%(value)s%%", value=f"{self.rollover_value:g}")
        if self.rollover_policy == "capped":
            return self.env._("capped at %(value)s h", value=f"{self.rollover_value:g}")
        return dict(self._fields["rollover_policy"]._description_selection(self.env))[self.rollover_policy]

    @api.model
    def _cron_halo_contract_invoices(self, date_ref=None):
        """Create due periodic invoices (drafts) and roll over ended periods.

        With more contracts than one chunk, enqueue one background job (OCA ``queue_job``,
        channel ``root.halo_billing``) per chunk of contracts of one company instead of
        invoicing them all in the cron's own transaction; each job creates the chunk's due
        periodic invoices and rolls over its ended periods, which are idempotent (a period is
        invoiced once: unique index), so a job retried or run twice adds nothing. A job's
        identity key keeps one job per chunk and day while it is pending. Fewer contracts are
        worked at once, by the same methods."""
        date_ref = date_ref or fields.Date.context_today(self)
        size = self._halo_contract_chunk_size()
        contracts = self.search([("state", "in", ("active", "expired"))])
        if len(contracts) <= size:
            moves = self.env["account.move"]
            for company, batch in contracts.grouped("company_id").items():
                batch = batch.with_company(company)
                moves |= batch._halo_create_periodic_invoices(date_ref)
                batch._halo_process_rollovers(date_ref)
            return moves
        for company, batch in contracts.sorted("id").grouped("company_id").items():
            for start in range(0, len(batch), size):
                chunk = batch[start : start + size]
                chunk.with_delay(
                    identity_key=identity_exact,
                    description=self.env._(
                        "Contracts of %(company)s: periodic invoices and rollovers (%(count)s contracts)",
                        company=company.name,
                        count=len(chunk),
                    ),
                )._halo_job_contract_invoices(date_ref)
        return self.env["account.move"]

    @api.model
    def _halo_contract_chunk_size(self):
        """Hook: contracts per job of the contract cron."""
        return CONTRACT_CHUNK

    def _halo_job_contract_invoices(self, date_ref):
        """Job: the cron's work for these contracts (a job does not keep the context: each
        company's contracts are worked in their company)."""
        moves = self.env["account.move"]
        for company, batch in self.grouped("company_id").items():
            batch = batch.with_company(company).filtered(lambda c: c.state in ("active", "expired"))
            moves |= batch._halo_create_periodic_invoices(date_ref)
            batch._halo_process_rollovers(date_ref)
        return self.env._("%(count)s invoices created.", count=len(moves))

    # ------------------------------------------------------------------ expiry

    @api.model
    def _cron_halo_contract_expiry(self, date_ref=None):
        """Renew or expire ended contracts, then remind about those ending soon. Idempotent."""
        date_ref = date_ref or fields.Date.context_today(self)
        contracts = self.search([("state", "=", "active"), ("date_end", "!=", False)])
        ended = contracts.filtered(lambda c: c.date_end < date_ref)
        ended.filtered("auto_renew")._halo_renew(date_ref)
        ended.filtered(lambda c: not c.auto_renew)._halo_expire(date_ref)
        due = contracts.filtered(
            lambda c: (
                c.state == "active"
                and c.date_end >= date_ref
                and c.expiry_reminder_date <= date_ref
                and c.reminder_sent_for != c.date_end
            )
        )
        due._halo_send_expiry_reminders()
        return due

    def _halo_renew(self, date_ref):
        for contract in self:
            if contract.renewal_months <= 0:
                contract._halo_expire(date_ref)
                continue
            old_end = contract.date_end
            terms = 1
            while contract.date_end + relativedelta(months=terms * contract.renewal_months) < date_ref:
                terms += 1
            new_end = old_end + relativedelta(months=terms * contract.renewal_months)
            contract.date_end = new_end
            contract.message_post(
                body=self.env._(
                    "Renewed automatically: end date %(old)s → %(new)s.", old=old_end, new=new_end
                )
            )

    def _halo_expire(self, date_ref):
        vals_list = []
        for contract in self:
            contract.state = "expired"
            if not contract.expire_balance:
                continue
            hours, amount = contract.balance_hours, contract.sudo().balance_amount
            if hours > EPS or amount > EPS:
                vals_list.append(
                    {
                        "contract_id": contract.id,
                        "date": contract.date_end,
                        "kind": "expiry",
                        "bucket": "prepay",
                        "hours": -hours if hours > EPS else 0.0,
                        "amount": -amount if amount > EPS else 0.0,
                        "explanation": self.env._(
                            "Contract ended on %(date)s: remaining balance written off.",
                            date=contract.date_end,
                        ),
                    }
                )
        self.env["halo.contract.ledger"].sudo().with_context(**{LEDGER_SYSTEM.key: LEDGER_SYSTEM}).create(
            vals_list
        )
        for contract in self:
            contract.message_post(body=self.env._("Contract expired on %(date)s.", date=contract.date_end))

    def _halo_send_expiry_reminders(self):
        template = self.env.ref("halo_helpdesk_billing.halo_contract_expiry_mail_template")
        for contract in self:
            partners = contract.notify_partner_ids | contract.contact_id | contract.user_id.partner_id
            contract.message_post_with_source(
                template,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                partner_ids=partners.ids,
            )
            contract.reminder_sent_for = contract.date_end

    # ------------------------------------------------------ new-ticket check

    @api.model
    def _halo_ticket_contract_status(self, partners, day, company=None, show_money=None):
        """Per partner id of ``partners`` (tickets' partners): {"contract", "problem":
        "exhausted"|"expired", "block": bool, "message": str} when the prepay / fixed-price
        coverage of that partner's work (its customer's contracts with ``company``, the
        ticket's, default: the current one; site contracts for their site only) is exhausted
        or expired and no other contract of that company in force has some left. Only
        contracts with a balance (``_halo_has_balance``) can be exhausted. The message shows
        a money balance only with ``show_money`` (default: when the current user is in a
        billing group)."""
        commercial = partners.commercial_partner_id
        if not commercial:
            return {}
        company = company or self.env.company
        contracts = self.sudo().search(
            [
                ("partner_id", "in", commercial.ids),
                ("company_id", "=", company.id),
                ("state", "in", ("active", "expired")),
                Domain("fixed_fee", "=", True) | Domain("prepay_kind", "!=", "none"),
            ],
            order="date_start desc, id desc",
        )
        state = contracts._halo_allocation_state()
        if show_money is None:
            show_money = self.env.user.has_group(BILLING_USER)
        result = {}
        for partner in partners.sudo():
            mine = contracts.filtered(
                lambda c, p=partner: c.partner_id == p.commercial_partner_id and c._halo_covers_site(p)
            )
            if not mine:
                continue
            in_force = mine.filtered(lambda c: c.state == "active" and c._halo_covers_date(day))
            with_balance = in_force.filtered(lambda c: c._halo_has_balance())
            if in_force and not with_balance:
                continue  # in force, nothing to exhaust
            if any(not c._halo_is_exhausted(day, state) for c in with_balance):
                continue
            if with_balance:
                contract, problem = (
                    with_balance.sorted(lambda c: 0 if c.site_partner_id else 1)[0],
                    "exhausted",
                )
                block = contract.on_exhausted == "block"
            else:
                contract, problem = mine.sorted(lambda c: c.date_end or c.date_start)[-1], "expired"
                block = contract.on_expired == "block"
            st = state[contract.id]
            balance = contract._halo_format_balance(
                st["amount"] if contract.prepay_kind == "money" else st["hours"],
                show_money=show_money,
            )
            if problem == "exhausted":
                message = self.env._(
                    "Contract %(contract)s is exhausted: remaining balance %(balance)s, included "
                    "hours left this period %(included)s h.",
                    contract=contract.display_name,
                    balance=balance,
                    included=f"{contract._halo_included_remaining_at(day)[contract.id]:.2f}",
                )
            else:
                message = self.env._(
                    "Contract %(contract)s expired on %(date)s (remaining balance %(balance)s); "
                    "work is %(what)s.",
                    contract=contract.display_name,
                    date=contract.date_end,
                    balance=balance,
                    what=self.env._("blocked") if block else self.env._("billed as PAYG"),
                )
            result[partner.id] = {
                "contract": contract.sudo(False),
                "problem": problem,
                "block": block,
                "message": message,
            }
        return result
