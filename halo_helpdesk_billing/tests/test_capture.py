# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Capture: what technicians record on tickets (actions, travel, mileage, expenses, items)."""

import base64
from datetime import datetime

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.halo_engine import BILLING_ENGINE
from .common import HaloCaptureCommon

ENGINE = {BILLING_ENGINE.key: BILLING_ENGINE}


@tagged("post_install", "-at_install")
class TestCaptureActions(HaloCaptureCommon):
    """Actions and travel time: timesheet lines linked to a ticket."""

    def _action(self, start, end, user=None, **vals):
        Line = self.env["account.analytic.line"].with_user(user or self.technician)
        return Line.create(
            {
                "halo_ticket_id": self.ticket.id,
                "halo_start": start,
                "halo_end": end,
                **vals,
            }
        )

    def test_action_defaults_and_duration(self):
        line = self._action(
            datetime(2026, 3, 10, 9, 0), datetime(2026, 3, 10, 10, 45), name="Replaced the fuser"
        )
        # 09:00 → 10:45 = 1 h 45 min = 1.75 h
        self.assertEqual(line.unit_amount, 1.75)
        self.assertEqual(line.employee_id, self.employee_tech)
        self.assertEqual(line.project_id, self.project)
        self.assertEqual(line.partner_id, self.customer)
        self.assertEqual(line.halo_kind, "labour")
        self.assertEqual(line.halo_charge_rate_id, self.rate_remote, "company default labour rate")
        self.assertEqual(line.halo_billing_state, "unbilled")
        self.assertFalse(line.halo_running)
        # changing the end recomputes the duration: 09:00 → 09:20 = 1/3 h
        line.with_user(self.technician).halo_end = datetime(2026, 3, 10, 9, 20)
        self.assertAlmostEqual(line.unit_amount, 1 / 3, places=6)
        # the default description names the ticket
        other = self._action(datetime(2026, 3, 11, 9, 0), datetime(2026, 3, 11, 9, 30))
        self.assertEqual(other.name, f"{self.ticket.number} - Printer on fire")

    def test_action_date_follows_start_in_user_timezone(self):
        """The timesheet day is the day the work started where the technician is (the web
        client sends the user's time zone in the context)."""
        start, end = datetime(2026, 3, 10, 13, 30), datetime(2026, 3, 10, 14, 0)
        # 13:30 UTC on 10 March is 00:30 on 11 March in Sydney (UTC+11 then) ...
        Line = self.env["account.analytic.line"].with_user(self.technician)
        vals = {"halo_ticket_id": self.ticket.id, "halo_start": start, "halo_end": end}
        line = Line.with_context(tz="Australia/Sydney").create(dict(vals))
        self.assertEqual(line.date, fields.Date.to_date("2026-03-11"))
        # ... and still 10 March in London
        line = Line.with_context(tz="Europe/London").create(dict(vals))
        self.assertEqual(line.date, fields.Date.to_date("2026-03-10"))
        # moving the start moves the day; an explicit date is kept
        line.with_context(tz="Europe/London").halo_start = datetime(2026, 3, 9, 23, 30)
        self.assertEqual(line.date, fields.Date.to_date("2026-03-09"))
        line.with_context(tz="Europe/London").write({"halo_start": start, "date": "2026-03-01"})
        self.assertEqual(line.date, fields.Date.to_date("2026-03-01"))

    def test_duration_across_dst_change(self):
        """halo_start/halo_end are UTC; the user's time zone only changes what is displayed.

        UK clocks go forward at 01:00 UTC on Sunday 29 March 2026. 00:30 → 02:30 UTC is
        displayed 00:30 GMT → 03:30 BST (3 hours on the wall clock) but lasts 2 hours.
        """
        line = self._action(datetime(2026, 3, 29, 0, 30), datetime(2026, 3, 29, 2, 30))
        self.assertEqual(line.unit_amount, 2.0)
        as_tech = line.with_user(self.technician)
        start_local = fields.Datetime.context_timestamp(as_tech, line.halo_start)
        end_local = fields.Datetime.context_timestamp(as_tech, line.halo_end)
        self.assertEqual((start_local.hour, start_local.minute), (0, 30))
        self.assertEqual((end_local.hour, end_local.minute), (3, 30))
        # and back in October (clocks go back at 01:00 UTC on 25 October 2026):
        # 00:30 → 01:30 UTC is displayed 01:30 BST → 01:30 GMT (0 h on the wall clock), lasts 1 h
        line = self._action(datetime(2026, 10, 25, 0, 30), datetime(2026, 10, 25, 1, 30))
        self.assertEqual(line.unit_amount, 1.0)

    def test_travel_time(self):
        line = self._action(datetime(2026, 3, 10, 8, 15), datetime(2026, 3, 10, 8, 55), halo_kind="travel")
        # 40 min = 2/3 h
        self.assertAlmostEqual(line.unit_amount, 2 / 3, places=6)
        self.assertEqual(line.halo_charge_rate_id, self.rate_travel, "company default travel rate")
        self.assertEqual(self.ticket.halo_travel_ids, line)
        self.assertFalse(self.ticket.halo_action_ids)
        # a labour rate cannot price travel time
        with self.assertRefused(ValidationError, "is for Labour, not for Travel time"):
            line.with_user(self.technician).halo_charge_rate_id = self.rate_onsite

    def test_end_before_start_refused(self):
        with self.assertRefused(ValidationError, "ends before it starts"):
            self._action(datetime(2026, 3, 10, 10, 0), datetime(2026, 3, 10, 9, 59), name="Backwards")
        line = self._action(datetime(2026, 3, 10, 10, 0), datetime(2026, 3, 10, 11, 0))
        with self.assertRefused(ValidationError, "ends before it starts"):
            line.with_user(self.technician).halo_end = datetime(2026, 3, 10, 9, 0)

    def test_absurd_duration_refused(self):
        with self.assertRefused(ValidationError, "lasts more than 24 hours"):
            self._action(datetime(2026, 3, 10, 9, 0), datetime(2026, 3, 11, 9, 1))
        # exactly 24 h is accepted
        line = self._action(datetime(2026, 3, 12, 9, 0), datetime(2026, 3, 13, 9, 0))
        self.assertEqual(line.unit_amount, 24.0)

    def test_overlapping_actions_warned(self):
        first = self._action(datetime(2026, 3, 10, 9, 0), datetime(2026, 3, 10, 10, 0), name="First")
        Line = self.env["account.analytic.line"].with_user(self.technician)
        spec = {"halo_start": {}, "halo_end": {}, "employee_id": {}, "unit_amount": {}}
        values = {
            "halo_ticket_id": self.ticket.id,
            "employee_id": self.employee_tech.id,
            "halo_start": "2026-03-10 09:30:00",
            "halo_end": "2026-03-10 11:00:00",
        }
        result = Line.onchange(values, ["halo_end"], spec)
        self.assertEqual(result["warning"]["title"], "Overlapping actions")
        self.assertIn("'First' from 2026-03-10 09:00:00 to 2026-03-10 10:00:00", result["warning"]["message"])
        self.assertEqual(result["value"]["unit_amount"], 1.5)
        # an action starting when the other ends does not overlap
        values.update(halo_start="2026-03-10 10:00:00")
        self.assertNotIn("warning", Line.onchange(values, ["halo_start"], spec))
        # overlapping actions are saved (it is a warning) and flagged on both
        second = self._action(datetime(2026, 3, 10, 9, 30), datetime(2026, 3, 10, 11, 0), name="Second")
        third = self._action(datetime(2026, 3, 10, 11, 0), datetime(2026, 3, 10, 12, 0), name="Third")
        self.assertEqual((first.halo_overlap, second.halo_overlap, third.halo_overlap), (True, True, False))
        # another technician's actions never overlap with this one's
        other = self._action(
            datetime(2026, 3, 10, 9, 0), datetime(2026, 3, 10, 10, 0), user=self.billing_user
        )
        self.assertFalse(other.halo_overlap)
        # editing a line does not warn about itself
        values = {
            "employee_id": self.employee_tech.id,
            "halo_start": "2026-03-10 11:00:00",
            "halo_end": "2026-03-10 11:30:00",
        }
        self.assertNotIn("warning", third.with_user(self.technician).onchange(values, ["halo_end"], spec))

    def test_start_stop_in_one_click(self):
        ticket = self.ticket.with_user(self.technician)
        with freeze_time("2026-03-10 09:00:00"):
            self.assertIs(ticket.action_halo_start_action(), True)
        ticket.invalidate_recordset()  # what a new request would see
        line = ticket.halo_running_action_id
        self.assertTrue(line)
        self.assertEqual(
            (line.halo_start, line.halo_end, line.unit_amount, line.halo_running),
            (datetime(2026, 3, 10, 9, 0), False, 0.0, True),
        )
        with (
            freeze_time("2026-03-10 09:05:00"),
            self.assertRefused(UserError, "already have an action running"),
        ):
            ticket.action_halo_start_action()
        # someone else's running action is not mine
        self.assertFalse(self.ticket.with_user(self.billing_user).halo_running_action_id)
        with freeze_time("2026-03-10 10:45:00"):
            action = ticket.action_halo_stop_action()
        self.assertEqual(
            (action["res_model"], action["res_id"], action["target"]),
            ("account.analytic.line", line.id, "new"),
        )
        self.assertEqual(
            (line.halo_end, line.unit_amount, line.halo_running), (datetime(2026, 3, 10, 10, 45), 1.75, False)
        )
        ticket.invalidate_recordset()
        with self.assertRefused(UserError, "No action of yours is running"):
            ticket.action_halo_stop_action()

    def test_start_without_employee_refused(self):
        with self.assertRefused(UserError, "Max Manager has no employee record"):
            self.ticket.with_user(self.billing_manager).action_halo_start_action()


