# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

from ..halo_engine import LEDGER_SYSTEM


class HaloContractLedger(models.Model):
    """One movement of a contract's balance. The balance is the sum of the counted
    entries of the ``prepay`` bucket; ``included`` entries record the use of the fixed
    fee's included hours (per period) and do not change the balance.

    Entries are written by the system (top-ups, consumption, rollover, expiry) and are
    never edited nor deleted; people correct balances with adjustments, which need a reason.
    The ledger is append-only: a cancelled run or a credit note writes ``reversal`` entries
    (each pointing at the entry it reverses, at most once) instead of removing entries.
    """

    _name = "halo.contract.ledger"
    _description = "Contract Balance Ledger Entry"
    _order = "contract_id, date, id"
    _check_company_auto = True

    contract_id = fields.Many2one(
        comodel_name="halo.contract",
        required=True,
        index=True,
        ondelete="restrict",
        check_company=True,
    )
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
    partner_id = fields.Many2one(related="contract_id.partner_id", store=True, string="Customer", index=True)
    date = fields.Date(required=True, default=fields.Date.context_today, index=True)
    kind = fields.Selection(
        selection=[
            ("topup", "Top-up"),
            ("consumption", "Consumption"),
            ("rollover", "Rollover"),
            ("expiry", "Expiry"),
            ("adjustment", "Adjustment"),
            ("reversal", "Reversal"),
        ],
        required=True,
        default="adjustment",
    )
    bucket = fields.Selection(
        selection=[("prepay", "Prepay balance"), ("included", "Included hours")],
        required=True,
        default="prepay",
    )
    mode = fields.Selection(
        selection=[
            ("included", "Included"),
            ("prepay_hours", "Prepaid hours"),
            ("prepay_money", "Prepaid money"),
        ],
        string="Consumed From",
        readonly=True,
    )
    hours = fields.Float(digits=(16, 4))
    amount = fields.Monetary(currency_field="currency_id", groups=BILLING_USER)
    reason = fields.Char(help="Why the balance is adjusted (required for adjustments).")
    explanation = fields.Text(readonly=True, groups=BILLING_USER)  # money on money contracts
    invoice_id = fields.Many2one(
        comodel_name="account.move",
        index="btree_not_null",
        ondelete="restrict",
        readonly=True,
        copy=False,
    )
    run_id = fields.Many2one(
        comodel_name="halo.billing.run",
        string="Billing Run",
        index="btree_not_null",
        ondelete="restrict",
        readonly=True,
    )
    run_line_id = fields.Many2one(
        comodel_name="halo.billing.run.line",
        string="Billed Charge",
        index="btree_not_null",
        ondelete="restrict",
        readonly=True,
    )
    reversed_entry_id = fields.Many2one(
        comodel_name="halo.contract.ledger",
        string="Reverses",
        index="btree_not_null",
        ondelete="restrict",
        readonly=True,
        copy=False,
        help="The entry this reversal cancels out (a cancelled run, a credit note).",
    )
    reversal_ids = fields.One2many(
        comodel_name="halo.contract.ledger",
        inverse_name="reversed_entry_id",
        string="Reversed By",
    )
    credit_note_id = fields.Many2one(
        comodel_name="account.move",
        index="btree_not_null",
        ondelete="restrict",
        readonly=True,
        copy=False,
        help="The credit note that caused this entry.",
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Recorded By",
        readonly=True,
        copy=False,
        default=lambda self: self.env.user,
    )
    period_start = fields.Date(readonly=True, help="Included-hours period of a rollover.")
    requires_payment = fields.Boolean(readonly=True, help="This top-up counts only once its invoice is paid.")
    is_counted = fields.Boolean(
        string="Counted",
        compute="_compute_is_counted",
        store=True,
        recursive=True,
        help="Whether the entry is part of the balance (a top-up waiting for payment, or "
        "whose invoice was cancelled, is not).",
    )
    balance_hours_after = fields.Float(
        string="Hours Balance After", compute="_compute_balance_after", digits=(16, 2)
    )
    balance_amount_after = fields.Monetary(
        string="Money Balance After",
        compute="_compute_balance_after",
        currency_field="currency_id",
        groups=BILLING_USER,
    )

    _adjustment_reason = models.Constraint(
        "CHECK (kind != 'adjustment' OR COALESCE(TRIM(reason), '') != '')",
        "An adjustment needs a reason.",
    )
    _signs = models.Constraint(
        "CHECK ((kind NOT IN ('topup', 'rollover') OR (hours >= 0 AND amount >= 0)) "
        "AND (kind NOT IN ('consumption', 'expiry') OR (hours <= 0 AND amount <= 0)))",
        "Top-ups and rollovers add to the balance; consumption and expiry take from it.",
    )
    _one_entry_per_charge = models.UniqueIndex(
        "(run_line_id, contract_id, mode) WHERE run_line_id IS NOT NULL AND kind = 'consumption'",
        "This billed charge already consumed from the contract.",
    )
    _one_reversal_per_entry = models.UniqueIndex(
        "(reversed_entry_id) WHERE reversed_entry_id IS NOT NULL",
        "This ledger entry was already reversed.",
    )
    _one_rollover_per_period = models.UniqueIndex(
        "(contract_id, period_start) WHERE kind = 'rollover'",
        "This period was already rolled over.",
    )

    @api.depends(
        "kind",
        "requires_payment",
        "invoice_id.state",
        "invoice_id.payment_state",
        "reversed_entry_id.is_counted",
    )
    def _compute_is_counted(self):
        for entry in self:
            if entry.reversed_entry_id:
                # a reversal counts exactly when what it reverses counts (net zero either way)
                entry.is_counted = entry.reversed_entry_id.is_counted
            elif entry.kind != "topup" or not entry.invoice_id:
                entry.is_counted = True
            elif entry.invoice_id.state == "cancel":
                entry.is_counted = False
            elif entry.requires_payment:
                entry.is_counted = entry.invoice_id.payment_state in ("paid", "in_payment")
            else:
                entry.is_counted = True

    @api.depends("contract_id", "date", "hours", "amount", "is_counted", "bucket")
    def _compute_balance_after(self):
        """Running balance of the prepay bucket, in the ledger's order (date, id)."""
        saved = self.filtered("id")
        (self - saved).update({"balance_hours_after": 0.0, "balance_amount_after": 0.0})
        if not saved:
            return
        entries = self.sudo().search_fetch(
            [("contract_id", "in", saved.contract_id.ids)],
            ["contract_id", "hours", "amount", "is_counted", "bucket"],
            order="contract_id, date, id",
        )
        running, after = {}, {}
        for entry in entries:
            hours, amount = running.get(entry.contract_id.id, (0.0, 0.0))
            if entry.bucket == "prepay" and entry.is_counted:
                hours, amount = hours + entry.hours, amount + entry.amount
            running[entry.contract_id.id] = (hours, amount)
            after[entry.id] = (hours, amount)
        for entry in saved:
            hours, amount = after.get(entry.id, (0.0, 0.0))
            entry.balance_hours_after = hours
            entry.balance_amount_after = amount

    @api.depends("contract_id", "kind", "date")
    def _compute_display_name(self):
        labels = dict(self._fields["kind"]._description_selection(self.env))
        for entry in self:
            entry.display_name = (
                f"{entry.contract_id.display_name or ''} / {labels.get(entry.kind, '')} / {entry.date or ''}"
            )

    # What people record on an adjustment; the other fields link system entries to the
    # invoices, runs and charges they come from (an "adjustment" tied to a charge would take
    # the place of that charge's consumption).
    _halo_adjustment_fields = frozenset(
        {"contract_id", "date", "kind", "bucket", "hours", "amount", "reason"}
    )

    def _halo_check_system(self, kinds, vals_list=()):
        """Only the system (``LEDGER_SYSTEM``, a marker no client can send) writes entries
        other than adjustments, and the fields that tie an entry to an invoice or a charge."""
        if LEDGER_SYSTEM.is_set(self.env):
            return
        if any(kind != "adjustment" for kind in kinds):
            raise UserError(
                self.env._(
                    "Ledger entries other than adjustments are written by the system and cannot "
                    "be created, changed or deleted. Record an adjustment with a reason instead."
                )
            )
        for vals in vals_list:
            system_fields = set(vals) - self._halo_adjustment_fields
            if system_fields:
                raise AccessError(
                    self.env._(
                        "%(fields)s of a ledger entry are set by the system only.",
                        fields=", ".join(sorted(system_fields)),
                    )
                )

    # Written by the system only (a manual adjustment cannot pose as a reversal or a credit)
    _halo_system_links = ("reversed_entry_id", "credit_note_id", "user_id")

    def _halo_check_links(self, vals_list):
        if LEDGER_SYSTEM.is_set(self.env):
            return
        for vals in vals_list:
            if any(
                vals.get(name) and not (name == "user_id" and vals[name] == self.env.uid)
                for name in self._halo_system_links
            ):
                raise UserError(
                    self.env._(
                        "Reversals, their credit notes and who recorded an entry are set by the system."
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        self._halo_check_system([vals.get("kind", "adjustment") for vals in vals_list], vals_list)
        self._halo_check_links(vals_list)
        entries = super().create(vals_list)
        adjustments = entries.filtered(lambda e: e.kind == "adjustment")
        for contract, mine in adjustments.grouped("contract_id").items():
            contract.message_post(
                body=self.env._(
                    "Balance adjusted by %(user)s: %(lines)s",
                    user=self.env.user.name,
                    lines="; ".join(f"{e.hours:+.2f} h / {e.sudo().amount:+.2f} ({e.reason})" for e in mine),
                )
            )
        return entries

    def write(self, vals):
        self._halo_check_system(self.mapped("kind") + ([vals["kind"]] if "kind" in vals else []), [vals])
        self._halo_check_links([{name: True for name in self._halo_system_links if name in vals}])
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_system(self):
        self._halo_check_system(self.mapped("kind"))
