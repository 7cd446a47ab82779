"""The tests' fixtures, in layers: each test module takes the layer it needs and adds only its own.

- ``HaloBaseCommon`` (here): the company and one user of each kind: ``technician``, ``billing_user``,
  ``billing_manager``, ``portal``, ``sysadmin``; with ``halo_other_company = True`` also a second company
  (``company_b``, ``company_b_data``) and its billing manager ``manager_b``. ``_halo_user`` makes any other.
- ``HaloBillingCommon`` (here): customers, products, rates, an office-hours calendar factory (a module
  that needs the portal user as a customer's contact links it: it changes what invoicing queries);
  ``HaloCaptureCommon`` (here) adds employees, a team and a ticket; ``HaloBillingRunCommon``
  (billing_common.py) a month of priced work.
- ``HaloContractCommon`` (contract_common.py), on billing: contract products, a contact, contract factories.
- ``HaloXeroCommon`` (xero_common.py), on billing: the sandbox started, the company's connection connected;
  ``HaloXeroPushCommon`` (test_xero_push_common.py) adds mapped products and taxes, ``XeroCurrencyCommon``
  (xero_currency_common.py) euros; the browser tours' ``_SandboxHttpCase`` (test_tour_xero_setup.py) starts
  its sandbox the same way (``start_sandbox``) but leaves connecting to the wizard.
- ``HaloRpcCase`` (rpc_common.py): a mixin for any of them, JSON-RPC over HTTP as any user above
  (``self.rpc(user)``; their password is their login).
"""

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
TECHNICIAN_GROUPS = "base.group_user,helpdesk_mgmt.group_helpdesk_user,hr_timesheet.group_hr_timesheet_user"


class HaloBaseCommon(AccountTestInvoicingCommon):
    """The company and its users, one of each kind (a second company and its manager on request)."""

    halo_other_company = False

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
        cls.company_a = cls.env.company
        cls.technician = cls._halo_user("halo_tech", "Terry Technician", TECHNICIAN_GROUPS)
        cls.billing_user = cls._halo_user("halo_biller", "Betty Biller", f"base.group_user,{BILLING_USER}")
        cls.billing_manager = cls._halo_user(
            "halo_bmanager", "Max Manager", f"base.group_user,{BILLING_MANAGER}"
        )
        cls.portal = cls._halo_user("halo_portal", "Pat Portal", "base.group_portal")
        cls.sysadmin = cls._halo_user("halo_sysadmin", "Sam Sysadmin", f"base.group_system,{BILLING_MANAGER}")
        if cls.halo_other_company:
            cls.company_b_data = cls.setup_other_company(name="Second Ltd")
            cls.company_b = cls.company_b_data["company"]
            cls.manager_b = cls._halo_user(
                "halo_manager_b", "Olga Other", f"base.group_user,{BILLING_MANAGER}", company=cls.company_b
            )

    @classmethod
    def _halo_user(cls, login, name, groups, company=None):
        """A user of ``company`` (default: the test company) only; password = login."""
        company = company or cls.env.company
        return new_test_user(
            cls.env, login=login, name=name, groups=groups, company_id=company.id, context=QUIET
        )


class HaloBillingCommon(HaloBaseCommon):
    """Customers, service products and charge rates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Acme Widgets Ltd", "is_company": True})
        cls.other_customer = cls.env["res.partner"].create({"name": "Globex plc", "is_company": True})
        Product = cls.env["product.product"]
        cls.product_onsite = Product.create({"name": "On-site (test)", "type": "service"})
        cls.product_remote = Product.create({"name": "Remote (test)", "type": "service"})
        Rate = cls.env["halo.charge.rate"]
        cls.rate_onsite = Rate.create({"name": "On-site (test)", "product_id": cls.product_onsite.id})
        cls.rate_remote = Rate.create({"name": "Remote (test)", "product_id": cls.product_remote.id})

    @classmethod
    def _halo_london_calendar(cls):
        """Office hours: Europe/London, Monday to Friday 09:00-17:00."""
        return cls.env["resource.calendar"].create(
            {
                "name": "London 9-17",
                "tz": "Europe/London",
                "attendance_ids": [
                    Command.create(
                        {
                            "name": f"Day {d}",
                            "dayofweek": str(d),
                            "hour_from": 9,
                            "hour_to": 17,
                            "day_period": "morning",
                        }
                    )
                    for d in range(5)
                ],
            }
        )


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