@tagged("post_install", "-at_install")
class TestCaptureMileageExpenses(HaloCaptureCommon):
    def test_mileage(self):
        Mileage = self.env["halo.mileage"].with_user(self.technician)
        one_way = Mileage.create(
            {"ticket_id": self.ticket.id, "distance": 12.5, "location_from": "Office", "location_to": "Acme"}
        )
        self.assertEqual((one_way.unit, one_way.billed_distance), ("km", 12.5))
        self.assertEqual(one_way.user_id, self.technician)
        self.assertEqual(one_way.partner_id, self.customer)
        round_trip = Mileage.create({"ticket_id": self.ticket.id, "distance": 12.5, "round_trip": True})
        self.assertEqual(round_trip.billed_distance, 25.0)
        miles = Mileage.create(
            {"ticket_id": self.ticket.id, "distance": 4.25, "unit": "mi", "round_trip": True}
        )
        self.assertEqual(miles.billed_distance, 8.5)
        # turning a one-way trip into a round trip doubles what is billed
        one_way.round_trip = True
        self.assertEqual(one_way.billed_distance, 25.0)
        # 25 + 25 km, 8.5 mi
        self.assertEqual(self.ticket.halo_mileage_total, "50 km, 8.5 mi")
        # the company's unit is the default
        self.env.company.halo_distance_unit = "mi"
        self.assertEqual(Mileage.create({"ticket_id": self.ticket.id, "distance": 3}).unit, "mi")

    def test_negative_or_zero_distance_refused(self):
        Mileage = self.env["halo.mileage"].with_user(self.technician)
        for distance in (-3.0, 0.0):
            with (
                mute_logger("odoo.sql_db"),
                self.assertRaises(IntegrityError) as catcher,
                self.cr.savepoint(),
            ):
                Mileage.create({"ticket_id": self.ticket.id, "distance": distance})
            self.assertIn("halo_mileage_positive_distance", str(catcher.exception))

    def test_expense_amount_entry_and_receipt(self):
        receipt = base64.b64encode(b"%PDF-1.4 toll receipt")
        expense = (
            self.env["halo.expense"]
            .with_user(self.technician)
            .create(
                {
                    "ticket_id": self.ticket.id,
                    "type_id": self.expense_type_toll.id,
                    "description": "Dartford crossing",
                    "amount_entry": 2.50,
                    "receipt": receipt,
                    "receipt_filename": "toll.pdf",
                }
            )
        )
        self.assertEqual(expense.user_id, self.technician)
        # what the technician typed is stored in the amount only billing staff can read
        self.assertEqual(expense.with_user(self.billing_user).amount, 2.50)
        # and it is given back to the technician who paid it through the entry field (in a
        # later request), never the billed amount
        expense.invalidate_recordset()
        self.assertEqual(expense.with_user(self.technician).read(["amount_entry"])[0]["amount_entry"], 2.50)
        # the receipt is an attachment of the expense, readable by the technician
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "halo.expense"),
                    ("res_id", "=", expense.id),
                    ("res_field", "=", "receipt"),
                ]
            )
        )
        self.assertEqual(len(attachment), 1)
        self.assertEqual(attachment.raw, b"%PDF-1.4 toll receipt")
        self.assertEqual(expense.with_user(self.technician).receipt, receipt)
        self.assertEqual(expense.display_name, f"{self.ticket.number}: Toll on {expense.date}")

    def test_negative_expense_refused(self):
        Expense = self.env["halo.expense"].with_user(self.technician)
        with self.assertRefused(ValidationError, "cannot be negative"):
            Expense.create(
                {"ticket_id": self.ticket.id, "type_id": self.expense_type_toll.id, "amount_entry": -1.0}
            )
        with self.assertRefused(ValidationError, "cannot be negative"):
            self.env["halo.expense"].with_user(self.billing_user).create(
                {
                    "ticket_id": self.ticket.id,
                    "type_id": self.expense_type_toll.id,
                    "amount": -0.01,
                }
            )


