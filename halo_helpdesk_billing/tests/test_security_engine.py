# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The engine's guards hold against hostile JSON-RPC callers.

Every call goes over HTTP (``/web/session/authenticate``, then ``/web/dataset/call_kw``) as a
technician, a billing user or a billing manager, with the context keys the engine used to
trust (``halo_billing_engine``, ``halo_no_rating``, ``halo_contract_ledger_system``,
``halo_allow_version_edit``, ``halo_billing_run``) sent as a client would send them. Each
forged call is refused (or has no effect), and the honest path still works.
"""

from datetime import date
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from ..models.halo_engine import BILLING_ENGINE, XERO_COMMIT
from .billing_common import HaloBillingRunCommon
from .common import TECHNICIAN_GROUPS, HaloCaptureCommon
from .contract_common import HaloContractCommon
from .rpc_common import HaloRpcCase, RpcClient

FORGED = {
    "halo_billing_engine": True,
    "halo_no_rating": True,
    "halo_contract_ledger_system": True,
    "halo_allow_version_edit": True,
    "halo_billing_run": True,
    "halo_xero_commit": True,
}


class EngineRpcMixin(HaloRpcCase):
    """Calls as a given user; what the test wrote is flushed first, and what the server wrote
    is read afresh afterwards."""

    def setUp(self):
        super().setUp()
        self._clients = {}

    def _client(self, user):
        if user not in self._clients:
            self._clients[user] = RpcClient(self, user.login)
        return self._clients[user]

    def call(self, user, model, method, *args, context=None, **kwargs):
        self.env.flush_all()
        try:
            return self._client(user).call(model, method, *args, context=context, **kwargs)
        finally:
            self.env.invalidate_all()

    def refused(self, user, model, method, *args, context=FORGED, **kwargs):  # pylint: disable=dangerous-default-value
        """The call, sent with the forged keys, is refused with an Odoo user-facing error."""
        self.env.flush_all()
        try:
            return self.assertRpcRefused(self._client(user), model, method, *args, context=context, **kwargs)
        finally:
            self.env.invalidate_all()


@tagged("post_install", "-at_install")
class TestEngineGuardsWork(HaloCaptureCommon, EngineRpcMixin):
    """What technicians record: billing status, rating, their own work only, catalogue prices,
    issued stock, customer devices."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.colleague = cls._halo_user("halo_tech2", "Tina Technician", TECHNICIAN_GROUPS)
        cls.env["hr.employee"].create({"name": cls.colleague.name, "user_id": cls.colleague.id})
        cls.team.user_ids |= cls.colleague
        # sees only their personal tickets (helpdesk_mgmt's "User: Personal tickets")
        cls.personal_tech = cls._halo_user(
            "halo_tech_own", "Pat Personal", "base.group_user,helpdesk_mgmt.group_helpdesk_user_own"
        )

    def _mine(self, distance=12.0):
        return self.call(
            self.technician,
            "halo.mileage",
            "create",
            {"ticket_id": self.ticket.id, "distance": distance, "date": "2026-03-10"},
        )

    def test_forged_engine_key_does_not_bill_or_unlock_work(self):
        trip_id = self._mine()
        trip = self.env["halo.mileage"].browse(trip_id)
        self.assertEqual(trip.halo_billing_state, "unbilled")
        run = self._halo_create_run()
        # a technician cannot mark their work invoiced or in a run, even "as the engine"
        self.refused(self.technician, "halo.mileage", "write", [trip_id], {"halo_invoice_number": "INV/FAKE"})
        self.refused(self.technician, "halo.mileage", "write", [trip_id], {"halo_run_id": run.id})
        self.refused(
            self.technician,
            "halo.mileage",
            "create",
            {"ticket_id": self.ticket.id, "distance": 3, "halo_invoice_number": "INV/FAKE"},
        )
        self.assertEqual(trip.halo_billing_state, "unbilled")
        self.assertFalse(self.env["halo.mileage"].search([("halo_invoice_number", "=", "INV/FAKE")]))
        # once the engine invoiced it, the work can be neither changed nor deleted
        BILLING_ENGINE.on(trip).write({"halo_run_id": run.id, "halo_invoice_number": "INV/2026/00001"})
        self.assertEqual(trip.halo_billing_state, "invoiced")
        self.refused(self.technician, "halo.mileage", "write", [trip_id], {"distance": 1})
        self.refused(self.technician, "halo.mileage", "write", [trip_id], {"halo_invoice_number": False})
        self.refused(self.technician, "halo.mileage", "unlink", [trip_id])
        self.assertEqual((trip.distance, trip.halo_invoice_number), (12.0, "INV/2026/00001"))
        # the honest path: unbilled work is the technician's to change
        other_id = self._mine(5.0)
        self.call(self.technician, "halo.mileage", "write", [other_id], {"distance": 6.5})
        self.assertEqual(self.env["halo.mileage"].browse(other_id).distance, 6.5)

    def test_forged_no_rating_key_still_rates(self):
        # remote support (the company's default labour rate) at 60.00 an hour, no rounding
        self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_remote.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 60,
            }
        )
        line_id = self.call(
            self.technician,
            "account.analytic.line",
            "create",
            {
                "halo_ticket_id": self.ticket.id,
                "name": "Remote session",
                "halo_start": "2026-03-10 09:00:00",
                "halo_end": "2026-03-10 10:00:00",
            },
            context={"halo_no_rating": True},
        )
        line = self.env["account.analytic.line"].browse(line_id)
        # 1 h × 60.00
        self.assertEqual(line.halo_rated_amount, 60.0)
        # longer times are rated again whatever the client sends: 1.5 h × 60.00 = 90.00
        self.call(
            self.technician,
            "account.analytic.line",
            "write",
            [line_id],
            {"halo_end": "2026-03-10 10:30:00"},
            context={"halo_no_rating": True},
        )
        self.assertEqual(line.unit_amount, 1.5)
        self.assertEqual(line.halo_rated_amount, 90.0)

    def test_technicians_change_only_their_own_work(self):
        theirs = (
            self.env["halo.mileage"]
            .with_user(self.colleague)
            .create({"ticket_id": self.ticket.id, "distance": 40, "date": date(2026, 3, 11)})
        )
        their_expense = (
            self.env["halo.expense"]
            .with_user(self.colleague)
            .create({"ticket_id": self.ticket.id, "type_id": self.expense_type_toll.id, "amount_entry": 7.5})
        )
        # an "all tickets" helpdesk user reads the colleague's work on the ticket ...
        found = self.call(
            self.technician, "halo.mileage", "search_read", [("id", "=", theirs.id)], ["distance"]
        )
        self.assertEqual([row["distance"] for row in found], [40.0])
        # ... but cannot change or delete it
        self.refused(self.technician, "halo.mileage", "write", [theirs.id], {"distance": 400})
        self.refused(self.technician, "halo.mileage", "unlink", [theirs.id])
        self.refused(self.technician, "halo.expense", "write", [their_expense.id], {"amount_entry": 750})
        self.refused(self.technician, "halo.expense", "unlink", [their_expense.id])
        self.assertEqual(theirs.distance, 40)
        self.assertEqual(their_expense.sudo().amount, 7.5)
        # a "personal tickets" user does not even see work on tickets that are not theirs
        self.assertFalse(self.call(self.personal_tech, "halo.mileage", "search", [("id", "=", theirs.id)]))
        # their own expense: what they paid is theirs to enter, and to correct while unbilled
        mine = self.call(
            self.technician,
            "halo.expense",
            "create",
            {"ticket_id": self.ticket.id, "type_id": self.expense_type_toll.id, "amount_entry": 2.5},
        )
        self.call(self.technician, "halo.expense", "write", [mine], {"amount_entry": 3.25})
        self.assertEqual(self.env["halo.expense"].browse(mine).amount, 3.25)
        # billing users still change anyone's work
        self.call(self.billing_user, "halo.mileage", "write", [theirs.id], {"distance": 41})
        self.assertEqual(theirs.distance, 41)

    def test_catalogue_prices_come_from_the_catalogue(self):
        Product = self.env["product.product"]
        cable = Product.create(
            {"name": "Cable (test)", "type": "consu", "lst_price": 9.0, "standard_price": 2.5}
        )
        cheap = Product.create(
            {"name": "Cheap (test)", "type": "consu", "lst_price": 0.1, "standard_price": 0.1}
        )
        # no price or cost of its own for a catalogue item
        for entry in ({"price_entry": 0.01}, {"cost_entry": 99.0}):
            self.refused(
                self.technician,
                "halo.ticket.item",
                "create",
                {
                    "ticket_id": self.ticket.id,
                    "kind": "catalogue",
                    "product_id": cable.id,
                    "quantity": 2,
                    **entry,
                },
            )
        item_id = self.call(
            self.technician,
            "halo.ticket.item",
            "create",
            {"ticket_id": self.ticket.id, "kind": "catalogue", "product_id": cable.id, "quantity": 2},
        )
        item = self.env["halo.ticket.item"].browse(item_id)
        self.assertEqual((item.unit_price, item.unit_cost), (9.0, 2.5))
        self.refused(self.technician, "halo.ticket.item", "write", [item_id], {"price_entry": 0.01})
        self.refused(self.technician, "halo.ticket.item", "write", [item_id], {"cost_entry": 99.0})
        # nor by swapping the product (or the kind) under the price
        self.refused(self.technician, "halo.ticket.item", "write", [item_id], {"product_id": cheap.id})
        self.refused(self.technician, "halo.ticket.item", "write", [item_id], {"kind": "adhoc"})
        self.assertEqual((item.product_id, item.unit_price, item.unit_cost), (cable, 9.0, 2.5))
        # the quantity is theirs: 3 cables at 9.00
        self.call(self.technician, "halo.ticket.item", "write", [item_id], {"quantity": 3})
        self.assertEqual(item.quantity, 3)
        # an ad hoc item (bought for the ticket) is priced by the technician who bought it
        adhoc_id = self.call(
            self.technician,
            "halo.ticket.item",
            "create",
            {
                "ticket_id": self.ticket.id,
                "kind": "adhoc",
                "name": "HDMI adapter",
                "quantity": 1,
                "cost_entry": 6.0,
                "price_entry": 11.0,
            },
        )
        adhoc = self.env["halo.ticket.item"].browse(adhoc_id)
        self.assertEqual((adhoc.unit_cost, adhoc.unit_price), (6.0, 11.0))

    def test_issued_items_cannot_be_edited(self):
        self.env.company.halo_allow_negative_issue = True
        mouse = self.env["product.product"].create(
            {"name": "Mouse (test)", "is_storable": True, "standard_price": 4.0, "lst_price": 15.0}
        )
        item_id = self.call(
            self.technician,
            "halo.ticket.item",
            "create",
            {"ticket_id": self.ticket.id, "kind": "catalogue", "product_id": mouse.id, "quantity": 1},
        )
        item = self.env["halo.ticket.item"].browse(item_id)
        self.assertEqual(item.move_id.state, "done")
        # stock moved for one mouse: two cannot be billed, nor the item renamed or made free
        for vals in ({"quantity": 2}, {"name": "Mouse pad"}, {"billable": False}):
            self.refused(self.technician, "halo.ticket.item", "write", [item_id], vals)
        self.assertEqual((item.quantity, item.name, item.billable), (1, "Mouse (test)", True))
        # returning it to stock (the honest way to undo an issue) still works
        self.call(self.technician, "halo.ticket.item", "action_return_to_stock", [item_id])
        self.assertFalse(item.move_id)
        self.assertFalse(item.billable)
        self.call(self.technician, "halo.ticket.item", "unlink", [item_id])
        self.assertFalse(item.exists())

    def test_customer_devices_are_managed_by_billing_staff(self):
        device = self.env["halo.customer.device"].create(
            {"name": "PC-001", "partner_id": self.customer.id, "date_active": date(2026, 1, 1)}
        )
        self.refused(
            self.technician,
            "halo.customer.device",
            "create",
            {"name": "PC-002", "partner_id": self.customer.id, "date_active": "2026-01-01"},
        )
        self.refused(
            self.technician, "halo.customer.device", "write", [device.id], {"date_retired": "2026-02-01"}
        )
        self.refused(
            self.technician,
            "halo.customer.device",
            "write",
            [device.id],
            {"partner_id": self.other_customer.id},
        )
        self.refused(self.technician, "halo.customer.device", "unlink", [device.id])
        self.assertEqual((device.partner_id, device.date_retired), (self.customer, False))
        # technicians still look devices up on a ticket's customer
        found = self.call(
            self.technician,
            "halo.customer.device",
            "search_read",
            [("partner_id", "=", self.customer.id)],
            ["name"],
        )
        self.assertEqual([row["name"] for row in found], ["PC-001"])
        # billing staff record, retire and remove them
        new_id = self.call(
            self.billing_user,
            "halo.customer.device",
            "create",
            {"name": "PC-002", "partner_id": self.customer.id, "date_active": "2026-01-01"},
        )
        self.call(
            self.billing_user, "halo.customer.device", "write", [device.id], {"date_retired": "2026-02-01"}
        )
        self.assertEqual(device.date_retired, date(2026, 2, 1))
        self.call(self.billing_user, "halo.customer.device", "unlink", [new_id])
        self.assertFalse(self.env["halo.customer.device"].browse(new_id).exists())


