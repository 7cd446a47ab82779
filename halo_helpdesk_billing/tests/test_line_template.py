"""Invoice line templates: refused when saved if they try more than reading fields, and
changed by Billing Managers only, through the ORM and over JSON-RPC."""

from lxml import etree

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import HaloBillingCommon
from .rpc_common import HaloRpcCase

# what the issue showed: whoever may write a template ran code as superuser at the next run
HOSTILE = [
    "{{ object.sudo().env.ref('base.group_system').write({'user_ids': [(4, 2)]}) }}",
    "{{ object.env['halo.xero.connection'].sudo().search([]).access_token }}",
    "{{ object.user_id.sudo().name }}",
    "{{ object.ticket_id.name.upper() }}",
    "{{ object.__class__ }}",
    "{{ user.name }}",
    "{{ object.partner_id.halo_line_template }}",
    "{{ object.amount }}",
]
ONLY_MANAGERS = "Only Billing Managers can change invoice line templates"
VALID = "[{{ object.ticket_id.number }}] {{ object.user_id.name }} - {{ object.rate_id.name ||| no rate}}"


class LineTemplateCommon(HaloBillingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # everyone here may edit contacts: the template check is what refuses them
        for user in (cls.technician, cls.billing_user, cls.billing_manager):
            user.group_ids |= cls.env.ref("base.group_partner_manager")


@tagged("post_install", "-at_install")
class TestLineTemplateSave(LineTemplateCommon):
    def test_hostile_templates_are_refused_on_partners_and_companies(self):
        for template in HOSTILE:
            # companies are written by system administrators (who manage billing too)
            for record in (self.customer.with_user(self.billing_manager), self.env.company):
                with (
                    self.subTest(template=template, model=record._name),
                    self.assertRaisesRegex(ValidationError, "cannot be saved"),
                    self.env.cr.savepoint(),
                ):
                    record.halo_line_template = template
                self.env.invalidate_all()
        self.assertFalse(self.customer.halo_line_template)

    def test_the_error_says_what_is_wrong(self):
        with self.assertRaisesRegex(ValidationError, r"calls a method; placeholders only read fields"):
            self.customer.halo_line_template = "{{ object.user_id.sudo().name }}"
        with self.assertRaisesRegex(ValidationError, r"object.amount is not a field a template can read"):
            self.customer.halo_line_template = "{{ object.amount }}"
        with self.assertRaisesRegex(ValidationError, r"private name __class__"):
            self.env.company.halo_line_template = "{{ object.__class__ }}"

    def test_refused_at_creation_too(self):
        with self.assertRaisesRegex(ValidationError, "cannot be saved"):
            self.env["res.partner"].with_user(self.billing_manager).create(
                {"name": "Hostile Ltd", "halo_line_template": HOSTILE[0]}
            )

    def test_billing_managers_save_valid_templates(self):
        self.customer.with_user(self.billing_manager).halo_line_template = VALID
        self.env.company.halo_line_template = VALID
        self.assertEqual(self.customer.halo_line_template, VALID)
        self.assertEqual(self.env.company.halo_line_template, VALID)

    def test_only_billing_managers_change_templates(self):
        for user in (self.billing_user, self.technician):
            with self.subTest(user=user.login):
                with self.assertRaisesRegex(AccessError, ONLY_MANAGERS):
                    self.customer.with_user(user).halo_line_template = VALID
                with self.assertRaisesRegex(AccessError, ONLY_MANAGERS):
                    self.env["res.partner"].with_user(user).create(
                        {"name": "New Ltd", "halo_line_template": VALID}
                    )
                # the rest of a new contact is theirs to set
                self.env["res.partner"].with_user(user).create(
                    {"name": "New Ltd", "halo_line_template": False}
                )
        self.assertFalse(self.customer.halo_line_template)
        # billing users still read it and edit the rest of the partner
        self.customer.halo_line_template = VALID
        self.assertEqual(self.customer.with_user(self.billing_user).halo_line_template, VALID)
        self.customer.with_user(self.billing_user).write(
            {"halo_invoice_grouping": "ticket", "halo_line_template": VALID}
        )
        self.assertEqual(self.customer.halo_invoice_grouping, "ticket")

    def test_anyone_may_duplicate_a_partner_without_its_template(self):
        self.customer.halo_line_template = VALID
        copy = self.customer.with_user(self.billing_user).copy()
        self.assertFalse(copy.halo_line_template)
        self.assertEqual(self.customer.with_user(self.billing_manager).copy().halo_line_template, VALID)

    def test_billing_views_load_for_billing_users_with_the_template_read_only(self):
        for user, readonly in ((self.billing_user, True), (self.billing_manager, False)):
            with self.subTest(user=user.login):
                views = self.env["res.partner"].with_user(user).get_views([(False, "form")])
                arch = etree.fromstring(views["views"]["form"]["arch"])
                nodes = arch.xpath("//field[@name='halo_line_template']")
                self.assertEqual(len(nodes), 1)
                self.assertEqual(nodes[0].get("readonly") == "1", readonly)
        # the company's billing page is the managers' (as before)
        self.env["res.company"].with_user(self.billing_user).get_views([(False, "form")])


@tagged("post_install", "-at_install")
class TestLineTemplateRpc(LineTemplateCommon, HaloRpcCase):
    def test_hostile_template_refused_over_rpc(self):
        manager = self.rpc(self.billing_manager)
        for template in HOSTILE:
            with self.subTest(template=template):
                error = self.assertRpcRefused(
                    manager,
                    "res.partner",
                    "write",
                    [self.customer.id],
                    {"halo_line_template": template},
                    names=("ValidationError",),
                )
                self.assertIn("cannot be saved", error.message)
        self.assertRpcRefused(
            self.rpc(self.sysadmin),
            "res.company",
            "write",
            [self.env.company.id],
            {"halo_line_template": HOSTILE[0]},
            names=("ValidationError",),
        )
        self.assertFalse(self.customer.halo_line_template)

    def test_billing_users_and_technicians_cannot_change_templates_over_rpc(self):
        for user in (self.billing_user, self.technician):
            client = self.rpc(user)
            with self.subTest(user=user.login):
                error = self.assertRpcRefused(
                    client,
                    "res.partner",
                    "write",
                    [self.customer.id],
                    {"halo_line_template": VALID},
                    names=("AccessError",),
                    context={"halo_billing_engine": True},
                )
                self.assertIn(ONLY_MANAGERS, error.message)
                error = self.assertRpcRefused(
                    client,
                    "res.partner",
                    "create",
                    {"name": "New Ltd", "halo_line_template": VALID},
                    names=("AccessError",),
                )
                self.assertIn(ONLY_MANAGERS, error.message)
        self.assertFalse(self.customer.halo_line_template)
        self.rpc(self.billing_manager).call(
            "res.partner", "write", [self.customer.id], {"halo_line_template": VALID}
        )
        self.assertEqual(self.customer.halo_line_template, VALID)
