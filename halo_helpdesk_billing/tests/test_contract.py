from datetime import date

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger
from odoo.tools.safe_eval import safe_eval

from ..models.halo_engine import LEDGER_SYSTEM
from .contract_common import HaloContractCommon


@tagged("post_install", "-at_install")
class TestContractAllocation(HaloContractCommon):
    """``_halo_allocate_charges``: each contract type, combinations and order."""

    def test_fixed_fee_included_hours_then_payg(self):
        self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=500,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
            included_hours=10,
        )
        result = self.Contract._halo_allocate_charges(
            [
                # given out of order: allocation follows the dates
                self._charge("b", date(2026, 1, 20), 8, 800, self.rate_remote),
                self._charge("a", date(2026, 1, 5), 4, 400, self.rate_remote),
                self._charge("c", date(2026, 1, 21), 3, 270, self.rate_onsite),
                # February is a new period: 10 h again
                self._charge("d", date(2026, 2, 2), 1.5, 150, self.rate_remote),
            ]
        )
        self.assertEqual(self._modes(result["a"]), [("included", 4, 400)])
        # 10 - 4 = 6 h left: 6 included (600 of value), 2 h PAYG = 800 * 2/8 = 200
        self.assertEqual(self._modes(result["b"]), [("included", 6, 600), ("payg", 2, 200)])
        self.assertIn("0.00 of 10.00 h left", result["b"][0]["explanation"])
        self.assertEqual(self._modes(result["c"]), [("payg", 3, 270)])  # on-site not covered
        self.assertEqual(self._modes(result["d"]), [("included", 1.5, 150)])

    def test_fixed_fee_unlimited(self):
        contract = self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=900,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
            included_hours=0,
        )
        result = self.Contract._halo_allocate_charges(
            [self._charge("a", date(2026, 3, 1), 40, 4000, self.rate_remote)]
        )
        self.assertEqual(self._modes(result["a"]), [("included", 40, 4000)])
        self.assertEqual(result["a"][0]["contract_id"], contract.id)

    def test_prepay_hours(self):
        contract = self._contract(
            prepay_kind="hours",
            topup_block=10,
            topup_product_id=self.product_topup.id,
            topup_price=900,
        )
        contract.action_topup()  # +10 h, counts at once
        self.assertEqual(contract.balance_hours, 10)
        result = self.Contract._halo_allocate_charges(
            [
                self._charge("a", date(2026, 1, 5), 6, 540, self.rate_onsite),
                self._charge("b", date(2026, 1, 6), 6, 540, self.rate_onsite),
            ]
        )
        self.assertEqual(self._modes(result["a"]), [("prepay_hours", 6, 540)])
        # 10 - 6 = 4 h left: 4 prepay (540 * 4/6 = 360), 2 PAYG (180)
        self.assertEqual(self._modes(result["b"]), [("prepay_hours", 4, 360), ("payg", 2, 180)])
        self.assertIn("balance 4.00 → 0.00 h", result["b"][0]["explanation"])
        # nothing written: the balance is unchanged until the run is invoiced
        self.assertEqual(contract.balance_hours, 10)

    def test_prepay_money_covers_every_charge(self):
        self._contract(
            prepay_kind="money",
            topup_block=1000,
            topup_product_id=self.product_topup.id,
            topup_price=1000,
        ).action_topup()
        result = self.Contract._halo_allocate_charges(
            [
                self._charge("a", date(2026, 1, 5), 5, 500, self.rate_onsite),
                self._charge("m", date(2026, 1, 6), 0, 120, kind="mileage"),
                self._charge("b", date(2026, 1, 7), 5, 500, self.rate_remote),
            ]
        )
        self.assertEqual(self._modes(result["a"]), [("prepay_money", 5, 500)])
        self.assertEqual(self._modes(result["m"]), [("prepay_money", 0, 120)])
        # 1000 - 500 - 120 = 380 left: 380 money for 5 * 380/500 = 3.8 h, 1.2 h / 120 PAYG
        self.assertEqual(self._modes(result["b"]), [("prepay_money", 3.8, 380), ("payg", 1.2, 120)])

    def test_payg_contract_and_no_contract(self):
        self._contract(name="PAYG only")
        result = self.Contract._halo_allocate_charges(
            [
                self._charge("a", date(2026, 1, 5), 2, 180, self.rate_onsite),
                self._charge("x", date(2026, 1, 5), 1, 90, self.rate_onsite, partner=self.other_customer),
            ]
        )
        self.assertEqual(self._modes(result["a"]), [("payg", 2, 180)])
        self.assertEqual(self._modes(result["x"]), [("payg", 1, 90)])
        self.assertFalse(result["x"][0]["contract_id"])

    def test_combination_consumes_in_order(self):
        """Fixed fee for remote support (10 h), prepay block for on-site (5 h), PAYG beyond."""
        contract = self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=500,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
            included_hours=10,
            prepay_kind="hours",
            prepay_rate_ids=[(6, 0, self.rate_onsite.ids)],
            topup_block=5,
            topup_product_id=self.product_topup.id,
            topup_price=450,
        )
        contract.action_topup()
        result = self.Contract._halo_allocate_charges(
            [
                self._charge("r", date(2026, 1, 10), 12, 1200, self.rate_remote),
                self._charge("o", date(2026, 1, 11), 7, 630, self.rate_onsite),
            ]
        )
        # remote: 10 included + 2 PAYG (the on-site block does not cover remote work)
        self.assertEqual(self._modes(result["r"]), [("included", 10, 1000), ("payg", 2, 200)])
        # on-site: 5 prepaid + 2 PAYG (630 * 2/7 = 180)
        self.assertEqual(self._modes(result["o"]), [("prepay_hours", 5, 450), ("payg", 2, 180)])

    def test_consumption_order_prepay_first(self):
        contract = self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=500,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
            included_hours=4,
            prepay_kind="hours",
            topup_block=3,
            topup_product_id=self.product_topup.id,
            topup_price=270,
            consumption_order="prepay_first",
        )
        contract.action_topup()
        result = self.Contract._halo_allocate_charges(
            [self._charge("a", date(2026, 1, 10), 8, 800, self.rate_remote)]
        )
        # prepay first: 3 h prepaid, then 4 h included, 1 h PAYG
        self.assertEqual(
            self._modes(result["a"]),
            [("prepay_hours", 3, 300), ("included", 4, 400), ("payg", 1, 100)],
        )

    def test_site_contract_first(self):
        site = self.env["res.partner"].create(
            {"name": "Acme Leeds", "parent_id": self.customer.id, "type": "other"}
        )
        wide = self._contract(
            name="Customer-wide",
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
        )
        leeds = self._contract(
            name="Leeds",
            site_partner_id=site.id,
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
        )
        result = self.Contract._halo_allocate_charges(
            [
                self._charge("leeds", date(2026, 1, 10), 1, 100, self.rate_remote, partner=site),
                self._charge("hq", date(2026, 1, 10), 1, 100, self.rate_remote),
            ]
        )
        self.assertEqual(result["leeds"][0]["contract_id"], leeds.id)
        self.assertEqual(result["hq"][0]["contract_id"], wide.id)

    def test_expired_contract_blocks_or_falls_to_payg(self):
        contract = self._contract(
            date_end=date(2026, 3, 31),
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
            on_expired="block",
        )
        charges = [
            self._charge("in", date(2026, 3, 31), 1, 100, self.rate_remote),
            self._charge("after", date(2026, 4, 1), 2, 200, self.rate_remote),
        ]
        result = self.Contract._halo_allocate_charges(charges)
        self.assertEqual(self._modes(result["in"]), [("included", 1, 100)])
        self.assertEqual(self._modes(result["after"]), [("blocked", 2, 200)])
        self.assertIn("does not allow work after expiry", result["after"][0]["explanation"])
        contract.on_expired = "payg"
        result = self.Contract._halo_allocate_charges(charges)
        self.assertEqual(self._modes(result["after"]), [("payg", 2, 200)])

    def test_rate_override_on_contract(self):
        contract = self._contract()
        Version = self.env["halo.charge.rate.version"]
        glob = Version.create(
            {"rate_id": self.rate_onsite.id, "date_from": date(2026, 1, 1), "hourly_price": 95}
        )
        override = Version.create(
            {
                "rate_id": self.rate_onsite.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 80,
                "contract_id": contract.id,
            }
        )
        self.assertEqual((glob.level, override.level), ("global", "contract"))
        self.assertEqual(override.partner_id, self.customer)
        self.assertEqual(contract.rate_version_ids, override)
        # a customer version from the same date can coexist with the contract one
        Version.create(
            {
                "rate_id": self.rate_onsite.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 85,
                "partner_id": self.customer.id,
            }
        )
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            Version.create(
                {
                    "rate_id": self.rate_onsite.id,
                    "date_from": date(2026, 1, 1),
                    "hourly_price": 70,
                    "contract_id": contract.id,
                }
            )


