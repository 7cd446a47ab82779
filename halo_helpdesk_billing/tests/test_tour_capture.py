# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Browser tours (headless Chromium): a technician records work on a ticket and sees no money;
a billing user sees the amounts. Run by ./test.sh --only tours (Odoo's runner, tag halo_tour)."""

from odoo.tests import HttpCase, tagged

from .common import HaloCaptureCommon


@tagged("post_install", "-at_install", "halo_tour")
class TestCaptureTour(HaloCaptureCommon, HttpCase):
    def test_capture_tour(self):
        self.assertEqual(self.env.company.currency_id.symbol, "$", "the tour looks for this symbol")
        # the billing fields exist, so the tour's 'no money' checks are meaningful
        self.env.company.sudo().halo_mileage_price_km = 0.45
        self.start_tour(
            f"/odoo/helpdesk.ticket/{self.ticket.id}", "halo_capture_tour", login=self.technician.login
        )

        actions = self.ticket.halo_action_ids
        self.assertEqual(actions.mapped("name"), ["Replaced the fuser"])
        self.assertEqual(actions.employee_id, self.employee_tech)
        self.assertTrue(actions.halo_end)
        self.assertEqual(actions.halo_billing_state, "unbilled")
        trip = self.ticket.halo_mileage_ids
        self.assertEqual(
            (trip.location_from, trip.location_to, trip.distance, trip.round_trip, trip.billed_distance),
            ("Office", "Acme Widgets", 12.5, True, 25.0),
        )
        self.assertEqual(trip.user_id, self.technician)
        expense = self.ticket.halo_expense_ids
        self.assertEqual(
            (expense.type_id, expense.description), (self.expense_type_toll, "Dartford crossing")
        )
        self.assertEqual(expense.with_user(self.billing_user).amount, 2.5)

        # the same lines, with their amounts, for a billing user
        self.start_tour(
            f"/odoo/helpdesk.ticket/{self.ticket.id}",
            "halo_capture_biller_tour",
            login=self.billing_user.login,
        )
        values = self.ticket.with_user(self.billing_user).web_read(
            {
                "halo_expense_ids": {"fields": {"amount": {}}},
                "halo_mileage_ids": {"fields": {"halo_amount": {}, "billed_distance": {}}},
                "halo_action_ids": {"fields": {"halo_rated_amount": {}, "unit_amount": {}}},
            }
        )[0]
        self.assertEqual(values["halo_expense_ids"][0]["amount"], 2.5)
        self.assertEqual(values["halo_mileage_ids"][0]["billed_distance"], 25.0)
        self.assertIn("halo_rated_amount", values["halo_action_ids"][0])
