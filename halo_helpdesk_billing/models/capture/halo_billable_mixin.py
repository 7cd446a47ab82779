# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..halo_engine import BILLING_ENGINE

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"

BILLING_STATES = [
    ("unbilled", "Unbilled"),
    ("in_run", "In billing run"),
    ("invoiced", "Invoiced"),
    ("not_billable", "Not billable"),
]


class HaloBillableMixin(models.AbstractModel):
    """Billing status and locking shared by everything a technician records on a ticket.

    The billing engine moves a record through unbilled → in_run → invoiced (and back to
    unbilled when a run is cancelled, or when its invoice is credited in full: the credited
    invoice and credit note numbers then stay in ``halo_billing_history``); while a record is in a run or invoiced it cannot be
    edited or deleted. Technicians see the status and the invoice *number*, never amounts.
    """

    _name = "halo.billable.mixin"
    _description = "Helpdesk Billable Work"

    # Fields a technician may still change on a locked record (none by default).
    _halo_unlocked_fields = frozenset()

    halo_billing_state = fields.Selection(
        selection=BILLING_STATES,
        string="Billing Status",
        compute="_compute_halo_billing_state",
        store=True,
        readonly=True,
        copy=False,
        index=True,
    )
    halo_run_id = fields.Many2one(
        comodel_name="halo.billing.run",
        string="Billing Run",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
    )
    halo_invoice_id = fields.Many2one(
        comodel_name="account.move",
        string="Billed on Invoice",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups=BILLING_USER,
    )
    halo_invoice_number = fields.Char(
        string="Invoice Number",
        readonly=True,
        copy=False,
        help="Number of the customer invoice this work was billed on.",
    )
    halo_billing_history = fields.Text(
        string="Billing History",
        readonly=True,
        copy=False,
        help="Invoices this work was billed on and that were credited in full (with the credit "
        "note numbers); the work was then billed again.",
    )

    def _halo_is_billable(self):
        """Hook: whether the record should be billed at all."""
        self.ensure_one()
        return True

    @api.depends("halo_run_id", "halo_invoice_number")
    def _compute_halo_billing_state(self):
        for record in self:
            if record.halo_invoice_number:
                record.halo_billing_state = "invoiced"
            elif record.halo_run_id:
                record.halo_billing_state = "in_run"
            elif not record._halo_is_billable():
                record.halo_billing_state = "not_billable"
            else:
                record.halo_billing_state = "unbilled"

    def _halo_work_label(self):
        """How a piece of work is named in messages (hook: an action names its description)."""
        self.ensure_one()
        return self.display_name

    def _halo_check_unlocked(self, vals=None):
        """Refuse changes to work that is in a billing run or invoiced (whoever asks, superuser
        included; only the billing engine's own writes carry ``BILLING_ENGINE``)."""
        if BILLING_ENGINE.is_set(self.env):
            return
        if vals is not None and not (set(vals) - self._halo_unlocked_fields - {"halo_billing_state"}):
            return
        for record in self:
            if record.halo_invoice_number:
                raise UserError(
                    self.env._(
                        "%(work)s was invoiced on %(invoice)s and can no longer be changed. "
                        "Issue a credit note instead.",
                        work=record._halo_work_label(),
                        invoice=record.halo_invoice_number,
                    )
                )
            if record.halo_run_id:
                raise UserError(
                    self.env._(
                        "%(work)s is in billing run %(run)s and cannot be changed. Remove it "
                        "from the run (or cancel the run) first.",
                        work=record._halo_work_label(),
                        run=record.halo_run_id.sudo().name,
                    )
                )

    # Only the billing engine moves work between billing states (and keeps its history).
    _halo_engine_fields = frozenset({
        "halo_run_id", "halo_invoice_id", "halo_invoice_number", "halo_billing_state", "halo_billing_history",
    })

    def _halo_check_engine_fields(self, vals):
        engine_fields = self._halo_engine_fields.intersection(vals)
        if engine_fields and not BILLING_ENGINE.is_set(self.env):
            raise AccessError(self.env._(
                "The billing status of recorded work is set by billing runs only (%(fields)s).",
                fields=", ".join(sorted(engine_fields)),
            ))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._halo_check_engine_fields(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._halo_check_engine_fields(vals)
        self._halo_check_unlocked(vals)
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_billed(self):
        self._halo_check_unlocked()
