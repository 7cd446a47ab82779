from contextlib import contextmanager

from odoo import Command
from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER, BILLING_USER

QUIET = {
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
    "mail_notrack": True,
    "no_reset_password": True,
    "tracking_disable": True,
}


class HaloBillingCommon(AccountTestInvoicingCommon):
    """Company, users of each kind (technician, billing user, manager) and charge rates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, **QUIET))
        # the accounting test user also manages billing
        cls.env.user.group_ids |= cls.env.ref(BILLING_MANAGER)
        # ... and may set up what billing needs (projects, employees, teams, stock)
        for xmlid in (
            "project.group_project_manager",
            "hr.group_hr_user",
            "helpdesk_mgmt.group_helpdesk_manager",
            "stock.group_stock_manager",
        ):
            cls.env.user.group_ids |= cls.env.ref(xmlid)
        company = cls.env.company
        cls.technician = new_test_user(
            cls.env,
            login="halo_tech",
            name="Terry Technician",
            groups="base.group_user,helpdesk_mgmt.group_helpdesk_user,hr_timesheet.group_hr_timesheet_user",
            company_id=company.id,
            context=QUIET,
        )
        cls.billing_user = new_test_user(
            cls.env,
            login="halo_biller",
            name="Betty Biller",
            groups=f"base.group_user,{BILLING_USER}",
            company_id=company.id,
            context=QUIET,
        )
        cls.billing_manager = new_test_user(
            cls.env,
            login="halo_bmanager",
            name="Max Manager",
            groups=f"base.group_user,{BILLING_MANAGER}",
            company_id=company.id,
            context=QUIET,
        )
        cls.customer = cls.env["res.partner"].create({"name": "Acme Widgets Ltd", "is_company": True})
        cls.other_customer = cls.env["res.partner"].create({"name": "Globex plc", "is_company": True})
        Product = cls.env["product.product"]
        cls.product_onsite = Product.create({"name": "On-site (test)", "type": "service"})
        cls.product_remote = Product.create({"name": "Remote (test)", "type": "service"})
        Rate = cls.env["halo.charge.rate"]
        cls.rate_onsite = Rate.create({"name": "On-site (test)", "product_id": cls.product_onsite.id})
        cls.rate_remote = Rate.create({"name": "Remote (test)", "product_id": cls.product_remote.id})


class HaloCaptureCommon(HaloBillingCommon):
    """Adds what capture needs: employees for the users, a timesheet project, a team, a
    ticket, a travel rate and the company's default rates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.env.company
        # the test user sets things up like an administrator would
        for xmlid in (
            "helpdesk_mgmt.group_helpdesk_manager",
            "stock.group_stock_manager",
            "project.group_project_manager",
            "hr.group_hr_user",
        ):
            cls.env.user.group_ids |= cls.env.ref(xmlid)
        for user in (cls.technician, cls.billing_user, cls.billing_manager):
            user.tz = "Europe/London"
        cls.employee_tech, cls.employee_biller = cls.env["hr.employee"].create(
            [
                {"name": cls.technician.name, "user_id": cls.technician.id, "company_id": company.id},
                {"name": cls.billing_user.name, "user_id": cls.billing_user.id, "company_id": company.id},
            ]
        )
        cls.project = cls.env["project.project"].create(
            {
                "name": "Helpdesk (test)",
                "allow_timesheets": True,
                "privacy_visibility": "employees",
                "company_id": company.id,
            }
        )
        cls.team = cls.env["helpdesk.ticket.team"].create(
            {
                "name": "Support (test)",
                "company_id": company.id,
                "halo_project_id": cls.project.id,
                "user_ids": [Command.set((cls.technician | cls.billing_user).ids)],
            }
        )
        cls.product_travel = cls.env["product.product"].create({"name": "Travel (test)", "type": "service"})
        cls.rate_travel = cls.env["halo.charge.rate"].create(
            {
                "name": "Travel (test)",
                "kind": "travel",
                "product_id": cls.product_travel.id,
            }
        )
        company.write(
            {
                "halo_default_rate_id": cls.rate_remote.id,
                "halo_default_travel_rate_id": cls.rate_travel.id,
                "halo_distance_unit": "km",
            }
        )
        cls.ticket = cls._halo_create_ticket("Printer on fire")
        cls.expense_type_toll = cls.env.ref("halo_helpdesk_billing.expense_type_toll")

    @classmethod
    def _halo_create_ticket(cls, name, partner=None, **vals):
        return cls.env["helpdesk.ticket"].create(
            {
                "name": name,
                "description": f"<p>{name}</p>",
                "team_id": cls.team.id,
                "partner_id": (partner or cls.customer).id,
                "user_id": cls.technician.id,
                "company_id": cls.env.company.id,
                **vals,
            }
        )

    @contextmanager
    def assertRefused(self, exception, regex):
        """``assertRaisesRegex`` that also rolls back what the failed call left behind (Odoo
        only does that for ``assertRaises``): a create refused by a constraint has already
        inserted its row, which would otherwise be validated again at the next flush."""
        with self.assertRaisesRegex(exception, regex) as catcher, self.env.cr.savepoint():
            yield catcher

    @classmethod
    def _halo_create_run(cls):
        """A billing run, created like the billing engine does (as superuser)."""
        return cls.env["halo.billing.run"].sudo().create({"company_id": cls.env.company.id})
