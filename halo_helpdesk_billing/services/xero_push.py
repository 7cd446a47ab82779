"""Plain-Python core of the Xero invoice push (no ORM, no SDK import at module level).

Input is a plain dict per invoice, built by ``account.move._halo_xero_invoice_doc()``::

    {"move_id": 42, "name": "INV/2026/00042", "kind": "invoice" | "refund",
     "contact_id": "<guid>", "date": date, "due_date": date, "reference": "...",
     "currency": "GBP", "line_amount_types": "Exclusive" | "Inclusive" | "NoTax",
     "total": Decimal("11.49"),                     # Odoo's amount_total (the figure to match)
     "url": "https://odoo.example/odoo/...",        # optional, shown as "Go to" in Xero
     "lines": [{"description": "...", "quantity": Decimal, "unit_price": Decimal,
                "discount": Decimal (percent), "item_code": "SUPPORT-HR" | None,
                "account_code": "200", "tax_type": "OUTPUT2", "tax_rate": Decimal("20"),
                "tracking": [("Region", "North")]}]}

Output: a Xero payload dict (Xero field names, ``datetime.date`` dates, ``Decimal`` amounts already
quantized: unit prices to 4 dp, quantities to 4 dp) and, through :func:`to_sdk_invoices`, xero-python
models. Amounts are ``Decimal`` until the SDK model is built.
"""

import base64
import hashlib
import hmac
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

BATCH_SIZE = 50
# Xero refuses a request body over 3.5 MB (3,670,016 bytes): batches are cut well below it
XERO_MAX_REQUEST = int(3.5 * 1024 * 1024)
MAX_REQUEST_BYTES = 3_000_000
CENT = Decimal("0.01")
UNIT_DP = Decimal("0.0001")  # unitdp=4
QTY_DP = Decimal("0.0001")
MAX_IDEMPOTENCY_KEY = 128
ROUNDING_DESCRIPTION = "Rounding"
INVOICE_TYPES = {"invoice": "ACCREC", "refund": "ACCRECCREDIT"}
# Xero field names per document kind: an invoice goes to /Invoices, a credit note to /CreditNotes
NUMBER_FIELDS = {"invoice": "InvoiceNumber", "refund": "CreditNoteNumber"}
ID_FIELDS = {"invoice": "InvoiceID", "refund": "CreditNoteID"}


class PayloadError(ValueError):
    """The invoice cannot be expressed in Xero (missing mapping, mixed tax modes...): fail this invoice only."""


def _dec(value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value if value is not None else 0))


def r2(value) -> Decimal:
    """Round half away from zero to cents, like Xero and Odoo's float_round."""
    return _dec(value).quantize(CENT, rounding=ROUND_HALF_UP)


def unit4(value) -> Decimal:
    return _dec(value).quantize(UNIT_DP, rounding=ROUND_HALF_UP)


def qty4(value) -> Decimal:
    return _dec(value).quantize(QTY_DP, rounding=ROUND_HALF_UP)


# -- Xero's arithmetic --------------------------------------------------------------------------------
def xero_line_amount(quantity, unit_amount, discount=0) -> Decimal:
    """LineAmount as Xero computes it from the values we send (4-dp unit, 4-dp quantity)."""
    gross = qty4(quantity) * unit4(unit_amount)
    discount = _dec(discount or 0)
    return r2(gross * (100 - discount) / 100) if discount else r2(gross)


def xero_line_tax(line_amount, rate, line_amount_types="Exclusive") -> Decimal:
    """Tax of one line, rounded to 2 dp per line (Xero never rounds the total tax instead)."""
    if line_amount_types == "NoTax":
        return Decimal("0.00")
    rate = _dec(rate or 0)
    line_amount = _dec(line_amount)
    if line_amount_types == "Inclusive":
        return r2(line_amount * rate / (100 + rate))
    return r2(line_amount * rate / 100)


def xero_totals(lines, line_amount_types="Exclusive") -> dict:
    """SubTotal, TotalTax and Total that Xero will compute for ``lines`` (payload line dicts with a
    private ``_rate`` key, or input line dicts)."""
    sub = tax = Decimal("0.00")
    for line in lines:
        amount = xero_line_amount(
            line.get("Quantity", line.get("quantity")),
            line.get("UnitAmount", line.get("unit_price")),
            line.get("DiscountRate", line.get("discount")),
        )
        line_tax = xero_line_tax(amount, line.get("_rate", line.get("tax_rate")), line_amount_types)
        sub += amount
        tax += line_tax
    if line_amount_types == "Inclusive":
        return {"SubTotal": sub - tax, "TotalTax": tax, "Total": sub}
    return {"SubTotal": sub, "TotalTax": tax, "Total": sub + tax}


