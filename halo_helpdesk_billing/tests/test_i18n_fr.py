# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The French translation (i18n/fr.po) loads and is used: menus, field labels, selection values,
mail templates and the errors the models raise, with their placeholders filled in."""

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import HaloCaptureCommon


@tagged("post_install", "-at_install")
class TestFrenchTranslation(HaloCaptureCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        # what installing French does for this addon: its i18n/fr.po (fr_FR falls back to fr)
        cls.env["ir.module.module"]._load_module_terms(["halo_helpdesk_billing"], ["fr_FR"], overwrite=True)

    def fr(self, records):
        return records.with_context(lang="fr_FR")

    def test_menus_in_french(self):
        self.assertEqual(
            self.fr(self.env.ref("halo_helpdesk_billing.menu_halo_billing_root")).name, "Facturation"
        )
        self.assertEqual(
            self.fr(self.env.ref("halo_helpdesk_billing.menu_halo_billing_runs")).name,
            "Campagnes de facturation",
        )
        self.assertEqual(
            self.fr(self.env.ref("halo_helpdesk_billing.menu_halo_helpdesk_mileage")).name, "Kilométrage"
        )
        # English is untouched
        self.assertEqual(
            self.env.ref("halo_helpdesk_billing.menu_halo_billing_runs").with_context(lang="en_US").name,
            "Billing Runs",
        )

    def test_field_labels_and_selections_in_french(self):
        run_fields = self.fr(self.env["halo.billing.run"]).fields_get(["date_cutoff", "date_invoice"])
        self.assertEqual(run_fields["date_cutoff"]["string"], "Date d'arrêt")
        self.assertEqual(run_fields["date_invoice"]["string"], "Date de facture")
        rounding = dict(
            self.fr(self.env["halo.charge.rate.version"]).fields_get(["rounding"])["rounding"]["selection"]
        )
        self.assertEqual(
            (rounding["up"], rounding["down"], rounding["nearest"]),
            ("Vers le haut", "Vers le bas", "Au plus proche"),
        )

    def test_mail_template_in_french(self):
        template = self.fr(self.env.ref("halo_helpdesk_billing.halo_contract_expiry_mail_template"))
        self.assertIn("prend fin le", template.subject)
        self.assertIn("{{ object.name }}", template.subject)  # the placeholder is kept as it was
        self.assertIn("Bonjour", template.body_html)

    def test_errors_raised_in_french(self):
        expense = self.fr(self.env["halo.expense"])
        with self.assertRefused(ValidationError, "^Le montant d'un frais ne peut pas être négatif.$"):
            expense.create(
                {"ticket_id": self.ticket.id, "type_id": self.expense_type_toll.id, "amount": -1.0}
            )
        run = self._halo_create_run()
        # a named placeholder filled in the French sentence
        with self.assertRefused(
            AccessError,
            "^state d'une campagne de facturation ne changent que par ses "
            r"actions \(aperçu, création des factures, annulation\).$",
        ):
            self.fr(run.with_user(self.billing_user)).write({"state": "done"})
        # the same refusal for an English-speaking user stays in English
        with self.assertRefused(AccessError, "^state of a billing run change through its actions only"):
            run.with_user(self.billing_user).with_context(lang="en_US").write({"state": "done"})