@tagged("post_install", "-at_install")
class TestContractLedger(HaloContractCommon):
    @freeze_time("2026-01-02")
    def test_commit_consumption_is_idempotent_and_release_restores(self):
        contract = self._contract(
            prepay_kind="hours",
            topup_block=10,
            topup_product_id=self.product_topup.id,
            topup_price=900,
        )
        contract.action_topup()
        parts = self.Contract._halo_allocate_charges(
            [
                self._charge("a", date(2026, 1, 5), 6, 540, self.rate_onsite),
                self._charge("b", date(2026, 1, 6), 6, 540, self.rate_onsite),
            ]
        )
        run, lines = self._run_lines(contract, parts, date(2026, 1, 31))
        entries = self.Contract._halo_commit_consumption(lines)
        self.assertEqual(len(entries), 2)  # two prepay parts; the PAYG part consumes nothing
        self.assertEqual(sorted(entries.mapped("hours")), [-6, -4])
        self.assertEqual(contract.balance_hours, 0)  # 10 - 6 - 4
        self.assertEqual(entries.run_id, run)
        # twice: nothing more
        self.assertFalse(self.Contract._halo_commit_consumption(lines))
        self.assertEqual(contract.balance_hours, 0)
        # line by line: top-up +10 → 10, -6 → 4, -4 → 0
        ledger = contract.ledger_ids.sorted(lambda e: (e.date, e.id))
        self.assertEqual(ledger.mapped("kind"), ["topup", "consumption", "consumption"])
        self.assertEqual(ledger.mapped("balance_hours_after"), [10, 4, 0])
        # the database refuses a second entry for the same charge
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            LEDGER_SYSTEM.on(self.Ledger).create(
                self.Contract._prepare_consumption_ledger_vals(lines[0]._halo_contract_parts()[0])
            )
        self.Contract._halo_release_consumption(run)
        self.assertEqual(contract.balance_hours, 10)
        # append-only: the consumption stays, reversed by one entry each
        self.assertEqual(
            contract.ledger_ids.sorted("id").mapped("kind"),
            ["topup", "consumption", "consumption", "reversal", "reversal"],
        )

    def test_only_adjustments_are_manual_and_need_a_reason(self):
        contract = self._contract(
            prepay_kind="hours",
            topup_block=10,
            topup_product_id=self.product_topup.id,
            topup_price=900,
        )
        contract.action_topup()
        topup = contract.ledger_ids
        Ledger = self.Ledger.with_user(self.billing_user)
        with self.assertRaises(UserError):
            topup.with_user(self.billing_user).write({"hours": 20})
        with self.assertRaises(UserError):
            topup.with_user(self.billing_manager).unlink()
        with self.assertRaises(UserError):
            Ledger.create({"contract_id": contract.id, "kind": "topup", "hours": 5})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            Ledger.create({"contract_id": contract.id, "kind": "adjustment", "hours": 1})
        adjustment = Ledger.create(
            {
                "contract_id": contract.id,
                "kind": "adjustment",
                "hours": -1.5,
                "reason": "Goodwill: duplicate ticket billed",
            }
        )
        self.assertEqual(contract.balance_hours, 8.5)  # 10 - 1.5
        adjustment.write({"hours": -2})
        self.assertEqual(contract.balance_hours, 8)
        self.assertIn("Goodwill", contract.message_ids[0].body)

    def test_topup_counts_immediately(self):
        contract = self._contract(
            prepay_kind="money",
            topup_block=1000,
            topup_product_id=self.product_topup.id,
            topup_price=950,
        )
        action = contract.action_topup()
        move = self.env["account.move"].browse(action["res_id"])
        self.assertEqual(move.state, "draft")
        self.assertEqual(move.halo_contract_id, contract)
        # 950 + 15 % tax = 1092.50; the balance is credited with the block: 1000
        self.assertAlmostEqual(move.amount_total, 1092.5)
        self.assertEqual(contract.balance_amount, 1000)
        move.button_cancel()
        self.assertEqual(contract.balance_amount, 0)  # a cancelled top-up does not count

    def test_topup_counts_once_paid(self):
        contract = self._contract(
            prepay_kind="hours",
            topup_block=10,
            topup_product_id=self.product_topup.id,
            topup_price=900,
            topup_requires_payment=True,
        )
        move = self.env["account.move"].browse(contract.action_topup()["res_id"])
        self.assertEqual(contract.balance_hours, 0)
        self.assertFalse(contract.ledger_ids.is_counted)
        move.action_post()
        self.assertEqual(contract.balance_hours, 0)
        self._register_payment(move)
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.assertTrue(contract.ledger_ids.is_counted)
        self.assertEqual(contract.balance_hours, 10)

    def test_threshold_crossing_notifies_and_tops_up(self):
        contract = self._contract(
            prepay_kind="hours",
            topup_block=10,
            topup_product_id=self.product_topup.id,
            topup_price=900,
            threshold_type="percent",
            threshold_value=20,
            auto_topup=True,
            notify_partner_ids=[(6, 0, self.follower.ids)],
        )
        contract.action_topup()
        # 20 % of a 10 h block = 2 h; 7 h leaves 3 h: not crossed
        parts = self.Contract._halo_allocate_charges(
            [self._charge("a", date(2026, 1, 5), 7, 630, self.rate_onsite)]
        )
        run, lines = self._run_lines(contract, parts, date(2026, 1, 31))
        messages = contract.message_ids
        self.Contract._halo_commit_consumption(lines)
        self.assertEqual(contract.balance_hours, 3)
        self.assertFalse(contract.threshold_reached)
        self.assertEqual(contract.message_ids, messages)
        # 1.5 h more leaves 1.5 h <= 2 h: crossed
        parts = self.Contract._halo_allocate_charges(
            [self._charge("b", date(2026, 2, 5), 1.5, 135, self.rate_onsite)]
        )
        run2, lines2 = self._run_lines(contract, parts, date(2026, 2, 28))
        self.Contract._halo_commit_consumption(lines2)
        notice = contract.message_ids.filtered(lambda m: "has reached its threshold" in (m.body or ""))
        self.assertEqual(len(notice), 1)
        self.assertIn("1.50 h", notice.body)
        self.assertEqual(notice.partner_ids, self.follower | self.contact | self.env.user.partner_id)
        self.assertTrue(self.env["mail.mail"].search([("mail_message_id", "=", notice.id)]))
        # auto top-up: a second block invoiced and counted: 1.5 + 10 = 11.5 h
        topups = contract.ledger_ids.filtered(lambda e: e.kind == "topup")
        self.assertEqual(len(topups), 2)
        self.assertEqual(len(contract.invoice_ids), 2)
        self.assertEqual(contract.balance_hours, 11.5)
        # committing the same run again neither notifies nor tops up again
        self.Contract._halo_commit_consumption(lines2)
        self.assertEqual(len(contract.ledger_ids.filtered(lambda e: e.kind == "topup")), 2)

    def test_threshold_without_auto_topup_and_report(self):
        contract = self._contract(
            prepay_kind="money",
            topup_block=500,
            topup_product_id=self.product_topup.id,
            topup_price=500,
            threshold_type="absolute",
            threshold_value=100,
        )
        contract.action_topup()
        parts = self.Contract._halo_allocate_charges(
            [self._charge("a", date(2026, 1, 5), 4.5, 450, self.rate_onsite)]
        )
        run, lines = self._run_lines(contract, parts, date(2026, 1, 31))
        self.Contract._halo_commit_consumption(lines)
        self.assertEqual(contract.balance_amount, 50)  # 500 - 450
        self.assertTrue(contract.threshold_reached)
        self.assertEqual(len(contract.invoice_ids), 1)  # no auto top-up
        action = self.env.ref("halo_helpdesk_billing.halo_contract_balance_action")
        listed = self.Contract.search(safe_eval(action.domain) + [("threshold_reached", "=", True)])
        self.assertEqual(listed, contract)


