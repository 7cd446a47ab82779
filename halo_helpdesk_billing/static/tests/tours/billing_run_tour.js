/** A whole billing run in the browser: start it, preview, exclude one charge, create the
 * invoices and open the invoice PDF. Driven by tests/test_tour_billing_run.py. */
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("halo_billing_run_tour", {
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
            content: "Every charge of the month is listed with its explanation",
            trigger: ".o_field_widget[name=line_ids] .o_data_row:nth-child(5)",
        },
        {
            trigger: ".o_field_widget[name=line_ids] .o_data_row td[name=explanation]:contains('out of hours')",
        },
        {
            content: "Exclude the expense",
            trigger: ".o_field_widget[name=line_ids] .o_data_row:contains('Toll') button[name=action_exclude]",
            run: "click",
        },
        {
            content: "It shows as excluded",
            trigger: ".o_field_widget[name=line_ids] .o_data_row:contains('Toll') .badge:contains('Excluded')",
        },
        {
            content: "Create the invoices",
            trigger: "button[name=action_create_invoices]",
            run: "click",
        },
        {
            content: "The posted invoice opens",
            trigger: ".o_form_view .o_field_widget[name=name]:contains('INV/')",
        },
        {
            content: "Open the invoice PDF",
            trigger: ".o_form_view .o_field_widget[name=name]:contains('INV/')",
            run: async () => {
                const match = window.location.pathname.match(/(\d+)\/?$/);
                if (!match) {
                    throw new Error(`no invoice id in ${window.location.pathname}`);
                }
                // the web client's own download route (read-write, so the posted invoice's PDF
                // is kept as its attachment); in test mode the rendering must be forced
                const form = new FormData();
                form.append("data", JSON.stringify([`/report/pdf/account.report_invoice/${match[1]}`, "qweb-pdf"]));
                form.append("context", JSON.stringify({ force_report_rendering: true }));
                form.append("csrf_token", odoo.csrf_token);
                const response = await fetch("/report/download", { method: "POST", body: form });
                const type = response.headers.get("content-type") || "";
                const bytes = new Uint8Array(await response.arrayBuffer());
                const head = String.fromCharCode(...bytes.slice(0, 4));
                if (!response.ok || !type.includes("pdf") || head !== "%PDF") {
                    throw new Error(`the invoice PDF did not open: ${response.status} ${type} ${head}`);
                }
                document.body.setAttribute("data-halo-pdf-bytes", String(bytes.length));
            },
        },
        {
            trigger: "body[data-halo-pdf-bytes]",
        },
    ],
});
