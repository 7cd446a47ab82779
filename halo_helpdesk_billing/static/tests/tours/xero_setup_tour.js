/** The Xero set-up wizard end to end against xero_sandbox: open it from its menu (the company's
 * connection, state shown, titled, one breadcrumb whatever the step), enter the app's
 * credentials, click Connect (the page leaves Odoo for the sandbox's consent page, which
 * tests/test_tour_xero_setup.py answers in the same Chromium through the DevTools protocol),
 * then, back on the wizard after Odoo's OAuth callback (the tour resumes on its own from the
 * step after Connect), choose the organisation, check the preview counts and import, then give
 * the payment journal and the webhook key and read the checklist. */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

const FORM = ".o_form_view.o_halo_xero_setup";
// one breadcrumb: the wizard itself (steps replace it instead of stacking)
const ONE_CRUMB = ".o_control_panel .o_breadcrumb:not(:has(li.breadcrumb-item)) .o_last_breadcrumb_item:contains(Xero Set-up:)";

function fieldHas(name, text) {
    return `${FORM} .o_field_widget[name=${name}]:contains(${text})`;
}

registry.category("web_tour.tours").add("halo_xero_setup_tour", {
    steps: () => [
        ...stepUtils.goToAppSteps("halo_helpdesk_billing.menu_halo_billing_root", "Open Billing"),
        {
            content: "Open Billing > Configuration",
            trigger: ".o_menu_sections button[data-menu-xmlid='halo_helpdesk_billing.menu_halo_billing_config']",
            run: "click",
        },
        {
            content: "Open Xero > Set-up",
            trigger: ".dropdown-item[data-menu-xmlid='halo_helpdesk_billing.menu_halo_xero_setup']",
            run: "click",
        },
        {
            content: "The wizard starts at the credentials step",
            trigger: `${FORM} .o_statusbar_status button.o_arrow_button_current:contains(Credentials)`,
        },
        {
            content: "It shows the company's connection and its state, under a proper title",
            trigger: `${FORM} .o_halo_xero_conn_state .o_field_widget[name=connection_state]:contains(Not connected)`,
        },
        {
            trigger: ONE_CRUMB,
        },
        {
            content: "The Xero login (authorisation code) flow is chosen",
            trigger: `${FORM} .o_field_widget[name=auth_type] input[data-value=code]:checked`,
        },
        {
            content: "Enter the client ID of the Xero app",
            trigger: `${FORM} .o_field_widget[name=client_id] input`,
            run: "edit HALO-DEMO-CLIENT",
        },
        {
            content: "Enter its client secret",
            trigger: `${FORM} .o_field_widget[name=client_secret] input`,
            run: "edit halo-demo-secret",
        },
        {
            content: "Connect: the browser goes to Xero's consent page",
            trigger: `${FORM} button.o_halo_xero_connect`,
            run: "click",
            expectUnloadPage: true,
        },
        // -- back from the consent page through /halo_xero/oauth/callback ----------------------
        {
            content: "Back on the wizard: the organisations granted in Xero are listed",
            trigger: `${FORM} .o_statusbar_status button.o_arrow_button_current:contains(Organisation)`,
        },
        {
            trigger: `${FORM} .o_halo_xero_tenants .o_data_row:contains(Halo Demo NZ Limited)`,
        },
        {
            content: "Choose the UK organisation",
            trigger: `${FORM} .o_halo_xero_tenants .o_data_row:contains(Halo Demo UK Ltd) button[name=action_select]`,
            run: "click",
        },
        {
            content: "The preview counts what Xero holds",
            trigger: `${FORM} .o_statusbar_status button.o_arrow_button_current:contains(Preview)`,
        },
        {
            trigger: fieldHas("tenant_name", "Halo Demo UK Ltd"),
        },
        {
            content: "Still one breadcrumb after three steps",
            trigger: ONE_CRUMB,
        },
        {
            trigger: fieldHas("xero_contacts", "10"),
        },
        {
            trigger: fieldHas("xero_items", "8"),
        },
        {
            trigger: fieldHas("xero_tax_rates", "5"),
        },
        {
            trigger: fieldHas("xero_revenue_accounts", "3"),
        },
        {
            trigger: `${FORM} .o_field_widget[name=odoo_linked_partners]:contains(0)`,
        },
        {
            content: "Import",
            trigger: `${FORM} button.o_halo_xero_import`,
            run: "click",
        },
        {
            content: "The import is done: 10 customers and 8 items created",
            trigger: `${FORM} .o_statusbar_status button.o_arrow_button_current:contains(Import)`,
        },
        {
            trigger: fieldHas("import_state", "Done"),
        },
        {
            trigger: fieldHas("import_contacts_created", "10"),
        },
        {
            trigger: fieldHas("import_items_created", "8"),
        },
        {
            content: "Next: what invoices and payments need",
            trigger: `${FORM} button.o_halo_xero_next_settings`,
            run: "click",
        },
        {
            trigger: `${FORM} .o_statusbar_status button.o_arrow_button_current:contains(Invoices and Payments)`,
        },
        {
            content: "The rounding account found by the import is proposed",
            trigger: `${FORM} .o_field_widget[name=rounding_account_code] input:value(860)`,
        },
        {
            content: "Choose the payment journal",
            trigger: `${FORM} .o_field_widget[name=payment_journal_id] input`,
            run: "edit Bank",
        },
        {
            trigger: ".o-autocomplete--dropdown-menu .dropdown-item:contains(Bank)",
            run: "click",
        },
        {
            content: "Enter the webhook key of the Xero app",
            trigger: `${FORM} .o_field_widget[name=webhook_key] input`,
            run: "edit halo-demo-webhook-key",
        },
        {
            content: "Save and check",
            trigger: `${FORM} button.o_halo_xero_save_settings`,
            run: "click",
        },
        {
            content: "The checklist: connection, import, journal and webhook are green",
            trigger: `${FORM} .o_statusbar_status button.o_arrow_button_current:contains(Checklist)`,
        },
        {
            trigger: `${FORM} .o_halo_xero_checklist li.o_halo_check_ok:contains(Connected to Halo Demo UK Ltd)`,
        },
        {
            trigger: `${FORM} .o_halo_xero_checklist li.o_halo_check_ok:contains(Customers and items imported)`,
        },
        {
            trigger: `${FORM} .o_halo_xero_checklist li.o_halo_check_ok:contains(Payment journal)`,
        },
        {
            trigger: `${FORM} .o_halo_xero_checklist li.o_halo_check_ok:contains(Webhook key)`,
        },
        {
            content: "Still one breadcrumb at the end",
            trigger: ONE_CRUMB,
        },
    ],
});
