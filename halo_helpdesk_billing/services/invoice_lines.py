"""The invoice lines of a billing run's invoice, from its charges (plain values, no ORM).

*Itemised*: a line per part of each charge, described by the charge's rendered template (and
the part's label: "out of hours", "surcharge", what a contract covers). *Summarised* (per
invoice, or per ticket): the parts of the same product, price, label and coverage add up on
one line; time adds its seconds before it is priced, so 3 × 20 minutes bill one hour.

Each :class:`InvoiceLine` says which charges it bills (``charge_ids``; an itemised charge of
several parts is linked to its first line). ``line_price(quantity, unit_price, amount)`` is the
caller's: it returns the quantity and unit price an invoice stores for an amount.
"""

from dataclasses import dataclass, field

from ..constants import TIMED_KINDS


@dataclass(slots=True)
class InvoiceLine:
    product_id: int | None
    name: str
    quantity: float
    price_unit: float
    kind: str
    analytic_distribution: dict | None = None
    # the charge an itemised line bills (account.move.line.halo_run_line_id)
    run_line_id: int | None = None
    charge_ids: list = field(default_factory=list)


def itemised(charges, descriptions, line_price):
    """A line per part of each charge; ``descriptions``: ``{charge id: text}``."""
    lines = []
    for charge in charges:
        for index, part in enumerate(charge.parts or ()):
            label = descriptions[charge.id]
            if part.label:
                label = f"{label} ({part.label})"
            quantity, price = line_price(part.quantity, part.unit_price, part.amount)
            lines.append(
                InvoiceLine(
                    product_id=charge.product_id,
                    name=label,
                    quantity=quantity,
                    price_unit=price,
                    kind=charge.kind,
                    analytic_distribution=charge.analytic_distribution,
                    run_line_id=charge.id,
                    charge_ids=[charge.id] if index == 0 else [],
                )
            )
    return lines


def summarised(charges, by_ticket, product_names, ticket_names, line_price):
    """The charges' parts added up per (ticket if ``by_ticket``, product, price, label,
    coverage); ``product_names`` / ``ticket_names``: ``{id: label}``."""
    buckets = {}
    for charge in charges:
        for part in charge.parts or ():
            key = (
                charge.ticket_id if by_ticket else False,
                charge.product_id,
                round(part.unit_price, 4),
                part.label or "",
                part.coverage,
            )
            bucket = buckets.setdefault(
                key, {"seconds": 0, "quantity": 0.0, "ids": [], "kind": charge.kind, "amount": 0.0}
            )
            bucket["seconds"] += part.seconds or 0
            bucket["quantity"] += part.quantity
            bucket["amount"] += part.amount or 0.0
            if not bucket["ids"] or bucket["ids"][-1] != charge.id:
                bucket["ids"].append(charge.id)
    lines = []
    for (ticket_id, product_id, unit_price, part_label, _coverage), bucket in buckets.items():
        timed = bucket["kind"] in TIMED_KINDS and bucket["seconds"]
        quantity = bucket["seconds"] / 3600.0 if timed else bucket["quantity"]
        label = product_names.get(product_id, "")
        if by_ticket and ticket_id:
            label = f"{ticket_names[ticket_id]}: {label}"
        if part_label:
            label = f"{label} ({part_label})"
        quantity, price = line_price(round(quantity, 4), unit_price, bucket["amount"])
        lines.append(
            InvoiceLine(
                product_id=product_id,
                name=label,
                quantity=quantity,
                price_unit=price,
                kind=bucket["kind"],
                charge_ids=bucket["ids"],
            )
        )
    return lines
