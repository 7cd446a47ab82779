from datetime import date

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import HaloBillingCommon


@tagged("post_install", "-at_install")
class TestChargeRate(HaloBillingCommon):
    def test_groups_and_menu_installed(self):
        manager_group = self.env.ref("halo_helpdesk_billing.group_halo_billing_manager")
        user_group = self.env.ref("halo_helpdesk_billing.group_halo_billing_user")
        self.assertIn(user_group, manager_group.all_implied_ids)
        self.assertTrue(self.billing_manager.has_group("halo_helpdesk_billing.group_halo_billing_user"))
        self.assertFalse(self.technician.has_group("halo_helpdesk_billing.group_halo_billing_user"))
        menu = self.env.ref("halo_helpdesk_billing.menu_halo_billing_root")
        self.assertEqual(menu.web_icon, "halo_helpdesk_billing,static/description/icon.png")
        self.assertTrue(self.env.ref("halo_helpdesk_billing.rate_onsite").product_id)

    def test_current_price_follows_effective_date(self):
        Version = self.env["halo.charge.rate.version"]
        Version.create(
            [
                {"rate_id": self.rate_onsite.id, "date_from": date(2020, 1, 1), "hourly_price": 80},
                {"rate_id": self.rate_onsite.id, "date_from": date(2021, 1, 1), "hourly_price": 90},
                {"rate_id": self.rate_onsite.id, "date_from": date(2999, 1, 1), "hourly_price": 500},
                # a customer override does not change the global current price
                {
                    "rate_id": self.rate_onsite.id,
                    "date_from": date(2022, 1, 1),
                    "hourly_price": 70,
                    "partner_id": self.customer.id,
                },
            ]
        )
        self.assertEqual(self.rate_onsite.current_price, 90)
        self.assertEqual(self.rate_onsite.version_count, 4)

    def test_version_levels_and_uniqueness(self):
        Version = self.env["halo.charge.rate.version"]
        glob = Version.create(
            {"rate_id": self.rate_onsite.id, "date_from": date(2026, 1, 1), "hourly_price": 95}
        )
        cust = Version.create(
            {
                "rate_id": self.rate_onsite.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 85,
                "partner_id": self.customer.id,
            }
        )
        self.assertEqual((glob.level, cust.level), ("global", "customer"))
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            Version.create({"rate_id": self.rate_onsite.id, "date_from": date(2026, 1, 1), "hourly_price": 1})

    def test_bad_input_refused(self):
        Version = self.env["halo.charge.rate.version"]
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            Version.create({"rate_id": self.rate_onsite.id, "hourly_price": -1})
        with self.assertRaises(ValidationError):
            Version.create(
                {
                    "rate_id": self.rate_onsite.id,
                    "hourly_price": 10,
                    "rounding": "down",
                    "increment_minutes": 0,
                }
            )

    def test_new_version_copies_with_later_date(self):
        version = self.env["halo.charge.rate.version"].create(
            {
                "rate_id": self.rate_onsite.id,
                "date_from": date(2026, 1, 1),
                "hourly_price": 95,
                "min_minutes": 60,
                "increment_minutes": 15,
            }
        )
        action = version.action_new_version()
        new = self.env["halo.charge.rate.version"].browse(action["res_id"])
        self.assertGreater(new.date_from, version.date_from)
        self.assertEqual((new.hourly_price, new.min_minutes, new.increment_minutes), (95, 60, 15))

    def test_technician_cannot_read_prices(self):
        version = self.env["halo.charge.rate.version"].create(
            {"rate_id": self.rate_onsite.id, "date_from": date(2026, 1, 1), "hourly_price": 95}
        )
        # the rate itself is readable (a technician picks it on an action) ...
        self.assertEqual(self.rate_onsite.with_user(self.technician).name, "On-site (test)")
        # ... its price is not, neither on the rate nor on the versions
        with self.assertRaises(AccessError):
            self.rate_onsite.with_user(self.technician).read(["current_price"])
        with self.assertRaises(AccessError):
            version.with_user(self.technician).read(["hourly_price"])
        self.assertEqual(version.with_user(self.billing_user).hourly_price, 95)
        with self.assertRaises(AccessError):
            version.with_user(self.billing_user).write({"note": "x"})
