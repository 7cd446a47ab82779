/** The newcomer's first hour, in one browser session: the Xero set-up from the menu (the whole
 * halo_xero_setup_tour: connect through the sandbox's consent page, import, payment journal and
 * webhook key, checklist), then a billing run whose posted invoice is queued for Xero. Driven by
 * tests/test_tour_first_hour.py, which answers the consent page, sends the queue, records the
 * customer's payment in the sandbox and then runs halo_first_hour_paid_tour. */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

const tours = registry.category("web_tour.tours");

tours.add("halo_first_hour_tour", {
    steps: () => [
        ...tours.get("halo_xero_setup_tour").steps(),
        ...stepUtils.goToAppSteps("halo_helpdesk_billing.menu_halo_billing_root", "Back to Billing"),
        {
            content: "Open Billing Runs",
            trigger: ".o_menu_sections [data-menu-xmlid='halo_helpdesk_billing.menu_halo_billing_runs']",
            run: "click",
        },
        {
            content: "Start a new billing run",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Preview the charges",
            trigger: "button[name=action_preview]",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=line_ids] .o_data_row:nth-child(5)",
        },
        {
            content: "Create the invoices",
            trigger: "button[name=action_create_invoices]",
            run: "click",
        },
        {
            content: "The posted invoice opens, queued for Xero",
            trigger: ".o_form_view .o_field_widget[name=name]:contains('INV/')",
        },
        {
            trigger: ".o_form_view button[name=action_halo_xero_send_now]",
        },
    ],
});

tours.add("halo_first_hour_paid_tour", {
    steps: () => [
        {
            content: "The invoice paid in Xero shows as paid in Odoo",
            trigger: ".o_form_view .ribbon:contains(Paid), .o_form_view .ribbon:contains(In Payment)",
        },
        {
            trigger: ".o_form_view .o_notebook .nav-link:contains(Xero)",
            run: "click",
        },
        {
            content: "with the payment from Xero",
            trigger: ".o_form_view .o_field_widget[name=halo_xero_payment_ids] .o_data_row",
        },
    ],
});