def rounding_difference(doc, lines=None) -> Decimal:
    """Odoo's total minus the total Xero will compute for the payload lines."""
    lines = lines if lines is not None else doc["lines"]
    return r2(doc["total"]) - xero_totals(lines, doc.get("line_amount_types", "Exclusive"))["Total"]


# -- payloads -----------------------------------------------------------------------------------------
def _check_date(value, field):
    if isinstance(value, datetime) or not isinstance(value, date):
        raise PayloadError("%s must be a date (got %r)" % (field, value))
    return value


def build_line(line, credit=False) -> dict:
    """One Xero line. Xero refuses negative quantities ("Quantity must not be less than zero"): a
    discount or credit line is a positive quantity with a negative unit amount. Credit notes take no
    ``DiscountRate``: the discount is folded into the unit amount (4 dp; the rounding line, if any,
    absorbs the difference to Odoo's total)."""
    description = (line.get("description") or "").strip()
    if not description:
        raise PayloadError("Every invoice line needs a description for Xero.")
    if not line.get("account_code") and not line.get("item_code"):
        raise PayloadError(
            "Line '%s' has no Xero account code (set one on the product or the connection)."
            % description[:60]
        )
    quantity, unit = _dec(line.get("quantity", 1)), _dec(line.get("unit_price", 0))
    if quantity < 0:
        quantity, unit = -quantity, -unit
    discount = _dec(line.get("discount") or 0)
    if credit and discount:
        unit = unit * (100 - discount) / 100
        discount = Decimal(0)
    out = {"Description": description[:4000], "Quantity": qty4(quantity), "UnitAmount": unit4(unit)}
    if discount:
        out["DiscountRate"] = discount.quantize(CENT, rounding=ROUND_HALF_UP)
    for src, dst in (("item_code", "ItemCode"), ("account_code", "AccountCode"), ("tax_type", "TaxType")):
        if line.get(src):
            out[dst] = line[src]
    tracking = [
        {"Name": name, "Option": option} for name, option in (line.get("tracking") or []) if name and option
    ]
    if len(tracking) > 2:
        raise PayloadError("Xero accepts at most two tracking categories per line.")
    if tracking:
        out["Tracking"] = tracking
    out["_rate"] = _dec(line.get("tax_rate") or 0)
    return out


def rounding_tolerance(lines) -> Decimal:
    """The largest difference per-line rounding can make: per line half a cent on the amount and on the
    tax, plus the 4-dp quantization of the unit price times the quantity (tax included), plus a cent."""
    total = CENT
    for line in lines:
        rate = _dec(line.get("_rate") or 0)
        total += CENT + abs(_dec(line.get("Quantity") or 0)) * Decimal("0.00005") * (1 + rate / 100)
    return total


def rounding_line(difference, account_code, tax_type="NONE") -> dict:
    return {
        "Description": ROUNDING_DESCRIPTION,
        "Quantity": Decimal("1.0000"),
        "UnitAmount": unit4(difference),
        "AccountCode": account_code,
        "TaxType": tax_type,
        "_rate": Decimal(0),
    }


def build_invoice(doc, *, status="DRAFT", numbering="odoo", rounding_account_code=None) -> dict:
    """The Xero invoice (or credit note, ``kind`` "refund") for one Odoo invoice, with a rounding line
    when Xero's per-line 2-dp tax would not add up to Odoo's total.

    ``numbering``: "odoo" sends the Odoo number as InvoiceNumber (CreditNoteNumber); "xero" lets Xero
    number it and sends the Odoo number as Reference (so an unknown outcome can be looked up by Reference).
    A credit note carries no DueDate.
    """
    if status not in ("DRAFT", "AUTHORISED"):
        raise PayloadError("Unsupported Xero status %s" % status)
    mismatches = rate_mismatches(doc)
    flag = None
    if mismatches and status == "AUTHORISED":
        # Xero computes the tax with its own EffectiveRate: an approved invoice would post the wrong total
        status = "DRAFT"
        flag = (
            "Sent to Xero as a draft, not approved: Xero's rate of %s differs from Odoo's (%s). Fix the "
            "Xero tax type of the tax, then approve the invoice in Xero."
            % (
                ", ".join(sorted({m[0] for m in mismatches})),
                "; ".join(
                    "%s %s%% in Xero, %s%% in Odoo" % (m[0], m[1], m[2]) for m in sorted(set(mismatches))
                ),
            )
        )
    kind = doc.get("kind", "invoice")
    if kind not in INVOICE_TYPES:
        raise PayloadError("Only customer invoices and credit notes go to Xero.")
    if not doc.get("contact_id"):
        raise PayloadError("The customer is not bound to a Xero contact.")
    lines = [build_line(line, credit=kind == "refund") for line in doc["lines"]]
    if not lines:
        raise PayloadError("The invoice has no lines.")
    lat = doc.get("line_amount_types") or "Exclusive"
    difference = rounding_difference(doc, lines)
    if abs(difference) > rounding_tolerance(lines):
        raise PayloadError(
            "Odoo's total %s and the total Xero would compute (%s) differ by %s, more than "
            "rounding can explain: check the Xero tax and account mappings of this invoice."
            % (r2(doc["total"]), r2(doc["total"]) - difference, difference)
        )
    if difference:
        if not rounding_account_code:
            raise PayloadError(
                "Xero's per-line tax rounding differs from Odoo's total by %s and no ROUNDING "
                "account is configured on the Xero connection." % difference
            )
        lines.append(rounding_line(difference, rounding_account_code))
    payload = {
        "Type": INVOICE_TYPES[kind],
        "Contact": {"ContactID": doc["contact_id"]},
        "Date": _check_date(doc["date"], "Date"),
        "LineAmountTypes": lat,
        "Status": status,
        "LineItems": lines,
    }
    if kind == "invoice":
        # DueDate is always sent: AUTHORISED requires it and DRAFT keeps Odoo's terms
        payload["DueDate"] = _check_date(doc.get("due_date") or doc["date"], "DueDate")
    if doc.get("currency"):
        payload["CurrencyCode"] = doc["currency"]
    if doc.get("currency_rate"):
        # the rate Odoo booked (units of the document's currency per unit of base currency): both ledgers
        # then book the same base amount (without it Xero uses its own day rate)
        payload["CurrencyRate"] = round(float(doc["currency_rate"]), 6)
    if numbering == "odoo":
        payload[NUMBER_FIELDS[kind]] = doc["name"]
        if doc.get("reference"):
            payload["Reference"] = doc["reference"][:255]
    else:
        payload["Reference"] = doc["name"]
    if doc.get("url"):
        payload["Url"] = doc["url"]
    payload["_rounding"] = difference
    if flag:
        payload["_flag"] = flag
    return payload


