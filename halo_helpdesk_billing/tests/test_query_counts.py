# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Query counts of the billing run's preview and invoicing and of the ticket's computed fields.

Six tickets of two customers, each with a month of work of every kind (two actions, a trip, an
expense, an item: 30 pieces of work, 30 charges, 2 invoices of 15 lines). The counts below were
measured (``@warmup``: registry caches warm, record caches cold) and are fixed: one query per
charge, per ticket or per invoice line more (an N+1) fails the test. A change that makes a step
cheaper passes; lower the number then (Odoo logs "Query count less than expected").
"""

from odoo.tests import tagged
from odoo.tests.common import warmup

from .billing_common import HaloBillingRunCommon

PREVIEW_QUERIES = 31
INVOICING_QUERIES = 235
TICKET_FORM_QUERIES = 23
TICKET_LIST_QUERIES = 17

# the ticket's computed fields the form shows (helpdesk_ticket_views.xml) ...
FORM_FIELDS = [
    "halo_action_hours",
    "halo_travel_hours",
    "halo_mileage_total",
    "halo_expense_count",
    "halo_item_count",
    "halo_running_action_id",
    "halo_running_since",
    "halo_invoice_numbers",
    "halo_invoice_ids",
    "halo_invoice_count",
    "halo_default_rate_id",
    "halo_contract_warning",
    "halo_contract_id",
    "halo_contract_remaining",
    "halo_credited_invoices",
    "halo_xero_summary",
]
# ... and those a list of tickets computes for every row
LIST_FIELDS = ["halo_action_hours", "halo_travel_hours", "halo_invoice_numbers", "halo_contract_id"]


@tagged("post_install", "-at_install")
class TestQueryCounts(HaloBillingRunCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Ticket = cls.env["helpdesk.ticket"]
        cls.tickets = (
            cls.ticket
            | cls.ticket_b
            | Ticket.create(
                [
                    {
                        "name": f"Ticket {n}",
                        "description": "x",
                        "team_id": cls.team.id,
                        "partner_id": (cls.customer if n % 2 else cls.other_customer).id,
                    }
                    for n in range(4)
                ]
            )
        )

    def _month_of_work(self):
        for ticket in self.tickets:
            self._work(ticket)
        return self._run()

    @warmup
    def test_preview_query_count(self):
        run = self._month_of_work()
        with self.assertQueryCount(PREVIEW_QUERIES):
            run.action_preview()
        # 6 tickets × (2 actions + trip + expense + item) = 30 charges
        self.assertEqual(len(run.line_ids), 30)

    @warmup
    def test_invoicing_query_count(self):
        run = self._month_of_work()
        run.action_preview()
        with self.assertQueryCount(INVOICING_QUERIES):
            run.action_create_invoices()
        # one invoice per customer (3 tickets each), 6 lines per ticket (the trip's surcharge apart):
        # 3 × £360.57 = £1,081.71 each
        self.assertEqual(len(run.invoice_ids), 2)
        self.assertEqual(run.invoice_ids.mapped("amount_untaxed"), [1081.71, 1081.71])

    @warmup
    def test_ticket_form_query_count(self):
        run = self._month_of_work()
        run.action_preview()
        run.action_create_invoices()
        ticket = self.tickets[0]
        self.env.invalidate_all()
        with self.assertQueryCount(TICKET_FORM_QUERIES):
            ticket.read(FORM_FIELDS)
        # hours worked, not billed: 09:00-10:20 (1 h 20) + 17:00-18:00 (1 h) = 2 h 20
        self.assertAlmostEqual(ticket.halo_action_hours, 2 + 20 / 60, places=2)
        self.assertEqual(ticket.halo_invoice_numbers, ticket.halo_invoice_ids.name)

    @warmup
    def test_ticket_list_query_count(self):
        run = self._month_of_work()
        run.action_preview()
        run.action_create_invoices()
        self.env.invalidate_all()
        with self.assertQueryCount(TICKET_LIST_QUERIES):
            rows = self.tickets.read(LIST_FIELDS)
        self.assertEqual(len(rows), 6)
        self.assertEqual(len({row["halo_invoice_numbers"] for row in rows}), 2)  # one invoice per customer
