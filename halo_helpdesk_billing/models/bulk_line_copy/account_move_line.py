# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Analytic lines of posted invoice lines, copied in bulk.

Posting an itemised invoice creates an analytic line for every invoice line (one per analytic
account of its distribution) through the ORM, which made them a third of the cost of posting
a billing run's invoices. When the billing run posts (the ``BILLING_RUN`` marker in the context),
the values of every analytic line still come from Odoo's own ``_prepare_analytic_lines``;
Odoo then creates the first line of each set of equal values and every other line is a copy
of that line's stored row with only its own label, quantity, amount and journal item.

Only plain accounting values are copied (see :meth:`_halo_analytic_copyable`): a line that
carries anything else (a sale order line to re-invoice, a project or task) is created by the
ORM. ``tests/test_invoice_bulk_lines.py`` compares the copies with ORM-made lines column by column.
As for invoice lines, the copy is off when the company says so or a stored computed field of
another module depends on the analytic line's columns (``row_copies.refusal``).
"""

from odoo import models

from ..halo_engine import BILLING_RUN
from . import row_copies

# the values of an analytic line Odoo makes for an invoice line besides its analytic accounts
ANALYTIC_PLAIN_VALUES = frozenset(
    (
        "name",
        "date",
        "partner_id",
        "unit_amount",
        "product_id",
        "product_uom_id",
        "amount",
        "general_account_id",
        "ref",
        "move_line_id",
        "user_id",
        "company_id",
        "category",
    )
)
# the columns each copy has of its own; every other stored column is its prototype's
ANALYTIC_OWN_COLUMNS = ("name", "unit_amount", "amount", "move_line_id")


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    def _create_analytic_lines(self):
        if not (BILLING_RUN.is_set(self.env) and self._halo_analytic_copy_on()):
            return super()._create_analytic_lines()
        # account's own method, with the creation split into prototypes and copies
        self._validate_analytic_distribution()
        vals_list = []
        for line in self:
            vals_list.extend(line._prepare_analytic_lines())
        context = dict(self.env.context)
        context.pop("default_account_id", None)
        context["skip_analytic_sync"] = True
        # a whole context on purpose (as account does): default_account_id must be removed
        AnalyticLine = self.env["account.analytic.line"].with_context(context)  # pylint: disable=context-overridden
        created, copies = self._halo_group_analytic_values(vals_list)
        prototypes = AnalyticLine.create(created)
        if copies:
            self._halo_insert_analytic_copies([(prototypes[index], vals) for index, vals in copies])
        return None

    def _halo_analytic_copy_on(self):
        """Whether the analytic lines of ``self`` may be copies: the copy is on for every
        company of the lines and allowed for analytic lines."""
        Move = self.env["account.move"]
        return all(Move._halo_bulk_copy_on(company, "account.analytic.line") for company in self.company_id)

    def _halo_analytic_copyable(self, vals):
        """Whether an analytic line with these values can be a copy: only the values Odoo
        gives every invoice analytic line, and analytic accounts."""
        fields = self.env["account.analytic.line"]._fields
        return all(
            key in ANALYTIC_PLAIN_VALUES
            or (
                key in fields
                and fields[key].type == "many2one"
                and fields[key].comodel_name == "account.analytic.account"
            )
            for key in vals
        )

    def _halo_group_analytic_values(self, vals_list):
        """``(created, copies)``: the analytic line values Odoo must create (the first of
        each set of equal values) and the others as ``[(index in created, values)]``.
        Values are equal when all but the copy's own columns and the signs of its amounts are."""
        created, copies, first = [], [], {}
        for vals in vals_list:
            if not self._halo_analytic_copyable(vals):
                created.append(vals)
                continue
            key = tuple(sorted((k, v) for k, v in vals.items() if k not in ANALYTIC_OWN_COLUMNS))
            key += ((vals.get("amount") or 0.0) < 0, (vals.get("unit_amount") or 0.0) < 0)
            if key in first:
                copies.append((first[key], vals))
            else:
                first[key] = len(created)
                created.append(vals)
        return created, copies

    def _halo_insert_analytic_copies(self, copies):
        """Insert the copies: ``[(prototype analytic line, values)]``."""
        Analytic = self.env["account.analytic.line"]
        self.env.flush_all()
        own = {fname: Analytic._fields[fname] for fname in ANALYTIC_OWN_COLUMNS}
        row_copies.insert_row_copies(
            Analytic,
            [prototype.id for prototype, _vals in copies],
            {
                fname: [
                    field.convert_to_column_insert(
                        field.convert_to_cache(vals.get(fname), prototype), prototype
                    )
                    for prototype, vals in copies
                ]
                for fname, field in own.items()
            },
        )
        # the ORM did not see these rows: nothing cached may miss them (the journal items'
        # analytic lines, the analytic accounts' balances...)
        self.env.invalidate_all()
