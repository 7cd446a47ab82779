from datetime import date, datetime

from odoo.tests import tagged

from ..models.halo_engine import NO_RATING
from .common import HaloBillingCommon


@tagged("post_install", "-at_install")
class TestRatingOrm(HaloBillingCommon):
    """Rating through the ORM: inputs gathered in batches, results stored, re-rating audited.

    Calendar: Europe/London, Mon-Fri 09:00-17:00. July is BST (UTC+1), so 15:30 local = 14:30 UTC.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.calendar = cls._halo_london_calendar()
        cls.customer.halo_calendar_id = cls.calendar
        cls.other_customer.halo_calendar_id = cls.calendar
        Version = cls.env["halo.charge.rate.version"]
        cls.v_global = Version.create(
            {
                "rate_id": cls.rate_onsite.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 95,
                "min_minutes": 60,
                "increment_minutes": 15,
                "ooh_multiplier": 1.5,
                "holiday_multiplier": 2,
            }
        )
        cls.project = cls.env["project.project"].create({"name": "Support", "allow_timesheets": True})
        cls.employee = cls.env["hr.employee"].sudo().create({"name": "Tech", "user_id": cls.technician.id})
        cls.team = cls.env["helpdesk.ticket.team"].create(
            {"name": "Support", "halo_project_id": cls.project.id}
        )
        cls.ticket = cls.env["helpdesk.ticket"].create(
            {
                "name": "Printer down",
                "description": "x",
                "partner_id": cls.customer.id,
                "team_id": cls.team.id,
            }
        )
        cls.ticket2 = cls.env["helpdesk.ticket"].create(
            {
                "name": "Server down",
                "description": "x",
                "partner_id": cls.other_customer.id,
                "team_id": cls.team.id,
            }
        )

    def _action(self, start, end, ticket=None, **extra):
        return self.env["account.analytic.line"].create(
            {
                "halo_ticket_id": (ticket or self.ticket).id,
                "halo_start": start,
                "halo_end": end,
                "employee_id": self.employee.id,
                "halo_charge_rate_id": self.rate_onsite.id,
                **extra,
            }
        )

    def test_split_across_end_of_day_is_rated_on_create(self):
        # Mon 6 July 2026 15:30-18:30 BST = 14:30-17:30 UTC; hours end 17:00 local.
        # 3 h actual (above the 1 h minimum, a multiple of 15 min) -> 1 h 30 normal + 1 h 30 out of hours:
        # 1.5 x 95 = 142.50 ; 1.5 x 142.50 = 213.75 ; total 356.25
        line = self._action(datetime(2026, 7, 6, 14, 30), datetime(2026, 7, 6, 17, 30))
        self.assertAlmostEqual(line.halo_billable_hours, 3.0)
        self.assertEqual(line.halo_rated_amount, 356.25)
        self.assertEqual(line.halo_rate_version_id, self.v_global)
        kinds = [(s["kind"], s["quantity"], s["unit_price"]) for s in line.halo_rating_data["segments"]]
        self.assertEqual(kinds, [("normal", "1.5000", "95.0000"), ("ooh", "1.5000", "142.5000")])
        self.assertIn("out of hours", line.halo_rating_explanation)

    def test_minimum_and_customer_override(self):
        self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_onsite.id,
                "partner_id": self.customer.id,
                "date_from": date(2026, 6, 1),
                "hourly_price": 80,
                "min_minutes": 60,
                "increment_minutes": 15,
                "ooh_multiplier": 1.5,
            }
        )
        # Tue 7 July 10:00-10:20 BST (09:00-09:20 UTC): 20 min -> minimum 1 h.
        # customer rate: 1 x 80 = 80.00 ; the other customer keeps the global rate: 1 x 95 = 95.00
        mine = self._action(datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 9, 20))
        theirs = self._action(datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 9, 20), ticket=self.ticket2)
        self.assertEqual((mine.halo_rated_amount, theirs.halo_rated_amount), (80.0, 95.0))
        self.assertAlmostEqual(mine.halo_billable_hours, 1.0)
        self.assertIn("minimum", mine.halo_rating_explanation)

    def test_no_price_in_force_is_reported_not_guessed(self):
        line = self._action(datetime(2025, 7, 7, 9, 0), datetime(2025, 7, 7, 10, 0))
        self.assertEqual(line.halo_rated_amount, 0)
        self.assertIn("no price in force on 2025-07-07", line.halo_rating_explanation)

    def test_ticket_day_scope_rounds_the_day_together(self):
        self.customer.halo_rounding_scope = "ticket_day"
        # three 20-minute actions on one ticket, same day: per action would be 3 x 1 h = 285.00;
        # per ticket per day 60 min actual -> 1 h billable, no padding. Each line keeps its 20 min:
        # 0.3333 h x 95 = 31.66 per line (3 x 31.66 = 94.98), but the group is 1.0000 h x 95 =
        # 95.00: the last action carries the 0.02 remainder (31.66 + 31.66 + 31.68 = 95.00).
        lines = self.env["account.analytic.line"]
        for hour in (9, 11, 13):
            lines |= self._action(datetime(2026, 7, 7, hour, 0), datetime(2026, 7, 7, hour, 20))
        self.assertEqual(lines.mapped("halo_rated_amount"), [31.66, 31.66, 31.68])
        self.assertAlmostEqual(sum(lines.mapped("halo_billable_hours")), 1.0)
        self.assertEqual(sum(s["seconds"] for line in lines for s in line.halo_rating_data["segments"]), 3600)

    def test_rerate_is_explicit_and_audited(self):
        line = self._action(datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 0))
        self.assertEqual(line.halo_rated_amount, 95.0)
        # a backdated customer price does not change rated work by itself ...
        self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_onsite.id,
                "partner_id": self.customer.id,
                "date_from": date(2026, 7, 1),
                "hourly_price": 70,
                "min_minutes": 60,
                "increment_minutes": 15,
            }
        )
        self.assertEqual(line.halo_rated_amount, 95.0)
        # ... an explicit re-rating does, and says who, why, before and after
        wizard = (
            self.env["halo.rerate.wizard"].with_context(active_ids=line.ids).create({"reason": "July price"})
        )
        wizard.action_rerate()
        self.assertEqual(line.halo_rated_amount, 70.0)
        audit = self.env["halo.rating.audit"].search([("line_id", "=", line.id)])
        self.assertEqual((audit.old_amount, audit.new_amount, audit.reason), (95.0, 70.0, "July price"))

    def test_query_count_does_not_grow_with_lines(self):
        def make(n, day):
            return NO_RATING.on(self.env["account.analytic.line"]).create(
                [
                    {
                        "halo_ticket_id": self.ticket.id,
                        "employee_id": self.employee.id,
                        "halo_charge_rate_id": self.rate_onsite.id,
                        "halo_start": datetime(2026, 7, day, 8 + i % 8, 0),
                        "halo_end": datetime(2026, 7, day, 8 + i % 8, 45),
                    }
                    for i in range(n)
                ]
            )

        small, large = make(5, 8), make(60, 9)
        Rating = self.env["halo.rating"]
        # warm the registry caches (defaults of company-dependent customer settings)
        Rating._rate_timesheets(small)
        self.env.invalidate_all()
        queries_before = self.cr.sql_log_count
        Rating._rate_timesheets(large)
        large_count = self.cr.sql_log_count - queries_before
        self.env.invalidate_all()
        queries_before = self.cr.sql_log_count
        Rating._rate_timesheets(small)
        small_count = self.cr.sql_log_count - queries_before
        self.assertEqual(large_count, small_count)
        self.assertTrue(all(large.mapped("halo_rated_amount")))
