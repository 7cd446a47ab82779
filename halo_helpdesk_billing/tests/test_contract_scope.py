"""A contract governs the work in its scope only: its site's tickets, its dates while it is in
force, what it covers. Consumption multipliers, rounding scope and default charge rate per
contract; thresholds checked as work is rated; customer settings per company.

Fixtures (see ``billing_common``): on-site £95/h, minimum 60 min, 15-min steps rounded up,
out of hours ×1.5; London 09:00-17:00 Mon-Fri; July 2026 is BST (local = UTC + 1), so
09:00-10:20 UTC is 10:00-11:20 local (1 h 20 → 1 h 30 = £142.50) and 17:00-18:00 UTC is
18:00-19:00 local (1 h out of hours × £142.50 = £142.50).
"""

from datetime import date, datetime

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .billing_common import HaloBillingRunCommon
from .contract_common import HaloContractCommon

THRESHOLD_TEXT = "has reached its threshold"


@tagged("post_install", "-at_install")
class TestContractScope(HaloContractCommon, HaloBillingRunCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.site = Partner.create(
            {
                "name": "Acme Leeds site",
                "type": "delivery",
                "parent_id": cls.customer.id,
            }
        )
        cls.site_contact = Partner.create(
            {
                "name": "Sam Site",
                "parent_id": cls.site.id,
                "email": "sam@leeds.acme.test",
            }
        )
        cls.Line = cls.env["account.analytic.line"]

    # ------------------------------------------------------------------ helpers
    def _ticket(self, partner, name="Printer down"):
        return self.env["helpdesk.ticket"].create(
            {
                "name": name,
                "description": "x",
                "partner_id": partner.id,
                "team_id": self.team.id,
            }
        )

    def _action(self, ticket, start, end, rate=None, **vals):
        return self.Line.create(
            {
                "halo_ticket_id": ticket.id,
                "employee_id": self.employee.id,
                "halo_charge_rate_id": (rate or self.rate_onsite).id,
                "halo_start": start,
                "halo_end": end,
                "name": "Work",
                **vals,
            }
        )

    def _prepay(self, hours, **vals):
        contract = self._contract(
            prepay_kind="hours",
            prepay_rate_ids=[(6, 0, self.rate_onsite.ids)],
            topup_block=hours,
            topup_product_id=self.product_topup.id,
            topup_price=95 * hours,
            **vals,
        )
        contract.action_topup()
        self.assertEqual(contract.balance_hours, hours)
        return contract

    def _notices(self, contract):
        return contract.message_ids.filtered(lambda m: THRESHOLD_TEXT in (m.body or ""))

    # ------------------------------------------------------------------ sites
    def test_site_prepay_covers_its_site_tickets_not_the_head_office(self):
        contract = self._prepay(10, site_partner_id=self.site.id)
        site_ticket = self._ticket(self.site_contact, "Leeds printer")
        office_ticket = self._ticket(self.customer, "Head office printer")
        self._action(site_ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        self._action(office_ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        site_line = run.line_ids.filtered(lambda line: line.ticket_id == site_ticket)
        office_line = run.line_ids.filtered(lambda line: line.ticket_id == office_ticket)
        # the site's 1 h 30 from the site's prepaid hours; the head office's at £142.50
        self.assertEqual(site_line.contract_id, contract)
        self.assertEqual(site_line.amount, 0)
        self.assertFalse(office_line.contract_id)
        self.assertAlmostEqual(office_line.amount, 142.5)
        run.action_create_invoices()
        self.assertAlmostEqual(run.invoice_ids.amount_untaxed, 142.5)
        self.assertAlmostEqual(contract.balance_hours, 8.5)  # 10 - 1.5

    def test_site_allocation_matches_the_ticket_partner_and_its_site(self):
        contract = self._prepay(10, site_partner_id=self.site.id)
        charge = self._charge("k", date(2026, 7, 7), 1.5, 142.5, rate=self.rate_onsite)
        # the customer itself (head office) is not the site
        parts = self.Contract._halo_allocate_charges([charge])["k"]
        self.assertEqual(self._modes(parts), [("payg", 1.5, 142.5)])
        for partner in (self.site, self.site_contact):
            parts = self.Contract._halo_allocate_charges([dict(charge, work_partner_id=partner.id)])["k"]
            self.assertEqual(self._modes(parts), [("prepay_hours", 1.5, 142.5)])
            self.assertEqual(parts[0]["contract_id"], contract.id)
        # another customer's contact naming our site gets nothing of it
        stranger = self.env["res.partner"].create({"name": "Stranger", "parent_id": self.other_customer.id})
        parts = self.Contract._halo_allocate_charges(
            [dict(charge, partner_id=self.other_customer.id, work_partner_id=stranger.id)]
        )["k"]
        self.assertEqual(self._modes(parts), [("payg", 1.5, 142.5)])

    def test_site_contract_counts_the_site_devices(self):
        Device = self.env["halo.customer.device"]
        Device.create(
            [
                {
                    "name": f"Leeds PC {i}",
                    "partner_id": self.customer.id,
                    "site_partner_id": self.site.id,
                    "date_active": date(2025, 6, 1),
                }
                for i in range(2)
            ]
            + [
                {"name": "Leeds PC 3", "partner_id": self.site_contact.id, "date_active": date(2025, 6, 1)},
            ]
            + [
                {"name": f"Office PC {i}", "partner_id": self.customer.id, "date_active": date(2025, 6, 1)}
                for i in range(4)
            ]
        )
        line = {
            "product_id": self.product_device.id,
            "quantity_mode": "devices",
            "device_type": "workstation",
            "price_unit": 10,
            "date_start": date(2026, 1, 1),
        }
        site_contract = self._contract(site_partner_id=self.site.id, recurring_line_ids=[(0, 0, line)])
        whole = self._contract(name="Whole customer", recurring_line_ids=[(0, 0, line)])
        self.Contract._cron_halo_contract_invoices(date(2026, 1, 1))
        # the site: 2 with the site + 1 of its contact; the customer: all 7
        self.assertEqual(site_contract.period_ids.device_count, 3)
        self.assertAlmostEqual(site_contract.invoice_ids.amount_untaxed, 30)
        self.assertEqual(whole.period_ids.device_count, 7)

    # ----------------------------------------------------------- price overrides
    def _customer_price(self, price=80):
        return self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_onsite.id,
                "partner_id": self.customer.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": price,
                "min_minutes": 60,
                "increment_minutes": 15,
            }
        )

    def _override(self, contract, price=10):
        return self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_onsite.id,
                "contract_id": contract.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": price,
                "min_minutes": 60,
                "increment_minutes": 15,
            }
        )

    def test_expired_contract_override_does_not_price_later_work(self):
        self._customer_price(80)
        contract = self._contract(name="First half", date_end=date(2026, 6, 30))
        override = self._override(contract, 10)
        # Wednesday 10 June 10:00-11:00 local: inside the contract, 1 h × £10
        june = self._action(self.ticket, datetime(2026, 6, 10, 9, 0), datetime(2026, 6, 10, 10, 0))
        # Tuesday 7 July 10:00-11:20 local: after its end, 1 h 30 × £80 = £120
        july = self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        self.assertEqual(june.halo_rated_amount, 10)
        self.assertEqual(june.halo_rate_version_id, override)
        self.assertEqual(july.halo_rated_amount, 120)
        self.assertEqual(july.halo_rate_version_id.partner_id, self.customer)
        self.assertEqual(july.halo_rate_version_id.level, "customer")
        Rating = self.env["halo.rating"]
        # expired on its end date: work inside its dates keeps the contract price
        contract._halo_expire(date(2026, 7, 1))
        Rating._rate_timesheets(june | july)
        self.assertEqual((june.halo_rated_amount, july.halo_rated_amount), (10, 120))
        # a cancelled contract prices nothing
        contract.action_cancel()
        Rating._rate_timesheets(june | july)
        self.assertEqual((june.halo_rated_amount, july.halo_rated_amount), (80, 120))

    def test_draft_contract_override_prices_nothing(self):
        self._customer_price(80)
        contract = self._contract(activate=False)
        self._override(contract, 10)
        july = self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        self.assertEqual(july.halo_rated_amount, 120)
        contract.action_activate()
        self.env["halo.rating"]._rate_timesheets(july)
        self.assertEqual(july.halo_rated_amount, 15)  # 1.5 h × £10

    def test_site_contract_override_prices_its_site_only(self):
        self._customer_price(80)
        contract = self._contract(site_partner_id=self.site.id)
        self._override(contract, 10)
        site_ticket = self._ticket(self.site_contact)
        site_work = self._action(site_ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        office_work = self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        self.assertEqual(site_work.halo_rated_amount, 15)
        self.assertEqual(office_work.halo_rated_amount, 120)

    def test_contract_covers_the_rates_of_its_prepay_and_of_its_overrides(self):
        """A prepay for remote work does not govern on-site work (its on-site work is priced
        and rounded as the customer's) until it has an on-site override."""
        self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_remote.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 60,
            }
        )
        remote_only = self._contract(
            prepay_kind="hours", prepay_rate_ids=[(6, 0, self.rate_remote.ids)], rounding_scope="ticket_day"
        )
        self.assertFalse(remote_only._halo_covers_rate(self.rate_onsite.id))
        self.assertTrue(remote_only._halo_covers_rate(self.rate_remote.id))
        # its per-ticket-day rounding is not applied to on-site work: 2 × 1 h × £95
        actions = self._two_short_actions()
        self.assertEqual(actions.mapped("halo_rated_amount"), [95, 95])
        # with an on-site override it governs on-site work: rounded together, at £10/h
        self._override(remote_only, 10)
        self.assertTrue(remote_only._halo_covers_rate(self.rate_onsite.id))
        self.env["halo.rating"]._rate_timesheets(actions)
        self.assertEqual(actions.mapped("halo_rated_amount"), [3.33, 6.67])

    # ----------------------------------------------------------- rounding scope
    def _two_short_actions(self):
        # Tuesday 7 July, 10:00-10:20 and 11:00-11:20 local, same ticket, same rate
        return self._action(
            self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 9, 20)
        ) | self._action(self.ticket, datetime(2026, 7, 7, 10, 0), datetime(2026, 7, 7, 10, 20))

    def test_rounding_scope_of_the_contract(self):
        contract = self._contract(rounding_scope="ticket_day")
        actions = self._two_short_actions()
        # together 40 min → 1 h: 20 min £31.66 (0.3333 h × £95) + 40 min billed £63.34 (0.6667 h)
        self.assertEqual(actions.mapped("halo_rated_amount"), [31.66, 63.34])
        self.assertAlmostEqual(sum(actions.mapped("halo_rated_amount")), 95.0)
        self.assertIn("rounded per ticket per day", actions[1].halo_rating_explanation)
        # without the contract: the customer's (company's) scope, per action: 2 × 1 h × £95
        contract.action_cancel()
        self.env["halo.rating"]._rate_timesheets(actions)
        self.assertEqual(actions.mapped("halo_rated_amount"), [95, 95])

    def test_contract_rounding_scope_beats_the_customer(self):
        self.customer.halo_rounding_scope = "ticket_day"
        self._contract(rounding_scope="action")
        actions = self._two_short_actions()
        self.assertEqual(actions.mapped("halo_rated_amount"), [95, 95])

    # ------------------------------------------------------ consumption multiplier
    def test_out_of_hours_hour_consumes_one_and_a_half_prepaid_hours(self):
        contract = self._prepay(10, consumption_ooh_multiplier=1.5)
        # 18:00-19:00 local: 1 h out of hours (£142.50)
        self._action(self.ticket, datetime(2026, 7, 7, 17, 0), datetime(2026, 7, 7, 18, 0))
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        line = run.line_ids
        self.assertEqual(line.contract_id, contract)
        self.assertEqual(line.amount, 0)
        self.assertIn("1.00 h of work × 1.5 consumption = 1.50 h from the prepaid hours", line.explanation)
        self.assertIn("balance 10.00 → 8.50 h", line.explanation)
        run.action_create_invoices()
        consumption = contract.ledger_ids.filtered(lambda e: e.kind == "consumption")
        self.assertEqual(consumption.mapped("hours"), [-1.5])
        self.assertAlmostEqual(contract.balance_hours, 8.5)

    def test_normal_hours_draw_one_for_one_with_an_out_of_hours_multiplier(self):
        contract = self._prepay(10, consumption_ooh_multiplier=1.5)
        charge = dict(
            self._charge("k", date(2026, 7, 7), 1.5, 142.5, rate=self.rate_onsite), segments={"normal": 1.5}
        )
        parts = self.Contract._halo_allocate_charges([charge])["k"]
        self.assertEqual(self._modes(parts), [("prepay_hours", 1.5, 142.5)])
        self.assertEqual(parts[0]["consumed"], 1.5)
        # a mixed charge: 1 h normal + 1 h out of hours draws 1 + 1.5 = 2.5 h
        mixed = dict(
            self._charge("m", date(2026, 7, 7), 2.0, 237.5, rate=self.rate_onsite),
            segments={"normal": 1.0, "ooh": 1.0},
        )
        parts = self.Contract._halo_allocate_charges([mixed])["m"]
        self.assertEqual(parts[0]["consumed"], 2.5)
        self.assertEqual(parts[0]["contract_id"], contract.id)

    def test_rate_multiplier_with_a_short_balance(self):
        """Balance 1 h, on-site × 1.5: 1 h of work needs 1.5 h, so 0.6667 h of work is covered
        (drawing the whole 1 h) and 0.3333 h is PAYG: £142.50 × 0.6667 = £95.00 covered,
        £47.50 billed."""
        self.rate_onsite.consumption_multiplier = 1.5
        contract = self._prepay(1)
        charge = dict(
            self._charge("k", date(2026, 7, 7), 1.0, 142.5, rate=self.rate_onsite), segments={"ooh": 1.0}
        )
        parts = self.Contract._halo_allocate_charges([charge])["k"]
        self.assertEqual(self._modes(parts), [("prepay_hours", 0.6667, 95.0), ("payg", 0.3333, 47.5)])
        self.assertEqual(parts[0]["consumed"], 1.0)
        self.assertIn("× 1.5 consumption = 1.00 h", parts[0]["explanation"])
        # contract × rate × out of hours multiply: 1 h out of hours × 2 × 1.5 × 1.5 = 4.5 h
        contract.write({"consumption_multiplier": 2.0, "consumption_ooh_multiplier": 1.5})
        self.assertAlmostEqual(contract._halo_consumption_factor(charge), 4.5)

    @mute_logger("odoo.sql_db")
    def test_multipliers_must_be_positive(self):
        with self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self._contract(consumption_multiplier=0)
        with self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.rate_onsite.consumption_multiplier = -1
            self.rate_onsite.flush_recordset()

    # ------------------------------------------------------------- thresholds
    def test_threshold_crossing_is_notified_when_the_action_is_saved_once(self):
        contract = self._prepay(
            4, threshold_type="absolute", threshold_value=2, notify_partner_ids=[(6, 0, self.follower.ids)]
        )
        # 1 h 30: 4 - 1.5 = 2.5 left once billed, above the threshold
        self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        self.assertFalse(self._notices(contract))
        # 1 h more: 1.5 left ≤ 2, notified now, weeks before the billing run
        self._action(self.ticket, datetime(2026, 7, 7, 17, 0), datetime(2026, 7, 7, 18, 0))
        notice = self._notices(contract)
        self.assertEqual(len(notice), 1)
        self.assertIn(self.follower, notice.partner_ids)
        self.assertIn("1.50 h", notice.body)
        self.assertEqual(contract.balance_hours, 4)  # nothing consumed yet
        self.assertTrue(contract.threshold_alerted)
        # more work below the threshold, then the run invoices it: still one notice
        self._action(self.ticket, datetime(2026, 7, 8, 9, 0), datetime(2026, 7, 8, 9, 30))
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        # 1 h 30 + 1 h + 1 h (the 30 min at the 1 h minimum) = 3.5 h of the 4 h
        self.assertAlmostEqual(contract.balance_hours, 0.5)
        self.assertEqual(len(self._notices(contract)), 1)

    def test_threshold_auto_topup_when_the_action_is_saved(self):
        contract = self._prepay(4, threshold_type="absolute", threshold_value=2, auto_topup=True)
        self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        self._action(self.ticket, datetime(2026, 7, 7, 17, 0), datetime(2026, 7, 7, 18, 0))
        topups = contract.ledger_ids.filtered(lambda e: e.kind == "topup")
        self.assertEqual(len(topups), 2)  # the first block and the automatic one
        self.assertEqual(contract.balance_hours, 8)
        self.assertEqual(len(contract.invoice_ids), 2)
        # 8 - 2.5 = 5.5 left once billed: above the threshold again, armed for the next crossing
        self._action(self.ticket, datetime(2026, 7, 8, 9, 0), datetime(2026, 7, 8, 9, 30))
        self.assertFalse(contract.threshold_alerted)
        self.assertEqual(len(self._notices(contract)), 1)

    def test_threshold_armed_again_by_a_top_up_between_checks(self):
        contract = self._prepay(4, threshold_type="absolute", threshold_value=2)
        # 1 h 30 + 1 h: 1.5 h left once billed: notified
        self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        self._action(self.ticket, datetime(2026, 7, 7, 17, 0), datetime(2026, 7, 7, 18, 0))
        self.assertEqual(len(self._notices(contract)), 1)
        # a manual top-up of 4 h: 5.5 h left once billed (nothing checks it now) ...
        contract.action_topup()
        self.assertEqual(contract.balance_hours, 8)
        # ... then 4 h of work (10:00-14:00 local): 1.5 h left, a new crossing, notified
        self._action(self.ticket, datetime(2026, 7, 8, 9, 0), datetime(2026, 7, 8, 13, 0))
        self.assertEqual(len(self._notices(contract)), 2)

    def test_draft_invoices_of_a_run_are_not_counted_twice(self):
        """Consumption is written when a run creates its invoices (drafts); until they are
        posted the work is still 'in run': it must not be counted again as pending."""
        self.env.company.halo_post_invoices = False
        contract = self._prepay(4, threshold_type="absolute", threshold_value=1)
        self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        self.assertEqual(run.invoice_ids.state, "draft")
        self.assertEqual(self.ticket.halo_action_ids.halo_billing_state, "in_run")
        self.assertAlmostEqual(contract.balance_hours, 2.5)
        self.assertEqual(contract._halo_pending_consumption().get(contract.id, 0.0), 0.0)
        self.assertIn("2.50 h", contract.halo_projected_balance_text())
        self.assertFalse(self._notices(contract))

    def test_threshold_checked_when_a_technician_saves_work(self):
        contract = self._prepay(1, threshold_type="absolute", threshold_value=0.5)
        action = self.Line.with_user(self.technician).create(
            {
                "halo_ticket_id": self.ticket.id,
                "employee_id": self.employee.id,
                "halo_charge_rate_id": self.rate_onsite.id,
                "name": "Fixed",
                "halo_start": datetime(2026, 7, 7, 9, 0),
                "halo_end": datetime(2026, 7, 7, 10, 20),
            }
        )
        self.assertTrue(action)
        self.assertEqual(len(self._notices(contract)), 1)
        # the notice goes to billing staff and the customer contact, never the technician
        self.assertNotIn(self.technician.partner_id, self._notices(contract).partner_ids)

    def test_projected_balance_text_shows_no_money_to_a_technician(self):
        contract = self._contract(
            prepay_kind="money", topup_block=500, topup_price=500, topup_product_id=self.product_topup.id
        )
        contract.action_topup()
        self._action(self.ticket, datetime(2026, 7, 7, 9, 0), datetime(2026, 7, 7, 10, 20))
        # £500 - £142.50 of rated work not invoiced yet
        self.assertIn("357.50", contract.halo_projected_balance_text())
        as_tech = contract.with_user(self.technician).halo_projected_balance_text()
        self.assertNotIn("357", as_tech)
        self.assertNotIn("500", as_tech)

    @freeze_time("2026-07-07")
    def test_fixed_fee_without_covered_rates_is_never_exhausted(self):
        self._contract(
            fixed_fee=True, fee_product_id=self.product_fee.id, fee_amount=500, on_exhausted="block"
        )
        ticket = self._ticket(self.contact)
        self.assertFalse(ticket.halo_contract_warning)
        self.assertFalse(ticket.message_ids.filtered(lambda m: "exhausted" in (m.body or "")))

    @freeze_time("2026-07-07")
    def test_fixed_fee_does_not_hide_an_exhausted_prepay(self):
        self._contract(fixed_fee=True, fee_product_id=self.product_fee.id, fee_amount=500)
        self._contract(name="Prepay", prepay_kind="hours", on_exhausted="block")
        with self.assertRaisesRegex(UserError, "is exhausted"):
            self._ticket(self.contact)

    @freeze_time("2026-07-07")
    def test_exhausted_site_prepay_blocks_its_site_only(self):
        self._contract(prepay_kind="hours", site_partner_id=self.site.id, on_exhausted="block")
        with self.assertRaisesRegex(UserError, "is exhausted"):
            self._ticket(self.site_contact)
        ticket = self._ticket(self.contact)
        self.assertFalse(ticket.halo_contract_warning)

    @freeze_time("2026-07-07")
    def test_block_mode_from_email_creates_a_flagged_ticket(self):
        self._contract(prepay_kind="hours", on_exhausted="block")
        raw = (
            "From: Carol Contact <carol@acme.test>\r\n"
            "To: support@msp.test\r\n"
            "Subject: Printer on fire\r\n"
            "Message-ID: <printer-on-fire@acme.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Please help.\r\n"
        )
        ticket_id = self.env["mail.thread"].message_process("helpdesk.ticket", raw)
        ticket = self.env["helpdesk.ticket"].browse(ticket_id)
        self.assertEqual(ticket.partner_id, self.contact)
        self.assertTrue(ticket.halo_contract_blocked)
        self.assertTrue(ticket.message_ids.filtered(lambda m: "Blocked by the contract" in (m.body or "")))
        # a technician cannot clear the flag; a billing user can, once the contract is sorted
        with self.assertRaises(AccessError):
            ticket.with_user(self.technician).write({"halo_contract_blocked": False})
        ticket.with_user(self.billing_user).write({"halo_contract_blocked": False})
        self.assertFalse(ticket.halo_contract_blocked)
        # the same marker cannot come from a client: a plain create is still refused
        with self.assertRaisesRegex(UserError, "is exhausted"):
            self.env["helpdesk.ticket"].with_context(halo_mail_gateway=True).create(
                {
                    "name": "Forged",
                    "description": "x",
                    "partner_id": self.contact.id,
                }
            )

    # ------------------------------------------------------- default charge rate
    def test_default_charge_rate_contract_then_customer_then_team_then_company(self):
        emergency = self.env["halo.charge.rate"].create(
            {"name": "Emergency (test)", "product_id": self.product_onsite.id}
        )
        self.env.company.halo_default_rate_id = self.rate_remote
        ticket = self._ticket(self.contact)

        def new_action():
            return self.Line.create(
                {
                    "halo_ticket_id": ticket.id,
                    "employee_id": self.employee.id,
                    "name": "x",
                    "halo_start": datetime(2026, 7, 7, 9, 0),
                    "halo_end": datetime(2026, 7, 7, 9, 30),
                }
            ).halo_charge_rate_id

        self.assertEqual(new_action(), self.rate_remote)  # company
        self.team.halo_default_rate_id = self.rate_onsite
        self.assertEqual(new_action(), self.rate_onsite)  # team
        self.customer.halo_default_rate_id = emergency
        self.assertEqual(new_action(), emergency)  # customer
        contract = self._contract(default_rate_id=self.rate_remote.id)
        self.assertEqual(new_action(), self.rate_remote)  # contract
        ticket.invalidate_recordset(["halo_default_rate_id"])
        self.assertEqual(ticket.halo_default_rate_id, self.rate_remote)
        contract.action_cancel()
        self.assertEqual(new_action(), emergency)
        # a site contract's default is for its site's tickets
        self._contract(site_partner_id=self.site.id, default_rate_id=self.rate_onsite.id)
        self.assertEqual(new_action(), emergency)
        site_ticket = self._ticket(self.site_contact)
        self.assertEqual(site_ticket.halo_default_rate_id, self.rate_onsite)