def rate_mismatches(doc) -> list:
    """(tax type, Xero's EffectiveRate, Odoo's rate) of the lines whose imported Xero rate (``xero_rate``,
    None when unknown) differs from the Odoo tax's rate."""
    out = []
    for line in doc["lines"]:
        xero_rate = line.get("xero_rate")
        if xero_rate is None or not line.get("tax_type"):
            continue
        odoo_rate = _dec(line.get("tax_rate") or 0)
        if _dec(xero_rate).quantize(UNIT_DP) != odoo_rate.quantize(UNIT_DP):
            out.append(
                (
                    line["tax_type"],
                    format(_dec(xero_rate).normalize(), "f"),
                    format(odoo_rate.normalize(), "f"),
                )
            )
    return out


def is_credit_note(payload) -> bool:
    return payload.get("Type") in ("ACCRECCREDIT", "ACCPAYCREDIT")


def lookup_key(payload) -> tuple:
    """How an invoice whose outcome is unknown is found again: ("number", n) or ("reference", r)."""
    number = payload.get("CreditNoteNumber") if is_credit_note(payload) else payload.get("InvoiceNumber")
    if number:
        return ("number", number)
    return ("reference", payload["Reference"])


def public_payload(payload) -> dict:
    """The payload without private keys (``_rate``, ``_rounding``), e.g. to log or to fingerprint."""
    out = {k: v for k, v in payload.items() if not k.startswith("_")}
    if "LineItems" in out:
        out["LineItems"] = [
            {k: v for k, v in line.items() if not k.startswith("_")} for line in out["LineItems"]
        ]
    return out


def payload_digest(payloads) -> str:
    """A stable digest of payloads (dates ISO, decimals as strings, keys sorted)."""

    def norm(value):
        if isinstance(value, dict):
            return "{" + ",".join("%s:%s" % (k, norm(value[k])) for k in sorted(value)) + "}"
        if isinstance(value, (list, tuple)):
            return "[" + ",".join(norm(v) for v in value) + "]"
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    return hashlib.sha256(norm([public_payload(p) for p in payloads]).encode()).hexdigest()


def cancel_status(status, money_applied) -> str | None:
    """What cancelling a document in Xero means for its Xero ``status``: "DELETED" (a draft or awaiting
    approval), "VOIDED" (approved, nothing paid or allocated), "" (already voided or deleted: nothing to
    do) or None (Xero refuses: paid, or money applied to it)."""
    if status in ("VOIDED", "DELETED"):
        return ""
    if status in ("DRAFT", "SUBMITTED"):
        return "DELETED"
    if status == "AUTHORISED" and not money_applied:
        return "VOIDED"
    return None


# -- batching and idempotency -------------------------------------------------------------------------
def batches(items, size=BATCH_SIZE):
    """Split ``items`` into lists of at most ``size`` (Xero recommends ≤ 50 elements per request)."""
    if size < 1 or size > BATCH_SIZE:
        raise ValueError("batch size must be between 1 and %d" % BATCH_SIZE)
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]


