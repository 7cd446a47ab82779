from datetime import date, datetime
from types import SimpleNamespace
from unittest.mock import patch

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.account.models.account_move import AccountMove

from ..models.halo_engine import BILLING_ENGINE
from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install")
class TestBillingRun(HaloBillingRunCommon):
    def test_preview_prices_every_charge_with_its_explanation(self):
        actions, trip, expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        self.assertEqual(run.state, "previewed")
        lines = run.line_ids.sorted(lambda line: (line.kind, line.id))
        amounts = {(line.kind, line.res_id): line.amount for line in lines}
        self.assertEqual(
            amounts,
            {
                ("labour", actions[0].id): 142.50,  # 1 h 20 → 1 h 30 × 95
                ("labour", actions[1].id): 142.50,  # 18:00-19:00 BST is out of hours: 1 h × 142.50
                ("mileage", trip.id): 12.00,  # 20 km × 0.50 + 2.00
                ("expense", expense.id): 13.57,  # 12.34 × 1.10 = 13.574
                ("item", item.id): 50.00,  # 2 × 25.00
            },
        )
        self.assertEqual(run.amount_total, 360.57)
        self.assertIn(
            "out of hours",
            lines.filtered(lambda line: line.res_id == actions[1].id and line.kind == "labour").explanation,
        )
        self.assertIn("round trip", lines.filtered(lambda line: line.kind == "mileage").explanation)
        # the work is now in the run and locked
        self.assertEqual(set(actions.mapped("halo_billing_state")) | {trip.halo_billing_state}, {"in_run"})
        with self.assertRaisesRegex(UserError, run.name):
            trip.distance = 11

    def test_preview_rates_unrated_work_and_stores_it_with_the_claim(self):
        actions, _trip, _expense, _item = self._work(self.ticket)
        unrated = self.env["account.analytic.line"].create(
            {
                "halo_ticket_id": self.ticket.id,
                "employee_id": self.employee.id,
                "name": "No rate",
                "halo_start": datetime(2026, 7, 8, 9, 0),
                "halo_end": datetime(2026, 7, 8, 10, 0),
            }
        )
        unrated.halo_charge_rate_id = False
        # as after an import: no stored rating at all
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE account_analytic_line SET halo_rating_data = NULL, halo_rated_amount = NULL, "
            "halo_rating_explanation = NULL WHERE id = ANY(%s)",
            [(actions | unrated).ids],
        )
        self.env.invalidate_all()
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        charges = {line.res_id: line for line in run.line_ids if line.res_model == "account.analytic.line"}
        self.assertEqual([charges[action.id].amount for action in actions], [142.50, 142.50])
        # stored on the work and put in the run by the same update
        self.assertEqual(actions.mapped("halo_rated_amount"), [142.50, 142.50])
        self.assertIn("out of hours", actions[1].halo_rating_explanation)
        self.assertEqual(actions.mapped("halo_billing_state"), ["in_run", "in_run"])
        self.assertEqual(actions.halo_run_id, run)
        # the action without a rate is left out with its reason, and stays unbilled
        self.assertEqual(charges[unrated.id].state, "excluded")
        self.assertIn("no charge rate", charges[unrated.id].error)
        self.assertIn("no charge rate", unrated.halo_rating_explanation)
        self.assertEqual(unrated.halo_billing_state, "unbilled")
        self.assertFalse(unrated.halo_run_id)

    def test_invoices_itemised_with_numbers_on_tickets(self):
        actions, trip, expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        invoice = run.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.amount_untaxed, 360.57)
        # a line per action (the out-of-hours action is labelled), mileage and its per-trip
        # surcharge (10.00 + 2.00), the expense and the item
        labels = invoice.invoice_line_ids.mapped("name")
        self.assertEqual(len(labels), 6)
        self.assertTrue(any("(out of hours)" in label for label in labels))
        self.assertEqual(
            invoice.invoice_line_ids.filtered(lambda aml: "(surcharge)" in aml.name).price_subtotal, 2.0
        )
        self.assertTrue(all(self.ticket.number in label for label in labels))
        # numbers against tickets and lines; technicians see the number, not the amount
        self.assertEqual(self.ticket.halo_invoice_numbers, invoice.name)
        numbers = set(actions.mapped("halo_invoice_number")) | {
            trip.halo_invoice_number,
            expense.halo_invoice_number,
            item.halo_invoice_number,
        }
        self.assertEqual(numbers, {invoice.name})
        self.assertEqual(set(actions.mapped("halo_billing_state")), {"invoiced"})
        self.assertEqual(self.ticket.with_user(self.technician).halo_invoice_numbers, invoice.name)
        self.assertEqual(invoice.halo_ticket_ids, self.ticket)
        self.assertEqual(self.ticket.halo_invoice_ids, invoice)
        with self.assertRaisesRegex(UserError, invoice.name):
            actions[0].name = "changed"

    def test_itemised_lines_copied_in_bulk_or_through_the_orm_are_the_same(self):
        """Itemised lines that share accounting values are copied in bulk from the first one;
        when Odoo's first line cannot be copied, the others go through the ORM. Both give the
        same invoice, each line linked to the charge it bills."""
        Move = type(self.env["account.move"])

        def invoice_of(day, copyable):
            actions = self._work(self.ticket, day=day)[0] | self._work(self.ticket, day=day + 1)[0]
            run = self._run(partner_ids=[(6, 0, self.customer.ids)], date_cutoff=date(2026, 7, day + 1))
            run.action_preview()
            with (
                patch.object(Move, "_halo_bulk_line_copyable", lambda _self, _line: copyable),
                patch.object(
                    Move, "_halo_bulk_add_lines", autospec=True, side_effect=Move._halo_bulk_add_lines
                ) as bulk,
            ):
                run.action_create_invoices()
            self.assertEqual(bulk.called, copyable)
            invoice = run.invoice_ids
            for action in actions:
                charge = run.line_ids.filtered(
                    lambda line, a=action: line.res_model == "account.analytic.line" and line.res_id == a.id
                )
                billed = invoice.invoice_line_ids.filtered(lambda aml, c=charge: aml.halo_run_line_id == c)
                # the action's line (two for an out-of-hours split) bills its charge
                self.assertIn(charge.invoice_line_id, billed)
                self.assertEqual(sum(billed.mapped("price_subtotal")), charge.amount)
                self.assertEqual(action.halo_invoice_number, invoice.name)
            return invoice, [
                (
                    aml.quantity,
                    aml.price_unit,
                    aml.price_subtotal,
                    aml.account_id,
                    aml.tax_ids,
                    aml.analytic_distribution,
                    aml.halo_run_line_id.kind,
                )
                for aml in invoice.invoice_line_ids.sorted("sequence")
            ]

        in_bulk, bulk_lines = invoice_of(6, True)
        by_orm, orm_lines = invoice_of(13, False)
        # 2 days × (2 actions, mileage + surcharge, expense, item)
        self.assertEqual(len(bulk_lines), 12)
        self.assertEqual(bulk_lines, orm_lines)
        self.assertEqual(
            (in_bulk.amount_untaxed, in_bulk.amount_total), (by_orm.amount_untaxed, by_orm.amount_total)
        )
        self.assertEqual(in_bulk.amount_untaxed, 2 * 360.57)

    def test_itemised_lines_with_the_copy_switched_off_are_made_by_the_orm(self):
        """The company's switch (Copy Invoice Lines in Bulk) off: nothing is copied, every line
        is made by the ORM, and the invoice is the one the copy makes (see the test above)."""
        Move = type(self.env["account.move"])
        self.env.company.halo_bulk_line_copy = False
        self._work(self.ticket, day=20)
        self._work(self.ticket, day=21)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)], date_cutoff=date(2026, 7, 22))
        run.action_preview()
        with patch.object(
            Move, "_halo_bulk_add_lines", autospec=True, side_effect=Move._halo_bulk_add_lines
        ) as bulk:
            run.action_create_invoices()
        self.assertFalse(bulk.called)
        invoice = run.invoice_ids
        # 2 days × (2 actions, mileage + surcharge, expense, item), £360.57 a day, as above
        self.assertEqual(len(invoice.invoice_line_ids), 12)
        self.assertEqual(invoice.amount_untaxed, 2 * 360.57)
        self.assertEqual(sorted(invoice.invoice_line_ids.halo_run_line_id.ids), sorted(run.line_ids.ids))

    def test_a_run_that_outgrows_the_statistics_refreshes_them(self):
        """Once a run has added more journal items than the table held when last analysed,
        it analyses the journal tables again (foreign-key checks are planned from them)."""
        self._work(self.ticket, day=9)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        Cursor = type(self.env.cr)
        original_execute = Cursor.execute
        analysed = []

        def spy_execute(cr, query, *args, **kwargs):
            if str(query).startswith("ANALYZE"):
                analysed.append(str(query))
            return original_execute(cr, query, *args, **kwargs)

        with patch(
            "odoo.addons.halo_helpdesk_billing.models.billing.halo_billing_run.HaloBillingRun._halo_keep_statistics",
            autospec=True,
            side_effect=type(run)._halo_keep_statistics,
        ) as keep:
            run.action_create_invoices()
        # once before the first chunk of invoices, then after each chunk with its journal items:
        # 6 itemised lines, 1 tax line, 1 receivable
        self.assertEqual(keep.call_count, 2)
        self.assertEqual(keep.call_args_list[1].args[2], 8)
        self.assertEqual(len(run.invoice_ids.line_ids), 8)

        def rows():
            self.env.cr.execute("SELECT count(*) FROM account_move_line")
            return self.env.cr.fetchone()[0]

        with patch.object(Cursor, "execute", spy_execute):
            # still within what the table held: nothing to do
            self.assertEqual(run._halo_keep_statistics((10**6, 0), 6000), (10**6, 6000))
            self.assertEqual(run._halo_keep_statistics((100, 0), 4000), (100, 4000))
            self.assertFalse(analysed)
            # outgrown (and beyond the minimum): analysed, and the estimate is the real size,
            # this transaction's uncommitted invoice included
            self.assertEqual(run._halo_keep_statistics((100, 4000), 1001), (rows(), 0))
        self.assertEqual(analysed, ["ANALYZE account_move, account_move_line"])

    def test_invoices_are_made_in_chunks_of_about_5000_lines(self):
        """An itemised invoice counts a line per charge, a summarised one 10 lines."""
        charge = SimpleNamespace(partner_id=1)
        summarised = SimpleNamespace(partner_id=2)
        settings = {1: {"layout": "itemised"}, 2: {"layout": "summary_invoice"}}
        Run = self.env["halo.billing.run"]
        itemised_groups = [[charge] * 3000, [charge] * 2000, [charge] * 100]
        self.assertEqual(
            [
                [len(group) for group in chunk]
                for chunk in Run._halo_invoice_chunks(itemised_groups, settings)
            ],
            [[3000, 2000], [100]],
        )
        summary_groups = [[summarised] * 100] * 1200
        self.assertEqual(
            [len(chunk) for chunk in Run._halo_invoice_chunks(summary_groups, settings)], [500, 500, 200]
        )
        self.assertEqual(list(Run._halo_invoice_chunks([], settings)), [])

    def test_summarised_per_invoice_adds_time_before_pricing(self):
        self.customer.halo_invoice_layout = "summary_invoice"
        self._work(self.ticket, day=7)
        self._work(self.ticket, day=8)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        lines = run.invoice_ids.invoice_line_ids
        onsite = lines.filtered(lambda aml: aml.product_id == self.product_onsite)
        # normal time: 2 × 1.5 h = 3 h × 95 = 285.00; out of hours: 2 × 1 h = 2 h × 142.50 = 285.00
        self.assertEqual(
            sorted((aml.quantity, aml.price_unit) for aml in onsite), [(2.0, 142.5), (3.0, 95.0)]
        )
        self.assertEqual(run.invoice_ids.amount_untaxed, 2 * 360.57)

    def test_exclude_defer_adjust(self):
        actions, trip, expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        line_of = {(line.res_model, line.res_id): line for line in run.line_ids}
        line_of[("halo.expense", expense.id)].action_exclude()
        line_of[("halo.mileage", trip.id)].action_defer()
        with self.assertRaisesRegex(UserError, "reason"):
            line_of[("halo.ticket.item", item.id)]._halo_adjust(40.0, "")
        # the run's Adjust button opens the wizard on its charge, the current amount filled in (50.00)
        action = line_of[("halo.ticket.item", item.id)].action_halo_adjust()
        self.assertEqual((action["res_model"], action["target"]), ("halo.billing.adjust.wizard", "new"))
        Wizard = self.env["halo.billing.adjust.wizard"].with_context(**action["context"])
        self.assertEqual(Wizard.default_get(["line_id", "amount"])["amount"], 50.0)
        Wizard.create({"amount": 40.0, "reason": "goodwill"}).action_apply()
        self.assertFalse(expense.billable)
        self.assertEqual(expense.halo_billing_state, "not_billable")
        self.assertEqual(trip.halo_billing_state, "unbilled")
        run.action_create_invoices()
        # 142.50 + 142.50 + 40.00 (adjusted from 50.00)
        self.assertEqual(run.invoice_ids.amount_untaxed, 325.0)
        with self.assertRaises(UserError):  # invoiced: nothing to adjust any more
            line_of[("halo.ticket.item", item.id)].action_halo_adjust()
        self.assertIn("goodwill", run.message_ids.mapped("body")[0] + "".join(run.message_ids.mapped("body")))
        # the deferred trip goes into the next run
        run2 = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run2.action_preview()
        self.assertEqual(run2.line_ids.mapped("res_id"), [trip.id])

    def test_nothing_billed_twice(self):
        actions, trip, expense, item = self._work(self.ticket)
        run1 = self._run()
        run1.action_preview()
        # an overlapping run finds nothing left to bill
        run2 = self._run()
        run2.action_preview()
        self.assertFalse(run2.line_ids)
        # and the database refuses a second claim even if the search were bypassed
        line = run1.line_ids[0]
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            BILLING_ENGINE.on(self.env["halo.billing.run.line"]).create(
                {
                    "run_id": run2.id,
                    "partner_id": line.partner_id.id,
                    "kind": line.kind,
                    "res_model": line.res_model,
                    "res_id": line.res_id,
                    "claim_key": line.claim_key,
                }
            )
            self.env.flush_all()
        # cancelling releases everything, a new run bills it exactly once
        run1.action_cancel()
        self.assertEqual(set(actions.mapped("halo_billing_state")), {"unbilled"})
        run3 = self._run()
        run3.action_preview()
        self.assertEqual(len(run3.line_ids), 5)
        run3.action_create_invoices()
        run4 = self._run()
        run4.action_preview()
        self.assertFalse(run4.line_ids)
        billed = self.env["halo.billing.run.line"].search([("invoice_id", "!=", False)])
        self.assertEqual(len(billed), 5)
        self.assertEqual(len(set(billed.mapped("claim_key"))), 5)

    def test_run_retried_after_an_error(self):
        self._work(self.ticket)
        run = self._run()
        run.action_preview()
        original = AccountMove._post
        calls = {"n": 0}

        def failing_post(moves, soft=True):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("simulated crash while posting")
            return original(moves, soft=soft)

        with (
            patch.object(AccountMove, "_post", failing_post),
            mute_logger("odoo.addons.halo_helpdesk_billing.models.billing.halo_billing_run"),
        ):
            with self.assertRaisesRegex(UserError, "can be retried"):
                run.action_create_invoices()
            self.assertEqual(run.state, "previewed")
            self.assertFalse(self.env["account.move"].search([("halo_run_id", "=", run.id)]))
            self.assertFalse(run.line_ids.filtered("invoice_id"))
            run.action_create_invoices()
        self.assertEqual(len(run.invoice_ids), 1)
        self.assertEqual(run.invoice_ids.amount_untaxed, 360.57)

    def test_cancel_refused_once_posted(self):
        self._work(self.ticket)
        run = self._run()
        run.action_preview()
        run.action_create_invoices()
        with self.assertRaisesRegex(UserError, "credit notes"):
            run.action_cancel()

    def test_one_invoice_per_customer_and_per_ticket(self):
        self._work(self.ticket)
        self._work(self.ticket_b)
        ticket_c = self.env["helpdesk.ticket"].create(
            {"name": "Laptop", "description": "x", "partner_id": self.customer.id, "team_id": self.team.id}
        )
        self._work(ticket_c, day=8)
        self.customer.halo_invoice_grouping = "ticket"
        run = self._run(date_cutoff=date(2026, 7, 31))
        run.action_preview()
        run.action_create_invoices()
        per_partner = {
            partner: len(moves) for partner, moves in run.invoice_ids.grouped("partner_id").items()
        }
        self.assertEqual(per_partner, {self.customer: 2, self.other_customer: 1})

    def test_technicians_cannot_set_billing_status(self):
        actions, trip, expense, item = self._work(self.ticket)
        for record in (trip, expense, item):  # their own work (technicians change only theirs)
            record.user_id = self.technician
        trip.with_user(self.technician).write({"note": "parking at the back"})
        for record in (actions[0], trip, expense, item):
            with self.assertRaises(AccessError):
                record.with_user(self.technician).write({"halo_invoice_number": "INV/FAKE"})
        with self.assertRaises(AccessError):
            self.env["halo.mileage"].with_user(self.technician).create(
                {"ticket_id": self.ticket.id, "distance": 5, "halo_invoice_number": "INV/FAKE"}
            )

    def test_line_descriptions_from_the_customer_template(self):
        actions, trip, expense, item = self._work(self.ticket)
        self.customer.halo_line_template = (
            "[{{ object.ticket_id.number }}] {{ object.user_id.name }} - {{ object.rate_id.name ||| no rate}}"
            " - {{ format_date(object.date) }}"
        )
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        names = run.invoice_ids.invoice_line_ids.sorted("sequence").mapped("name")
        technician = actions[0].user_id.name
        self.assertIn(f"[{self.ticket.number}] {technician} - On-site (test) - 07/07/2026", names)
        # the out-of-hours part of the late action is labelled
        self.assertIn(
            f"[{self.ticket.number}] {technician} - On-site (test) - 07/07/2026 (out of hours)", names
        )
        self.assertTrue(any(name.endswith("- no rate - 07/07/2026") for name in names))

    def test_a_broken_template_is_refused_and_nothing_is_billed(self):
        self._work(self.ticket)
        # refused when saved; one stored before templates were checked is refused by the run
        for template in ("{{ object.ticket_id.number + }}", "{{ object.__class__ }}"):
            with self.assertRaisesRegex(ValidationError, "cannot be saved"):
                self.customer.halo_line_template = template
        self._store_template_unchecked(self.customer, "{{ object.ticket_id.number + }}")
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        with self.assertRaisesRegex(UserError, "template cannot be used"):
            run.action_create_invoices()
        self.assertFalse(run.invoice_ids)
        self._store_template_unchecked(self.customer, "{{ object.__class__ }}")
        with self.assertRaisesRegex(UserError, "template cannot be used"):
            run.action_create_invoices()
        self.assertEqual(run.state, "previewed")

    def _store_template_unchecked(self, partner, template):
        # the template is company-dependent: a JSON object of values per company
        self.env.cr.execute(
            "UPDATE res_partner SET halo_line_template = jsonb_build_object(%s::text, %s::text) WHERE id = %s",
            (self.env.company.id, template, partner.id),
        )
        partner.invalidate_recordset(["halo_line_template"])

    def test_fiscal_position_and_analytic_distribution_kept(self):
        sale_tax = self.env["account.tax"].create(
            {"name": "VAT 20 (test)", "amount": 20, "type_tax_use": "sale"}
        )
        export_tax = self.env["account.tax"].create(
            {
                "name": "Export 0 (test)",
                "amount": 0,
                "type_tax_use": "sale",
                "original_tax_ids": [(6, 0, sale_tax.ids)],
            }
        )
        self.product_onsite.taxes_id = sale_tax
        position = self.env["account.fiscal.position"].create(
            {"name": "Export (test)", "tax_ids": [(6, 0, export_tax.ids)]}
        )
        self.customer.property_account_position_id = position
        actions, trip, expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        invoice = run.invoice_ids
        onsite = invoice.invoice_line_ids.filtered(lambda aml: aml.product_id == self.product_onsite)
        self.assertEqual(invoice.fiscal_position_id, position)
        self.assertEqual(onsite.tax_ids, export_tax)
        self.assertEqual(onsite.mapped("price_total"), onsite.mapped("price_subtotal"))
        # the actions' analytic distribution (their project's analytic account) is on the invoice lines
        self.assertTrue(actions[0].analytic_distribution)
        self.assertEqual(onsite[0].analytic_distribution, actions[0].analytic_distribution)

    def test_a_version_that_priced_billed_work_cannot_be_edited(self):
        version = self.env["halo.charge.rate.version"].search([("rate_id", "=", self.rate_onsite.id)])
        version.hourly_price = 96  # nothing billed yet: a plain correction is allowed
        version.hourly_price = 95
        actions, trip, expense, item = self._work(self.ticket)
        self.assertEqual(actions[0].halo_rate_version_id, version)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        with self.assertRaisesRegex(UserError, "New version"):
            version.hourly_price = 100
        version.note = "labels can still change"
        action = version.action_new_version()
        new = self.env["halo.charge.rate.version"].browse(action["res_id"])
        new.hourly_price = 100  # the new version is free until it prices billed work
        run.action_create_invoices()
        self.assertEqual(run.invoice_ids.amount_untaxed, 360.57)

    def test_a_deferred_charge_can_be_taken_back_unless_another_run_holds_it(self):
        actions, trip, expense, item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        line = run.line_ids.filtered(lambda charge: charge.res_model == "halo.mileage")
        line.action_defer()
        self.assertEqual(
            (line.state, line.claim_key, trip.halo_billing_state), ("deferred", False, "unbilled")
        )
        line.action_include()
        self.assertEqual(
            (line.state, line.claim_key, trip.halo_billing_state),
            ("included", f"halo.mileage,{trip.id}", "in_run"),
        )
        # deferred again and picked up by another run: taking it back is refused
        line.action_defer()
        other = self._run(partner_ids=[(6, 0, self.customer.ids)])
        other.action_preview()
        self.assertEqual(other.line_ids.mapped("res_id"), [trip.id])
        with self.assertRaisesRegex(UserError, "already in another open billing run"):
            line.action_include()
        self.assertEqual(line.state, "deferred")
