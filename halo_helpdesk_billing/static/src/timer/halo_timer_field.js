import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { Component, onWillDestroy, onWillStart, useState } from "@odoo/owl";

const { DateTime } = luxon;

/**
 * A running clock on a Datetime field holding when something started: shows the time elapsed
 * since then (hh:mm:ss) and ticks every second; nothing when the field is empty.
 */
export class HaloTimerField extends Component {
    static template = "halo_helpdesk_billing.HaloTimerField";
    static props = { ...standardFieldProps };

    setup() {
        this.state = useState({ now: DateTime.now() });
        onWillStart(() => {
            this.interval = setInterval(() => {
                this.state.now = DateTime.now();
            }, 1000);
        });
        onWillDestroy(() => clearInterval(this.interval));
    }

    get start() {
        return this.props.record.data[this.props.name];
    }

    get elapsed() {
        if (!this.start) {
            return "";
        }
        const seconds = Math.max(0, Math.floor(this.state.now.diff(this.start, "seconds").seconds));
        const pad = (n) => String(n).padStart(2, "0");
        return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
    }
}

export const haloTimerField = {
    component: HaloTimerField,
    displayName: _t("Running timer"),
    supportedTypes: ["datetime"],
};

registry.category("fields").add("halo_timer", haloTimerField);
