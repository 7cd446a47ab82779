"""Money that settles invoices without (or besides) a Payment: deleted payments, prepayments, overpayments and
their allocations, credit-note allocations made in Xero, and the organisation's currencies and day rates."""

import copy
import uuid
from decimal import Decimal

from werkzeug.wrappers import Response

from .accounting import (
    Invalid,
    PostDataInvalid,
    _body_elements,
    _key,
    _totals,
    batch_write,
    d,
    envelope,
    find_contact,
    find_invoice,
    list_records,
    lock_date_error,
    money,
    ms,
    not_found,
    r2,
    render_payment,
)
from .common import json_response
from .xero_dates import date_out, parse_date_in, utc_date_of

#: Descriptions of the currencies the seed enables (ISO 4217).
CURRENCY_NAMES = {
    "GBP": "British Pound",
    "EUR": "Euro",
    "USD": "United States Dollar",
    "NZD": "New Zealand Dollar",
    "AUD": "Australian Dollar",
}
#: Seeded enabled currencies and XE.com-style day rates (units of the currency per 1 unit of base currency).
SEED_CURRENCIES = {
    "GBP": (["GBP", "EUR", "USD"], {"EUR": 1.1500, "USD": 1.2500}),
    "NZD": (["NZD", "AUD", "USD"], {"AUD": 0.9100, "USD": 0.6000}),
}
NOT_SUBSCRIBED = "Organisation is not subscribed to currency %s"
KINDS = {
    "prepayment": ("prepayments", "Prepayments", "PrepaymentID", "RECEIVE-PREPAYMENT"),
    "overpayment": ("overpayments", "Overpayments", "OverpaymentID", "RECEIVE-OVERPAYMENT"),
}


def ensure(org):
    """Money keys of an organisation (seeded, or saved with ``--data`` before they existed)."""
    org.setdefault("prepayments", {})
    org.setdefault("overpayments", {})
    if "currencies" not in org:
        enabled, rates = SEED_CURRENCIES.get(org["BaseCurrency"], ([org["BaseCurrency"]], {}))
        org["currencies"] = list(enabled)
        org["day_rates"] = dict(rates)


# -- currencies -----------------------------------------------------------------------------------------------
def currency_rate(org, code, given=None, errors=None):
    """The rate a document in ``code`` is booked at: 1 for the base currency, ``given`` (CurrencyRate sent)
    when valid, else the day rate. Appends Xero's message to ``errors`` for a currency not enabled."""
    ensure(org)
    code = (code or org["BaseCurrency"]).upper()
    if code not in org["currencies"]:
        if errors is not None:
            errors.append(NOT_SUBSCRIBED % code)
        return 1.0
    if code == org["BaseCurrency"]:
        return 1.0
    if given is not None:
        try:
            rate = float(given)
        except (TypeError, ValueError):
            raise PostDataInvalid("The CurrencyRate '%s' is not a valid decimal." % given) from None
        if rate <= 0:
            if errors is not None:
                errors.append("The currency rate must be greater than zero.")
            return 1.0
        return round(rate, 6)
    return float(org["day_rates"].get(code, 1.0))


def currencies(ctx, ident, method) -> Response:
    ensure(ctx.org)
    if method != "GET" or ident:
        return Response(status=405)
    rows = [{"Code": c, "Description": CURRENCY_NAMES.get(c, c)} for c in ctx.org["currencies"]]
    return json_response(envelope(ctx, "Currencies", rows))