@tagged("post_install", "-at_install")
class TestCaptureItems(HaloCaptureCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fifo_category = cls.env["product.category"].create(
            {
                "name": "FIFO (test)",
                "property_cost_method": "fifo",
            }
        )
        cls.toner = cls.env["product.product"].create(
            {
                "name": "Toner cartridge",
                "is_storable": True,
                "categ_id": cls.fifo_category.id,
                "lst_price": 60.0,
                "standard_price": 1.0,
            }
        )
        cls.disk = cls.env["product.product"].create(
            {
                "name": "SSD 1 TB",
                "is_storable": True,
                "tracking": "serial",
                "categ_id": cls.fifo_category.id,
                "lst_price": 120.0,
            }
        )
        warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.env.company.id)], limit=1)
        cls.stock = warehouse.lot_stock_id
        cls.supplier = cls.env.ref("stock.stock_location_suppliers")

    def _receive(self, product, quantity, unit_cost, lot=None):
        """A receipt from a supplier at a given unit cost (like stock_account's own tests)."""
        move = self.env["stock.move"].create(
            {
                "product_id": product.id,
                "product_uom_qty": quantity,
                "product_uom": product.uom_id.id,
                "location_id": self.supplier.id,
                "location_dest_id": self.stock.id,
                "value_manual": unit_cost * quantity,
                "price_unit": unit_cost,
            }
        )
        move._action_confirm()
        if lot:
            move.move_line_ids.unlink()
            move.move_line_ids = [
                fields.Command.create(
                    {
                        "product_id": product.id,
                        "lot_id": lot.id,
                        "quantity": quantity,
                        "location_id": self.supplier.id,
                        "location_dest_id": self.stock.id,
                    }
                )
            ]
        else:
            move._action_assign()
            move.quantity = quantity
        move.picked = True
        move._action_done()
        return move

    def _on_hand(self, product):
        return self.env["stock.quant"]._get_available_quantity(product, self.stock)

    def _issue(self, product, quantity, **vals):
        return (
            self.env["halo.ticket.item"]
            .with_user(self.technician)
            .create(
                {
                    "ticket_id": self.ticket.id,
                    "product_id": product.id,
                    "quantity": quantity,
                    **vals,
                }
            )
        )

    def test_fifo_cost_of_issued_item(self):
        self._receive(self.toner, 4, 10.00)
        self._receive(self.toner, 6, 13.50)
        self.assertEqual(self._on_hand(self.toner), 10)
        item = self._issue(self.toner, 7)
        # FIFO consumes the whole first layer and 3 of the second:
        # 4 × 10.00 + 3 × 13.50 = 40.00 + 40.50 = 80.50 → 80.50 / 7 = 11.50 a unit
        self.assertEqual(item.with_user(self.billing_user).unit_cost, 11.50)
        self.assertEqual(item.move_id.state, "done")
        self.assertEqual(item.move_id.value, 80.50)
        self.assertEqual(item.move_id.location_dest_id, self.env.ref("stock.stock_location_customers"))
        self.assertEqual(item.location_id, self.stock)
        self.assertEqual(self._on_hand(self.toner), 3)
        # catalogue items are priced from the product
        self.assertEqual(item.with_user(self.billing_user).unit_price, 60.0)
        self.assertEqual(item.name, "Toner cartridge")
        # margin (billing managers): (60.00 - 11.50) × 7 = 339.50
        self.assertEqual(item.with_user(self.billing_manager).margin, 339.50)
        # the next issue takes the rest of the second layer: 3 × 13.50 / 3
        self.assertEqual(self._issue(self.toner, 3).with_user(self.billing_user).unit_cost, 13.50)

    def test_issue_more_than_available_refused(self):
        self._receive(self.toner, 3, 10.00)
        with self.assertRefused(
            UserError, r"Only 3.0 Units of Toner cartridge are available in .*Stock; 4.0 cannot be issued"
        ):
            self._issue(self.toner, 4)
        self.assertEqual(self._on_hand(self.toner), 3)
        self.env.company.halo_allow_negative_issue = True
        item = self._issue(self.toner, 4)
        self.assertEqual(item.move_id.state, "done")
        quants = self.env["stock.quant"].search(
            [("product_id", "=", self.toner.id), ("location_id", "=", self.stock.id)]
        )
        # 3 on hand - 4 issued
        self.assertEqual(sum(quants.mapped("quantity")), -1)

    def test_tracked_item_requires_lot(self):
        serial = self.env["stock.lot"].create({"name": "SN-0001", "product_id": self.disk.id})
        self._receive(self.disk, 1, 80.0, lot=serial)
        with self.assertRefused(ValidationError, "SSD 1 TB is tracked: choose its lot or serial number"):
            self._issue(self.disk, 1)
        item = self._issue(self.disk, 1, lot_id=serial.id)
        self.assertEqual(item.move_id.move_line_ids.lot_id, serial)
        self.assertEqual(item.move_id.state, "done")
        self.assertEqual(item.with_user(self.billing_user).unit_cost, 80.0)
        self.assertEqual(
            self.env["stock.quant"]._get_available_quantity(self.disk, self.stock, lot_id=serial), 0
        )

    def test_return_to_stock(self):
        self._receive(self.toner, 5, 10.00)
        item = self._issue(self.toner, 2)
        self.assertEqual(self._on_hand(self.toner), 3)
        # an issued item is returned, not deleted (checked in a new request: cold cache)
        issue_move = item.move_id
        self.env.invalidate_all()
        with self.assertRefused(UserError, "use 'Return to stock'"):
            item.with_user(self.technician).unlink()
        self.env.invalidate_all()  # a new request: nothing of the stock move in the cache
        item.with_user(self.technician).action_return_to_stock()
        self.assertEqual(self._on_hand(self.toner), 5)
        self.assertFalse(item.move_id)
        self.assertFalse(item.billable)
        self.assertEqual(item.halo_billing_state, "not_billable")
        back = self.env["stock.move"].search([("origin_returned_move_id", "=", issue_move.id)])
        self.assertEqual((back.state, back.quantity, back.location_dest_id), ("done", 2, self.stock))
        # returned at the value it left with: 2 × 10.00
        self.assertEqual(back.value, 20.0)
        # once returned the line can be deleted
        item.with_user(self.technician).unlink()
        self.assertFalse(item.exists())

    def test_non_storable_catalogue_item(self):
        service = self.env["product.product"].create(
            {
                "name": "Cable",
                "type": "consu",
                "lst_price": 9.0,
                "standard_price": 2.5,
            }
        )
        item = self._issue(service, 3)
        self.assertFalse(item.move_id)
        as_biller = item.with_user(self.billing_user)
        self.assertEqual((as_biller.unit_cost, as_biller.unit_price), (2.5, 9.0))

    def test_adhoc_item(self):
        Item = self.env["halo.ticket.item"].with_user(self.technician)
        item = Item.create(
            {
                "ticket_id": self.ticket.id,
                "kind": "adhoc",
                "name": "HDMI cable from the corner shop",
                "quantity": 2,
                "cost_entry": 12.49,
                "price_entry": 19.99,
            }
        )
        as_manager = item.with_user(self.billing_manager)
        self.assertEqual((as_manager.unit_cost, as_manager.unit_price), (12.49, 19.99))
        # (19.99 - 12.49) × 2 = 15.00
        self.assertEqual(as_manager.margin, 15.0)
        self.assertFalse(item.move_id)
        item.invalidate_recordset()
        self.assertEqual(
            item.read(["cost_entry", "price_entry"])[0],
            {"id": item.id, "cost_entry": 0.0, "price_entry": 0.0},
        )
        with self.assertRefused(ValidationError, "An ad hoc item needs a description"):
            Item.create({"ticket_id": self.ticket.id, "kind": "adhoc", "quantity": 1})
        with self.assertRefused(ValidationError, "A catalogue item needs a product"):
            Item.create({"ticket_id": self.ticket.id, "kind": "catalogue", "name": "x", "quantity": 1})
        with self.assertRefused(ValidationError, "Costs and prices cannot be negative"):
            Item.create({"ticket_id": self.ticket.id, "kind": "adhoc", "name": "Refund?", "price_entry": -5})

    def test_negative_quantity_refused(self):
        Item = self.env["halo.ticket.item"].with_user(self.technician)
        for quantity in (-1, 0):
            with (
                mute_logger("odoo.sql_db"),
                self.assertRaises(IntegrityError) as catcher,
                self.cr.savepoint(),
            ):
                Item.create(
                    {"ticket_id": self.ticket.id, "kind": "adhoc", "name": "Cable", "quantity": quantity}
                )
            self.assertIn("halo_ticket_item_positive_quantity", str(catcher.exception))