@tagged("post_install", "-at_install")
class TestContractInvoices(HaloContractCommon):
    def test_fixed_fee_in_advance_days_ahead_run_twice(self):
        contract = self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=500,
            days_ahead=14,
        )
        with freeze_time("2026-01-18"):
            moves = self.Contract._cron_halo_contract_invoices()
            # Jan (invoice 1 Jan, created from 18 Dec) and Feb (1 Feb, created from 18 Jan);
            # March (1 Mar) is created from 15 Feb
            self.assertEqual(moves.mapped("invoice_date"), [date(2026, 1, 1), date(2026, 2, 1)])
            self.assertFalse(self.Contract._cron_halo_contract_invoices())
            self.assertFalse(self.Contract._cron_halo_contract_invoices(date(2026, 1, 18)))
        self.assertEqual(contract.invoice_count, 2)
        self.assertEqual(contract.next_period_start, date(2026, 3, 1))
        move = moves[0]
        self.assertEqual(move.state, "draft")
        self.assertEqual(move.halo_contract_id, contract)
        line = move.invoice_line_ids
        self.assertEqual((line.product_id, line.quantity, line.price_unit), (self.product_fee, 1, 500))
        self.assertEqual(line.tax_ids, self.tax_sale_a)
        self.assertAlmostEqual(move.amount_total, 575)  # 500 + 15 %
        with freeze_time("2026-02-15"):
            self.assertEqual(len(self.Contract._cron_halo_contract_invoices()), 1)
        # the database refuses a period twice
        period = contract.period_ids[0]
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            period.copy({"move_id": False})

    def test_arrears_prorated_last_period(self):
        contract = self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=300,
            billing_period="quarterly",
            invoice_timing="arrears",
            date_end=date(2026, 5, 15),
        )
        moves = self.Contract._cron_halo_contract_invoices(date(2026, 3, 31))
        self.assertFalse(moves)  # Q1 is invoiced on 1 April, in arrears
        moves = self.Contract._cron_halo_contract_invoices(date(2026, 7, 1))
        self.assertEqual(moves.mapped("invoice_date"), [date(2026, 4, 1), date(2026, 7, 1)])
        q2 = moves[1].invoice_line_ids
        # 1 Apr - 15 May = 30 + 15 = 45 days of a 91-day quarter: 300 * 45/91 = 148.3516 → 148.35
        self.assertEqual(q2.quantity, 1)
        self.assertAlmostEqual(q2.price_subtotal, 148.35)
        self.assertEqual(
            contract.period_ids.filtered(lambda p: p.invoice_date == date(2026, 7, 1)).date_end,
            date(2026, 5, 15),
        )

    def test_recurring_line_prorated_start(self):
        contract = self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=500,
            recurring_line_ids=[
                (
                    0,
                    0,
                    {
                        "product_id": self.product_licence.id,
                        "name": "M365 Business",
                        "quantity": 5,
                        "price_unit": 20,
                        "date_start": date(2026, 3, 15),
                    },
                )
            ],
        )
        moves = self.Contract._cron_halo_contract_invoices(date(2026, 4, 1))
        # fee: Jan, Feb, Mar, Apr; licence: 15 Mar (its own first day) and 1 Apr (with the fee)
        self.assertEqual(len(moves), 5)
        march_licence = moves.filtered(lambda m: m.invoice_date == date(2026, 3, 15)).invoice_line_ids
        # 15-31 Mar = 17 of 31 days: 5 * 20 * 17/31 = 54.8387 → 54.84
        self.assertEqual(march_licence.quantity, 5)
        self.assertAlmostEqual(march_licence.price_subtotal, 54.84)
        self.assertIn("prorated 17/31 days", march_licence.name)
        april = moves.filtered(lambda m: m.invoice_date == date(2026, 4, 1))
        self.assertEqual(sorted(april.invoice_line_ids.mapped("price_subtotal")), [100, 500])
        line = contract.recurring_line_ids
        self.assertEqual(line.next_date, date(2026, 5, 1))
        self.assertFalse(self.Contract._cron_halo_contract_invoices(date(2026, 4, 1)))

    def test_device_based_line_counts_active_devices(self):
        Device = self.env["halo.customer.device"]
        devices = Device.create(
            [
                {
                    "name": f"PC-{i}",
                    "partner_id": self.customer.id,
                    "device_type": "workstation",
                    "date_active": date(2025, 12, 1),
                }
                for i in range(3)
            ]
        )
        Device.create(
            [
                {
                    "name": "SRV-1",
                    "partner_id": self.customer.id,
                    "device_type": "server",
                    "date_active": date(2025, 12, 1),
                },
                {
                    "name": "Other",
                    "partner_id": self.other_customer.id,
                    "device_type": "workstation",
                    "date_active": date(2025, 12, 1),
                },
                {
                    "name": "PC-new-1",
                    "partner_id": self.contact.id,
                    "device_type": "workstation",
                    "date_active": date(2026, 2, 20),
                },
                {
                    "name": "PC-new-2",
                    "partner_id": self.customer.id,
                    "device_type": "workstation",
                    "date_active": date(2026, 2, 20),
                },
            ]
        )
        devices[0].date_retired = date(2026, 2, 10)
        devices[1].date_retired = date(2026, 3, 1)  # retired on the billing date: not counted
        contract = self._contract(
            recurring_line_ids=[
                (
                    0,
                    0,
                    {
                        "product_id": self.product_device.id,
                        "quantity_mode": "devices",
                        "device_type": "workstation",
                        "price_unit": 10,
                        "date_start": date(2026, 1, 1),
                    },
                )
            ]
        )
        moves = self.Contract._cron_halo_contract_invoices(date(2026, 3, 1))
        quantities = [m.invoice_line_ids.quantity for m in moves.sorted("invoice_date")]
        # 1 Jan: 3; 1 Feb: 3; 1 Mar: 3 - 2 retired + 2 new = 3 - 1 (10 Feb) - 1 (1 Mar) + 2 = 3
        self.assertEqual(quantities, [3, 3, 3])
        devices[2].date_retired = date(2026, 3, 20)
        moves = self.Contract._cron_halo_contract_invoices(date(2026, 4, 1))
        # 1 Apr: 3 - 1 = 2 devices * 10 = 20
        self.assertEqual(moves.invoice_line_ids.quantity, 2)
        self.assertAlmostEqual(moves.amount_untaxed, 20)
        self.assertEqual(contract.period_ids.sorted("date_start").mapped("device_count"), [3, 3, 3, 2])

    def test_rollover_percent_then_capped(self):
        contract = self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=500,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
            included_hours=10,
            rollover_policy="percent",
            rollover_value=50,
            rollover_delay_days=5,
        )
        parts = self.Contract._halo_allocate_charges(
            [self._charge("a", date(2026, 1, 10), 4, 400, self.rate_remote)]
        )
        run, lines = self._run_lines(contract, parts, date(2026, 1, 31))
        self.Contract._halo_commit_consumption(lines)
        # 5 Feb: within the 5-day delay, nothing rolled yet
        self.Contract._cron_halo_contract_invoices(date(2026, 2, 5))
        self.assertFalse(contract.ledger_ids.filtered(lambda e: e.kind == "rollover"))
        self.Contract._cron_halo_contract_invoices(date(2026, 2, 6))
        rollover = contract.ledger_ids.filtered(lambda e: e.kind == "rollover")
        # January: 10 - 4 = 6 unused, 50 % = 3 h into February
        self.assertEqual((rollover.hours, rollover.date), (3, date(2026, 2, 1)))
        self.assertEqual(contract._halo_included_remaining_at(date(2026, 2, 15))[contract.id], 13)
        self.Contract._cron_halo_contract_invoices(date(2026, 2, 6))  # idempotent
        self.assertEqual(len(contract.ledger_ids.filtered(lambda e: e.kind == "rollover")), 1)
        # February work: 12 h of 13 included; January is closed: late work there is PAYG
        parts = self.Contract._halo_allocate_charges(
            [
                self._charge("b", date(2026, 2, 10), 12, 1200, self.rate_remote),
                self._charge("late", date(2026, 1, 30), 1, 100, self.rate_remote),
            ]
        )
        self.assertEqual(self._modes(parts["b"]), [("included", 12, 1200)])
        self.assertEqual(self._modes(parts["late"]), [("payg", 1, 100)])
        run, lines = self._run_lines(contract, {"b": parts["b"]}, date(2026, 2, 28))
        self.Contract._halo_commit_consumption(lines)
        contract.write({"rollover_policy": "capped", "rollover_value": 0.5})
        self.Contract._cron_halo_contract_invoices(date(2026, 3, 6))
        rollovers = contract.ledger_ids.filtered(lambda e: e.kind == "rollover").sorted("date")
        # February: 13 - 12 = 1 unused, capped at 0.5
        self.assertEqual(rollovers.mapped("hours"), [3, 0.5])
        self.assertEqual(contract._halo_included_remaining_at(date(2026, 3, 2))[contract.id], 10.5)