# -- payments: delete (and redo) ------------------------------------------------------------------------------
def delete_payment(ctx, pay, element=None):
    """``POST /Payments/{id}`` with ``Status=DELETED``: the payment is kept with status DELETED (and a new
    UpdatedDateUTC, so ``If-Modified-Since`` returns it), the invoice's AmountPaid drops and a PAID invoice is
    AUTHORISED again."""
    org = ctx.org
    status = str(_key(element or {}, "Status") or "").upper()
    if element is not None and status != "DELETED":
        raise Invalid("Payment Status must be DELETED to delete a payment")
    if pay["Status"] == "DELETED":
        raise Invalid("Payment has already been deleted")
    locked = lock_date_error(org, pay["Date"])
    if locked:
        raise Invalid(locked.replace("document date", "payment date"))
    new_pay = {**pay, "Status": "DELETED", "UpdatedDateUTC": ctx.now}
    org["payments"][pay["PaymentID"]] = new_pay
    inv = copy.deepcopy(org["invoices"][pay["InvoiceID"]])
    inv["AmountPaid"] = float(r2(d(inv["AmountPaid"]) - d(pay["Amount"])))
    _totals(inv)
    if inv["Status"] == "PAID" and d(inv["AmountDue"]) > 0:
        inv["Status"] = "AUTHORISED"
        inv.pop("FullyPaidOnDate", None)
    inv["UpdatedDateUTC"] = ctx.now
    org["invoices"][inv["InvoiceID"]] = inv
    ctx.history(
        inv["InvoiceID"], "Payment Deleted", "Payment of %.2f on %s deleted." % (pay["Amount"], pay["Date"])
    )
    ctx.event("INVOICE", "UPDATE", inv["InvoiceID"])
    return new_pay


def payment_by_id(ctx, ident, method) -> Response:
    """``GET /Payments/{id}`` and ``POST /Payments/{id}`` (delete)."""
    org = ctx.org
    pay = org["payments"].get(ident.lower())
    if pay is None:
        return not_found()
    if method == "GET":
        return json_response(envelope(ctx, "Payments", [render_payment(org, pay)]))
    if method != "POST":
        return Response(status=405)
    elements = _body_elements(ctx.request, "Payments")
    return batch_write(
        ctx,
        "Payments",
        "PaymentID",
        elements[:1],
        lambda c, e: delete_payment(c, c.org["payments"][ident.lower()], e),
        lambda p: render_payment(org, p),
    )


# -- prepayments and overpayments --------------------------------------------------------------------------------
def create_credit(ctx, kind, contact, amount, date, currency=None, rate=None, reference=None):
    """A RECEIVE-PREPAYMENT or RECEIVE-OVERPAYMENT of ``amount`` received from ``contact`` (money in the bank
    that is not yet allocated to an invoice)."""
    org = ctx.org
    ensure(org)
    store, _plural, id_field, doc_type = KINDS[kind]
    errors = []
    code = (currency or org["BaseCurrency"]).upper()
    booked = currency_rate(org, code, rate, errors)
    amount = r2(d(amount))
    if amount <= 0:
        errors.append("The amount must be greater than zero.")
    if errors:
        raise Invalid(*errors)
    rec = {
        id_field: str(uuid.uuid4()),
        "Type": doc_type,
        "ContactID": contact["ContactID"],
        "Date": date,
        "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax",
        "SubTotal": float(amount),
        "TotalTax": 0.0,
        "Total": float(amount),
        "RemainingCredit": float(amount),
        "CurrencyCode": code,
        "CurrencyRate": booked,
        "Reference": reference or "",
        "Allocations": [],
        "UpdatedDateUTC": ctx.now,
    }
    org[store][rec[id_field]] = rec
    return rec


def render_credit(org, kind, rec, applied=None, listed=False) -> dict:
    """A prepayment or overpayment as ``GET /{Kind}s/{id}`` answers; ``listed``: as an entry of ``GET /{Kind}s``,
    ``applied``: as an entry of an invoice's ``Prepayments`` / ``Overpayments`` (its AppliedAmount to that
    invoice). Only the document read by its id carries its ``CurrencyRate``: Xero's lists (the spec's
    getPrepayments/getOverpayments examples) and an invoice's credits (Date, Total, AppliedAmount and the id)
    do not, so a client needing the rate reads the document itself."""
    _store, _plural, id_field, _type = KINDS[kind]
    contact = org["contacts"].get(rec["ContactID"], {})
    out = {
        "Type": rec["Type"],
        id_field: rec[id_field],
        "ID": rec[id_field],
        "Contact": {"ContactID": rec["ContactID"], "Name": contact.get("Name")},
        "Date": date_out(rec["Date"]),
        "Status": rec["Status"],
        "LineAmountTypes": rec["LineAmountTypes"],
        "SubTotal": rec["SubTotal"],
        "TotalTax": rec["TotalTax"],
        "Total": rec["Total"],
        "RemainingCredit": rec["RemainingCredit"],
        "CurrencyCode": rec["CurrencyCode"],
        "CurrencyRate": rec["CurrencyRate"],
        "Reference": rec.get("Reference") or "",
        "UpdatedDateUTC": ms(rec["UpdatedDateUTC"]),
        "HasAttachments": False,
        "LineItems": [],
        "Payments": [],
    }
    if applied is not None or listed:
        del out["CurrencyRate"]
    if applied is not None:
        out["AppliedAmount"] = applied
    else:
        out["Allocations"] = [
            {
                "AllocationID": a["AllocationID"],
                "Amount": a["Amount"],
                "Date": date_out(a["Date"]),
                "Invoice": {
                    "InvoiceID": a["InvoiceID"],
                    "InvoiceNumber": org["invoices"][a["InvoiceID"]].get("InvoiceNumber") or "",
                    "LineItems": [],
                    "Payments": [],
                    "CreditNotes": [],
                    "Prepayments": [],
                    "Overpayments": [],
                    "HasErrors": False,
                    "IsDiscounted": False,
                },
            }
            for a in rec["Allocations"]
        ]
        out["AppliedAmount"] = float(r2(sum((d(a["Amount"]) for a in rec["Allocations"]), Decimal(0))))
    return out


