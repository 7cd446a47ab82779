"""The shared names of ``constants.py`` (plain Python, loaded without Odoo)."""

import importlib.util

from _loader import ADDON

spec = importlib.util.spec_from_file_location(
    "halo_helpdesk_billing_constants_under_test", ADDON / "constants.py"
)
constants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(constants)


def test_every_kind_list_is_a_subset_of_the_kinds_in_their_order():
    order = [kind for kind, _label in constants.KINDS]
    for kinds in (constants.CHARGE_KINDS, constants.BILLED_KINDS, constants.REPORT_KINDS):
        names = [kind for kind, _label in kinds]
        assert names == [kind for kind in order if kind in names]
        assert dict(kinds).items() <= dict(constants.KINDS).items()
    assert set(constants.TIMED_KINDS) <= {kind for kind, _label in constants.CHARGE_KINDS}
    # a run bills labour, travel, mileage, expenses and items; prepay only as its consumption
    assert [kind for kind, _label in constants.CHARGE_KINDS] == [
        "labour",
        "travel",
        "mileage",
        "expense",
        "item",
        "recurring",
        "contract_fee",
        "prepay",
    ]


def test_work_models_tables_and_ticket_fields():
    assert list(constants.WORK_TABLES) == [
        "account.analytic.line",
        "halo.mileage",
        "halo.expense",
        "halo.ticket.item",
    ]
    # each model's table is its name with dots as underscores (Odoo's default _table)
    for work in constants.WORK_MODELS:
        assert work.table == work.model.replace(".", "_")
        assert constants.WORK_MODEL[work.model] is work
    assert constants.WORK_MODEL[constants.TIMESHEET_MODEL].ticket_field == "halo_ticket_id"


def test_billing_states_and_groups():
    assert [state for state, _label in constants.BILLING_STATES] == [
        constants.UNBILLED,
        constants.IN_RUN,
        constants.INVOICED,
        constants.NOT_BILLABLE,
    ]
    assert set(constants.RERATABLE_STATES) == {"unbilled", "not_billable"}
    assert constants.BILLING_GROUPS.split(",") == [constants.BILLING_USER, constants.BILLING_MANAGER]
    assert constants.TIMESHEET_COST_GROUPS.split(",")[0] == constants.BILLING_USER
