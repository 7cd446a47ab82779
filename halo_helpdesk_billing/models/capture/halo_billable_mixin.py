# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from odoo.addons.halo_helpdesk_billing.constants import (
    BILLING_STATES,
    BILLING_USER,
    IN_RUN,
    INVOICED,
    NOT_BILLABLE,
    UNBILLED,
)

from ..halo_engine import BILLING_ENGINE


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
                record.halo_billing_state = INVOICED
            elif record.halo_run_id:
                record.halo_billing_state = IN_RUN
            elif not record._halo_is_billable():
                record.halo_billing_state = NOT_BILLABLE
            else:
                record.halo_billing_state = UNBILLED

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
    _halo_engine_fields = frozenset(
        {
            "halo_run_id",
            "halo_invoice_id",
            "halo_invoice_number",
            "halo_billing_state",
            "halo_billing_history",
        }
    )

    def _halo_check_engine_fields(self, vals):
        engine_fields = self._halo_engine_fields.intersection(vals)
        if engine_fields and not BILLING_ENGINE.is_set(self.env):
            raise AccessError(
                self.env._(
                    "The billing status of recorded work is set by billing runs only (%(fields)s).",
                    fields=", ".join(sorted(engine_fields)),
                )
            )

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

    # ------------------------------------------------------------------ the billing state's writer
    # The one place that writes the billing state of work (``_halo_engine_fields``): billing
    # runs claim and release work, posting records invoice numbers, a credit note in full
    # releases what its invoice billed. Batches of 100,000 rows go in SQL (one UPDATE per
    # model), so the stored state is written with the columns it follows, and the ORM cache
    # of those fields is invalidated here.
    _halo_state_columns = (
        "halo_run_id",
        "halo_invoice_id",
        "halo_invoice_number",
        "halo_billing_state",
        "halo_billing_history",
    )

    @api.model
    def _halo_billable_sql(self):
        """Hook: SQL condition on a row of this model's table, true when the work is billable
        (``_halo_is_billable`` in SQL)."""
        return SQL("TRUE")

    @api.model
    def _halo_claim_assignments(self, run_id, when=None, alias=None):
        """SET assignments putting work not invoiced yet in billing run ``run_id`` where ``when``
        holds (for an UPDATE that writes other columns of the same rows, such as the timesheet
        ratings: one pass over the rows instead of two). The caller invalidates
        ``_halo_state_columns`` (see :meth:`_halo_invalidate_billing_state`)."""
        table = SQL.identifier(alias or self._table)
        claim = SQL("%s AND %s.halo_invoice_number IS NULL", when or SQL("TRUE"), table)
        return SQL(
            "halo_run_id = CASE WHEN %(claim)s THEN %(run)s ELSE %(table)s.halo_run_id END, "
            "halo_billing_state = CASE WHEN %(claim)s THEN %(in_run)s ELSE %(table)s.halo_billing_state END",
            claim=claim,
            run=run_id,
            table=table,
            in_run=IN_RUN,
        )

    @api.model
    def _halo_invalidate_billing_state(self):
        self.invalidate_model(list(self._halo_state_columns))

    @api.model
    def _halo_write_billing_state(
        self, state, ids=None, *, run_id=None, held_by=None, invoice=None, history=None, moves=None
    ):
        """Write the billing state of a batch of this model's work, in one UPDATE.

        - ``IN_RUN``: work ``ids`` not invoiced yet goes in billing run ``run_id``;
        - ``UNBILLED``: work ``ids`` leaves its run, unbilled again (not billable if it is no
          longer billable). With ``held_by`` (run ids): only work still in one of those runs
          or in none (work another run has taken since stays there). With ``invoice`` (an
          ``account.move`` credited in full): only work billed on it, whose invoice is
          forgotten and ``history`` (text) added to its billing history; else invoiced work is
          left alone;
        - ``INVOICED``: the work of the charges invoiced on ``moves`` (posted) records their
          invoice and number (joined to the charges in the database, no list of ids).

        :return: the number of rows written.
        """
        self.flush_model()
        table = SQL.identifier(self._table)
        if state == IN_RUN:
            query = SQL(
                "UPDATE %s SET halo_run_id = %s, halo_billing_state = %s "
                "WHERE id = ANY(%s) AND halo_invoice_number IS NULL",
                table,
                run_id,
                IN_RUN,
                list(ids),
            )
        elif state == UNBILLED:
            released = SQL(
                "halo_billing_state = CASE WHEN %s THEN %s ELSE %s END",
                self._halo_billable_sql(),
                UNBILLED,
                NOT_BILLABLE,
            )
            if invoice is not None:
                query = SQL(
                    """UPDATE %(table)s
                          SET halo_run_id = NULL, halo_invoice_id = NULL, halo_invoice_number = NULL, %(released)s,
                              halo_billing_history = CONCAT_WS(E'\\n', halo_billing_history, %(history)s)
                        WHERE id = ANY(%(ids)s) AND halo_invoice_id = %(invoice)s""",
                    table=table,
                    released=released,
                    history=history,
                    ids=list(ids),
                    invoice=invoice.id,
                )
            else:
                held = (
                    SQL("AND (halo_run_id IS NULL OR halo_run_id = ANY(%s))", list(held_by))
                    if held_by is not None
                    else SQL("")
                )
                query = SQL(
                    "UPDATE %s SET halo_run_id = NULL, %s WHERE id = ANY(%s) AND halo_invoice_number IS NULL %s",
                    table,
                    released,
                    list(ids),
                    held,
                )
        elif state == INVOICED:
            self.env["halo.billing.run.line"].flush_model(["invoice_id", "res_model", "res_id"])
            moves.flush_recordset(["name"])
            query = SQL(
                """UPDATE %s AS w
                      SET halo_invoice_id = m.id, halo_invoice_number = m.name, halo_billing_state = %s
                     FROM halo_billing_run_line l JOIN account_move m ON m.id = l.invoice_id
                    WHERE l.invoice_id = ANY(%s) AND l.res_model = %s AND w.id = l.res_id""",
                table,
                INVOICED,
                moves.ids,
                self._name,
            )
        else:
            raise ValueError(f"unknown billing state {state!r}")
        self.env.cr.execute(query)
        count = self.env.cr.rowcount
        if count:
            self._halo_invalidate_billing_state()
        return count