@tagged("post_install", "-at_install")
class TestCaptureBillingState(HaloCaptureCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Line = cls.env["account.analytic.line"].with_user(cls.technician)
        cls.action = Line.create(
            {
                "halo_ticket_id": cls.ticket.id,
                "name": "Diagnosis",
                "halo_start": datetime(2026, 3, 2, 9, 0),
                "halo_end": datetime(2026, 3, 2, 10, 30),
            }
        )
        cls.travel = Line.create(
            {
                "halo_ticket_id": cls.ticket.id,
                "halo_kind": "travel",
                "halo_start": datetime(2026, 3, 2, 8, 30),
                "halo_end": datetime(2026, 3, 2, 9, 0),
            }
        )
        cls.mileage = (
            cls.env["halo.mileage"]
            .with_user(cls.technician)
            .create({"ticket_id": cls.ticket.id, "distance": 18, "round_trip": True})
        )
        cls.expense = (
            cls.env["halo.expense"]
            .with_user(cls.technician)
            .create({"ticket_id": cls.ticket.id, "type_id": cls.expense_type_toll.id, "amount_entry": 7.0})
        )
        cls.item = (
            cls.env["halo.ticket.item"]
            .with_user(cls.technician)
            .create(
                {
                    "ticket_id": cls.ticket.id,
                    "kind": "adhoc",
                    "name": "Fuse",
                    "quantity": 3,
                    "cost_entry": 0.5,
                    "price_entry": 2.0,
                }
            )
        )
        cls.work = [cls.action, cls.travel, cls.mileage, cls.expense, cls.item]

    def test_ticket_totals_per_kind(self):
        ticket = self.ticket.with_user(self.technician)
        self.assertEqual(ticket.halo_action_hours, 1.5)
        self.assertEqual(ticket.halo_travel_hours, 0.5)
        self.assertEqual(ticket.halo_mileage_total, "36 km")
        self.assertEqual((ticket.halo_expense_count, ticket.halo_item_count), (1, 1))
        self.assertEqual(ticket.halo_action_ids, self.action)
        self.assertEqual(ticket.halo_travel_ids, self.travel)
        # the billing state of a non-billable action
        self.action.with_user(self.technician).halo_billable = "not_billable"
        self.assertEqual(self.action.halo_billing_state, "not_billable")

    def test_states_and_locks(self):
        run = self._halo_create_run()
        self.assertTrue(run.name.startswith("BR/"))
        for record in self.work:
            self.assertEqual(record.halo_billing_state, "unbilled", record._name)
            record.with_context(**ENGINE).halo_run_id = run
            self.assertEqual(record.halo_billing_state, "in_run", record._name)
        edits = {
            "account.analytic.line": {"name": "Changed"},
            "halo.mileage": {"distance": 1},
            "halo.expense": {"description": "Changed"},
            "halo.ticket.item": {"quantity": 1},
        }
        for record in self.work:
            as_tech = record.with_user(self.technician)
            with self.assertRefused(UserError, f"is in billing run {run.name} and cannot be changed"):
                as_tech.write(edits[record._name])
            with self.assertRefused(UserError, f"is in billing run {run.name}"):
                as_tech.unlink()
            # the billing user is held by the same lock
            with self.assertRefused(UserError, f"is in billing run {run.name}"):
                record.with_user(self.billing_user).write(edits[record._name])
        with self.assertRefused(UserError, f"is in billing run {run.name}"):
            self.action.with_user(self.technician).halo_end = datetime(2026, 3, 2, 11, 0)
        # releasing (the engine clears the run) unlocks
        for record in self.work:
            record.with_context(**ENGINE).halo_run_id = False
            self.assertEqual(record.halo_billing_state, "unbilled", record._name)
            record.with_user(self.technician).write(edits[record._name])
        self.assertEqual(self.mileage.billed_distance, 2.0)

    def test_invoiced_lock_and_invoice_numbers(self):
        run = self._halo_create_run()
        numbers = {
            self.action: "INV/2026/00007",
            self.travel: "INV/2026/00007",
            self.mileage: "INV/2026/00007",
            self.expense: "INV/2026/00003",
            self.item: "INV/2026/00003",
        }
        for record, number in numbers.items():
            record.with_context(**ENGINE).write({"halo_run_id": run.id, "halo_invoice_number": number})
            self.assertEqual(record.halo_billing_state, "invoiced", record._name)
            with self.assertRefused(UserError, f"was invoiced on {number} and can no longer be changed"):
                record.with_user(self.technician).unlink()
            with self.assertRefused(UserError, f"was invoiced on {number}"):
                record.with_user(self.billing_manager).write(
                    {"billable": False}
                    if record._name != "account.analytic.line"
                    else {"halo_billable": "no_charge"}
                )
        ticket = self.ticket.with_user(self.technician)
        self.assertEqual(ticket.halo_invoice_numbers, "INV/2026/00003, INV/2026/00007")
        self.assertEqual(ticket.halo_invoice_count, 2)
        # the engine still may change billed work (e.g. a credit note releases it)
        self.action.with_context(**ENGINE).write({"halo_invoice_number": False, "halo_run_id": False})
        self.assertEqual(self.action.halo_billing_state, "unbilled")

    def test_issued_item_in_run_cannot_be_returned(self):
        category = self.env["product.category"].create(
            {"name": "AVCO (test)", "property_cost_method": "average"}
        )
        product = self.env["product.product"].create(
            {
                "name": "Mouse",
                "is_storable": True,
                "categ_id": category.id,
                "standard_price": 4.0,
            }
        )
        self.env.company.halo_allow_negative_issue = True
        item = (
            self.env["halo.ticket.item"]
            .with_user(self.technician)
            .create({"ticket_id": self.ticket.id, "product_id": product.id, "quantity": 1})
        )
        self.assertEqual(item.with_user(self.billing_user).unit_cost, 4.0)
        item.with_context(**ENGINE).halo_run_id = self._halo_create_run()
        with self.assertRefused(UserError, "is in billing run"):
            item.with_user(self.technician).action_return_to_stock()
        self.assertEqual(item.sudo().move_id.state, "done")
