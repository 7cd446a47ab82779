# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoice lines added in bulk, as copies of a line Odoo created.

An itemised billing run puts a hundred lines or more on one invoice; Odoo's ORM creates an
invoice line in about 6 ms (company checks, analytic validation, per-line computed fields,
tax sync), which made the lines the whole cost of an itemised run. Here Odoo creates one
*prototype* line per distinct set of accounting values (product, account, taxes, analytic
distribution, sign) and every other line of that set is a copy of its prototype's stored
row with only its own label, quantity, price and amounts changed:

- the per-line amounts (``price_subtotal``, ``price_total``, and the balance with its share
  of the invoice's global rounding) are computed by Odoo's own tax engine from the
  prototype's base line, as ``_compute_totals`` and the tax sync compute them;
- the copies are inserted inside Odoo's own ``_sync_dynamic_lines`` and ``_check_balanced``
  contexts, so Odoo itself then recomputes the tax lines, corrects any base line balance
  that differs from its own global rounding, writes the payment-term lines and checks that
  the entry balances;
- many2many values (taxes, tax tags) are copied from the prototype.

The billing run creates such invoices with Odoo's ``skip_invoice_sync`` key, so that their
tax and payment-term lines are made once, in one batch for all of them, when the copies are
added, rather than made for the prototypes and then rewritten one ORM write at a time.

Only lines whose values do not depend on anything but the prototype can be copied, see
:meth:`_halo_bulk_line_copyable`; any other line goes through the ORM.
``tests/test_invoice_bulk_lines.py`` compares copies with ORM-created lines column by column.

The billing run calls one method, :meth:`_halo_create_invoices_with_lines`. The copy is off
when the invoice's company says so (``res.company.halo_bulk_line_copy``) or when a stored
computed field of another module depends on the columns copied (``row_copies.refusal``):
then every line is created by the ORM with its invoice, as Odoo does.
"""

from collections import defaultdict

from odoo import Command, api, models
from odoo.tools import SQL

from ..halo_engine import BILLING_RUN
from . import row_copies

# Columns a copy computes for itself; every other stored column is the prototype's.
OWN_COLUMNS = (
    "name",
    "quantity",
    "price_unit",
    "sequence",
    "price_subtotal",
    "price_total",
    "amount_currency",
    "balance",
    "debit",
    "credit",
    "halo_run_line_id",
)


class AccountMove(models.Model):
    _inherit = "account.move"

    def write(self, vals):
        if BILLING_RUN.is_set(self.env) and self._halo_sync_neutral(vals) and self._halo_bulk_copy_scope():
            # The billing run making or posting its invoices: skip Odoo's before-and-after pass
            # of its invoice sync over every line of every invoice. The balance is still checked.
            self = self.with_context(skip_invoice_sync=True)  # noqa: PLW0642
        return super().write(vals)

    def _halo_bulk_copy_scope(self):
        """Whether ``self`` are all invoices of billing runs whose lines the copy makes (the
        copy is on for their company and allowed): the only invoices whose invoice sync the
        billing run may skip around its own writes."""
        return (
            bool(self)
            and all(move.halo_run_id for move in self)
            and all(self.env["account.move"]._halo_bulk_copy_on(company) for company in self.company_id)
        )

    @api.model
    def _halo_bulk_copy_on(self, company, model_name="account.move.line"):
        """Whether lines of ``model_name`` of ``company`` may be copied: the company's setting,
        and no stored computed field of another module that the copy would leave stale."""
        return bool(company.halo_bulk_line_copy) and not row_copies.refusal(self.env, model_name)

    # ------------------------------------------------------------------ the entry point
    @api.model
    def _halo_create_invoices_with_lines(self, vals_list, copy_lines, create_context):
        """Create the invoices ``vals_list`` (their lines as ``Command.create`` values in
        ``invoice_line_ids``) with ``create_context``, and return them in the same order.

        ``copy_lines[i]`` says whether the lines of invoice ``i`` may be copies of one another
        (an itemised invoice). Where the copy is on for the invoice's company, the lines that
        share their accounting values with an earlier line are taken out, the invoice is made
        without its tax and payment-term lines, and the lines are added as copies of that line
        (or by the ORM if Odoo's line cannot be copied); Odoo makes the tax and payment-term
        lines then, once. Elsewhere every line is created by the ORM with its invoice: the
        caller hands over invoices in chunks (the billing run about 5,000 lines at a time)."""
        Company = self.env["res.company"]
        copies = []
        for vals, may_copy in zip(vals_list, copy_lines, strict=True):
            company = Company.browse(vals.get("company_id")) if vals.get("company_id") else self.env.company
            copies.append(
                self._halo_split_copies(vals) if may_copy and self._halo_bulk_copy_on(company) else []
            )
        created = {}
        for deferred in (True, False):
            indexes = [index for index, move_copies in enumerate(copies) if bool(move_copies) == deferred]
            if indexes:
                batch = self.with_context(**create_context, skip_invoice_sync=deferred).create(
                    [vals_list[i] for i in indexes]
                )
                created.update(zip(indexes, batch.ids, strict=True))
        moves = self.browse([created[index] for index in range(len(vals_list))])
        if any(copies):
            moves._halo_add_copies(copies)
        return moves

    @api.model
    def _halo_split_copies(self, move_vals):
        """Take out of ``move_vals`` the lines that can be copies of another line of the
        invoice (same accounting values, see :meth:`_halo_bulk_add_lines`); returns them as
        ``[(sequence of the line to copy, line values)]``."""
        commands = move_vals["invoice_line_ids"]
        # only lines whose accounting values are fully known here
        known = [command[2] for command in commands if "account_id" in command[2]]
        created, copies = self._halo_group_copies(known)
        if not copies:
            return []
        copied = {id(vals) for _index, vals in copies}
        move_vals["invoice_line_ids"] = [command for command in commands if id(command[2]) not in copied]
        return [(created[index]["sequence"], vals) for index, vals in copies]

    def _halo_add_copies(self, copies):
        """Add the split-off lines to the created invoices ``self`` (``copies`` in their order):
        copied in bulk from the line they share their accounting values with or, if Odoo's line
        turned out not copyable, created through the ORM."""
        bulk, through_orm = [], {}
        for move, move_copies in zip(self, copies, strict=True):
            if not move_copies:
                continue
            by_sequence = {line.sequence: line for line in move.invoice_line_ids}
            prototypes = {sequence: by_sequence[sequence] for sequence, _vals in move_copies}
            if all(self._halo_bulk_line_copyable(line) for line in prototypes.values()):
                bulk.extend((prototypes[sequence].id, vals) for sequence, vals in move_copies)
            else:
                through_orm[move] = [Command.create(vals) for _sequence, vals in move_copies]
        if bulk:
            self.with_context(skip_analytic_sync=True)._halo_bulk_add_lines(bulk)
        for move, commands in through_orm.items():
            BILLING_RUN.on(move).with_context(check_move_validity=False, skip_analytic_sync=True).write(
                {"invoice_line_ids": commands}
            )

    @api.model
    def _halo_sync_neutral(self, vals):
        """Whether writing ``vals`` on invoices alters nothing Odoo's invoice sync computes from:
        the flag Odoo itself resets at the end of ``create``, or posting (the sync leaves posted
        invoices' tax lines alone; payment terms, rounding and partner do not depend on the state)."""
        return set(vals) <= {"is_manually_modified"} or (
            vals.get("state") == "posted" and set(vals) <= {"state", "posted_before"}
        )

    @api.model
    def _halo_bulk_line_copyable(self, prototype):
        """Whether lines can be copied from ``prototype`` (an invoice line Odoo created):
        a product line of a draft invoice in company currency, without discount, manual tax
        data or reconcilable account, on which Odoo computes nothing from sibling lines."""
        move = prototype.move_id
        if "sale_line_ids" in prototype._fields and prototype.sale_line_ids:
            return False
        return bool(
            prototype.display_type == "product"
            and move.state == "draft"
            and move.is_invoice(include_receipts=True)
            and move.currency_id == move.company_currency_id
            and not prototype.discount
            and not prototype.extra_tax_data
            and not prototype.account_id.reconcile
        )

    def _halo_bulk_add_lines(self, copies):
        """Add invoice lines to the draft invoices ``self`` as copies of prototype lines.

        :param copies: a list of ``(prototype_line_id, values)`` where ``values`` holds the
            copy's ``name``, ``quantity``, ``price_unit``, ``sequence`` and optionally
            ``halo_run_line_id``; the prototype must be one of ``self``'s lines and
            :meth:`_halo_bulk_line_copyable`.
        :return: ``{(move_id, sequence): line_id}`` of the new lines.
        """
        if not copies:
            return {}
        # Odoo's sync must run after the copies, also on invoices created without it; adding
        # the lines is part of making the invoice, not a manual change of it
        self = self.with_context(skip_invoice_sync=False, skip_is_manually_modified=True)  # noqa: PLW0642
        Line = self.env["account.move.line"]
        self.env.flush_all()
        prototypes = Line.browse({prototype_id for prototype_id, _values in copies})
        if not set(prototypes.move_id.ids) <= set(self.ids):
            raise ValueError("lines can only be copied from lines of the invoices they are added to")
        bases = {}
        for prototype in prototypes:
            if not self._halo_bulk_line_copyable(prototype):
                raise ValueError(f"invoice line {prototype.id} cannot be copied in bulk")
            bases[prototype.id] = prototype.move_id._prepare_product_base_line_for_taxes_computation(
                prototype
            )
        rows = self._halo_bulk_line_rows(copies, prototypes, bases)
        container = {"records": self}
        with self._check_balanced(container), self._sync_dynamic_lines(container):
            new_ids = self._halo_bulk_insert_rows(rows)
            self._halo_bulk_copy_relations(new_ids, [row["prototype"] for row in rows])
            # the ORM did not see these rows: reload everything, and recompute what the
            # invoices store from their lines (totals, payment state...) from the database
            self.env.invalidate_all()
            for field in self._halo_fields_on_lines():
                self.env.add_to_compute(field, self)
        self.env.flush_all()
        return {
            (row["move_id"], row["sequence"]): line_id for row, line_id in zip(rows, new_ids, strict=True)
        }

    def _halo_bulk_line_rows(self, copies, prototypes, bases):
        """Each copy's own column values, converted as the ORM would store them.

        The amounts come from Odoo's tax engine run over all product lines of the invoice, in
        the order Odoo's tax sync reads them (by id, the copies last): ``price_subtotal`` and
        ``price_total`` are the line's own rounded totals (what ``_compute_totals`` stores),
        and ``balance`` includes the share of the invoice's global rounding difference that
        the sync would write on the line, so that the sync has nothing to rewrite."""
        Line = self.env["account.move.line"]
        AccountTax = self.env["account.tax"]
        by_id = {prototype.id: prototype for prototype in prototypes}
        convert = {fname: Line._fields[fname] for fname in OWN_COLUMNS if fname in Line._fields}
        rows, base_lines = [], defaultdict(list)
        for prototype_id, values in copies:
            prototype = by_id[prototype_id]
            cached = {
                fname: convert[fname].convert_to_cache(values.get(fname), prototype)
                for fname in ("name", "quantity", "price_unit")
            }
            base_line = dict(
                bases[prototype_id],
                record=prototype,
                id=0,
                name=cached["name"],
                quantity=cached["quantity"],
                price_unit=cached["price_unit"],
            )
            base_lines[prototype.move_id].append(base_line)
            rows.append(
                {
                    "prototype": prototype_id,
                    "move_id": prototype.move_id.id,
                    "name": cached["name"],
                    "quantity": cached["quantity"],
                    "price_unit": cached["price_unit"],
                    "sequence": values["sequence"],
                    "halo_run_line_id": values.get("halo_run_line_id") or None,
                    "base_line": base_line,
                }
            )
        for move, move_base_lines in base_lines.items():
            existing = move.line_ids.filtered(lambda line: line.display_type == "product").sorted("id")
            all_lines = [move._prepare_product_base_line_for_taxes_computation(line) for line in existing]
            all_lines += move_base_lines
            AccountTax._add_tax_details_in_base_lines(all_lines, move.company_id)
            AccountTax._round_base_lines_tax_details(all_lines, move.company_id)
        for row in rows:
            prototype = by_id[row["prototype"]]
            base_line = row.pop("base_line")
            details, sign = base_line["tax_details"], base_line["sign"]
            balance = prototype.company_currency_id.round(
                sign * (details["total_excluded"] + details["delta_total_excluded"])
            )
            debit, credit = (max(balance, 0.0), max(-balance, 0.0))
            if prototype.is_storno:
                debit, credit = -credit, -debit
            row.update(
                {
                    "price_subtotal": details["total_excluded_currency"],
                    "price_total": details["total_included_currency"],
                    "amount_currency": prototype.currency_id.round(
                        sign * (details["total_excluded_currency"] + details["delta_total_excluded_currency"])
                    ),
                    "balance": balance,
                    "debit": debit,
                    "credit": credit,
                }
            )
            for fname, field in convert.items():
                if fname in ("sequence", "halo_run_line_id"):
                    continue
                row[fname] = field.convert_to_column_insert(row[fname], prototype)
        return rows

    def _halo_bulk_insert_rows(self, rows):
        """Insert the copies; returns their ids in the order of ``rows``."""
        Line = self.env["account.move.line"]
        own = [fname for fname in OWN_COLUMNS if fname in Line._fields]
        inserted = row_copies.insert_row_copies(
            Line,
            [row["prototype"] for row in rows],
            {fname: [row[fname] for row in rows] for fname in own},
            returning=("id", "move_id", "sequence"),
        )
        new_ids = {(move_id, sequence): line_id for line_id, move_id, sequence in inserted}
        return [new_ids[row["move_id"], row["sequence"]] for row in rows]

    def _halo_bulk_copy_relations(self, new_ids, prototype_ids):
        """Copy every stored many2many value of the prototypes (taxes, tax tags…) to the copies.
        The prototypes' values are read first and the pairs inserted without a join: a join
        planned on stale statistics (a table analysed while empty) went quadratic."""
        Line = self.env["account.move.line"]
        for field in Line._fields.values():
            if field.type != "many2many" or not field.store:
                continue
            self.env.cr.execute(
                SQL(
                    "SELECT %s, %s FROM %s WHERE %s = ANY(%s)",
                    SQL.identifier(field.column1),
                    SQL.identifier(field.column2),
                    SQL.identifier(field.relation),
                    SQL.identifier(field.column1),
                    list(set(prototype_ids)),
                )
            )
            values = defaultdict(list)
            for prototype_id, value in self.env.cr.fetchall():
                values[prototype_id].append(value)
            pairs = [
                (new_id, value)
                for new_id, prototype_id in zip(new_ids, prototype_ids, strict=True)
                for value in values.get(prototype_id, ())
            ]
            if not pairs:
                continue
            self.env.cr.execute(
                SQL(
                    "INSERT INTO %s (%s, %s) SELECT * FROM unnest(%s::int[], %s::int[])",
                    SQL.identifier(field.relation),
                    SQL.identifier(field.column1),
                    SQL.identifier(field.column2),
                    [pair[0] for pair in pairs],
                    [pair[1] for pair in pairs],
                )
            )

    @api.model
    def _halo_fields_on_lines(self):
        """The stored fields of an invoice computed from its lines."""
        result = []
        for field in self._fields.values():
            if not (field.store and field.compute):
                continue
            depends = field.get_depends(self)[0]
            if any(dep.split(".")[0] in ("line_ids", "invoice_line_ids") for dep in depends):
                result.append(field)
        return result

    def _halo_group_copies(self, line_vals):
        """Split the invoice line values of one invoice into the lines Odoo must create (the
        first of each set of accounting values) and the copies of them; returns
        ``(created, copies)`` with ``copies`` as ``[(index in created, values)]``."""
        created, copies, first = [], [], {}
        for vals in line_vals:
            key = (
                vals.get("product_id"),
                vals.get("account_id"),
                str(vals.get("tax_ids")),
                str(vals.get("tax_tag_ids")),
                str(vals.get("analytic_distribution") or {}),
                (vals.get("quantity") or 0) * (vals.get("price_unit") or 0) < 0,
                vals.get("display_type", "product"),
            )
            if key in first and not vals.get("discount"):
                copies.append((first[key], vals))
            else:
                first.setdefault(key, len(created))
                created.append(vals)
        return created, copies