@tagged("post_install", "-at_install")
class TestEngineGuardsRun(HaloBillingRunCommon, EngineRpcMixin):
    """Billing runs, their charges, the versions that priced them and the run's own invoices."""

    def _preview(self, customer):
        run_id = self.call(
            self.billing_user,
            "halo.billing.run",
            "create",
            {
                "date_cutoff": "2026-07-31",
                "date_invoice": "2026-07-31",
                "partner_ids": [(6, 0, customer.ids)],
            },
        )
        self.call(self.billing_user, "halo.billing.run", "action_preview", [run_id])
        return self.env["halo.billing.run"].browse(run_id)

    def test_run_state_is_set_by_its_actions_only(self):
        actions, trip, expense, item = self._work(self.ticket)
        self.refused(
            self.billing_user,
            "halo.billing.run",
            "create",
            {"date_cutoff": "2026-07-31", "state": "previewed"},
        )
        run = self._preview(self.customer)
        self.assertEqual((run.state, len(run.line_ids)), ("previewed", 5))
        for state in ("draft", "invoiced", "cancelled"):
            self.refused(self.billing_user, "halo.billing.run", "write", [run.id], {"state": state})
        self.refused(
            self.billing_user, "halo.billing.run", "write", [run.id], {"line_ids": [Command.clear()]}
        )
        other_company = self.env["res.company"].create({"name": "Other Company (test)"})
        self.billing_user.company_ids |= other_company
        self.refused(
            self.billing_user, "halo.billing.run", "write", [run.id], {"company_id": other_company.id}
        )
        self.call(self.billing_user, "halo.billing.run", "write", [run.id], {"note": "<p>July</p>"})
        self.call(self.billing_user, "halo.billing.run", "action_create_invoices", [run.id])
        self.assertEqual(run.state, "invoiced")
        # 142.50 + 142.50 + 12.00 + 13.57 + 50.00 = 360.57
        self.assertEqual(run.invoice_ids.amount_untaxed, 360.57)
        # an invoiced run set back to previewed would invoice its charges twice
        for state in ("previewed", "draft"):
            self.refused(self.billing_user, "halo.billing.run", "write", [run.id], {"state": state})
            self.refused(self.billing_manager, "halo.billing.run", "write", [run.id], {"state": state})
        self.refused(self.billing_user, "halo.billing.run", "write", [run.id], {"date_cutoff": "2026-08-31"})
        self.refused(self.billing_user, "halo.billing.run", "action_create_invoices", [run.id])
        self.assertEqual((run.state, len(run.invoice_ids)), ("invoiced", 1))
        self.assertEqual(
            {record.halo_billing_state for record in (*actions, trip, expense, item)}, {"invoiced"}
        )
        # the other customer's run is cancelled the honest way: its work is unbilled again
        work_b = self._work(self.ticket_b)
        run_b = self._preview(self.other_customer)
        self.assertEqual(len(run_b.line_ids), 5)
        self.call(self.billing_user, "halo.billing.run", "action_cancel", [run_b.id])
        self.assertEqual(run_b.state, "cancelled")
        self.assertEqual(
            {record.halo_billing_state for records in work_b for record in records}, {"unbilled"}
        )

    def test_charges_change_through_the_run_actions_only(self):
        actions, trip, expense, item = self._work(self.ticket)
        run = self._preview(self.customer)
        charge = {line.res_model: line for line in run.line_ids if line.res_model != "account.analytic.line"}
        item_charge = charge["halo.ticket.item"]
        for vals in (
            {"amount": 0.01},
            {"unit_price": 0.01},
            {"parts": [{"label": "", "quantity": 1, "unit_price": 0.01, "amount": 0.01}]},
            {"claim_key": False},
            {"state": "excluded"},
            {"invoice_id": False},
            {"price_adjusted": True, "adjust_reason": "x"},
            {"res_id": trip.id},
        ):
            self.refused(self.billing_user, "halo.billing.run.line", "write", [item_charge.id], vals)
        self.assertEqual(
            (item_charge.amount, item_charge.claim_key, item_charge.state),
            (50.0, f"halo.ticket.item,{item.id}", "included"),
        )
        # a charge cannot be made by hand, nor deleted while its run is open
        self.refused(
            self.billing_user,
            "halo.billing.run.line",
            "create",
            {
                "run_id": run.id,
                "partner_id": self.customer.id,
                "kind": "item",
                "res_model": "halo.ticket.item",
                "res_id": item.id,
                "amount": 1.0,
            },
        )
        self.refused(self.billing_user, "halo.billing.run.line", "unlink", [item_charge.id])
        self.assertTrue(item_charge.exists())
        self.assertEqual(item.halo_billing_state, "in_run")
        # its description and note are the billing user's to word
        self.call(
            self.billing_user,
            "halo.billing.run.line",
            "write",
            [item_charge.id],
            {"note": "Left at reception"},
        )
        self.assertEqual(item_charge.note, "Left at reception")
        # the run's actions, as the screens call them
        self.call(self.billing_user, "halo.billing.run.line", "action_exclude", [charge["halo.expense"].id])
        self.call(self.billing_user, "halo.billing.run.line", "action_defer", [charge["halo.mileage"].id])
        self.call(self.billing_user, "halo.billing.run.line", "action_include", [charge["halo.mileage"].id])
        # the Adjust button: the wizard on this charge for billing users, whatever context a client sends
        self.refused(self.technician, "halo.billing.run.line", "action_halo_adjust", [item_charge.id])
        action = self.call(
            self.billing_user, "halo.billing.run.line", "action_halo_adjust", [item_charge.id], context=FORGED
        )
        self.assertEqual(
            (action["res_model"], action["context"]["active_id"]),
            ("halo.billing.adjust.wizard", item_charge.id),
        )
        wizard_id = self.call(
            self.billing_user,
            "halo.billing.adjust.wizard",
            "create",
            {"amount": 40.0, "reason": "goodwill"},
            context={"active_model": "halo.billing.run.line", "active_id": item_charge.id},
        )
        self.call(self.billing_user, "halo.billing.adjust.wizard", "action_apply", [wizard_id])
        self.assertEqual(
            (item_charge.amount, item_charge.price_adjusted, item_charge.adjust_reason),
            (40.0, True, "goodwill"),
        )
        self.assertEqual(expense.halo_billing_state, "not_billable")
        self.assertEqual(trip.halo_billing_state, "in_run")
        self.call(self.billing_user, "halo.billing.run", "action_create_invoices", [run.id])
        # 142.50 + 142.50 + 12.00 (deferred, then included again) + 40.00 (adjusted from 50.00)
        self.assertEqual(run.invoice_ids.amount_untaxed, 337.0)
        # invoiced charges are the record of what was billed
        self.refused(self.billing_user, "halo.billing.run.line", "unlink", [item_charge.id])
        self.refused(
            self.billing_user, "halo.billing.run.line", "write", [item_charge.id], {"note": "changed"}
        )
        # and only runs tie invoices and invoice lines to themselves (the invoice document prints
        # the charges it is tied to, and cancelling a run deletes its draft invoices)
        other = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.other_customer.id,
                "invoice_date": date(2026, 7, 31),
                "invoice_line_ids": [
                    Command.create({"product_id": self.product_onsite.id, "quantity": 1, "price_unit": 10})
                ],
            }
        )
        self.refused(self.billing_user, "account.move", "write", [other.id], {"halo_run_id": run.id})
        self.refused(
            self.billing_user,
            "account.move.line",
            "write",
            [other.invoice_line_ids.id],
            {"halo_run_line_id": item_charge.id},
        )
        self.refused(
            self.billing_user,
            "account.move",
            "create",
            {"move_type": "out_invoice", "partner_id": self.other_customer.id, "halo_run_id": run.id},
        )
        self.assertFalse(other.halo_run_id or other.invoice_line_ids.halo_run_line_id)
        self.assertEqual(len(run.invoice_ids), 1)

    def test_a_charge_that_let_its_work_go_cannot_act_on_it(self):
        """A deferred charge no longer holds its work; once another run took it, excluding the
        old charge would mark work of that run not billable."""
        actions, trip, expense, item = self._work(self.ticket)
        first = self._preview(self.customer)
        old = first.line_ids.filtered(lambda line: line.res_model == "halo.mileage")
        self.call(self.billing_user, "halo.billing.run.line", "action_defer", [old.id])
        second = self._preview(self.customer)
        self.assertEqual(second.line_ids.mapped("res_model"), ["halo.mileage"])
        self.refused(self.billing_user, "halo.billing.run.line", "action_exclude", [old.id])
        self.assertEqual((trip.billable, trip.halo_run_id, trip.halo_billing_state), (True, second, "in_run"))
        # nor does defer or include take it back (the claim is the second run's)
        self.call(self.billing_user, "halo.billing.run.line", "action_defer", [old.id])
        self.refused(self.billing_user, "halo.billing.run.line", "action_include", [old.id])
        self.assertEqual((trip.halo_run_id, old.state), (second, "deferred"))
        # cancelling the first run leaves the second run's work where it is
        self.call(self.billing_user, "halo.billing.run", "action_cancel", [first.id])
        self.assertEqual((trip.halo_run_id, trip.halo_billing_state), (second, "in_run"))
        self.call(self.billing_user, "halo.billing.run", "action_create_invoices", [second.id])
        # 10 km there and back at 0.50 + 2.00 a trip
        self.assertEqual(second.invoice_ids.amount_untaxed, 12.0)

    def test_rating_results_are_the_engines(self):
        """A billing run invoices the rating stored on an action: writing it would price work
        without the adjust wizard and its reason."""
        actions, trip, expense, item = self._work(self.ticket)
        segments = {
            "segments": [
                {"kind": "normal", "quantity": 1.0, "seconds": 3600, "unit_price": 0.01, "amount": 0.01}
            ]
        }
        for vals in (
            {"halo_rating_data": segments},
            {"halo_rated_amount": 0.01},
            {"halo_billable_hours": 0.1},
            {"halo_rate_version_id": False},
            {"halo_rating_explanation": "free"},
        ):
            self.refused(self.billing_user, "account.analytic.line", "write", [actions[0].id], vals)
        for model, record in (("halo.mileage", trip), ("halo.expense", expense), ("halo.ticket.item", item)):
            self.refused(self.billing_user, model, "write", [record.id], {"halo_amount": 0.01})
        self.assertEqual(actions[0].halo_rated_amount, 142.5)
        run = self._preview(self.customer)
        charge = run.line_ids.filtered(lambda line: line.res_id == actions[0].id and line.kind == "labour")
        # 1 h 20 rounded up to 1 h 30 at 95.00 = 142.50
        self.assertEqual(charge.amount, 142.5)

    def test_a_version_that_priced_billed_work_stays(self):
        version = self.env["halo.charge.rate.version"].search([("rate_id", "=", self.rate_onsite.id)])
        self._work(self.ticket)
        self._preview(self.customer)
        # the actions in the run were priced by the version: its price is kept, whatever the context
        self.refused(
            self.billing_manager, "halo.charge.rate.version", "write", [version.id], {"hourly_price": 1}
        )
        self.refused(
            self.billing_manager, "halo.charge.rate.version", "write", [version.id], {"ooh_multiplier": 1.0}
        )
        self.refused(self.billing_manager, "halo.charge.rate.version", "unlink", [version.id])
        self.refused(self.billing_manager, "halo.charge.rate", "unlink", [self.rate_onsite.id])
        self.assertEqual((version.hourly_price, version.ooh_multiplier), (95, 1.5))
        # it can be archived, and a version nothing was billed with is still edited freely
        self.call(self.billing_manager, "halo.charge.rate.version", "write", [version.id], {"active": False})
        self.assertFalse(version.active)
        new_id = self.call(
            self.billing_manager,
            "halo.charge.rate.version",
            "create",
            {"rate_id": self.rate_onsite.id, "date_from": "2026-09-01", "hourly_price": 99},
        )
        self.call(self.billing_manager, "halo.charge.rate.version", "write", [new_id], {"hourly_price": 100})
        self.assertEqual(self.env["halo.charge.rate.version"].browse(new_id).hourly_price, 100)
        self.call(self.billing_manager, "halo.charge.rate.version", "unlink", [new_id])

    def test_forged_billing_run_key_takes_no_shortcut_when_posting(self):
        """Posting with the key the run used to send skips neither Odoo's invoice sync nor its
        analytic lines (the bulk paths are the run's own)."""
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": date(2026, 7, 31),
                "invoice_line_ids": [
                    Command.create({"product_id": self.product_onsite.id, "quantity": 1, "price_unit": 100})
                ],
            }
        )
        AccountMove = type(self.env["account.move"])
        AccountMoveLine = type(self.env["account.move.line"])
        with (
            patch.object(AccountMove, "_halo_sync_neutral", autospec=True, return_value=False) as neutral,
            patch.object(
                AccountMoveLine, "_halo_group_analytic_values", autospec=True, return_value=([], [])
            ) as bulk,
        ):
            self.call(self.billing_user, "account.move", "action_post", [move.id], context=FORGED)
        self.assertEqual(move.state, "posted")
        self.assertFalse(neutral.called, "the invoice sync was skipped for a client")
        self.assertFalse(bulk.called, "analytic lines were made by the billing run's bulk path")

    def test_forged_xero_commit_key_commits_nothing(self):
        """The push cron commits between the steps of a push; a client sending its key to any
        method would commit half of a request that later fails."""
        moves = self.env["account.move"]
        with patch.object(self.env.cr, "commit") as commit:
            moves.with_context(halo_xero_commit=True)._halo_xero_commit()
            self.assertFalse(commit.called)
            XERO_COMMIT.on(moves)._halo_xero_commit()
            self.assertEqual(commit.call_count, 1)


