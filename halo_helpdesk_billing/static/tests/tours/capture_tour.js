import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

// Money columns and fields of the capture views; none may be shown to a technician.
const MONEY_FIELDS = [
    "amount",
    "halo_amount",
    "halo_rated_amount",
    "halo_billable_hours",
    "halo_rating_explanation",
    "halo_explanation",
    "unit_cost",
    "unit_price",
    "margin",
];
const MONEY_SELECTOR = MONEY_FIELDS.map(
    (name) => `[name="${name}"], th[data-name="${name}"]`
).join(", ");

function assertNoMoney(where) {
    return {
        content: `No price, cost or amount on the ${where}`,
        trigger: ".o_form_view .o_notebook",
        run() {
            const root = document.querySelector(".o_action_manager");
            const shown = root.querySelector(MONEY_SELECTOR);
            if (shown) {
                throw new Error(`money shown to a technician on the ${where}: ${shown.outerHTML}`);
            }
            const symbol = "$"; // the company currency of the test (checked in Python)
            // what the technician paid for their own expense is theirs: shown back to them
            let text = root.innerText;
            for (const cell of root.querySelectorAll("td[name=amount_entry]")) {
                text = text.replace(cell.innerText, "");
            }
            if (text.includes(symbol)) {
                throw new Error(`the currency symbol ${symbol} is shown on the ${where}`);
            }
        },
    };
}

function openTab(name) {
    return [
        {
            content: `Open the ${name} tab`,
            trigger: `.o_notebook a.nav-link[name="${name}"]`,
            run: "click",
        },
        {
            trigger: `.o_notebook a.nav-link.active[name="${name}"]`,
        },
    ];
}

registry.category("web_tour.tours").add("halo_capture_tour", {
    steps: () => [
        {
            content: "The ticket is open",
            trigger: ".o_form_view .o_field_widget[name=name]:contains(Printer on fire), .o_form_view .o_field_widget[name=name] input:value(Printer on fire)",
        },
        // one-click action: start, then stop and describe it
        {
            content: "Start an action",
            trigger: "button[name=action_halo_start_action]",
            run: "click",
        },
        {
            content: "A running timer in the ticket header",
            trigger: ".o_form_statusbar .o_field_widget[name=halo_running_since] .o_halo_timer:contains(00:0)",
        },
        {
            content: "Stop it",
            trigger: "button[name=action_halo_stop_action]",
            run: "click",
        },
        {
            content: "The stop dialog has a title",
            trigger: ".modal .modal-title:contains(Stop action)",
        },
        {
            content: "It asks for the charge rate",
            trigger: ".modal label:contains(Charge rate)",
        },
        {
            content: "... and billable / no charge",
            trigger: ".modal .o_field_widget[name=halo_billable].o_field_radio label:contains(No charge)",
        },
        {
            content: "Describe what was done",
            trigger: ".modal .o_form_view .o_field_widget[name=name] input",
            run: "edit Replaced the fuser",
        },
        {
            content: "No rating group in the action form",
            trigger: ".modal .o_form_view",
            run() {
                const shown = document.querySelector(`.modal ${MONEY_SELECTOR.replaceAll(", ", ", .modal ")}`);
                if (shown) {
                    throw new Error(`money shown in the action form: ${shown.outerHTML}`);
                }
            },
        },
        {
            content: "Save the action",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        ...openTab("halo_actions"),
        {
            trigger: "div[name=halo_action_ids] .o_data_row td:contains(Replaced the fuser)",
        },
        assertNoMoney("actions tab"),
        // mileage
        ...openTab("halo_travel"),
        {
            content: "The Travel tab's two tables have headings",
            trigger: ".o_notebook h5:contains(Travel time) + div[name=halo_travel_ids], .o_notebook h5:contains(Mileage)",
        },
        {
            trigger: ".o_notebook h5:contains(Mileage) + div[name=halo_mileage_ids]",
        },
        {
            content: "Add a trip",
            trigger: "div[name=halo_mileage_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: "div[name=halo_mileage_ids] .o_selected_row [name=location_from] input",
            run: "edit Office",
        },
        {
            trigger: "div[name=halo_mileage_ids] .o_selected_row [name=location_to] input",
            run: "edit Acme Widgets",
        },
        {
            trigger: "div[name=halo_mileage_ids] .o_selected_row [name=distance] input",
            run: "edit 12.5",
        },
        {
            trigger: "div[name=halo_mileage_ids] .o_selected_row [name=round_trip] input",
            run: "click",
        },
        assertNoMoney("travel tab"),
        // expense
        ...openTab("halo_expenses"),
        {
            content: "Add an expense",
            trigger: "div[name=halo_expense_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: "div[name=halo_expense_ids] .o_selected_row [name=type_id] input",
            run: "edit Toll",
        },
        {
            trigger: ".o-autocomplete--dropdown-item .dropdown-item:contains(Toll)",
            run: "click",
        },
        {
            trigger: "div[name=halo_expense_ids] .o_selected_row [name=description] input",
            run: "edit Dartford crossing",
        },
        {
            trigger: "div[name=halo_expense_ids] .o_selected_row [name=amount_entry] input",
            run: "edit 2.50",
        },
        ...stepUtils.saveForm(),
        {
            content: "The expense is saved; what the technician paid is shown back to them",
            trigger: "div[name=halo_expense_ids] .o_data_row:has(td[name=description]:contains(Dartford crossing)) td[name=amount_entry]:contains(2.50)",
        },
        assertNoMoney("expenses tab"),
        ...openTab("halo_items"),
        assertNoMoney("items tab"),
        ...openTab("halo_travel"),
        {
            trigger: "div[name=halo_mileage_ids] .o_data_row td[name=location_to]:contains(Acme Widgets)",
        },
        assertNoMoney("travel tab after saving"),
    ],
});

registry.category("web_tour.tours").add("halo_capture_biller_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_notebook",
        },
        ...openTab("halo_expenses"),
        {
            content: "The billing user sees the amount column",
            trigger: "div[name=halo_expense_ids] th[data-name=amount]",
        },
        {
            content: "... and the amount the technician entered",
            trigger: "div[name=halo_expense_ids] .o_data_row td[name=amount]:contains(2.50)",
        },
        ...openTab("halo_travel"),
        {
            trigger: "div[name=halo_mileage_ids] th[data-name=halo_amount]",
        },
        ...openTab("halo_actions"),
        {
            trigger: "div[name=halo_action_ids] th[data-name=halo_rated_amount]",
        },
    ],
});
