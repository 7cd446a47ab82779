"""The typed charges of a billing run and the builders of their parts (plain Python)."""

import json
from datetime import date

import _loader  # noqa: F401 - the addon's placeholder package, before importing its services
import pytest

from halo_helpdesk_billing.services import charges
from halo_helpdesk_billing.services.charges import Charge, Part


def cents(value):
    """Money rounded half up to the penny, as a currency's rounding does."""
    return float(f"{value + 1e-9:.2f}")


def four(value):
    return round(value, 4)


# ---------------------------------------------------------------------- the charge and its row
def test_columns_are_the_charges_fields_with_their_sql_types():
    assert charges.COLUMNS["parts"] == "jsonb"
    assert charges.COLUMNS["date"] == "date"
    assert charges.COLUMNS["quantity"] == "float8"
    assert charges.COLUMNS["amount"] == "numeric"
    # the row id is read back, never inserted
    assert "id" not in charges.COLUMNS
    assert len(charges.COLUMNS) == 26
    assert set(charges.INVOICE_COLUMNS) - {"id"} <= set(charges.COLUMNS)


def test_a_row_is_json_ready_and_empty_ids_are_null():
    charge = Charge(
        partner_id=7,
        ticket_id=0,
        kind="item",
        res_model="halo.ticket.item",
        res_id=3,
        date=date(2026, 7, 31),
        product_id=False,
        quantity=2.0,
        amount=50.0,
        parts=charges.item_parts(2.0, 25.0, 50.0),
        analytic_distribution=None,
    )
    row = charge.row()
    assert row["ticket_id"] is None and row["product_id"] is None  # 0 and False ids are NULL
    assert row["date"] == "2026-07-31"
    assert row["state"] == "included"
    assert row["claim_key"] == "halo.ticket.item,3"
    assert row["parts"] == [
        {
            "label": "",
            "kind": "item",
            "quantity": 2.0,
            "seconds": 0,
            "unit_price": 25.0,
            "amount": 50.0,
            "coverage": "payg",
            "contract_id": False,
        }
    ]
    assert json.loads(json.dumps(row)) == row
    assert set(row) == set(charges.COLUMNS) | {"claim_key"}


def test_only_an_included_charge_without_problem_claims_its_work():
    charge = Charge(res_model="halo.mileage", res_id=9)
    assert charge.claim_key == "halo.mileage,9"
    charge.error = "No mileage price"
    assert charge.claim_key is None
    assert Charge(res_model="halo.mileage", res_id=9, state="deferred").claim_key is None


def test_parts_survive_the_json_round_trip_and_old_parts_read():
    covered = Part(
        label="Included hours",
        kind="covered",
        quantity=1.5,
        unit_price=0.0,
        amount=0.0,
        seconds=5400,
        coverage="included",
        contract_id=4,
        hours=1.5,
        consumed=3.0,
        value=150.0,
    )
    assert Part.from_json(covered.to_json()) == covered
    # a part stored before "value" was named so, and one without seconds
    old = Part.from_json(
        {
            "label": "x",
            "kind": "covered",
            "quantity": 1,
            "unit_price": 0,
            "amount": 0,
            "coverage": "prepay_money",
            "contract_id": 4,
            "contract_amount": 80.0,
        }
    )
    assert (old.value, old.seconds, old.hours) == (80.0, 0, None)
    # a PAYG part has no balance keys
    assert set(Part("", "item", 1.0, 5.0, 5.0).to_json()) == {
        "label",
        "kind",
        "quantity",
        "seconds",
        "unit_price",
        "amount",
        "coverage",
        "contract_id",
    }


def test_a_charge_read_for_invoicing_has_typed_parts():
    row = (
        11,
        7,
        5,
        None,
        3,
        "labour",
        [Part("", "normal", 1.5, 95.0, 142.5, 5400).to_json()],
        None,
        {"12": 100.0},
    )
    charge = charges.invoice_charge(row)
    assert (charge.id, charge.partner_id, charge.kind) == (11, 7, "labour")
    assert charge.parts == [Part("", "normal", 1.5, 95.0, 142.5, 5400)]
    assert charge.billed_amount == 142.5
    with pytest.raises(ValueError):
        charges.invoice_charge(row[:-1])


# ---------------------------------------------------------------------- builders per kind of work
LABELS = {"normal": "", "ooh": "out of hours", "holiday": "holiday"}


def test_timesheet_parts_per_kind_of_time_and_surcharge():
    segments = [
        {"kind": "normal", "quantity": "1.5", "seconds": 5400, "unit_price": "95.00", "amount": "142.50"},
        {"kind": "ooh", "quantity": "1", "seconds": 3600, "unit_price": "142.50", "amount": "142.50"},
    ]
    parts = charges.timesheet_parts(segments, "15.00", False, LABELS, "surcharge")
    assert [(p.label, p.kind, p.quantity, p.seconds, p.unit_price, p.amount) for p in parts] == [
        ("", "normal", 1.5, 5400, 95.0, 142.5),
        ("out of hours", "ooh", 1.0, 3600, 142.5, 142.5),
        ("surcharge", "surcharge", 1.0, 0, 15.0, 15.0),
    ]
    # 142.50 + 142.50 + 15.00
    assert sum(p.amount for p in parts) == 300.0
    charge = Charge(kind="labour", parts=parts)
    # hours per kind of time, for contracts (the surcharge is not time)
    assert charge.time_segments() == {"normal": 1.5, "ooh": 1.0}


