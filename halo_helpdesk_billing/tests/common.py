from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"
BILLING_MANAGER = "halo_helpdesk_billing.group_halo_billing_manager"
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
        company = cls.env.company
        cls.technician = new_test_user(
            cls.env, login="halo_tech", name="Terry Technician",
            groups="base.group_user,helpdesk_mgmt.group_helpdesk_user,hr_timesheet.group_hr_timesheet_user",
            company_id=company.id, context=QUIET,
        )
        cls.billing_user = new_test_user(
            cls.env, login="halo_biller", name="Betty Biller",
            groups=f"base.group_user,{BILLING_USER}", company_id=company.id, context=QUIET,
        )
        cls.billing_manager = new_test_user(
            cls.env, login="halo_bmanager", name="Max Manager",
            groups=f"base.group_user,{BILLING_MANAGER}", company_id=company.id, context=QUIET,
        )
        cls.customer = cls.env["res.partner"].create({"name": "Acme Widgets Ltd", "is_company": True})
        cls.other_customer = cls.env["res.partner"].create({"name": "Globex plc", "is_company": True})
        Product = cls.env["product.product"]
        cls.product_onsite = Product.create({"name": "On-site (test)", "type": "service"})
        cls.product_remote = Product.create({"name": "Remote (test)", "type": "service"})
        Rate = cls.env["halo.charge.rate"]
        cls.rate_onsite = Rate.create({"name": "On-site (test)", "product_id": cls.product_onsite.id})
        cls.rate_remote = Rate.create({"name": "Remote (test)", "product_id": cls.product_remote.id})