@tagged("post_install", "-at_install")
class TestCustomerSettingsPerCompany(HaloContractCommon, HaloBillingRunCommon):
    """Two companies bill one shared customer with their own settings."""

    halo_other_company = True

    def test_settings_are_per_company(self):
        customer_a = self.customer.with_company(self.company_a)
        customer_b = self.customer.with_company(self.company_b)
        customer_a.write({"halo_invoice_layout": "itemised", "halo_invoice_grouping": "customer"})
        customer_b.write(
            {
                "halo_invoice_layout": "summary_invoice",
                "halo_invoice_grouping": "ticket",
                "halo_rounding_scope": "ticket_day",
                "halo_expense_markup_custom": True,
                "halo_expense_markup": 25.0,
                "halo_default_rate_id": self.rate_onsite.id,
            }
        )
        self.assertEqual(customer_a.halo_invoice_layout, "itemised")
        self.assertEqual(customer_b.halo_invoice_layout, "summary_invoice")
        self.assertFalse(customer_a.halo_rounding_scope)
        self.assertFalse(customer_a.halo_expense_markup_custom)
        self.assertFalse(customer_a.halo_default_rate_id)
        self.assertEqual(customer_b.halo_default_rate_id, self.rate_onsite)
        run_a = self._run()
        run_b = (
            self.env["halo.billing.run"]
            .with_company(self.company_b)
            .create({"company_id": self.company_b.id, "date_cutoff": date(2026, 7, 31)})
        )
        self.assertEqual(run_a._halo_settings(self.customer)["layout"], "itemised")
        self.assertEqual(run_b._halo_settings(self.customer)["layout"], "summary_invoice")
        self.assertEqual(run_b._halo_settings(self.customer)["grouping"], "ticket")

    def test_company_b_rounding_scope_does_not_round_company_a_work(self):
        self.customer.with_company(self.company_b).halo_rounding_scope = "ticket_day"
        Line = self.env["account.analytic.line"]
        actions = Line.create(
            [
                {
                    "halo_ticket_id": self.ticket.id,
                    "employee_id": self.employee.id,
                    "halo_charge_rate_id": self.rate_onsite.id,
                    "name": "x",
                    "halo_start": datetime(2026, 7, 7, h, 0),
                    "halo_end": datetime(2026, 7, 7, h, 20),
                }
                for h in (9, 10)
            ]
        )
        # company A: per action, 2 × 1 h × £95
        self.assertEqual(actions.mapped("halo_rated_amount"), [95, 95])
        self.customer.with_company(self.company_a).halo_rounding_scope = "ticket_day"
        self.env["halo.rating"]._rate_timesheets(actions)
        self.assertEqual(actions.mapped("halo_rated_amount"), [31.66, 63.34])

    def test_expense_markup_of_the_expense_company(self):
        self.customer.with_company(self.company_b).write(
            {"halo_expense_markup_custom": True, "halo_expense_markup": 50.0}
        )
        expense = self.env["halo.expense"].create(
            {
                "ticket_id": self.ticket.id,
                "date": date(2026, 7, 7),
                "type_id": self.expense_type.id,
                "amount": 12.34,
            }
        )
        result = self.env["halo.rating"]._rate_expenses(expense)[expense.id]
        # company A's 10 %: £12.34 + £1.234 = £13.574 → £13.57 (not B's 50 %)
        self.assertEqual(float(result.amount), 13.57)