def allocate_credit(ctx, kind, rec_id, element):
    """Allocate part of a prepayment/overpayment to an AUTHORISED invoice of the same contact and currency: the
    invoice's AmountCredited rises (Xero: "Sum of all credit notes, over-payments and pre-payments applied to
    invoice") and AmountDue drops; the credit's RemainingCredit drops; either is PAID at zero."""
    org = ctx.org
    store, _plural, id_field, _type = KINDS[kind]
    rec = org[store][rec_id]
    inv_ref = _key(element, "Invoice") or {}
    inv = None
    if isinstance(inv_ref, dict) and _key(inv_ref, "InvoiceID"):
        inv = org["invoices"].get(str(_key(inv_ref, "InvoiceID")).lower())
    elif isinstance(inv_ref, dict) and _key(inv_ref, "InvoiceNumber"):
        inv = find_invoice(org, _key(inv_ref, "InvoiceNumber"))
    if inv is None:
        raise Invalid(
            "Invoice could not be found" if inv_ref else "You must specify an Invoice for the allocation"
        )
    amount, date = _check_credit_allocation(ctx, kind, rec, inv, element)
    alloc = {
        "AllocationID": str(uuid.uuid4()),
        id_field: rec_id,
        "InvoiceID": inv["InvoiceID"],
        "Amount": float(amount),
        "Date": date,
    }
    return _apply_credit_allocation(ctx, kind, rec, inv, alloc)


def _check_credit_allocation(ctx, kind, rec, inv, element):
    """Every reason Xero refuses the allocation (Invalid), else (amount, date)."""
    errors = []
    if rec["Status"] != "AUTHORISED":
        errors.append("%s must be AUTHORISED to allocate it" % kind.title())
    if inv["Status"] != "AUTHORISED" or inv["Type"] != "ACCREC":
        errors.append("Invoice must be an AUTHORISED sales invoice to allocate a %s to it" % kind)
    if inv["ContactID"] != rec["ContactID"]:
        errors.append("The %s and the invoice must be for the same contact" % kind)
    if inv["CurrencyCode"] != rec["CurrencyCode"]:
        errors.append("The %s and the invoice must be in the same currency" % kind)
    amount = _key(element, "Amount")
    if amount is None:
        errors.append("You must specify an allocation amount")
    else:
        amount = r2(d(amount))
        if amount <= 0:
            errors.append("Allocation amount must be greater than zero")
        elif amount > d(rec["RemainingCredit"]):
            errors.append("The amount allocated exceeds the remaining credit on this %s" % kind)
        elif amount > d(inv["AmountDue"]):
            errors.append("The amount allocated exceeds the amount outstanding on this invoice")
    try:
        date = parse_date_in(_key(element, "Date")) if _key(element, "Date") else utc_date_of(ctx.now)
    except ValueError as exc:
        raise PostDataInvalid(str(exc)) from None
    locked = lock_date_error(ctx.org, date)
    if locked:
        errors.append(locked)
    if errors:
        raise Invalid(*errors)
    return amount, date


