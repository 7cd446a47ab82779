from datetime import date, datetime

from odoo.tests import tagged

from . import test_rating_orm


@tagged("post_install", "-at_install")
class TestNoSilentRepricing(test_rating_orm.TestRatingOrm):
    """A stored rating changes only by an explicit re-rate or because its own action changed;
    what a rounding group's change does to the other actions is audited. £95/h global, 60-min
    minimum, 15-min increments; a backdated £120/h customer version is added after rating."""

    # the parent's tests are not run again from here (only its fixture is shared)
    test_split_across_end_of_day_is_rated_on_create = None
    test_minimum_and_customer_override = None
    test_no_price_in_force_is_reported_not_guessed = None
    test_ticket_day_scope_rounds_the_day_together = None
    test_rerate_is_explicit_and_audited = None
    test_query_count_does_not_grow_with_lines = None

    def _backdated(self, price=120):
        return self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_onsite.id,
                "partner_id": self.customer.id,
                "date_from": date(2026, 7, 1),
                "hourly_price": price,
                "min_minutes": 60,
                "increment_minutes": 15,
            }
        )

    def test_later_version_does_not_reprice_a_group_when_an_action_joins_it(self):
        self.customer.halo_rounding_scope = "ticket_day"
        first = self._action(datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))  # 10:00-11:00 BST
        self.assertEqual(first.halo_rated_amount, 95.0)
        self.assertEqual(first.halo_rate_version_id, self.v_global)
        self._backdated()
        # a second hour the same day joins the group: 2 h, still at the group's £95 (the
        # version added later is not used without an explicit re-rate)
        second = self._action(datetime(2026, 7, 7, 12, 0), datetime(2026, 7, 7, 13, 0))
        self.assertEqual((first.halo_rated_amount, second.halo_rated_amount), (95.0, 95.0))
        self.assertEqual(second.halo_rate_version_id, self.v_global)
        self.assertFalse(self.env["halo.rating.audit"].search([("line_id", "in", (first | second).ids)]))
        # an action on another day is new work: today's versions price it (£120)
        other_day = self._action(datetime(2026, 7, 8, 9, 0), datetime(2026, 7, 8, 10, 0))
        self.assertEqual(other_day.halo_rated_amount, 120.0)
        self.assertEqual(first.halo_rated_amount, 95.0)
        # explicitly re-rated, the day moves to £120 and the audit says so
        wizard = (
            self.env["halo.rerate.wizard"]
            .with_context(active_ids=(first | second).ids)
            .create({"reason": "Customer price from July"})
        )
        wizard.action_rerate()
        self.assertEqual((first.halo_rated_amount, second.halo_rated_amount), (120.0, 120.0))
        audits = self.env["halo.rating.audit"].search([("line_id", "in", (first | second).ids)])
        self.assertEqual(sorted(audits.mapped(lambda a: (a.old_amount, a.new_amount))), [(95.0, 120.0)] * 2)
        self.assertEqual(set(audits.mapped("reason")), {"Customer price from July"})
        # the mark moved: a later edit of the day keeps £120
        second.halo_end = datetime(2026, 7, 7, 13, 30)
        self.assertEqual(second.halo_rated_amount, 180.0)  # 1.5 h x 120

    def test_group_change_that_reprices_others_is_audited(self):
        self.customer.halo_rounding_scope = "ticket_day"
        # 20 min alone: the 60-min minimum bills 1 h (£95.00)
        first = self._action(datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 9, 20))
        self.assertEqual(first.halo_rated_amount, 95.0)
        # a 40-min action joins the day: 60 min in total, each billed its own time:
        # 0.3333 h x 95 = 31.66 and 0.6667 h x 95 = 63.34 (= 95.00)
        second = self._action(datetime(2026, 7, 7, 11, 0), datetime(2026, 7, 7, 11, 40))
        self.assertEqual((first.halo_rated_amount, second.halo_rated_amount), (31.66, 63.34))
        audit = self.env["halo.rating.audit"].search([("line_id", "=", first.id)])
        self.assertEqual((audit.old_amount, audit.new_amount), (95.0, 31.66))
        self.assertIn("rounding group", audit.reason)
        self.assertEqual(audit.create_uid, self.env.user)
        self.assertFalse(self.env["halo.rating.audit"].search([("line_id", "=", second.id)]))
        # the preview shows the first action's charge as re-priced
        run = self.env["halo.billing.run"].create({"date_cutoff": date(2026, 7, 31)})
        run.action_preview()
        repriced = run.line_ids.filtered("repriced")
        self.assertEqual(repriced.mapped("res_id"), first.ids)
        self.assertEqual(run.line_ids.search([("run_id", "=", run.id), ("repriced", "=", True)]), repriced)

    def test_action_scope_leaves_the_other_actions_alone(self):
        first = self._action(datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))
        self._backdated()
        first_version = first.halo_rate_version_id
        second = self._action(datetime(2026, 7, 7, 12, 0), datetime(2026, 7, 7, 13, 0))
        self.assertEqual((first.halo_rated_amount, first.halo_rate_version_id), (95.0, first_version))
        self.assertEqual(second.halo_rated_amount, 120.0)