def test_no_charge_work_shows_its_time_at_zero_and_no_surcharge():
    segments = [{"kind": "normal", "quantity": "2", "seconds": 7200, "unit_price": "95", "amount": "190"}]
    parts = charges.timesheet_parts(segments, "15", True, LABELS, "surcharge")
    assert [(p.quantity, p.unit_price, p.amount) for p in parts] == [(2.0, 0.0, 0.0)]
    assert charges.timesheet_parts([], None, False, LABELS, "surcharge") == []


def test_priced_parts_split_the_per_trip_surcharge_off():
    # 20 km × 0.50 = 10.00, priced 12.00: a 2.00 surcharge part
    parts = charges.priced_parts("mileage", 20.0, 0.5, 12.0, cents, "surcharge")
    assert [(p.kind, p.quantity, p.unit_price, p.amount) for p in parts] == [
        ("mileage", 20.0, 0.5, 10.0),
        ("surcharge", 1.0, 2.0, 2.0),
    ]
    # an expense at cost + 10 %: 1 × 13.574 → 13.57, priced 13.57: one part
    parts = charges.priced_parts("expense", 1.0, 13.574, 13.57, cents, "surcharge")
    assert [(p.quantity, p.unit_price, p.amount) for p in parts] == [(1.0, 13.574, 13.57)]
    assert charges.unit_price_of(12.0, 20.0) == 0.6
    assert charges.unit_price_of(12.0, 0) == 0.0


# ---------------------------------------------------------------------- contracts and adjustments
def _labour(hours=3.0):
    # 2 h normal at 95 (190.00) + 1 h out of hours at 142.50: 332.50
    parts = [Part("", "normal", 2.0, 95.0, 190.0, 7200), Part("out of hours", "ooh", 1.0, 142.5, 142.5, 3600)]
    return Charge(kind="labour", quantity=hours, amount=332.5, parts=parts)


def test_a_contract_covers_part_of_the_hours_and_the_rest_is_payg_in_proportion():
    allocation = [
        {
            "mode": "included",
            "hours": 1.0,
            "amount": 0.0,
            "contract_id": 4,
            "explanation": "1 h included",
            "consumed": 1.0,
            "balance_amount": 95.0,
        },
        {"mode": "payg", "hours": 2.0, "amount": 221.67, "contract_id": False},
    ]
    parts = charges.allocated_parts(_labour(), allocation, cents, four)
    covered, normal, ooh = parts
    assert (covered.kind, covered.coverage, covered.quantity, covered.seconds, covered.amount) == (
        "covered",
        "included",
        1.0,
        3600,
        0.0,
    )
    assert (covered.hours, covered.consumed, covered.value, covered.contract_id) == (1.0, 1.0, 95.0, 4)
    # PAYG share 2/3: 2 h × 2/3 = 1.3333 h, 190.00 × 2/3 = 126.67; 1 h × 2/3 = 0.6667, 142.50 × 2/3 = 95.00
    assert (normal.quantity, normal.seconds, normal.amount, normal.unit_price) == (1.3333, 4800, 126.67, 95.0)
    assert (ooh.quantity, ooh.seconds, ooh.amount, ooh.label) == (0.6667, 2400, 95.0, "out of hours")


def test_an_amount_only_allocation_shares_by_amount_and_a_label_defaults_to_the_mode():
    item = Charge(kind="item", quantity=0.0, amount=50.0, parts=charges.item_parts(2.0, 25.0, 50.0))
    allocation = [
        {"mode": "prepay_money", "hours": 0.0, "amount": 20.0, "contract_id": 4},
        {"mode": "payg", "hours": 0.0, "amount": 30.0},
    ]
    covered, payg = charges.allocated_parts(item, allocation, cents, four)
    # the covered part counts 1 (no hours) and takes 20.00 of the balance
    assert (covered.label, covered.quantity, covered.value, covered.consumed) == (
        "prepay_money",
        1.0,
        20.0,
        0.0,
    )
    # 30 / 50 of 2 items at 25.00: 1.2 items, 30.00
    assert (payg.quantity, payg.amount) == (1.2, 30.0)


def test_an_adjusted_charge_keeps_what_a_contract_covers():
    covered = Part("1 h included", "covered", 1.0, 0.0, 0.0, 3600, "included", 4, 1.0, 1.0, 95.0)
    payg = Part("", "normal", 2.0, 95.0, 190.0, 7200)
    parts, kept = charges.adjusted_parts([covered, payg], "labour", 150.0, 3.0, 4, "adjusted")
    assert kept == [covered]
    # 150.00 over the 2 PAYG hours: 75.00 an hour
    assert parts == [covered, Part("adjusted", "labour", 2.0, 75.0, 150.0, 7200, "payg", 4)]
    # adjusted to zero: only the covered part is left
    assert charges.adjusted_parts([covered, payg], "labour", 0.0, 3.0, 4, "adjusted")[0] == [covered]
    # without a contract: one part over the charge's quantity
    parts, kept = charges.adjusted_parts(
        [Part("", "item", 2.0, 25.0, 50.0)], "item", 40.0, 2.0, False, "adjusted"
    )
    assert (kept, parts) == ([], [Part("", "item", 2.0, 20.0, 40.0, 0, "payg", False)])
