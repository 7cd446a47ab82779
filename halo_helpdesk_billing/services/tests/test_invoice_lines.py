"""Invoice lines of a billing run's invoice from its charges, itemised and summarised."""

import _loader  # noqa: F401 - the addon's placeholder package, before importing its services

from halo_helpdesk_billing.services import invoice_lines
from halo_helpdesk_billing.services.charges import Charge, Part


def line_price(quantity, unit_price, amount):
    """As the run's: the rated price when quantity × price makes the amount, else amount / quantity."""
    quantity = round(quantity, 4)
    if not quantity or abs(round(quantity * unit_price, 2) - amount) < 0.005:
        return quantity, unit_price
    return quantity, amount / quantity


def _charges():
    # ticket 5: 20 min normal + 20 min normal (rounded up to 30 min each: 0.5 h × 95 = 47.50),
    # 1 h out of hours at 142.50; ticket 6: 2 cables at 25.00
    return [
        Charge(
            id=1,
            partner_id=7,
            ticket_id=5,
            product_id=3,
            kind="labour",
            analytic_distribution={"12": 100.0},
            parts=[Part("", "normal", 0.5, 95.0, 47.5, 1800)],
        ),
        Charge(
            id=2,
            partner_id=7,
            ticket_id=5,
            product_id=3,
            kind="labour",
            parts=[
                Part("", "normal", 0.5, 95.0, 47.5, 1800),
                Part("out of hours", "ooh", 1.0, 142.5, 142.5, 3600),
            ],
        ),
        Charge(
            id=3,
            partner_id=7,
            ticket_id=6,
            product_id=9,
            kind="item",
            parts=[Part("", "item", 2.0, 25.0, 50.0)],
        ),
    ]


def test_itemised_a_line_per_part_linked_to_its_charge_once():
    lines = invoice_lines.itemised(_charges(), {1: "Fixed", 2: "Late", 3: "Cable"}, line_price)
    assert [
        (line.name, line.quantity, line.price_unit, line.run_line_id, line.charge_ids) for line in lines
    ] == [
        ("Fixed", 0.5, 95.0, 1, [1]),
        ("Late", 0.5, 95.0, 2, [2]),
        ("Late (out of hours)", 1.0, 142.5, 2, []),  # the charge is linked to its first line
        ("Cable", 2.0, 25.0, 3, [3]),
    ]
    assert lines[0].analytic_distribution == {"12": 100.0}
    # 47.50 + 47.50 + 142.50 + 50.00
    assert sum(round(line.quantity * line.price_unit, 2) for line in lines) == 287.5


def test_summarised_per_invoice_adds_time_before_pricing():
    names = {3: "On-site support", 9: "Cable"}
    lines = invoice_lines.summarised(_charges(), False, names, {}, line_price)
    assert [(line.name, line.quantity, line.price_unit, line.kind, line.charge_ids) for line in lines] == [
        # 1800 + 1800 s = 1 h × 95.00 = 95.00
        ("On-site support", 1.0, 95.0, "labour", [1, 2]),
        ("On-site support (out of hours)", 1.0, 142.5, "labour", [2]),
        ("Cable", 2.0, 25.0, "item", [3]),
    ]
    assert all(line.run_line_id is None and line.analytic_distribution is None for line in lines)


def test_summarised_per_ticket_names_the_ticket():
    lines = invoice_lines.summarised(
        _charges(),
        True,
        {3: "On-site support", 9: "Cable"},
        {5: "T5 Printer down", 6: "T6 Server down"},
        line_price,
    )
    assert [line.name for line in lines] == [
        "T5 Printer down: On-site support",
        "T5 Printer down: On-site support (out of hours)",
        "T6 Server down: Cable",
    ]


def test_a_summed_amount_the_rated_price_does_not_make_is_billed_exactly():
    # three 20-minute actions of 31.67 (a rounding group's pennies): 1 h, 95.01 in total
    parts = [Part("", "normal", 0.3333, 95.0, 31.67, 1200) for _index in range(3)]
    charges = [
        Charge(id=index, ticket_id=5, product_id=3, kind="labour", parts=[part])
        for index, part in enumerate(parts, 1)
    ]
    (line,) = invoice_lines.summarised(charges, False, {3: "Support"}, {}, line_price)
    # 3 × 1200 s = 1 h; 1 × 95.00 ≠ 95.01, so the price is 95.01
    assert (line.quantity, round(line.price_unit, 2), line.charge_ids) == (1.0, 95.01, [1, 2, 3])
