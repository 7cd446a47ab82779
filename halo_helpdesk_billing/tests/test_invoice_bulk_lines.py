"""Invoice lines copied in bulk (account.move._halo_bulk_add_lines) must be the lines Odoo's ORM
would have created: every stored column, taxes, tax tags, tax lines, payment-term lines, invoice
totals and, once posted, analytic lines. Each test builds the same invoice twice, once through
``account.move.create`` with every line and once with the first line of each accounting set
created by Odoo and the others copied, then compares the two column by column."""

from datetime import date
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged
from odoo.tools import SQL

from ..models.bulk_line_copy import row_copies
from ..models.halo_engine import BILLING_RUN
from .common import HaloBillingCommon

# columns that differ between two invoices whatever the way they are made
MOVE_IGNORED = {
    "id",
    "name",
    "sequence_number",
    "sequence_prefix",
    "payment_reference",
    "create_date",
    "write_date",
    "access_token",
    "inalterable_hash",
    "secure_sequence_number",
    "made_sequence_gap",
}
LINE_IGNORED = {"id", "move_id", "create_date", "write_date", "move_name"}
ANALYTIC_IGNORED = {"id", "move_line_id", "create_date", "write_date"}


@tagged("post_install", "-at_install")
class TestInvoiceBulkLines(HaloBillingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Tax = cls.env["account.tax"]
        cls.vat = Tax.create({"name": "VAT 20 (test)", "amount": 20.0, "type_tax_use": "sale"})
        cls.levy = Tax.create({"name": "Levy 7.5 (test)", "amount": 7.5, "type_tax_use": "sale"})
        cls.fee = Tax.create(
            {"name": "Fee 0.35 (test)", "amount": 0.35, "amount_type": "fixed", "type_tax_use": "sale"}
        )
        cls.zero = Tax.create({"name": "Export 0 (test)", "amount": 0.0, "type_tax_use": "sale"})
        cls.product_onsite.taxes_id = cls.vat
        cls.product_remote.taxes_id = cls.vat | cls.levy | cls.fee
        cls.product_free = cls.env["product.product"].create({"name": "Untaxed (test)", "type": "service"})
        cls.product_free.taxes_id = False
        plan = cls.env["account.analytic.plan"].create({"name": "Projects (test)"})
        cls.analytic_a, cls.analytic_b = cls.env["account.analytic.account"].create(
            [{"name": "Project A", "plan_id": plan.id}, {"name": "Project B", "plan_id": plan.id}]
        )

    def _lines(self):
        """Awkward quantities and prices: thirds of hours, out-of-hours multiples, a credit."""
        onsite, remote, free = self.product_onsite, self.product_remote, self.product_free
        a, b = {str(self.analytic_a.id): 100}, {str(self.analytic_a.id): 60, str(self.analytic_b.id): 40}
        rows = [
            (onsite, "Fixed printer", 1.3333, 95.0, a),
            (onsite, "Late call", 1.0, 142.5, a),
            (remote, "Patch server", 0.25, 95.0, b),
            (onsite, "Drive", 0.4167, 47.5, a),
            (remote, "Patch again", 2.75, 95.0, b),
            (free, "Toll", 1.0, 13.57, False),
            (onsite, "Evening", 0.6667, 142.5, a),
            (remote, "Weekend", 1.0833, 190.0, b),
            (free, "Parking", 1.0, 7.15, False),
            (onsite, "Goodwill credit", 1.0, -12.34, a),
            (remote, "Short call", 0.0833, 95.0, b),
            (onsite, "Onsite again", 3.5, 95.0, a),
            (onsite, "Goodwill credit 2", 2.0, -5.55, a),
            (remote, "Odd", 0.3333, 99.99, b),
        ]
        return [
            dict(
                {
                    "product_id": product.id,
                    "name": name,
                    "quantity": quantity,
                    "price_unit": price,
                    "sequence": sequence,
                },
                **({"analytic_distribution": analytic} if analytic else {}),
            )
            for sequence, (product, name, quantity, price, analytic) in enumerate(rows, 1)
        ]

    def _create(self, line_vals, partner=None, deferred_sync=False):
        return (
            self.env["account.move"]
            .with_context(
                default_move_type="out_invoice",
                check_move_validity=False,
                skip_analytic_sync=True,
                skip_invoice_sync=deferred_sync,
                **({BILLING_RUN.key: BILLING_RUN} if deferred_sync else {}),
            )
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": (partner or self.customer).id,
                    "invoice_date": date(2026, 7, 31),
                    "invoice_line_ids": [Command.create(vals) for vals in line_vals],
                }
            )
        )

    def _make_both(self, partner=None, deferred_sync=False):
        """``deferred_sync``: the invoice that gets copies is created without its tax and
        payment-term lines, as the billing run does; they are made when the copies are added."""
        line_vals = self._lines()
        by_orm = self._create(line_vals, partner)
        Move = self.env["account.move"]
        created, copies = Move._halo_group_copies(self._lines())
        self.assertTrue(copies, "the test invoice must have lines to copy")
        in_bulk = self._create(created, partner, deferred_sync)
        if deferred_sync:
            self.assertFalse(
                in_bulk.line_ids.filtered(lambda line: line.display_type in ("tax", "payment_term"))
            )
        by_sequence = {line.sequence: line.id for line in in_bulk.invoice_line_ids}
        new_lines = in_bulk._halo_bulk_add_lines(
            [(by_sequence[created[index]["sequence"]], vals) for index, vals in copies]
        )
        self.assertEqual(len(new_lines), len(copies))
        return by_orm, in_bulk

    def _columns(self, table, ignored):
        self.env.cr.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY column_name",
            [table],
        )
        return [column for (column,) in self.env.cr.fetchall() if column not in ignored]

    def _line_snapshot(self, move):
        self.env.flush_all()
        columns = self._columns("account_move_line", LINE_IGNORED)
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM account_move_line WHERE move_id = %s "
                "ORDER BY display_type, sequence, tax_repartition_line_id, balance",
                SQL(", ").join(SQL.identifier(column) for column in columns),
                move.id,
            )
        )
        rows = []
        for values in self.env.cr.fetchall():
            row = {
                column: (("<name>" if value == move.name else value) if isinstance(value, str) else value)
                for column, value in zip(columns, values, strict=True)
            }
            rows.append(row)
        lines = move.line_ids.sorted(
            lambda line: (line.display_type, line.sequence, line.tax_repartition_line_id.id, line.balance)
        )
        analytic_columns = self._columns("account_analytic_line", ANALYTIC_IGNORED)
        for row, line in zip(rows, lines, strict=True):
            row["tax_ids"] = sorted(line.tax_ids.ids)
            row["tax_tag_ids"] = sorted(line.tax_tag_ids.ids)
            self.env.cr.execute(
                SQL(
                    "SELECT %s FROM account_analytic_line WHERE move_line_id = %s",
                    SQL(", ").join(SQL.identifier(column) for column in analytic_columns),
                    line.id,
                )
            )
            row["analytic_lines"] = sorted(
                tuple(str(value) for value in values) for values in self.env.cr.fetchall()
            )
        return rows

    def _move_snapshot(self, move):
        self.env.flush_all()
        columns = self._columns("account_move", MOVE_IGNORED)
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM account_move WHERE id = %s",
                SQL(", ").join(SQL.identifier(column) for column in columns),
                move.id,
            )
        )
        return dict(zip(columns, self.env.cr.fetchone(), strict=True))

    def _assert_same(self, by_orm, in_bulk):
        orm_lines, bulk_lines = self._line_snapshot(by_orm), self._line_snapshot(in_bulk)
        self.assertEqual(len(orm_lines), len(bulk_lines))
        for orm_line, bulk_line in zip(orm_lines, bulk_lines, strict=True):
            self.assertEqual(bulk_line, orm_line, f"line {orm_line['sequence']} {orm_line['name']}")
        self.assertEqual(self._move_snapshot(in_bulk), self._move_snapshot(by_orm))

    def test_copies_are_the_lines_odoo_creates_taxes_rounded_per_line(self):
        self.env.company.tax_calculation_rounding_method = "round_per_line"
        by_orm, in_bulk = self._make_both()
        self._assert_same(by_orm, in_bulk)
        # worked by hand for one copy: 0.25 h × £95 = £23.75; VAT 20 % £4.75, levy 7.5 % £1.78
        # (1.78125 rounded), fixed fee £0.35 × 0.25 = £0.09 → total £30.37
        patch = in_bulk.invoice_line_ids.filtered(lambda line: line.name == "Patch server")
        self.assertEqual((patch.price_subtotal, patch.price_total, patch.balance), (23.75, 30.37, -23.75))
        self.assertEqual(in_bulk.state, "draft")
        self.assertEqual(len(in_bulk.invoice_line_ids), 14)

    def test_copies_are_the_lines_odoo_creates_taxes_rounded_globally(self):
        # global rounding spreads the rounding difference over base lines: Odoo's own sync must
        # have corrected the copies' balances, exactly as it does for lines it creates
        self.env.company.tax_calculation_rounding_method = "round_globally"
        by_orm, in_bulk = self._make_both()
        self._assert_same(by_orm, in_bulk)

    def test_copies_added_to_an_invoice_created_without_its_tax_lines(self):
        """The billing run's path: Odoo makes the tax and payment-term lines once, after the
        copies, and finds nothing to correct on the copies: their balances already carry their
        share of the globally rounded difference."""
        self.env.company.tax_calculation_rounding_method = "round_globally"
        Line = type(self.env["account.move.line"])
        written = []
        original_write = Line.write

        def spy_write(lines, vals):
            written.extend((line.id, tuple(sorted(vals))) for line in lines)
            return original_write(lines, vals)

        with patch.object(Line, "write", spy_write):
            by_orm, in_bulk = self._make_both(deferred_sync=True)
        self._assert_same(by_orm, in_bulk)
        # VAT on two sets of lines (grouped by their taxes), the levy and the fixed fee
        self.assertEqual(len(in_bulk.line_ids.filtered(lambda line: line.display_type == "tax")), 4)
        self.assertEqual(len(in_bulk.line_ids.filtered(lambda line: line.display_type == "payment_term")), 1)
        created, _copies = self.env["account.move"]._halo_group_copies(self._lines())
        made_by_odoo = {vals["sequence"] for vals in created}
        self.assertEqual(made_by_odoo, {1, 3, 6, 10})
        copies = in_bulk.invoice_line_ids.filtered(lambda line: line.sequence not in made_by_odoo)
        # the rounding difference did land on a copy, and no copy was rewritten by the sync
        self.assertTrue(any(line.balance != -line.price_subtotal for line in copies))
        self.assertFalse([entry for entry in written if entry[0] in copies.ids])

    def test_copies_follow_the_fiscal_position(self):
        position = self.env["account.fiscal.position"].create({"name": "Export (test)"})
        self.zero.write(
            {
                "fiscal_position_ids": [Command.set(position.ids)],
                "original_tax_ids": [Command.set(self.vat.ids)],
            }
        )
        export_customer = self.env["res.partner"].create(
            {"name": "Overseas Ltd", "property_account_position_id": position.id}
        )
        by_orm, in_bulk = self._make_both(export_customer)
        self.assertEqual(in_bulk.fiscal_position_id, position)
        self.assertIn(self.zero, in_bulk.invoice_line_ids.tax_ids)
        self._assert_same(by_orm, in_bulk)

    def test_posted_copies_have_the_same_entries_and_analytic_lines(self):
        """Posted as the billing run posts: the analytic lines are copied in bulk too."""
        by_orm, in_bulk = self._make_both(deferred_sync=True)
        by_orm.action_post()
        Analytic = type(self.env["account.analytic.line"])
        with patch.object(Analytic, "create", autospec=True, side_effect=Analytic.create) as create:
            BILLING_RUN.on(in_bulk).action_post()
        self._assert_same(by_orm, in_bulk)
        analytic = in_bulk.invoice_line_ids.analytic_line_ids
        # 7 on-site lines on one analytic account, 5 remote lines split 60/40 over two
        self.assertEqual(len(analytic), 7 + 5 * 2)
        # Odoo made one line per set of values: on-site, on-site credits, remote on A and on B,
        # and one for each VAT line (the test taxes have no account of their own, so their lines
        # keep the income account and its analytic distribution); the other 11 are copies
        self.assertEqual(sum(len(call.args[1]) for call in create.call_args_list), 6)
        self.assertEqual(
            sum(analytic.mapped("amount")), sum(by_orm.invoice_line_ids.analytic_line_ids.mapped("amount"))
        )
        # worked by hand: "Weekend" 1.0833 h is stored as 1.08 (the unit's 2 decimals),
        # 1.08 × £190 = £205.20, 60 % on A = 123.12, 40 % on B = 82.08
        weekend = in_bulk.invoice_line_ids.filtered(lambda line: line.name == "Weekend").analytic_line_ids
        self.assertEqual(sorted(weekend.mapped("amount")), [82.08, 123.12])
        self.assertEqual(weekend.mapped("unit_amount"), [1.08, 1.08])

    def test_analytic_values_beyond_plain_accounting_are_not_copied(self):
        Line = self.env["account.move.line"]
        plain = {
            "name": "a",
            "amount": 10.0,
            "unit_amount": 1.0,
            "move_line_id": 1,
            "partner_id": 7,
            "account_id": self.analytic_a.id,
            "company_id": 1,
        }
        created, copies = Line._halo_group_analytic_values(
            [
                plain,
                dict(plain, name="b", move_line_id=2),
                dict(plain, name="credit", amount=-3.0),
                dict(plain, name="c", task_id=5),
                dict(plain, name="d", task_id=5),
                dict(plain, name="other partner", partner_id=8),
            ]
        )
        self.assertEqual([vals["name"] for vals in created], ["a", "credit", "c", "d", "other partner"])
        self.assertEqual([(index, vals["name"]) for index, vals in copies], [(0, "b")])

    def test_a_foreign_currency_invoice_is_not_copied(self):
        invoice = self._create(self._lines()[:1])
        invoice.currency_id = self.setup_other_currency("EUR")
        line = invoice.invoice_line_ids
        self.assertFalse(self.env["account.move"]._halo_bulk_line_copyable(line))
        with self.assertRaises(ValueError):
            invoice._halo_bulk_add_lines(
                [(line.id, {"name": "x", "quantity": 1, "price_unit": 1, "sequence": 9})]
            )

    # ------------------------------------------------------------------ the one entry point
    # account.move._halo_create_invoices_with_lines: the company's switch, and the refusal when
    # another module computes stored values from the copied columns

    def setUp(self):
        super().setUp()
        # the refusal is worked out once per registry: each test starts (and leaves) it unknown
        row_copies.forget(self.env.registry)
        self.addCleanup(row_copies.forget, self.env.registry)

    def _simple_lines(self):
        """Three on-site lines (VAT 20 %) on one analytic account: the last two are copies of the
        first when the copy is on; one untaxed line on its own."""
        a = {str(self.analytic_a.id): 100}
        rows = [
            (self.product_onsite, "Morning", 1.5, 95.0, a),
            (self.product_onsite, "Call", 0.25, 95.0, a),
            (self.product_onsite, "Afternoon", 2.0, 95.0, a),
            (self.product_free, "Toll", 1.0, 13.57, False),
        ]
        return [
            dict(
                {
                    "product_id": product.id,
                    "name": name,
                    "quantity": quantity,
                    "price_unit": price,
                    "sequence": sequence,
                    "account_id": product.product_tmpl_id.get_product_accounts()["income"].id,
                },
                **({"analytic_distribution": analytic} if analytic else {}),
            )
            for sequence, (product, name, quantity, price, analytic) in enumerate(rows, 1)
        ]

    def _through_entry_point(self, line_vals):
        """An invoice made as the billing run makes it, and whether lines were copied."""
        Move = type(self.env["account.move"])
        vals = {
            "move_type": "out_invoice",
            "partner_id": self.customer.id,
            "invoice_date": date(2026, 7, 31),
            "company_id": self.env.company.id,
            "invoice_line_ids": [Command.create(line) for line in line_vals],
        }
        context = {
            "default_move_type": "out_invoice",
            "check_move_validity": False,
            "skip_analytic_sync": True,
            BILLING_RUN.key: BILLING_RUN,
        }
        with patch.object(
            Move, "_halo_bulk_add_lines", autospec=True, side_effect=Move._halo_bulk_add_lines
        ) as bulk:
            move = self.env["account.move"]._halo_create_invoices_with_lines([vals], [True], context)
        return move, bulk.called

    def test_switched_off_the_orm_makes_the_same_invoice(self):
        self.assertTrue(self.env.company.halo_bulk_line_copy, "the copy is on by default")
        in_bulk, copied = self._through_entry_point(self._simple_lines())
        self.assertTrue(copied)
        self.env.company.halo_bulk_line_copy = False
        by_orm, copied = self._through_entry_point(self._simple_lines())
        self.assertFalse(copied, "switched off, lines were still copied")
        self._assert_same(by_orm, in_bulk)
        # worked by hand: 1.5 h × £95 = 142.50, 0.25 h × £95 = 23.75, 2 h × £95 = 190.00, toll 13.57:
        # untaxed 369.82; VAT 20 % of the three on-site lines (356.25) = 71.25; total 441.07
        for move in (by_orm, in_bulk):
            self.assertEqual(
                (move.amount_untaxed, move.amount_tax, move.amount_total), (369.82, 71.25, 441.07)
            )
        # posted as the run posts them: with the copy off, Odoo makes every analytic line
        Analytic = type(self.env["account.analytic.line"])
        BILLING_RUN.on(in_bulk).action_post()
        with patch.object(Analytic, "create", autospec=True, side_effect=Analytic.create) as create:
            BILLING_RUN.on(by_orm).action_post()
        self._assert_same(by_orm, in_bulk)
        # 3 on-site lines on analytic account A, plus the VAT line that keeps the income account
        # and its distribution (the test tax has no account of its own): 4 analytic lines, all by the ORM
        self.assertEqual(sum(len(call.args[1]) for call in create.call_args_list), 4)
        self.assertEqual(
            sorted(by_orm.line_ids.analytic_line_ids.mapped("amount")), [23.75, 71.25, 142.5, 190.0]
        )

    def test_another_modules_stored_compute_on_the_columns_makes_it_fall_back(self):
        registry = self.env.registry
        # this database: nothing outside the known-safe modules computes stored values from the
        # copied columns; without hr_timesheet in the list its task hours would be named
        self.assertEqual(row_copies.foreign_dependents(registry, "account.move.line"), [])
        self.assertEqual(row_copies.foreign_dependents(registry, "account.analytic.line"), [])
        unsafe = row_copies.SAFE_MODULES - {"hr_timesheet"}
        self.assertIn(
            "project.task.effective_hours",
            [
                str(field)
                for field in row_copies.foreign_dependents(registry, "account.analytic.line", unsafe)
            ],
        )

        class ForeignField:
            """A stored computed field of another module depending on the journal items'
            quantity (as sale's qty_invoiced does) and on the analytic lines' amount."""

            store, compute, manual, relational, _modules = (
                True,
                "_compute_x_total",
                False,
                False,
                ("x_other_module",),
            )
            model_name, name, type = "x.other.model", "x_total", "float"

            def __str__(self):
                return "x.other.model.x_total"

        fake = ForeignField()
        real = registry.get_dependent_fields
        watched = {
            registry["account.move.line"]._fields["quantity"],
            registry["account.analytic.line"]._fields["amount"],
        }

        def get_dependent_fields(field):
            yield from real(field)
            if field in watched:
                yield fake

        logger = "odoo.addons.halo_helpdesk_billing.models.bulk_line_copy.row_copies"
        with patch.object(registry, "get_dependent_fields", get_dependent_fields):
            with self.assertLogs(logger, "WARNING") as logs:
                by_orm, copied = self._through_entry_point(self._simple_lines())
            self.assertFalse(copied, "lines were copied although another module computes from them")
            self.assertEqual(len(logs.output), 1)
            self.assertIn("x.other.model.x_total (x_other_module)", logs.output[0])
            # logged once: the second invoice falls back quietly
            with self.assertNoLogs(logger, "WARNING"):
                again, copied = self._through_entry_point(self._simple_lines())
            self.assertFalse(copied)
            AccountMoveLine = type(self.env["account.move.line"])
            with (
                patch.object(
                    AccountMoveLine,
                    "_halo_group_analytic_values",
                    autospec=True,
                    side_effect=AccountMoveLine._halo_group_analytic_values,
                ) as grouped,
                self.assertLogs(logger, "WARNING") as logs,
            ):
                BILLING_RUN.on(by_orm).action_post()
            self.assertFalse(
                grouped.called, "analytic lines were copied although another module computes from them"
            )
            self.assertIn("account.analytic.line", logs.output[0])
        self.assertEqual((by_orm.amount_untaxed, by_orm.amount_total), (369.82, 441.07))
        # the same invoice as the copy makes once nothing else computes from the lines
        row_copies.forget(registry)
        in_bulk, copied = self._through_entry_point(self._simple_lines())
        self.assertTrue(copied)
        BILLING_RUN.on(in_bulk).action_post()
        self._assert_same(by_orm, in_bulk)
