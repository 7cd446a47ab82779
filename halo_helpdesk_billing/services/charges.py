"""The charges of a billing run, typed: a charge bills one piece of work in parts.

A :class:`Charge` is one row of ``halo_billing_run_line`` (its columns are defined here, once:
the bulk insert and the invoicing read follow :data:`COLUMNS`); its :class:`Part` s are the
invoice lines it makes (normal / out-of-hours / holiday time, a surcharge, what a contract
covers), stored as the charge's ``parts`` JSON. The functions below build the parts of each
kind of work and of a contract's allocation, over plain values: money is rounded by the
``round_money`` function the caller passes (the currency's own rounding).

Plain Python: no ORM (the billing run's models call these and store the results).
"""

from collections import defaultdict
from dataclasses import dataclass, field, fields

PAYG = "payg"
SURCHARGE = "surcharge"
COVERED = "covered"
# kinds of time of a timesheet part (services.rating's segments)
TIME_KINDS = ("normal", "ooh", "holiday")


@dataclass(slots=True)
class Part:
    """One invoice line of a charge. A part a contract covers is billed at zero and says what
    the contract's balance pays for: ``hours``, ``consumed`` (balance hours: hours × the
    consumption multiplier) and ``value`` (in the contract's currency)."""

    label: str
    kind: str
    quantity: float
    unit_price: float
    amount: float
    seconds: int = 0
    coverage: str | None = PAYG
    contract_id: int | bool = False
    hours: float | None = None
    consumed: float | None = None
    value: float | None = None

    def to_json(self):
        data = {
            "label": self.label,
            "kind": self.kind,
            "quantity": self.quantity,
            "seconds": self.seconds,
            "unit_price": self.unit_price,
            "amount": self.amount,
            "coverage": self.coverage,
            "contract_id": self.contract_id,
        }
        for name in ("hours", "consumed", "value"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data

    @classmethod
    def from_json(cls, data):
        """A stored part (as :meth:`to_json` wrote it, or an older or adjusted one)."""
        return cls(
            label=data.get("label") or "",
            kind=data.get("kind") or "",
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            amount=data.get("amount") or 0.0,
            seconds=data.get("seconds") or 0,
            coverage=data.get("coverage"),
            contract_id=data.get("contract_id", False),
            hours=data.get("hours"),
            consumed=data.get("consumed"),
            value=data.get("value", data.get("contract_amount")),
        )


def _column(sql, default=None):
    return field(default=default, metadata={"sql": sql})


@dataclass(slots=True)
class Charge:
    """One charge of a billing run, as its row of ``halo_billing_run_line``. ``None`` is NULL."""

    partner_id: int | None = _column("int")
    ticket_id: int | None = _column("int")
    kind: str | None = _column("varchar")
    res_model: str | None = _column("varchar")
    res_id: int | None = _column("int")
    date: object = _column("date")
    user_id: int | None = _column("int")
    rate_id: int | None = _column("int")
    product_id: int | None = _column("int")
    contract_id: int | None = _column("int")
    name: str | None = _column("text")
    note: str | None = _column("text")
    quantity: float | None = _column("float8")
    uom_name: str | None = _column("varchar")
    unit_price: float | None = _column("numeric")
    amount: float | None = _column("numeric")
    rated_amount: float | None = _column("numeric")
    cost: float | None = _column("numeric")
    explanation: str | None = _column("text")
    parts: list | None = _column("jsonb")
    analytic_distribution: dict | None = _column("jsonb")
    error: str | None = _column("varchar")
    state: str = _column("varchar", "included")
    currency_id: int | None = _column("int")
    company_id: int | None = _column("int")
    run_id: int | None = _column("int")
    # the row's id once stored (not a column written by the insert)
    id: int | None = None

    @property
    def claim_key(self):
        """The key by which an included charge claims its work (None: it claims nothing)."""
        if self.state != "included" or self.error:
            return None
        return f"{self.res_model},{self.res_id}"

    def row(self):
        """The charge as a JSON-ready row of :data:`COLUMNS` (``claim_key`` included)."""
        row = {}
        for name, sql in COLUMNS.items():
            value = getattr(self, name)
            if value is False or (sql == "int" and not value):
                value = None
            elif name == "parts" and value is not None:
                value = [part.to_json() if isinstance(part, Part) else part for part in value]
            elif sql == "date" and value:
                value = value if isinstance(value, str) else value.isoformat()
            row[name] = value
        row["claim_key"] = self.claim_key
        return row

    @property
    def billed_amount(self):
        return sum(part.amount for part in self.parts or ())

    def time_segments(self):
        """Hours per kind of time (normal / ooh / holiday) of a timesheet charge."""
        segments = defaultdict(float)
        for part in self.parts or ():
            if part.kind in TIME_KINDS:
                segments[part.kind] += part.quantity or 0.0
        return dict(segments)


# Columns of halo_billing_run_line written by the bulk insert, with their SQL types
COLUMNS = {f.name: f.metadata["sql"] for f in fields(Charge) if "sql" in f.metadata}
# What invoicing reads of each included charge (HaloBillingRun._halo_read_charges)
INVOICE_COLUMNS = (
    "id",
    "partner_id",
    "ticket_id",
    "contract_id",
    "product_id",
    "kind",
    "parts",
    "error",
    "analytic_distribution",
)


def invoice_charge(row):
    """A charge read for invoicing: a row of :data:`INVOICE_COLUMNS` (its parts typed)."""
    values = dict(zip(INVOICE_COLUMNS, row, strict=True))
    values["parts"] = [Part.from_json(part) for part in values["parts"] or ()]
    return Charge(**values)


# ---------------------------------------------------------------------- parts of each kind of work
def timesheet_parts(segments, surcharge, no_charge, labels, surcharge_label):
    """Parts of an action or travel time from its rating (``services.rating``'s stored segments,
    ``{kind, quantity, seconds, unit_price, amount}`` with strings for numbers) and surcharge.
    Work marked "no charge" is billed at zero (its time is still shown); ``labels`` name the
    kinds of time."""
    parts = []
    for seg in segments:
        parts.append(
            Part(
                label=labels.get(seg["kind"], seg["kind"]),
                kind=seg["kind"],
                quantity=float(seg["quantity"]),
                seconds=seg["seconds"],
                unit_price=0.0 if no_charge else float(seg["unit_price"]),
                amount=0.0 if no_charge else float(seg["amount"]),
            )
        )
    surcharge = float(surcharge or 0)
    if surcharge and not no_charge:
        parts.append(
            Part(label=surcharge_label, kind=SURCHARGE, quantity=1.0, unit_price=surcharge, amount=surcharge)
        )
    return parts


def priced_parts(kind, quantity, unit_price, amount, round_money, surcharge_label):
    """Parts of work priced per unit (mileage, an expense): ``quantity × unit_price`` rounded, and
    what the price adds beyond it (a per-trip surcharge) as a part of its own."""
    line_amount = round_money(quantity * unit_price)
    parts = [Part(label="", kind=kind, quantity=quantity, unit_price=unit_price, amount=line_amount)]
    if amount - line_amount > 0.0001:
        parts.append(
            Part(
                label=surcharge_label,
                kind=SURCHARGE,
                quantity=1.0,
                unit_price=amount - line_amount,
                amount=amount - line_amount,
            )
        )
    return parts


def item_parts(quantity, unit_price, amount):
    """The one part of an item (its amount rounded by the caller)."""
    return [Part(label="", kind="item", quantity=quantity, unit_price=unit_price, amount=amount)]


def unit_price_of(amount, quantity):
    """A charge's unit price: its amount per unit (0 without a quantity)."""
    return amount / quantity if quantity else 0.0


# ---------------------------------------------------------------------- contracts
def allocated_parts(charge, allocation, round_money, round_quantity):
    """Turn a contract allocation (``halo.contract._halo_allocate_charges``: parts with
    ``mode``, ``hours``, ``amount``, ``contract_id``, ``explanation``) into the charge's parts:
    covered parts at zero, PAYG at the charge's rates in proportion of the hours (or amount).
    ``round_money`` and ``round_quantity`` round a part's amount and quantity."""
    total_hours = charge.quantity or 0.0
    total_amount = charge.amount or 0.0
    parts = []
    for piece in allocation:
        if piece["mode"] == PAYG:
            if total_hours:
                share = piece["hours"] / total_hours
            else:
                share = piece["amount"] / total_amount if total_amount else 1
            for original in charge.parts:
                parts.append(
                    Part(
                        label=original.label,
                        kind=original.kind,
                        quantity=round_quantity(original.quantity * share),
                        unit_price=original.unit_price,
                        amount=round_money(original.amount * share),
                        seconds=round((original.seconds or 0) * share),
                        coverage=original.coverage,
                        contract_id=original.contract_id,
                        hours=original.hours,
                        consumed=original.consumed,
                        value=original.value,
                    )
                )
        else:
            # billed at zero; "hours" and "value" say what the contract's balance pays for
            parts.append(
                Part(
                    label=piece.get("explanation") or piece["mode"],
                    kind=COVERED,
                    quantity=piece["hours"] or 1.0,
                    seconds=round(piece["hours"] * 3600),
                    unit_price=0.0,
                    amount=0.0,
                    coverage=piece["mode"],
                    contract_id=piece["contract_id"],
                    hours=piece["hours"],
                    consumed=piece.get("consumed", piece["hours"]),
                    # in the contract's currency (the balance's)
                    value=piece.get("balance_amount", piece["amount"]),
                )
            )
    return parts


def adjusted_parts(parts, kind, amount, quantity, contract_id, adjusted_label):
    """The parts of a charge whose amount is set by hand to ``amount`` (``quantity``: the
    charge's, or 1): what a contract covers stays covered (and consumed at invoicing), the
    adjusted amount is what the customer pays on top of it, over the PAYG quantity.
    Returns ``(parts, covered parts)``."""
    covered = [part for part in parts if (part.coverage or PAYG) != PAYG]
    payg = [part for part in parts if (part.coverage or PAYG) == PAYG]
    payg_quantity = sum(part.quantity or 0.0 for part in payg) if covered else quantity
    result = list(covered)
    if amount or not covered:
        billed_quantity = payg_quantity or 1.0
        result.append(
            Part(
                label=adjusted_label if covered else "",
                kind=kind,
                quantity=billed_quantity,
                seconds=sum(part.seconds or 0 for part in payg) if payg else 0,
                unit_price=amount / billed_quantity,
                amount=amount,
                coverage=PAYG,
                contract_id=contract_id,
            )
        )
    return result, covered