@tagged("post_install", "-at_install")
class TestContractExpiry(HaloContractCommon):
    def test_reminders_expiry_and_renewal_idempotent(self):
        ending = self._contract(
            name="Ending",
            date_end=date(2026, 6, 30),
            expiry_notice_days=30,
            prepay_kind="hours",
            topup_block=10,
            topup_product_id=self.product_topup.id,
            topup_price=900,
            notify_partner_ids=[(6, 0, self.follower.ids)],
        )
        ending.action_topup()
        renewing = self._contract(
            name="Renewing",
            date_end=date(2026, 6, 30),
            auto_renew=True,
            renewal_months=12,
        )
        with freeze_time("2026-05-30"):
            # 30 days before 30 June is 31 May
            self.assertFalse(self.Contract._cron_halo_contract_expiry())
            expiring = self.Contract.search(
                [("expiry_reminder_date", "<=", date(2026, 5, 30)), ("state", "=", "active")]
            )
            self.assertFalse(expiring & (ending | renewing))
        with freeze_time("2026-05-31"):
            reminded = self.Contract._cron_halo_contract_expiry()
            self.assertEqual(reminded, ending | renewing)
            self.assertFalse(self.Contract._cron_halo_contract_expiry())  # twice: no second reminder
        reminder = ending.message_ids.filtered(lambda m: "ends on" in (m.body or ""))
        self.assertEqual(len(reminder), 1)
        self.assertIn(self.follower, reminder.partner_ids)
        self.assertIn(self.contact, reminder.partner_ids)
        self.assertEqual(ending.reminder_sent_for, date(2026, 6, 30))
        with freeze_time("2026-07-01"):
            self.Contract._cron_halo_contract_expiry()
            self.Contract._cron_halo_contract_expiry()
        self.assertEqual(ending.state, "expired")
        expiry = ending.ledger_ids.filtered(lambda e: e.kind == "expiry")
        self.assertEqual(expiry.hours, -10)  # the 10 unused hours are written off once
        self.assertEqual(ending.balance_hours, 0)
        self.assertEqual((renewing.state, renewing.date_end), ("active", date(2027, 6, 30)))
        # the renewed contract gets a reminder for its new end date
        with freeze_time("2027-05-31"):
            self.assertEqual(self.Contract._cron_halo_contract_expiry(), renewing)


