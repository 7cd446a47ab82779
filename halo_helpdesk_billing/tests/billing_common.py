from datetime import date, datetime

from .common import HaloBillingCommon


class HaloBillingRunCommon(HaloBillingCommon):
    """A customer with a month of work of every kind, priced with round numbers.

    Calendar Europe/London Mon-Fri 09:00-17:00; July 2026 is BST (local = UTC + 1).
    On-site: £95/h, minimum 60 min, 15-min increments rounded up, out of hours ×1.5.
    Mileage £0.50/km + £2.00 per trip; expenses at cost + 10 %.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.calendar = cls._halo_london_calendar()
        company = cls.env.company
        company.write(
            {
                "resource_calendar_id": cls.calendar.id,
                "halo_mileage_price_km": 0.5,
                "halo_mileage_surcharge": 2.0,
                "halo_expense_markup": 10.0,
                "halo_invoice_layout": "itemised",
                "halo_invoice_grouping": "customer",
            }
        )
        cls.env["halo.charge.rate.version"].create(
            {
                "rate_id": cls.rate_onsite.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 95,
                "min_minutes": 60,
                "increment_minutes": 15,
                "ooh_multiplier": 1.5,
            }
        )
        cls.project = cls.env["project.project"].create({"name": "Support", "allow_timesheets": True})
        cls.employee = cls.env["hr.employee"].create({"name": "Terry", "user_id": cls.technician.id})
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
        cls.ticket_b = cls.env["helpdesk.ticket"].create(
            {
                "name": "Server down",
                "description": "x",
                "partner_id": cls.other_customer.id,
                "team_id": cls.team.id,
            }
        )
        cls.expense_type = cls.env.ref("halo_helpdesk_billing.expense_type_toll")

    def _work(self, ticket, day=7):
        """Per ticket: a 1 h 20 action (→ 1 h 30 = £142.50), an 18:00-19:00 action (out of hours,
        1 h × £142.50 = £142.50), 10 km round trip (20 km × 0.50 = £10.00 + £2.00 = £12.00),
        a £12.34 toll (+10 % = £13.57) and 2 ad hoc cables at £25.00 (£50.00). Total £360.57."""
        Line = self.env["account.analytic.line"]
        actions = Line.create(
            [
                {
                    "halo_ticket_id": ticket.id,
                    "employee_id": self.employee.id,
                    "halo_charge_rate_id": self.rate_onsite.id,
                    "halo_start": datetime(2026, 7, day, 9, 0),
                    "halo_end": datetime(2026, 7, day, 10, 20),
                    "name": "Fixed",
                },
                {
                    "halo_ticket_id": ticket.id,
                    "employee_id": self.employee.id,
                    "halo_charge_rate_id": self.rate_onsite.id,
                    "halo_start": datetime(2026, 7, day, 17, 0),
                    "halo_end": datetime(2026, 7, day, 18, 0),
                    "name": "Late",
                },
            ]
        )
        trip = self.env["halo.mileage"].create(
            {
                "ticket_id": ticket.id,
                "date": date(2026, 7, day),
                "distance": 10,
                "round_trip": True,
                "location_from": "Office",
                "location_to": "Site",
            }
        )
        expense = self.env["halo.expense"].create(
            {
                "ticket_id": ticket.id,
                "date": date(2026, 7, day),
                "type_id": self.expense_type.id,
                "amount": 12.34,
            }
        )
        item = self.env["halo.ticket.item"].create(
            {
                "ticket_id": ticket.id,
                "date": date(2026, 7, day),
                "kind": "adhoc",
                "name": "Cable",
                "quantity": 2,
                "unit_cost": 10.0,
                "unit_price": 25.0,
            }
        )
        return actions, trip, expense, item

    def _run(self, **vals):
        return self.env["halo.billing.run"].create(
            {"date_cutoff": date(2026, 7, 31), "date_invoice": date(2026, 7, 31), **vals}
        )