def size_batches(items, sizes, max_bytes=None, size=BATCH_SIZE):
    """Split ``items`` (with their ``sizes`` in bytes) into batches of at most ``size`` elements and
    ``max_bytes`` (default ``MAX_REQUEST_BYTES``) bytes, in order; an element larger than that goes alone."""
    max_bytes = MAX_REQUEST_BYTES if max_bytes is None else max_bytes
    out, batch, total = [], [], 0
    for item, item_size in zip(items, sizes, strict=True):
        if batch and (len(batch) >= size or total + item_size > max_bytes):
            out.append(batch)
            batch, total = [], 0
        batch.append(item)
        total += item_size
    if batch:
        out.append(batch)
    return out


_EMAIL_RE = re.compile(r"^[^@\s\"<>(),;:\[\]]+@[^@\s\"<>(),;:\[\]]+\.[^@\s\"<>(),;:\[\]]+$")


def first_email(value):
    """The first valid-looking address of an Odoo e-mail field (which allows ``"a@x.com, b@x.com"``,
    ``;`` and ``Name <a@x.com>``), or None: Xero takes one address per contact."""
    for part in re.split(r"[,;\s]+", value or ""):
        part = part.strip().strip("<>").strip()
        if _EMAIL_RE.match(part):
            return part
    return None


def _fit(key: str) -> str:
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    return "halo-" + hashlib.sha256(key.encode()).hexdigest()


def invoice_key(dbuuid: str, move_id: int, version: int) -> str:
    """Stable key of one invoice at one payload version (what the sync log records)."""
    return _fit("%s-%s-v%s" % (dbuuid, move_id, version))


def request_key(action: str, member_keys, digest: str = "") -> str:
    """Idempotency-Key of one request: the same invoices at the same versions with the same body always
    give the same key (a replay within 6 minutes gets Xero's cached answer), and a different body never
    reuses a key (Xero answers 400 "used with a different request")."""
    raw = "%s|%s|%s" % (action, ",".join(sorted(member_keys)), digest)
    return "halo-%s-%s" % (action, hashlib.sha256(raw.encode()).hexdigest()[:48])


# -- responses ----------------------------------------------------------------------------------------
ZERO_GUID = "00000000-0000-0000-0000-000000000000"


def element_outcome(element) -> dict:
    """Normalise one element of a ``summarizeErrors=false`` answer (SDK model or dict)."""
    get = (
        (lambda k, a: element.get(k))
        if isinstance(element, dict)
        else (lambda k, a: getattr(element, a, None))
    )
    errors = get("ValidationErrors", "validation_errors") or []
    messages = [
        (e.get("Message") if isinstance(e, dict) else getattr(e, "message", None)) or "" for e in errors
    ]
    status_attr = get("StatusAttributeString", "status_attribute_string") or ("ERROR" if messages else "OK")
    # an invoice or a credit note: the id and the number are named after the document
    invoice_id = get("InvoiceID", "invoice_id") or get("CreditNoteID", "credit_note_id")
    ok = status_attr != "ERROR" and not messages and invoice_id and str(invoice_id) != ZERO_GUID
    warnings = get("Warnings", "warnings") or []
    status = get("Status", "status")
    return {
        "ok": bool(ok),
        "invoice_id": str(invoice_id) if ok else None,
        "number": get("InvoiceNumber", "invoice_number")
        or get("CreditNoteNumber", "credit_note_number")
        or "",
        "reference": get("Reference", "reference") or "",
        "status": getattr(status, "value", status) or "",
        "messages": messages,
        "warnings": [
            (w.get("Message") if isinstance(w, dict) else getattr(w, "message", "")) for w in warnings
        ],
    }


DUPLICATE_NUMBER = "Invoice # must be unique."
DUPLICATE_MARK = "# must be unique."  # "Invoice # must be unique.", "Credit Note # must be unique."


def is_duplicate_number(outcome) -> bool:
    return any(DUPLICATE_MARK in (m or "").lower() for m in outcome["messages"])


# -- webhooks -----------------------------------------------------------------------------------------
def webhook_signature(raw_body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), raw_body, hashlib.sha256).digest()).decode()


def webhook_signature_ok(raw_body: bytes, signature, key) -> bool:
    """Constant-time check of ``x-xero-signature`` (base64 HMAC-SHA256 of the raw body)."""
    if not signature or not key or not isinstance(raw_body, bytes):
        return False
    expected = webhook_signature(raw_body, key).encode()
    return hmac.compare_digest(expected, signature.strip().encode())


def event_key(event: dict) -> str:
    """Identity of a webhook event for at-least-once delivery (tenant, resource, date, type)."""
    return "|".join(
        str(event.get(k) or "").lower()
        for k in ("tenantId", "eventCategory", "resourceId", "eventDateUtc", "eventType")
    )
