/** Corrections in the browser: invoice a run, credit its invoice in full and bill its work
 * again in one action, invoice the new run, then find both invoice numbers and the credit note
 * on the ticket. Driven by tests/test_tour_credit_rebill.py. */
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("halo_credit_rebill_tour", {
    steps: () => [
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
            content: "Create (and post) the invoices",
            trigger: "button[name=action_create_invoices]",
            run: "click",
        },
        {
            content: "The posted invoice opens",
            trigger: ".o_form_view .o_field_widget[name=name]:contains('INV/')",
        },
        {
            content: "Credit it in full and bill its work again",
            trigger: "button[name=action_halo_credit_and_rebill]",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "A new run holds the credited work, previewed",
            trigger: ".o_form_view .o_field_widget[name=halo_rebill_move_id]:contains('INV/')",
        },
        {
            trigger: ".o_field_widget[name=line_ids] .o_data_row:nth-child(5)",
        },
        {
            content: "Invoice it again",
            trigger: "button[name=action_create_invoices]",
            run: "click",
        },
        {
            content: "The new invoice opens",
            trigger: ".o_form_view .o_field_widget[name=name]:contains('INV/')",
        },
        {
            content: "Open its ticket",
            trigger: "button[name=action_halo_open_tickets]",
            run: "click",
        },
        {
            content: "Show the ticket's work",
            trigger: ".o_notebook a:contains('Actions')",
            run: "click",
        },
        {
            content: "The new invoice number is on the ticket",
            trigger: ".o_field_widget[name=halo_invoice_numbers]:contains('INV/')",
        },
        {
            content: "... and the credited invoice with its credit note",
            trigger: ".o_field_widget[name=halo_credited_invoices]:contains('credited by')",
        },
    ],
});
