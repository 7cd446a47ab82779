# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Every capture model can be imported with Odoo's standard import."""

import csv
import io
from datetime import datetime

from odoo.tests import tagged

from .common import HaloCaptureCommon


@tagged("post_install", "-at_install")
class TestCaptureImport(HaloCaptureCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_ticket = cls._halo_create_ticket("Server room too hot", partner=cls.other_customer)
        # how tickets of another system are referenced in an import file
        cls.env["ir.model.data"].create(
            {
                "module": "__import__",
                "name": "old_ticket_4711",
                "model": "helpdesk.ticket",
                "res_id": cls.other_ticket.id,
            }
        )

    def _base_import(self, model, content, user):
        """Import a CSV file the way the web client does (base_import)."""
        self.assertEqual(
            self.env["ir.module.module"].search([("name", "=", "base_import")]).state, "installed"
        )
        wizard = (
            self.env["base_import.import"]
            .with_user(user)
            .create(
                {
                    "res_model": model,
                    "file": content.encode(),
                    "file_type": "text/csv",
                    "file_name": "work.csv",
                }
            )
        )
        header = next(csv.reader(io.StringIO(content)))
        options = {
            "has_headers": True,
            "quoting": '"',
            "separator": ",",
            "encoding": "utf-8",
            "datetime_format": "%Y-%m-%d %H:%M:%S",
            "date_format": "%Y-%m-%d",
            "float_decimal_separator": ".",
            "float_thousand_separator": ",",
        }
        return wizard.execute_import(header, header, options)

    def test_import_actions_csv(self):
        """Times in the file are the technician's local times (Europe/London); BST is UTC+1
        from 29 March 2026, so 09:00 on 14 April is stored as 08:00 UTC."""
        # tickets by their number ...
        result = self._base_import(
            "account.analytic.line",
            (
                "halo_ticket_id,halo_kind,halo_start,halo_end,name\n"
                f"{self.ticket.number},labour,2026-04-14 09:00:00,2026-04-14 10:30:00,Replaced the fuser\n"
                f"{self.ticket.number},labour,2026-03-16 09:00:00,2026-03-16 09:15:00,Phone call (GMT)\n"
            ),
            self.technician,
        )
        self.assertFalse(result["messages"], result["messages"])
        fuser, call = self.env["account.analytic.line"].browse(result["ids"])
        # ... or by an external id
        result = self._base_import(
            "account.analytic.line",
            (
                "halo_ticket_id/id,halo_kind,halo_start,halo_end,name\n"
                "__import__.old_ticket_4711,travel,2026-04-14 11:00:00,2026-04-14 11:45:00,Drive to the server room\n"
            ),
            self.technician,
        )
        self.assertFalse(result["messages"], result["messages"])
        drive = self.env["account.analytic.line"].browse(result["ids"])
        lines = fuser | drive | call
        self.assertEqual(len(lines), 3)
        self.assertEqual((fuser | call).halo_ticket_id, self.ticket)
        self.assertEqual(drive.halo_ticket_id, self.other_ticket)
        self.assertEqual(
            (fuser.halo_start, fuser.halo_end), (datetime(2026, 4, 14, 8, 0), datetime(2026, 4, 14, 9, 30))
        )
        self.assertEqual(
            (call.halo_start, call.halo_end), (datetime(2026, 3, 16, 9, 0), datetime(2026, 3, 16, 9, 15))
        )
        # durations, defaults and status as if recorded on the ticket
        self.assertEqual([line.unit_amount for line in lines], [1.5, 0.75, 0.25])
        self.assertEqual(lines.mapped("halo_kind"), ["labour", "travel", "labour"])
        self.assertEqual(lines.employee_id, self.employee_tech)
        self.assertEqual(lines.project_id, self.project)
        self.assertEqual(drive.halo_charge_rate_id, self.rate_travel)
        self.assertEqual(drive.partner_id, self.other_customer)
        self.assertEqual(set(lines.mapped("halo_billing_state")), {"unbilled"})
        self.assertEqual(self.ticket.halo_action_hours, 1.75)

    def test_import_refuses_bad_rows(self):
        content = (
            "halo_ticket_id,halo_start,halo_end,name\n"
            f"{self.ticket.number},2026-04-14 09:00:00,2026-04-14 10:00:00,Fine\n"
            f"{self.ticket.number},2026-04-14 11:00:00,2026-04-14 10:00:00,Backwards\n"
        )
        result = self._base_import("account.analytic.line", content, self.technician)
        self.assertFalse(result["ids"])
        self.assertIn("ends before it starts", " ".join(m["message"] for m in result["messages"]))
        self.assertFalse(self.env["account.analytic.line"].search([("halo_ticket_id", "=", self.ticket.id)]))
        result = self._base_import(
            "account.analytic.line",
            "halo_ticket_id,halo_start,name\nNO-SUCH-TICKET,2026-04-14 09:00:00,x\n",
            self.technician,
        )
        self.assertFalse(result["ids"])
        self.assertIn("NO-SUCH-TICKET", " ".join(m["message"] for m in result["messages"]))

    def _load(self, model, content, user):
        rows = list(csv.reader(io.StringIO(content)))
        return self.env[model].with_user(user).load(rows[0], rows[1:])

    def test_load_mileage_expenses_items(self):
        result = self._load(
            "halo.mileage",
            (
                "ticket_id,date,distance,unit,round_trip,location_from,location_to\n"
                f"{self.ticket.number},2026-04-14,12.5,km,True,Office,Acme\n"
                f"{self.other_ticket.number},2026-04-15,7,mi,False,Home,Globex\n"
            ),
            self.technician,
        )
        self.assertFalse(result["messages"], result["messages"])
        trips = self.env["halo.mileage"].browse(result["ids"])
        self.assertEqual(
            [(t.ticket_id, t.unit, t.billed_distance) for t in trips],
            [(self.ticket, "km", 25.0), (self.other_ticket, "mi", 7.0)],
        )
        self.assertEqual(trips.user_id, self.technician)

        result = self._load(
            "halo.expense",
            (
                "ticket_id,type_id,description,amount_entry,date\n"
                f"{self.ticket.number},Toll,Dartford crossing,2.50,2026-04-14\n"
                f"{self.ticket.number},Parking,Car park,12.00,2026-04-14\n"
            ),
            self.technician,
        )
        self.assertFalse(result["messages"], result["messages"])
        expenses = self.env["halo.expense"].browse(result["ids"]).with_user(self.billing_user)
        self.assertEqual([(e.type_id.name, e.amount) for e in expenses], [("Toll", 2.5), ("Parking", 12.0)])

        result = self._load(
            "halo.ticket.item",
            (
                "ticket_id,kind,name,quantity,cost_entry,price_entry\n"
                f"{self.ticket.number},adhoc,HDMI cable,2,12.49,19.99\n"
            ),
            self.technician,
        )
        self.assertFalse(result["messages"], result["messages"])
        item = self.env["halo.ticket.item"].browse(result["ids"]).with_user(self.billing_user)
        self.assertEqual(
            (item.name, item.quantity, item.unit_cost, item.unit_price), ("HDMI cable", 2, 12.49, 19.99)
        )

        # a negative distance is refused with the constraint's message, and nothing is created
        result = self._load("halo.mileage", f"ticket_id,distance\n{self.ticket.number},-4\n", self.technician)
        self.assertFalse(result["ids"])
        self.assertIn(
            "The distance must be greater than zero", " ".join(m["message"] for m in result["messages"])
        )