@tagged("post_install", "-at_install")
class TestContractTicket(HaloContractCommon):
    def _ticket(self, user=None):
        Ticket = self.env["helpdesk.ticket"]
        if user:
            Ticket = Ticket.with_user(user)
        return Ticket.create(
            {
                "name": "Printer down",
                "description": "<p>Help</p>",
                "partner_id": self.contact.id,
            }
        )

    @freeze_time("2026-02-10")
    def test_exhausted_prepay_warns_with_balance(self):
        contract = self._contract(
            prepay_kind="hours",
            topup_block=2,
            topup_product_id=self.product_topup.id,
            topup_price=180,
        )
        contract.action_topup()
        ticket = self._ticket()
        self.assertFalse(ticket.halo_contract_warning)  # 2 h left
        self.env["halo.contract.ledger"].create(
            {
                "contract_id": contract.id,
                "kind": "adjustment",
                "hours": -2,
                "reason": "Used on site",
            }
        )  # 2 - 2 = 0 h
        ticket = self._ticket(user=self.technician)
        self.assertIn("is exhausted: remaining balance 0.00 h", ticket.halo_contract_warning)
        self.assertIn("is exhausted", ticket.message_ids[0].body)

    @freeze_time("2026-02-10")
    def test_exhausted_block_and_money_hidden_from_technician(self):
        contract = self._contract(
            prepay_kind="money",
            topup_block=100,
            topup_product_id=self.product_topup.id,
            topup_price=100,
            on_exhausted="block",
        )
        with self.assertRaises(UserError) as error:
            self._ticket()
        self.assertIn(contract.display_name, str(error.exception))
        self.assertIn("$\xa00.00", str(error.exception))
        contract.action_topup()
        self.assertTrue(self._ticket(user=self.technician))
        contract.on_exhausted = "warn"
        self.env["halo.contract.ledger"].create(
            {
                "contract_id": contract.id,
                "kind": "adjustment",
                "amount": -100,
                "reason": "Refund",
            }
        )
        ticket = self._ticket(user=self.technician)
        self.assertIn("amount visible to billing users", ticket.halo_contract_warning)

    @freeze_time("2026-07-10")
    def test_expired_contract_blocks_or_warns(self):
        contract = self._contract(
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_amount=500,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
            date_end=date(2026, 6, 30),
            on_expired="block",
        )
        with self.assertRaises(UserError):
            self._ticket()
        contract.on_expired = "payg"
        ticket = self._ticket()
        self.assertIn("expired on 2026-06-30", ticket.halo_contract_warning)
        # a new contract in force clears the warning
        self._contract(
            name="2026-27",
            date_start=date(2026, 7, 1),
            fixed_fee=True,
            fee_product_id=self.product_fee.id,
            fee_rate_ids=[(6, 0, self.rate_remote.ids)],
        )
        ticket.invalidate_recordset(["halo_contract_warning"])
        self.assertFalse(ticket.halo_contract_warning)


@tagged("post_install", "-at_install")
class TestContractAccess(HaloContractCommon):
    def test_technician_reads_contract_but_no_money(self):
        contract = self._contract(
            prepay_kind="money",
            topup_block=100,
            topup_product_id=self.product_topup.id,
            topup_price=100,
        )
        contract.action_topup()
        as_tech = contract.with_user(self.technician)
        self.assertEqual(as_tech.name, "Managed Services")
        with self.assertRaises(AccessError):
            as_tech.read(["balance_amount"])
        with self.assertRaises(AccessError):
            as_tech.read(["ledger_ids"])
        with self.assertRaises(AccessError):
            self.Ledger.with_user(self.technician).search([])
        with self.assertRaises(AccessError):
            as_tech.write({"name": "Mine"})
        # billing users see amounts and manage contracts
        as_user = contract.with_user(self.billing_user)
        self.assertEqual(as_user.balance_amount, 100)
        as_user.write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            as_user.unlink()
        self.env["ir.ui.view"].with_user(self.technician)  # form renders without money fields
        arch = as_tech.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn("balance_amount", arch)
        self.assertIn("balance_hours", arch)
