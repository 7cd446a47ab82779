# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The names the addon's parts share, defined once: groups, the kinds of work recorded on
tickets, the kinds of charges, and the billing states of work.

Plain Python (no ORM): models, reports, wizards, services and tests import from here. Selection
labels are translated by Odoo from the fields that use them, as for any selection.
"""

from dataclasses import dataclass

# ---------------------------------------------------------------------- groups (xml ids)
BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"
BILLING_MANAGER = "halo_helpdesk_billing.group_halo_billing_manager"
# both billing groups, as a field's ``groups`` (a manager is a user too; listed for clarity)
BILLING_GROUPS = f"{BILLING_USER},{BILLING_MANAGER}"
# Odoo's invoicing group (who may send invoices to Xero, among others)
INVOICING_GROUP = "account.group_account_invoice"
# who may read the cost of timesheets: billing users and accounting auditors
TIMESHEET_COST_GROUPS = f"{BILLING_USER},account.group_account_readonly"


# ---------------------------------------------------------------------- kinds of work
@dataclass(frozen=True)
class WorkModel:
    """A kind of work a technician records on a ticket, billed by billing runs."""

    model: str
    table: str
    ticket_field: str
    date_field: str = "date"


# In the order a billing run collects them.
WORK_MODELS = (
    WorkModel("account.analytic.line", "account_analytic_line", "halo_ticket_id"),
    WorkModel("halo.mileage", "halo_mileage", "ticket_id"),
    WorkModel("halo.expense", "halo_expense", "ticket_id"),
    WorkModel("halo.ticket.item", "halo_ticket_item", "ticket_id"),
)
WORK_MODEL = {work.model: work for work in WORK_MODELS}
# model -> table
WORK_TABLES = {work.model: work.table for work in WORK_MODELS}
TIMESHEET_MODEL = "account.analytic.line"


# ---------------------------------------------------------------------- kinds of charges
# Everything that can be billed or reported, in display order: (kind, label).
KINDS = (
    ("labour", "Labour"),
    ("travel", "Travel time"),
    ("mileage", "Mileage"),
    ("expense", "Expense"),
    ("item", "Item"),
    ("recurring", "Recurring"),
    ("contract_fee", "Contract fee"),
    ("devices", "Devices"),
    ("topup", "Top-up"),
    ("prepay", "Prepay consumption"),
    ("other", "Other"),
)


def _kinds(*names):
    labels = dict(KINDS)
    return [(name, labels[name]) for name, _label in KINDS if name in names]


# kinds of time on a timesheet line (billed as hours)
TIMED_KINDS = ("labour", "travel")
# the kinds of a billing run's charges (halo.billing.run.line.kind)
CHARGE_KINDS = _kinds("labour", "travel", "mileage", "expense", "item", "recurring", "contract_fee", "prepay")
# what a billing run or a contract billed on an invoice line (account.move.line.halo_kind)
BILLED_KINDS = _kinds(
    "labour", "travel", "mileage", "expense", "item", "recurring", "contract_fee", "devices", "topup"
)
# the billing analysis' kinds (everything, and lines of no kind)
REPORT_KINDS = list(KINDS)
# the contract coverages of a charge's parts that consume from its contract (its ledger)
CONSUMING_MODES = ("included", "prepay_hours", "prepay_money")


# ---------------------------------------------------------------------- billing states of work
UNBILLED = "unbilled"
IN_RUN = "in_run"
INVOICED = "invoiced"
NOT_BILLABLE = "not_billable"
BILLING_STATES = [
    (UNBILLED, "Unbilled"),
    (IN_RUN, "In billing run"),
    (INVOICED, "Invoiced"),
    (NOT_BILLABLE, "Not billable"),
]
# work whose price may still change (re-rated when its rates or its own values change)
RERATABLE_STATES = (UNBILLED, NOT_BILLABLE)
