/** The Xero set-up wizard end to end against xero_sandbox: open it from its menu, enter the app's
 * credentials, click Connect (the page leaves Odoo for the sandbox's consent page, which
 * tests/test_tour_xero_setup.py answers in the same Chromium through the DevTools protocol),
 * then, back on the wizard after Odoo's OAuth callback (the tour resumes on its own from the
 * step after Connect), choose the organisation, check the preview counts and import. */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

const FORM = ".o_form_view.o_halo_xero_setup";

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
            content: "Open Xero > Set-up Wizard",
            trigger: ".dropdown-item[data-menu-xmlid='halo_helpdesk_billing.menu_halo_xero_setup']",
            run: "click",
        },
        {
            content: "The wizard starts at the credentials step",
            trigger: `${FORM} .o_statusbar_status button.o_arrow_button_current:contains(Credentials)`,
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
            content: "Open the imported customers",
            trigger: `${FORM} button.o_halo_xero_customers`,
            run: "click",
        },
        {
            content: "They are listed",
            trigger: ".o_list_view .o_data_row:nth-child(10)",
        },
        {
            trigger: ".o_list_view:not(:has(.o_data_row:nth-child(11)))",
        },
    ],
});