def _apply_credit_allocation(ctx, kind, rec, inv, alloc):
    org = ctx.org
    store, _plural, id_field, _type = KINDS[kind]
    rec_id, amount, date = rec[id_field], d(alloc["Amount"]), alloc["Date"]
    new = copy.deepcopy(rec)
    new["Allocations"].append({k: alloc[k] for k in ("AllocationID", "InvoiceID", "Amount", "Date")})
    new["RemainingCredit"] = float(r2(d(new["RemainingCredit"]) - amount))
    if d(new["RemainingCredit"]) == 0:
        new["Status"] = "PAID"
    new["UpdatedDateUTC"] = ctx.now
    org[store][rec_id] = new
    new_inv = copy.deepcopy(inv)
    key = "PrepaymentAllocations" if kind == "prepayment" else "OverpaymentAllocations"
    new_inv[key] = new_inv.get(key, []) + [
        {k: alloc[k] for k in ("AllocationID", id_field, "Amount", "Date")}
    ]
    new_inv["AmountCredited"] = float(r2(d(new_inv.get("AmountCredited") or 0) + amount))
    _totals(new_inv)
    if d(new_inv["AmountDue"]) == 0:
        new_inv["Status"], new_inv["FullyPaidOnDate"] = "PAID", date
    new_inv["UpdatedDateUTC"] = ctx.now
    org["invoices"][inv["InvoiceID"]] = new_inv
    ctx.history(inv["InvoiceID"], "Credit Applied", "%s for %.2f applied." % (kind.title(), amount))
    ctx.event("INVOICE", "UPDATE", inv["InvoiceID"])
    return alloc


def render_allocation(org, alloc) -> dict:
    from .accounting import render_invoice

    return {
        "AllocationID": alloc["AllocationID"],
        "Amount": alloc["Amount"],
        "Date": date_out(alloc["Date"]),
        "IsDeleted": False,
        "StatusAttributeString": "OK",
        "Invoice": render_invoice(org, org["invoices"][alloc["InvoiceID"]], lines=False),
    }


def invoice_credits(org, rec) -> dict:
    """The ``Prepayments`` / ``Overpayments`` lists of a rendered invoice (one entry per allocated credit,
    ``AppliedAmount`` summed over its allocations to this invoice)."""
    ensure(org)
    out = {}
    for kind, key in (("prepayment", "PrepaymentAllocations"), ("overpayment", "OverpaymentAllocations")):
        store, plural, id_field, _type = KINDS[kind]
        applied = {}
        for alloc in rec.get(key, []):
            applied[alloc[id_field]] = applied.get(alloc[id_field], Decimal(0)) + d(alloc["Amount"])
        out[plural] = [
            render_credit(org, kind, org[store][cid], money(total)) for cid, total in applied.items()
        ]
    return out


def credit_resource(kind):
    """Handler of ``/Prepayments`` or ``/Overpayments``: GET list (paged, If-Modified-Since, where), GET by id,
    ``PUT /{id}/Allocations``."""
    store, plural, id_field, _type = KINDS[kind]

    def handler(ctx, ident, method, sub=None, sub_ident=None):
        org = ctx.org
        ensure(org)
        render = lambda r: render_credit(org, kind, r, listed=True)  # noqa: E731
        if sub:
            rec = org[store].get((ident or "").lower())
            if rec is None:
                return not_found()
            if sub == "allocations" and method == "PUT" and not sub_ident:
                elements = _body_elements(ctx.request, "Allocations")
                return batch_write(
                    ctx,
                    "Allocations",
                    "AllocationID",
                    elements,
                    lambda c, e: allocate_credit(c, kind, rec[id_field], e),
                    lambda a: render_allocation(org, a),
                )
            return Response(status=405)
        if method != "GET":
            return Response(status=405)
        if ident:
            rec = org[store].get(ident.lower())
            return (
                json_response(envelope(ctx, plural, [render_credit(org, kind, rec)])) if rec else not_found()
            )
        return list_records(ctx, list(org[store].values()), render, True, plural)

    return handler


def find_credit(org, kind, ref):
    ensure(org)
    return org[KINDS[kind][0]].get(str(ref or "").lower())


def contact_of(org, ref):
    contact = find_contact(org, ref)
    if contact is None:
        raise ValueError("unknown contact %s" % ref)
    return contact
