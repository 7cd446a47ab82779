# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER, TIMESHEET_COST_GROUPS

from ..halo_engine import NO_RATING
from .halo_billable_mixin import HaloBillableMixin

MAX_ACTION_HOURS = 24
# Changing any of these re-rates the line (and the work it is rounded with).
RATING_FIELDS = {
    "halo_start",
    "halo_end",
    "halo_charge_rate_id",
    "halo_billable",
    "halo_ticket_id",
    "halo_kind",
}


class AccountAnalyticLine(models.Model):
    """Ticket actions (labour) and travel time are timesheet lines linked to a ticket."""

    _name = "account.analytic.line"
    _inherit = ["account.analytic.line", "halo.billable.mixin"]

    # ... and the rating results, which billing runs invoice as they are stored
    _halo_engine_fields = HaloBillableMixin._halo_engine_fields | {
        "halo_rate_version_id",
        "halo_billable_hours",
        "halo_rated_amount",
        "halo_rating_explanation",
        "halo_rating_data",
    }

    # The timesheet cost is money: billing groups and accountants (who read every journal item
    # anyway) see it; not timesheet approvers, nor the Analytic Accounting group, which the
    # setting gives every internal user.
    amount = fields.Monetary(groups=TIMESHEET_COST_GROUPS)
    halo_ticket_id = fields.Many2one(
        comodel_name="helpdesk.ticket",
        string="Ticket",
        index="btree_not_null",
        ondelete="restrict",
    )
    halo_kind = fields.Selection(
        selection=[("labour", "Action"), ("travel", "Travel time")],
        string="Kind",
        default="labour",
    )
    halo_start = fields.Datetime(string="Start")
    halo_end = fields.Datetime(string="End")
    halo_running = fields.Boolean(
        string="Running",
        compute="_compute_halo_running",
        store=True,
        help="Started from the ticket and not stopped yet.",
    )
    halo_charge_rate_id = fields.Many2one(
        comodel_name="halo.charge.rate",
        string="Charge Rate",
        index="btree_not_null",
    )
    halo_billable = fields.Selection(
        selection=[
            ("billable", "Billable"),
            ("not_billable", "Not billable"),
            ("no_charge", "No charge"),
        ],
        string="Billing",
        default="billable",
        help="No charge: shown on the invoice at zero. Not billable: never invoiced.",
    )
    halo_invoice_note = fields.Text(
        string="Invoice Note", help="Printed on the invoice line for this action."
    )
    halo_overlap = fields.Boolean(
        string="Overlaps",
        compute="_compute_halo_overlap",
        help="Another action of the same technician overlaps this one.",
    )
    # Rating results (written by the rating engine; money only for billing groups)
    halo_rate_version_id = fields.Many2one(
        comodel_name="halo.charge.rate.version",
        string="Rate Version",
        readonly=True,
        copy=False,
        groups=BILLING_USER,
    )
    halo_billable_hours = fields.Float(
        string="Billable Hours", readonly=True, copy=False, digits=(16, 4), groups=BILLING_USER
    )
    halo_rated_amount = fields.Monetary(string="Rated Amount", readonly=True, copy=False, groups=BILLING_USER)
    halo_rating_explanation = fields.Text(string="Rating", readonly=True, copy=False, groups=BILLING_USER)
    halo_rating_data = fields.Json(
        string="Rating Segments",
        readonly=True,
        copy=False,
        groups=BILLING_USER,
        help="Normal / out-of-hours / holiday parts of the last rating (invoice lines).",
    )
    halo_versions_known = fields.Integer(
        string="Versions Known",
        readonly=True,
        copy=False,
        groups=BILLING_USER,
        help="The newest charge-rate version (by id) that existed when this work was first rated "
        "or last explicitly re-rated: versions added since price it only through a re-rate.",
    )

    def _halo_work_label(self):
        """An action or travel is named by its description (its display name is the project's,
        e.g. "Helpdesk Support"), with its ticket and date."""
        self.ensure_one()
        if not self.halo_kind:
            return super()._halo_work_label()
        kind = self.env._("Travel") if self.halo_kind == "travel" else self.env._("Action")
        description = (self.name or "").strip()
        if description in ("", "/"):
            description = kind
        else:
            description = self.env._("%(kind)s \u201c%(name)s\u201d", kind=kind, name=description)
        ticket = self.sudo().halo_ticket_id
        return self.env._(
            "%(work)s (%(ticket)s, %(date)s)",
            work=description,
            ticket=ticket.number or ticket.name or "-",
            date=self.date or "",
        )

    @api.depends("halo_start", "halo_end")
    def _compute_halo_running(self):
        for line in self:
            line.halo_running = bool(line.halo_start and not line.halo_end)

    @api.depends("halo_run_id", "halo_invoice_number", "halo_billable", "halo_ticket_id")
    def _compute_halo_billing_state(self):
        return super()._compute_halo_billing_state()

    def _halo_is_billable(self):
        return bool(self.halo_ticket_id) and self.halo_billable != "not_billable"

    @api.model
    def _halo_billable_sql(self):
        return SQL("halo_ticket_id IS NOT NULL AND COALESCE(halo_billable, 'billable') != 'not_billable'")

    def _compute_halo_overlap(self):
        lines = self.filtered(lambda line: line.id and line.halo_start and line.halo_end)
        overlapping = set()
        if lines:
            self.flush_model(["employee_id", "halo_start", "halo_end"])
            self.env.cr.execute(
                SQL(
                    """SELECT DISTINCT a.id FROM account_analytic_line a
                   JOIN account_analytic_line b ON b.employee_id = a.employee_id AND b.id != a.id
                    AND b.halo_start < a.halo_end AND a.halo_start < b.halo_end
                  WHERE a.id = ANY(%s)""",
                    lines.ids,
                )
            )
            overlapping = {row[0] for row in self.env.cr.fetchall()}
        for line in self:
            line.halo_overlap = line.id in overlapping

    @api.depends("halo_ticket_id.commercial_partner_id")
    def _compute_partner_id(self):
        ticket_lines = self.filtered("halo_ticket_id")
        for line in ticket_lines:
            line.partner_id = line.halo_ticket_id.commercial_partner_id or line.halo_ticket_id.partner_id
        return super(AccountAnalyticLine, self - ticket_lines)._compute_partner_id()

    @api.constrains("halo_start", "halo_end")
    def _check_halo_times(self):
        for line in self:
            if not (line.halo_start and line.halo_end):
                continue
            if line.halo_end < line.halo_start:
                raise ValidationError(
                    self.env._(
                        "The action '%(name)s' ends before it starts (%(start)s → %(end)s).",
                        name=line.name,
                        start=line.halo_start,
                        end=line.halo_end,
                    )
                )
            if line.halo_end - line.halo_start > timedelta(hours=MAX_ACTION_HOURS):
                raise ValidationError(
                    self.env._(
                        "The action '%(name)s' lasts more than %(hours)s hours; split it or check the dates.",
                        name=line.name,
                        hours=MAX_ACTION_HOURS,
                    )
                )

    @api.constrains("halo_ticket_id", "halo_charge_rate_id", "halo_kind")
    def _check_halo_rate_kind(self):
        for line in self.filtered("halo_charge_rate_id"):
            kind = "travel" if line.halo_kind == "travel" else "labour"
            if line.halo_charge_rate_id.kind != kind:
                raise ValidationError(
                    self.env._(
                        "Charge rate %(rate)s is for %(rate_kind)s, not for %(kind)s.",
                        rate=line.halo_charge_rate_id.name,
                        rate_kind=dict(line.halo_charge_rate_id._fields["kind"].selection)[
                            line.halo_charge_rate_id.kind
                        ],
                        kind=dict(self._fields["halo_kind"].selection)[line.halo_kind],
                    )
                )

    @api.onchange("halo_start", "halo_end", "employee_id")
    def _onchange_halo_times(self):
        if self.halo_start and self.halo_end and self.halo_end >= self.halo_start:
            self.unit_amount = (self.halo_end - self.halo_start).total_seconds() / 3600
        if self.halo_start and self.halo_end and self.employee_id:
            domain = [
                ("employee_id", "=", self.employee_id.id),
                ("halo_start", "<", self.halo_end),
                ("halo_end", ">", self.halo_start),
            ]
            if self._origin.id:
                domain.append(("id", "!=", self._origin.id))
            other = self.search(domain, limit=1)
            if other:
                return {
                    "warning": {
                        "title": self.env._("Overlapping actions"),
                        "message": self.env._(
                            "%(tech)s already has '%(other)s' from %(start)s to %(end)s.",
                            tech=self.employee_id.name,
                            other=other.name,
                            start=other.halo_start,
                            end=other.halo_end,
                        ),
                    }
                }

    @api.model_create_multi
    def create(self, vals_list):
        tickets = self.env["helpdesk.ticket"].browse(
            [vals["halo_ticket_id"] for vals in vals_list if vals.get("halo_ticket_id")]
        )
        tickets.fetch(["number", "team_id", "company_id"])
        for vals in vals_list:
            if vals.get("halo_ticket_id"):
                self._halo_prepare_ticket_vals(vals)
        lines = super().create(vals_list)
        lines.filtered("halo_ticket_id")._halo_rate_work()
        return lines

    def write(self, vals):
        if "halo_start" in vals or "halo_end" in vals:
            for line in self:
                line_vals = dict(vals)
                self._halo_set_duration(line_vals, line)
                super(AccountAnalyticLine, line).write(line_vals)
            result = True
        else:
            result = super().write(vals)
        if RATING_FIELDS.intersection(vals):
            self.filtered("halo_ticket_id")._halo_rate_work()
        return result

    def _halo_rate_work(self):
        """Rate these lines again, with the other unbilled work they are rounded with.

        Nothing already rated is re-priced by a version added since: each rounding group is
        rated with the versions its already-rated members knew (``halo_versions_known``); a
        group of new or changed lines only gets today's versions. What the group's rounding
        changes on the other members (an action added to or moved out of their day) is
        recorded in the re-rating audit."""
        if not self or NO_RATING.is_set(self.env):
            return
        changed = self.sudo().filtered(lambda line: line.halo_billing_state == "unbilled")
        if not changed:
            return
        others = self.sudo().search(
            [
                ("halo_ticket_id", "in", changed.halo_ticket_id.ids),
                ("halo_billing_state", "=", "unbilled"),
                ("id", "not in", changed.ids),
            ]
        )
        groups = defaultdict(lambda: self.browse().sudo())
        Contract = self.env["halo.contract"].sudo()
        candidates = {}
        for line in changed | others:
            company = line.company_id
            customer = line.halo_ticket_id.commercial_partner_id.with_company(company)
            # the rounding scope rating will use: the governing contract's, the customer's, the
            # company's (customer settings are per company)
            if (company.id, customer.id) not in candidates:
                candidates[company.id, customer.id] = Contract._halo_scope_contracts(customer, company)
            contract = (
                candidates[company.id, customer.id]
                and candidates[company.id, customer.id]._halo_governing_contract(
                    line.halo_ticket_id.partner_id, line.date, line.halo_charge_rate_id.id
                )
                or Contract
            )
            scope = (
                contract.rounding_scope
                or customer.halo_rounding_scope
                or company.halo_rounding_scope
                or "action"
            )
            if scope == "action":
                if line in changed:  # rounded alone: the others are not affected
                    groups[("alone", line.id)] |= line
                continue
            key = (line.halo_ticket_id.id, line.halo_kind or "labour", line.halo_charge_rate_id.id)
            groups[key + ((line.date,) if scope == "ticket_day" else ())] |= line
        # one rating call per set of known versions (a whole group always in the same call)
        by_known = defaultdict(lambda: self.browse().sudo())
        for members in groups.values():
            known = [line.halo_versions_known for line in members - changed if line.halo_versions_known]
            by_known[min(known) if known else 0] |= members
        siblings = others.filtered(lambda line: line.halo_rated_amount or line.halo_rate_version_id)
        before = {
            line.id: (
                line.halo_rated_amount,
                line.halo_billable_hours,
                line.halo_rate_version_id.id,
                line.halo_rating_explanation,
            )
            for line in siblings
        }
        for known, lines in by_known.items():
            self.env["halo.rating"]._rate_timesheets(lines, known=known or None)
        audits = []
        reason = self.env._(
            "Re-priced with its rounding group after a change to %(actions)s",
            actions=", ".join(changed.mapped(lambda line: line.name or str(line.id)))[:200],
        )
        for line in siblings:
            old = before[line.id]
            if old[:3] != (line.halo_rated_amount, line.halo_billable_hours, line.halo_rate_version_id.id):
                audits.append(
                    {
                        "line_id": line.id,
                        "reason": reason,
                        "old_amount": old[0],
                        "new_amount": line.halo_rated_amount,
                        "old_hours": old[1],
                        "new_hours": line.halo_billable_hours,
                        "old_version_id": old[2] or False,
                        "new_version_id": line.halo_rate_version_id.id,
                        "old_explanation": old[3],
                        "new_explanation": line.halo_rating_explanation,
                    }
                )
        if audits:
            self.env["halo.rating.audit"].sudo().create(audits)
        # prepay thresholds are checked as the work is rated, not weeks later at invoicing
        self.env["halo.contract"]._halo_check_work_thresholds(changed.halo_ticket_id)

    def action_halo_rerate(self):
        """Open the re-rating wizard for the selected lines."""
        return {
            "type": "ir.actions.act_window",
            "res_model": "halo.rerate.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": self._name, "active_ids": self.ids},
        }

    def _halo_prepare_ticket_vals(self, vals):
        """Defaults of an action recorded on a ticket (project, description, duration, rate)."""
        ticket = self.env["helpdesk.ticket"].browse(vals["halo_ticket_id"])
        if not vals.get("project_id"):
            project = ticket._halo_get_project()
            if project:
                vals["project_id"] = project.id
        vals.setdefault("name", ticket.number and f"{ticket.number} - {ticket.name}" or ticket.name)
        vals.setdefault("company_id", ticket.company_id.id)
        if not vals.get("halo_charge_rate_id"):
            rate = ticket._halo_default_rate(vals.get("halo_kind") or "labour")
            if rate:
                vals["halo_charge_rate_id"] = rate.id
        self._halo_set_duration(vals)
        return vals

    def _halo_set_duration(self, vals, line=None):
        start = fields.Datetime.to_datetime(vals.get("halo_start", line.halo_start if line else False))
        end = fields.Datetime.to_datetime(vals.get("halo_end", line.halo_end if line else False))
        if vals.get("halo_start") and "date" not in vals:
            # the timesheet day is the day the work started, in the user's time zone
            vals["date"] = fields.Datetime.context_timestamp(self, start).date()
        if start and end and end >= start:
            vals["unit_amount"] = (end - start).total_seconds() / 3600
        elif start and not end:
            vals["unit_amount"] = 0.0