@tagged("post_install", "-at_install")
class TestEngineGuardsLedger(HaloContractCommon, EngineRpcMixin):
    """Contract ledger entries other than adjustments are the system's."""

    def test_system_entries_cannot_be_forged(self):
        contract = self._contract(
            prepay_kind="hours", topup_block=10, topup_product_id=self.product_topup.id, topup_price=900
        )
        contract.action_topup()
        topup = contract.ledger_ids
        self.assertEqual(contract.balance_hours, 10)
        # a counted top-up (or any system entry) forged by a billing user
        for kind in ("topup", "rollover", "consumption", "expiry"):
            self.refused(
                self.billing_user,
                "halo.contract.ledger",
                "create",
                {
                    "contract_id": contract.id,
                    "kind": kind,
                    "bucket": "prepay",
                    "hours": 50 if kind in ("topup", "rollover") else -50,
                    "reason": "forged",
                },
            )
        # an adjustment disguised as a charge's consumption or an invoice's top-up
        for vals in (
            {"run_line_id": 1, "mode": "prepay_hours"},
            {"invoice_id": topup.invoice_id.id},
            {"requires_payment": True},
            {"explanation": "Top-up invoiced"},
        ):
            self.refused(
                self.billing_user,
                "halo.contract.ledger",
                "create",
                {"contract_id": contract.id, "kind": "adjustment", "hours": 5, "reason": "forged", **vals},
            )
        # system entries are neither changed, re-kinded nor deleted
        self.refused(self.billing_user, "halo.contract.ledger", "write", [topup.id], {"hours": 500})
        self.refused(self.billing_manager, "halo.contract.ledger", "unlink", [topup.id])
        self.assertEqual(contract.balance_hours, 10)
        self.assertEqual(contract.ledger_ids, topup)
        # the honest path: an adjustment with a reason; 10 - 1.5 = 8.5
        adjustment_id = self.call(
            self.billing_user,
            "halo.contract.ledger",
            "create",
            {"contract_id": contract.id, "kind": "adjustment", "hours": -1.5, "reason": "Goodwill"},
        )
        self.refused(self.billing_user, "halo.contract.ledger", "write", [adjustment_id], {"kind": "topup"})
        self.assertEqual(contract.balance_hours, 8.5)
