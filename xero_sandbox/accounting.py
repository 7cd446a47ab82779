"""The Accounting API (``/api.xro/2.0/...``): contacts, items, tax rates, accounts, invoices, credit notes
(and their allocations), payments."""

import base64
import copy
import hashlib
import json
import mimetypes
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from werkzeug.wrappers import Response

from . import query
from .common import ZERO_GUID, json_response, parse_bool
from .xero_dates import date_out, date_string, ms_date, parse_date_in, parse_if_modified_since, utc_date_of

MAX_ATTACHMENT = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
BAD_FILENAME = re.compile(r'[<>:"/\\|?*+]')
INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED")
INVOICE_TYPES = ("ACCREC", "ACCPAY")
LINE_AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"}
CENT = Decimal("0.01")
NOT_MODIFIABLE = "Invoice not of valid status for modification"
# what ``summaryOnly=true`` leaves out of invoices (the "computation-heavy fields")
SUMMARY_DROPPED = ("LineItems", "Payments", "CreditNotes", "Prepayments", "Overpayments", "Allocations")
#: One e-mail address (Xero refuses lists such as "a@x.com, b@x.com")
EMAIL_RE = re.compile(
    r"^[^@\s,;<>()\[\]\\\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
NEGATIVE_QUANTITY = "Quantity must not be less than zero"
CREDIT_NOTE_DISCOUNT = (
    "Discounts are not supported on credit notes (DiscountRate and DiscountAmount are only "
    "supported on ACCREC invoices)."
)


@dataclass(frozen=True)
class DocKind:
    """What differs between invoices and credit notes; everything else (lines, per-line tax, totals,
    status lifecycle, numbering, upsert by number, summarizeErrors, idempotency) is shared."""

    store: str  # org key of the records
    plural: str  # envelope key and URL segment
    id_field: str
    number_field: str
    types: tuple  # (receivable, payable)
    prefix: str  # auto-numbering
    seq: str  # org key of the numbering sequence
    label: str  # in messages
    category: str  # webhook eventCategory
    short: str  # in history details

    @property
    def receivable(self) -> str:
        return self.types[0]

    def is_sales(self, doc_type) -> bool:
        return doc_type == self.types[0]


INVOICE = DocKind(
    "invoices",
    "Invoices",
    "InvoiceID",
    "InvoiceNumber",
    ("ACCREC", "ACCPAY"),
    "INV",
    "invoice_seq",
    "Invoice",
    "INVOICE",
    "INV",
)
CREDIT_NOTE = DocKind(
    "credit_notes",
    "CreditNotes",
    "CreditNoteID",
    "CreditNoteNumber",
    ("ACCRECCREDIT", "ACCPAYCREDIT"),
    "CN",
    "credit_note_seq",
    "Credit Note",
    "CREDITNOTE",
    "CN",
)


class Invalid(Exception):
    """Element-level validation errors (Xero ValidationErrors)."""

    def __init__(self, *messages):
        super().__init__(messages[0])
        self.messages = list(messages)


class PostDataInvalid(Exception):
    """A malformed request body (Xero ErrorNumber 14)."""


def d(value) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise PostDataInvalid("The value '%s' is not a valid decimal." % value) from None


def r2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value) -> float:
    return float(r2(d(value)))


def ms(ts: float) -> str:
    return ms_date(int(ts * 1000))


def validation_error(elements: list) -> Response:
    return json_response(
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": elements,
        },
        status=400,
    )


def error_response(number: int, kind: str, message: str, status=400) -> Response:
    return json_response({"ErrorNumber": number, "Type": kind, "Message": message}, status=status)


def not_found() -> Response:
    """Xero answers unknown resources with 404 and an empty text/html body."""
    return Response(b"", status=404, content_type="text/html")


class Context:
    """One request's view of an organisation, with copy-on-write rollback for atomic batches."""

    def __init__(self, sandbox, org, request):
        self.sandbox = sandbox
        self.state = sandbox.state
        self.org = org
        self.request = request
        self.now = self.state.now()
        self.unitdp = 4 if request.args.get("unitdp") == "4" else 2
        org.setdefault("credit_notes", {})  # organisations saved (--data) before credit notes existed
        org.setdefault("credit_note_seq", 0)
        from . import money as _money  # prepayments, overpayments, currencies (imports this module)

        _money.ensure(org)
        self.events = []  # (category, event type, resource id)
        self._backup = None

    def begin(self):
        self._backup = {
            k: dict(self.org[k])
            for k in (
                "contacts",
                "items",
                "invoices",
                "credit_notes",
                "payments",
                "history",
                "prepayments",
                "overpayments",
            )
        }
        self._backup["invoice_seq"] = self.org["invoice_seq"]
        self._backup["credit_note_seq"] = self.org["credit_note_seq"]
        self._events_mark = len(self.events)

    def rollback(self):
        self.org.update(self._backup)
        del self.events[self._events_mark :]

    def event(self, category, kind, resource_id):
        if (category, "CREATE", resource_id) not in self.events:
            self.events.append((category, kind, resource_id))

    def history(self, invoice_id, changes, details):
        records = list(self.org["history"].get(invoice_id, []))
        records.append({"Changes": changes, "Details": details, "User": "System Generated", "ts": self.now})
        self.org["history"][invoice_id] = records


# -- rendering ------------------------------------------------------------------------------------------
def envelope(ctx, key, records, pagination=None, warnings=None) -> dict:
    out = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": ctx.state.app["name"],
        "DateTimeUTC": ms_date(int(ctx.now * 1000), offset=False),
    }
    if pagination:
        out["pagination"] = pagination
    if warnings:
        out["Warnings"] = warnings
    out[key] = records
    return out


def render_contact(rec, summary=False) -> dict:
    out = {k: v for k, v in rec.items() if k != "UpdatedDateUTC"}
    out["UpdatedDateUTC"] = ms(rec["UpdatedDateUTC"])
    if summary:
        for key in ("Addresses", "Phones", "ContactGroups", "ContactPersons"):
            out.pop(key, None)
    return out


def render_item(rec, unitdp=2) -> dict:
    out = copy.deepcopy(rec)
    out["UpdatedDateUTC"] = ms(rec["UpdatedDateUTC"])
    for details in ("SalesDetails", "PurchaseDetails"):
        if out.get(details, {}).get("UnitPrice") is not None:
            out[details]["UnitPrice"] = float(
                d(out[details]["UnitPrice"]).quantize(Decimal(1).scaleb(-unitdp), rounding=ROUND_HALF_UP)
            )
    return out


def render_account(rec) -> dict:
    return {**rec, "UpdatedDateUTC": ms(rec["UpdatedDateUTC"])}


def _render_document(org, rec, id_field, number_field, lines, unitdp, **own) -> dict:
    """What invoices and credit notes render alike; ``own`` adds the document's own fields."""
    contact = org["contacts"].get(rec["ContactID"], {})
    out = {
        "Type": rec["Type"],
        id_field: rec[id_field],
        number_field: rec.get(number_field) or "",
        "Reference": rec.get("Reference") or "",
        "Contact": {
            "ContactID": rec["ContactID"],
            "Name": contact.get("Name"),
            "ContactStatus": contact.get("ContactStatus", "ACTIVE"),
            "HasAttachments": False,
            "HasValidationErrors": False,
        },
        "Date": date_out(rec["Date"]),
        "DateString": date_string(rec["Date"]),
        "Status": rec["Status"],
        "LineAmountTypes": rec["LineAmountTypes"],
        "SubTotal": rec["SubTotal"],
        "TotalTax": rec["TotalTax"],
        "Total": rec["Total"],
        "CurrencyCode": rec["CurrencyCode"],
        "CurrencyRate": rec.get("CurrencyRate", 1.0),
        "HasErrors": False,
        "SentToContact": rec.get("SentToContact", False),
        "UpdatedDateUTC": ms(rec["UpdatedDateUTC"]),
        "BrandingThemeID": rec.get("BrandingThemeID"),
        **own,
    }
    if rec.get("DueDate"):
        out["DueDate"], out["DueDateString"] = date_out(rec["DueDate"]), date_string(rec["DueDate"])
    if rec.get("FullyPaidOnDate"):
        out["FullyPaidOnDate"] = date_out(rec["FullyPaidOnDate"])
    if lines:
        out["LineItems"] = [_render_line(li, unitdp) for li in rec["LineItems"]]
    return out


def render_invoice(org, rec, lines=True, unitdp=2) -> dict:
    out = _render_document(
        org,
        rec,
        "InvoiceID",
        "InvoiceNumber",
        lines,
        unitdp,
        TotalDiscount=0.0,
        AmountDue=rec["AmountDue"],
        AmountPaid=rec["AmountPaid"],
        AmountCredited=rec["AmountCredited"],
        IsDiscounted=False,
        HasAttachments=bool(org["attachments"].get(rec["InvoiceID"])),
        Url=rec.get("Url"),
        Payments=[],
        CreditNotes=[],
    )
    from . import money as _money

    out.update(_money.invoice_credits(org, rec))
    contact = org["contacts"].get(rec["ContactID"], {})
    if contact.get("ContactNumber"):
        out["Contact"]["ContactNumber"] = contact["ContactNumber"]
    for alloc in rec.get("CreditAllocations", []):
        cn = org["credit_notes"].get(alloc["CreditNoteID"], {})
        out["CreditNotes"].append(
            {
                "CreditNoteID": alloc["CreditNoteID"],
                "ID": alloc["CreditNoteID"],
                "CreditNoteNumber": cn.get("CreditNoteNumber") or "",
                "Total": cn.get("Total"),
                "AppliedAmount": alloc["Amount"],
                "Date": date_out(alloc["Date"]),
                "HasErrors": False,
            }
        )
    for pid in rec.get("PaymentIDs", []):
        pay = org["payments"][pid]
        if pay["Status"] == "AUTHORISED":
            out["Payments"].append(
                {
                    "PaymentID": pid,
                    "Date": date_out(pay["Date"]),
                    "Amount": pay["Amount"],
                    "Reference": pay.get("Reference") or "",
                    "CurrencyRate": pay.get("CurrencyRate", 1.0),
                    "HasAccount": True,
                    "HasValidationErrors": False,
                }
            )
    return {k: v for k, v in out.items() if v is not None}


def render_credit_note(org, rec, lines=True, unitdp=2) -> dict:
    out = _render_document(
        org,
        rec,
        "CreditNoteID",
        "CreditNoteNumber",
        lines,
        unitdp,
        RemainingCredit=rec["RemainingCredit"],
        HasAttachments=False,
        Allocations=[],
        Payments=[],
    )
    for alloc in rec.get("Allocations", []):
        inv = org["invoices"].get(alloc["InvoiceID"], {})
        out["Allocations"].append(
            {
                "AllocationID": alloc["AllocationID"],
                "Amount": alloc["Amount"],
                "Date": date_out(alloc["Date"]),
                "Invoice": {
                    "InvoiceID": alloc["InvoiceID"],
                    "InvoiceNumber": inv.get("InvoiceNumber") or "",
                    "LineItems": [],
                    "Payments": [],
                    "CreditNotes": [],
                    "Prepayments": [],
                    "Overpayments": [],
                    "HasErrors": False,
                    "IsDiscounted": False,
                },
            }
        )
    out["AppliedAmount"] = float(r2(sum((d(a["Amount"]) for a in rec.get("Allocations", [])), Decimal(0))))
    return {k: v for k, v in out.items() if v is not None}


def _render_line(li, unitdp):
    out = dict(li)
    out["UnitAmount"] = float(
        d(li["UnitAmount"]).quantize(Decimal(1).scaleb(-unitdp), rounding=ROUND_HALF_UP)
    )
    out["Tracking"] = [dict(t) for t in li.get("Tracking", [])]
    return {k: v for k, v in out.items() if v is not None}


def render_payment(org, rec) -> dict:
    inv = org["invoices"][rec["InvoiceID"]]
    acc = org["accounts"][rec["AccountID"]]
    contact = org["contacts"].get(inv["ContactID"], {})
    return {
        "PaymentID": rec["PaymentID"],
        "Date": date_out(rec["Date"]),
        "Amount": rec["Amount"],
        "BankAmount": money(d(rec["Amount"]) / d(rec.get("CurrencyRate", 1.0))),
        "Reference": rec.get("Reference") or "",
        "CurrencyRate": rec.get("CurrencyRate", 1.0),
        "PaymentType": "ACCRECPAYMENT" if inv["Type"] == "ACCREC" else "ACCPAYPAYMENT",
        "Status": rec["Status"],
        "UpdatedDateUTC": ms(rec["UpdatedDateUTC"]),
        "HasAccount": True,
        "IsReconciled": False,
        "HasValidationErrors": False,
        "Account": {"AccountID": acc["AccountID"], "Code": acc["Code"], "Name": acc["Name"]},
        "Invoice": {
            "Type": inv["Type"],
            "InvoiceID": inv["InvoiceID"],
            "InvoiceNumber": inv.get("InvoiceNumber") or "",
            "CurrencyCode": inv["CurrencyCode"],
            "Contact": {"ContactID": inv["ContactID"], "Name": contact.get("Name")},
            "HasErrors": False,
            "IsDiscounted": False,
            "LineItems": [],
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
        },
    }


def render_history(rec) -> dict:
    return {
        "Changes": rec["Changes"],
        "DateUTCString": utc_iso(rec["ts"]),
        "DateUTC": ms(rec["ts"]),
        "User": rec["User"],
        "Details": rec["Details"],
    }


def utc_iso(ts: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


# -- list plumbing ------------------------------------------------------------------------------------------
def list_records(ctx, records, render, paged: bool, key: str, default_page_size=100) -> Response:
    """Apply If-Modified-Since, IDs, where, order and paging to ``records`` (stored dicts)."""
    args = ctx.request.args
    since = parse_if_modified_since(ctx.request.headers.get("If-Modified-Since", ""))
    if since is not None:
        records = [r for r in records if r["UpdatedDateUTC"] >= since - 0.0005]
    rendered = [render(r) for r in records]
    if args.get("where"):
        test = query.compile_where(args["where"])
        rendered = [r for r in rendered if test(r)]
    rendered = query.apply_order(rendered, args.get("order"))
    pagination = None
    if paged and args.get("page"):
        try:
            page, size = int(args["page"]), int(args.get("pageSize") or default_page_size)
        except ValueError:
            raise query.QueryError("page and pageSize must be integers") from None
        rendered, pagination = query.paginate(rendered, page, size)
    return json_response(envelope(ctx, key, rendered, pagination))


def _csv(value) -> list:
    return [v.strip().lower() for v in (value or "").split(",") if v.strip()]


def _key(data: dict, name: str):
    """Case-insensitive key lookup in a request element."""
    for k, v in data.items():
        if k.lower() == name.lower():
            return v
    return None


def _body_elements(request, plural: str) -> list:
    try:
        data = json.loads(request.get_data() or b"{}")
    except ValueError:
        raise PostDataInvalid("The request body is not valid JSON.") from None
    if isinstance(data, dict) and _key(data, plural) is not None:
        data = _key(data, plural)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise PostDataInvalid("The request body could not be parsed.")
    return data


def batch_write(ctx, plural: str, id_field: str, elements: list, save, render) -> Response:
    """Run ``save(ctx, element)`` for each element with Xero's summarizeErrors semantics."""
    summarize = parse_bool(ctx.request.args.get("summarizeErrors"), True)
    results, failed = [], []
    with ctx.state.lock:
        ctx.begin()
        for element in elements:
            if not summarize:
                ctx.begin()
            try:
                rec = save(ctx, element)
                results.append(("ok", rec))
            except Invalid as exc:
                if not summarize:
                    ctx.rollback()
                echo = dict(element)
                echo.setdefault(id_field, ZERO_GUID)
                echo["ValidationErrors"] = [{"Message": m} for m in exc.messages]
                echo["HasErrors" if plural in ("Invoices", "CreditNotes") else "HasValidationErrors"] = True
                if not summarize:
                    echo[id_field] = ZERO_GUID
                    echo["StatusAttributeString"] = "ERROR"
                results.append(("error", echo))
                failed.append(echo)
        if summarize and failed:
            ctx.rollback()
            return validation_error(failed)
        body = []
        for status, rec in results:
            if status == "ok":
                out = render(rec)
                if not summarize:
                    out["StatusAttributeString"] = "OK"
                body.append(out)
            else:
                body.append(rec)
        return json_response(envelope(ctx, plural, body))


# -- contacts -----------------------------------------------------------------------------------------------
CONTACT_FIELDS = (
    "ContactNumber",
    "AccountNumber",
    "ContactStatus",
    "Name",
    "FirstName",
    "LastName",
    "CompanyNumber",
    "EmailAddress",
    "BankAccountDetails",
    "TaxNumber",
    "AccountsReceivableTaxType",
    "AccountsPayableTaxType",
    "Addresses",
    "Phones",
    "DefaultCurrency",
    "Website",
    "PaymentTerms",
    "ContactPersons",
    "SalesDefaultAccountCode",
    "PurchasesDefaultAccountCode",
    "Discount",
)


def find_contact(org, ref: str):
    ref = (ref or "").lower()
    rec = org["contacts"].get(ref)
    if rec is None:
        rec = next(
            (c for c in org["contacts"].values() if (c.get("ContactNumber") or "").lower() == ref), None
        )
    return rec


def _name_taken(org, name, exclude_id=None) -> bool:
    name = name.strip().lower()
    return any(
        c["Name"].strip().lower() == name and c["ContactStatus"] == "ACTIVE" and c["ContactID"] != exclude_id
        for c in org["contacts"].values()
    )


def save_contact(ctx, element, create_only=False, target_id=None):
    org = ctx.org
    existing = None
    cid = target_id or _key(element, "ContactID")
    if cid:
        existing = org["contacts"].get(str(cid).lower())
        if existing is None:
            raise Invalid("The contact with the specified ContactID could not be found")
    elif not create_only and _key(element, "Name"):
        name = _key(element, "Name").strip().lower()
        existing = next((c for c in org["contacts"].values() if c["Name"].strip().lower() == name), None)
    rec = (
        copy.deepcopy(existing)
        if existing
        else {
            "ContactID": str(uuid.uuid4()),
            "ContactStatus": "ACTIVE",
            "IsSupplier": False,
            "IsCustomer": False,
            "Addresses": [],
            "Phones": [],
            "ContactGroups": [],
            "ContactPersons": [],
            "HasAttachments": False,
            "HasValidationErrors": False,
            "DefaultCurrency": org["BaseCurrency"],
        }
    )
    for key in CONTACT_FIELDS:
        value = _key(element, key)
        if value is not None:
            rec[key] = value
    name = (rec.get("Name") or "").strip()
    errors = []
    if not name:
        errors.append("The contact name must be specified.")
    elif len(name) > 255:
        errors.append("The contact name must be 255 characters or fewer.")
    elif rec["ContactStatus"] == "ACTIVE" and _name_taken(org, name, rec["ContactID"]):
        errors.append(
            "The contact name %s is already assigned to another contact. The contact name must be "
            "unique across all active contacts." % name
        )
    if rec["ContactStatus"] not in ("ACTIVE", "ARCHIVED", "GDPRREQUEST"):
        errors.append("ContactStatus must be ACTIVE or ARCHIVED.")
    if len(rec.get("ContactNumber") or "") > 50:
        errors.append("The contact number must be 50 characters or fewer.")
    email = rec.get("EmailAddress")
    if email and not (isinstance(email, str) and len(email) <= 255 and EMAIL_RE.match(email.strip())):
        errors.append("Email address must be valid.")
    if errors:
        raise Invalid(*errors)
    rec["UpdatedDateUTC"] = ctx.now
    org["contacts"][rec["ContactID"]] = rec
    ctx.event("CONTACT", "UPDATE" if existing else "CREATE", rec["ContactID"])
    return rec


def contacts(ctx, ident, method) -> Response:
    org, args = ctx.org, ctx.request.args
    if method == "GET":
        if ident:
            rec = find_contact(org, ident)
            if rec is None:
                return not_found()
            return json_response(envelope(ctx, "Contacts", [render_contact(rec)]))
        records = list(org["contacts"].values())
        if not parse_bool(args.get("includeArchived")):
            records = [c for c in records if c["ContactStatus"] != "ARCHIVED"]
        ids = _csv(args.get("IDs"))
        if ids:
            records = [c for c in records if c["ContactID"] in ids]
        term = (args.get("searchTerm") or "").lower()
        if term:
            records = [
                c
                for c in records
                if any(
                    term in (c.get(f) or "").lower()
                    for f in ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
                )
            ]
        summary = parse_bool(args.get("summaryOnly"))
        return list_records(ctx, records, lambda c: render_contact(c, summary), True, "Contacts")
    elements = _body_elements(ctx.request, "Contacts")
    if ident:
        rec = find_contact(org, ident)
        if rec is None:
            return not_found()
        return batch_write(
            ctx,
            "Contacts",
            "ContactID",
            elements,
            lambda c, e: save_contact(c, e, target_id=rec["ContactID"]),
            render_contact,
        )
    return batch_write(
        ctx,
        "Contacts",
        "ContactID",
        elements,
        lambda c, e: save_contact(c, e, create_only=(method == "PUT")),
        render_contact,
    )


# -- items ----------------------------------------------------------------------------------------------------
def find_item(org, ref):
    ref = (ref or "").lower()
    return org["items"].get(ref) or next((i for i in org["items"].values() if i["Code"].lower() == ref), None)


def _check_details(ctx, details: dict, errors: list):
    code = details.get("AccountCode")
    if code and not _account_by_code(ctx.org, code):
        errors.append("Account code '%s' is not a valid code for this document." % code)
    tax = details.get("TaxType")
    if tax and not _tax_rate(ctx.org, tax):
        errors.append(
            "The TaxType code '%s' does not exist or cannot be used with account code '%s'."
            % (tax, code or "")
        )
    if details.get("UnitPrice") is not None:
        price = d(details["UnitPrice"]).quantize(Decimal(1).scaleb(-ctx.unitdp), rounding=ROUND_HALF_UP)
        details["UnitPrice"] = float(price)


def save_item(ctx, element, create_only=False, target=None):
    org = ctx.org
    existing = target
    if existing is None and _key(element, "ItemID"):
        existing = org["items"].get(str(_key(element, "ItemID")).lower())
        if existing is None:
            raise Invalid("Item could not be found")
    code = _key(element, "Code")
    if existing is None and code and not create_only:
        existing = find_item(org, code)
    rec = (
        copy.deepcopy(existing)
        if existing
        else {
            "ItemID": str(uuid.uuid4()),
            "IsSold": True,
            "IsPurchased": True,
            "IsTrackedAsInventory": False,
            "SalesDetails": {},
            "PurchaseDetails": {},
        }
    )
    for key in ("Code", "Name", "Description", "PurchaseDescription", "IsSold", "IsPurchased"):
        value = _key(element, key)
        if value is not None:
            rec[key] = value
    errors = []
    for key in ("SalesDetails", "PurchaseDetails"):
        value = _key(element, key)
        if isinstance(value, dict):
            rec[key] = {**rec.get(key, {}), **value}
        if rec.get(key):
            _check_details(ctx, rec[key], errors)
    code = rec.get("Code") or ""
    if not code:
        errors.append("Item code must be specified.")
    elif len(code) > 30:
        errors.append("The Code must not be more than 30 characters long.")
    else:
        other = find_item(org, code)
        if other and other["ItemID"] != rec["ItemID"]:
            errors.append("Item code '%s' already exists." % code)
    if len(rec.get("Name") or "") > 50:
        errors.append("The Name must not be more than 50 characters long.")
    if errors:
        raise Invalid(*errors)
    rec["UpdatedDateUTC"] = ctx.now
    org["items"][rec["ItemID"]] = rec
    return rec


def items(ctx, ident, method) -> Response:
    org = ctx.org
    render = lambda i: render_item(i, ctx.unitdp)  # noqa: E731
    if method == "GET":
        if ident:
            rec = find_item(org, ident)
            return json_response(envelope(ctx, "Items", [render(rec)])) if rec else not_found()
        return list_records(ctx, list(org["items"].values()), render, False, "Items")
    elements = _body_elements(ctx.request, "Items")
    target = find_item(org, ident) if ident else None
    if ident and target is None:
        return not_found()
    return batch_write(
        ctx,
        "Items",
        "ItemID",
        elements,
        lambda c, e: save_item(c, e, create_only=(method == "PUT"), target=target),
        render,
    )


# -- tax rates and accounts -----------------------------------------------------------------------------------------
def _tax_rate(org, tax_type):
    return next((t for t in org["tax_rates"] if t["TaxType"].lower() == str(tax_type).lower()), None)


def _account_by_code(org, code):
    code = str(code).lower()
    return next((a for a in org["accounts"].values() if a["Code"].lower() == code), None)


def tax_rates(ctx, ident, method) -> Response:
    if method != "GET":
        return Response(status=405)
    rates = ctx.org["tax_rates"]
    if ident:
        rates = [t for t in rates if t["TaxType"].lower() == ident.lower()]
        if not rates:
            return not_found()
    args = ctx.request.args
    rendered = [dict(t) for t in rates]
    if args.get("where"):
        test = query.compile_where(args["where"])
        rendered = [t for t in rendered if test(t)]
    return json_response(envelope(ctx, "TaxRates", query.apply_order(rendered, args.get("order"))))


def accounts(ctx, ident, method) -> Response:
    if method != "GET":
        return Response(status=405)
    if ident:
        rec = ctx.org["accounts"].get(ident.lower())
        return json_response(envelope(ctx, "Accounts", [render_account(rec)])) if rec else not_found()
    return list_records(ctx, list(ctx.org["accounts"].values()), render_account, False, "Accounts")


def organisation(ctx, ident, method) -> Response:
    org = ctx.org
    out = {
        "OrganisationID": org["tenant_id"],
        "APIKey": "",
        "Name": org["Name"],
        "LegalName": org["LegalName"],
        "PaysTax": True,
        "Version": org["Version"],
        "OrganisationType": "COMPANY",
        "BaseCurrency": org["BaseCurrency"],
        "CountryCode": org["CountryCode"],
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "TaxNumber": org["TaxNumber"],
        "FinancialYearEndDay": 31,
        "FinancialYearEndMonth": 3,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": ms(org["created"]),
        "OrganisationEntityType": "COMPANY",
        "Timezone": org["Timezone"],
        "ShortCode": org["ShortCode"],
        "Edition": "BUSINESS",
        "Class": "STANDARD",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }
    for key in ("PeriodLockDate", "EndOfYearLockDate"):  # "shown if set" (spec)
        if org.get(key):
            out[key] = date_out(org[key])
    return json_response(envelope(ctx, "Organisations", [out]))


def tracking_categories(ctx, ident, method) -> Response:
    """GET /TrackingCategories[/{id}] (``includeArchived``, ``where``, ``order``)."""
    if method != "GET":
        return Response(status=405)
    cats = copy.deepcopy(ctx.org.get("tracking", []))
    if ident:
        cats = [c for c in cats if c["TrackingCategoryID"] == ident.lower()]
        if not cats:
            return not_found()
    elif not parse_bool(ctx.request.args.get("includeArchived")):
        cats = [c for c in cats if c["Status"] == "ACTIVE"]
    if ctx.request.args.get("where"):
        test = query.compile_where(ctx.request.args["where"])
        cats = [c for c in cats if test(c)]
    return json_response(
        envelope(ctx, "TrackingCategories", query.apply_order(cats, ctx.request.args.get("order")))
    )


# -- invoices ---------------------------------------------------------------------------------------------------------
def find_document(org, kind, ref):
    """An invoice (or credit note) by id, else by number."""
    ref = (ref or "").lower()
    records = org.get(kind.store, {})
    rec = records.get(ref)
    if rec is None:
        rec = next((i for i in records.values() if (i.get(kind.number_field) or "").lower() == ref), None)
    return rec


def find_invoice(org, ref):
    return find_document(org, INVOICE, ref)


def find_credit_note(org, ref):
    return find_document(org, CREDIT_NOTE, ref)


def _resolve_contact(ctx, data):
    org = ctx.org
    if not isinstance(data, dict) or not any(_key(data, k) for k in ("ContactID", "ContactNumber", "Name")):
        raise Invalid("A Contact must be specified for this type of transaction")
    if _key(data, "ContactID"):
        rec = org["contacts"].get(str(_key(data, "ContactID")).lower())
        if rec is None:
            raise Invalid("The contact with ContactID %s could not be found." % _key(data, "ContactID"))
    elif _key(data, "ContactNumber"):
        rec = find_contact(org, _key(data, "ContactNumber"))
        if rec is None:
            raise Invalid(
                "The contact with ContactNumber %s could not be found." % _key(data, "ContactNumber")
            )
    else:
        name = _key(data, "Name").strip().lower()
        rec = next((c for c in org["contacts"].values() if c["Name"].strip().lower() == name), None)
        if rec is None:  # Xero creates a contact named on a document
            rec = save_contact(ctx, {"Name": _key(data, "Name")}, create_only=True)
    if rec.get("MergedToContactID"):
        raise Invalid(
            "The contact '%s' has been merged into another contact (ContactID %s) and cannot be used "
            "on new transactions." % (rec["Name"], rec["MergedToContactID"])
        )
    if rec["ContactStatus"] == "ARCHIVED":
        raise Invalid(
            "The contact '%s' has been archived and cannot be used on new transactions." % rec["Name"]
        )
    return rec


def _line_tracking(org, raw_tracking, errors) -> list:
    """Xero's line tracking: at most two categories, each an existing category with an ACTIVE option
    (by ``Name``/``Option`` or by ``TrackingCategoryID``/``TrackingOptionID``)."""
    if not raw_tracking:
        return []
    if not isinstance(raw_tracking, list) or len(raw_tracking) > 2:
        errors.append("A line item can have a maximum of 2 tracking categories.")
        return []
    out = []
    for entry in raw_tracking:
        entry = entry if isinstance(entry, dict) else {}
        cat_id, cat_name = _key(entry, "TrackingCategoryID"), _key(entry, "Name")
        opt_id, opt_name = _key(entry, "TrackingOptionID"), _key(entry, "Option")
        category = next(
            (
                c
                for c in org.get("tracking", [])
                if (cat_id and c["TrackingCategoryID"] == str(cat_id).lower())
                or (not cat_id and cat_name and c["Name"].lower() == str(cat_name).strip().lower())
            ),
            None,
        )
        if category is None or category["Status"] != "ACTIVE":
            errors.append(
                "The tracking category '%s' does not exist or has been archived." % (cat_name or cat_id)
            )
            continue
        option = next(
            (
                o
                for o in category["Options"]
                if (opt_id and o["TrackingOptionID"] == str(opt_id).lower())
                or (not opt_id and opt_name and o["Name"].lower() == str(opt_name).strip().lower())
            ),
            None,
        )
        if option is None or option["Status"] != "ACTIVE":
            errors.append(
                "The tracking option '%s' is not a valid option for the tracking category '%s'."
                % (opt_name or opt_id, category["Name"])
            )
            continue
        out.append(
            {
                "TrackingCategoryID": category["TrackingCategoryID"],
                "TrackingOptionID": option["TrackingOptionID"],
                "Name": category["Name"],
                "Option": option["Name"],
            }
        )
    return out


def _line_account(org, code, errors):
    """The account of a line; unknown, archived, bank and system accounts (but ROUNDING) are refused."""
    account = _account_by_code(org, code)
    if account is None:
        errors.append("Account code '%s' is not a valid code for this document." % code)
    elif account["Status"] != "ACTIVE":
        errors.append(
            "Account code '%s' has been archived, or has been deleted. Each line item must "
            "reference a valid account." % code
        )
    elif (account.get("SystemAccount") or account["Type"] == "BANK") and account.get(
        "SystemAccount"
    ) != "ROUNDING":
        # system accounts (debtors, creditors, tax...) and bank accounts take no lines
        errors.append("Account code '%s' is not a valid code for this document." % code)
    return account


def _build_lines(ctx, sales, lat, lines_in, errors, credit=False) -> list:
    org = ctx.org
    out = []
    for raw in lines_in:
        if not isinstance(raw, dict):
            raise PostDataInvalid("LineItems must be objects.")
        li = {"LineItemID": str(_key(raw, "LineItemID") or uuid.uuid4()).lower()}
        item = None
        if _key(raw, "ItemCode"):
            item = find_item(org, _key(raw, "ItemCode"))
            if item is None:
                errors.append("Item code '%s' is not valid." % _key(raw, "ItemCode"))
                continue
            li["ItemCode"] = item["Code"]
            li["Item"] = {"ItemID": item["ItemID"], "Code": item["Code"], "Name": item.get("Name")}
        defaults = (item or {}).get("SalesDetails" if sales else "PurchaseDetails") or {}
        description = _key(raw, "Description") or (item or {}).get("Description") or (item or {}).get("Name")
        qty = d(_key(raw, "Quantity") if _key(raw, "Quantity") is not None else 1)
        if qty < 0:
            errors.append(NEGATIVE_QUANTITY)
        if credit and (_key(raw, "DiscountRate") or _key(raw, "DiscountAmount")):
            errors.append(CREDIT_NOTE_DISCOUNT)
        unit_raw = _key(raw, "UnitAmount")
        if unit_raw is None:
            unit_raw = defaults.get("UnitPrice")
        if unit_raw is None and _key(raw, "LineAmount") is not None and qty:
            unit_raw = d(_key(raw, "LineAmount")) / qty
        unit = d(unit_raw if unit_raw is not None else 0).quantize(
            Decimal(1).scaleb(-ctx.unitdp), rounding=ROUND_HALF_UP
        )
        code = _key(raw, "AccountCode") or defaults.get("AccountCode")
        account = _line_account(org, code, errors) if code else None
        tax_type = _key(raw, "TaxType") or defaults.get("TaxType") or (account or {}).get("TaxType") or "NONE"
        if lat == "NoTax":
            tax_type = "NONE"
        rate = _tax_rate(org, tax_type)
        if (
            rate is None
            or rate["Status"] != "ACTIVE"
            or not rate["CanApplyToRevenue" if sales else "CanApplyToExpenses"]
        ):
            errors.append(
                "The TaxType code '%s' does not exist or cannot be used with account code '%s'."
                % (tax_type, code or "")
            )
            continue
        if not description:
            errors.append("The description field is mandatory for each line item.")
        disc = d(_key(raw, "DiscountRate") or 0)
        gross = qty * unit
        line_amount = (
            r2(gross * (100 - disc) / 100) if disc else r2(gross - d(_key(raw, "DiscountAmount") or 0))
        )
        pct = d(rate["EffectiveRate"])
        if lat == "Inclusive":
            tax = r2(line_amount * pct / (100 + pct))
        else:
            tax = r2(line_amount * pct / 100)
        if _key(raw, "TaxAmount") is not None and lat != "NoTax":
            tax = r2(d(_key(raw, "TaxAmount")))
        tracking = _line_tracking(org, _key(raw, "Tracking"), errors)
        if tracking:
            li["Tracking"] = tracking
        li.update(
            Description=description,
            Quantity=float(qty),
            UnitAmount=float(unit),
            AccountCode=code,
            AccountID=(account or {}).get("AccountID"),
            TaxType=rate["TaxType"],
            TaxAmount=float(tax),
            LineAmount=float(line_amount),
            DiscountRate=float(disc) if disc else None,
            DiscountAmount=float(d(_key(raw, "DiscountAmount"))) if _key(raw, "DiscountAmount") else None,
        )
        out.append({k: v for k, v in li.items() if v is not None})
    return out


def _totals(rec):
    lines = rec["LineItems"]
    line_sum = sum((d(li["LineAmount"]) for li in lines), Decimal(0))
    tax_sum = sum((d(li["TaxAmount"]) for li in lines), Decimal(0))
    if rec["LineAmountTypes"] == "Inclusive":
        sub, total = line_sum - tax_sum, line_sum
    else:
        sub, total = line_sum, line_sum + tax_sum
    rec.update(SubTotal=float(r2(sub)), TotalTax=float(r2(tax_sum)), Total=float(r2(total)))
    if "CreditNoteID" in rec:
        allocated = sum((d(a["Amount"]) for a in rec.get("Allocations", [])), Decimal(0))
        rec["RemainingCredit"] = float(r2(total - allocated))
    else:
        rec["AmountDue"] = float(r2(total - d(rec["AmountPaid"]) - d(rec["AmountCredited"])))


_LINE_KEYS = (
    "Description",
    "Quantity",
    "UnitAmount",
    "AccountCode",
    "TaxType",
    "ItemCode",
    "LineAmount",
    "DiscountRate",
)


def _same_lines(old, new) -> bool:
    return [[li.get(k) for k in _LINE_KEYS] for li in old] == [[li.get(k) for k in _LINE_KEYS] for li in new]


def _next_number(org, kind=INVOICE) -> str:
    numbers = {(i.get(kind.number_field) or "").lower() for i in org[kind.store].values()}
    while True:
        org[kind.seq] = org.get(kind.seq, 0) + 1
        number = "%s-%04d" % (kind.prefix, org[kind.seq])
        if number.lower() not in numbers:
            return number


def _target_document(org, kind, element, create_only, target):
    """The document an element updates: the URL's, its id, or (POST, receivable type) its number."""
    if target is not None:
        return target
    doc_id = _key(element, kind.id_field)
    if doc_id:
        existing = org[kind.store].get(str(doc_id).lower())
        if existing is None:
            raise Invalid("%s could not be found with %s %s" % (kind.label, kind.id_field, doc_id))
        return existing
    number = _key(element, kind.number_field)
    # Xero upserts by number for ACCREC invoices only: a credit note is updated by its CreditNoteID
    if kind is INVOICE and number and _key(element, "Type") == kind.receivable and not create_only:
        existing = find_document(org, kind, number)
        if existing and existing["Type"] == kind.receivable:
            return existing
    return None


def not_modifiable(kind=INVOICE) -> str:
    return "%s not of valid status for modification" % kind.label


def _has_money_applied(org, existing) -> bool:
    """Whether a document has a live payment or an allocation (a payment deleted in Xero no longer counts:
    once it is removed, the invoice can be voided)."""
    payments = org.get("payments", {}) if org else {}
    live = [
        pid
        for pid in existing.get("PaymentIDs") or []
        if (payments.get(pid) or {"Status": "AUTHORISED"}).get("Status") != "DELETED"
    ]
    return bool(
        live
        or existing.get("Allocations")
        or existing.get("CreditAllocations")
        or existing.get("PrepaymentAllocations")
        or existing.get("OverpaymentAllocations")
    )


def _check_status(existing, status, kind=INVOICE, org=None):
    """Xero's lifecycle: DRAFT → SUBMITTED → AUTHORISED → PAID; DELETED from DRAFT/SUBMITTED;
    VOIDED from AUTHORISED without (live) payments or allocations; PAID/VOIDED/DELETED are final."""
    old = (existing or {}).get("Status")
    if status not in INVOICE_STATUSES:
        raise Invalid("%s Status '%s' is not valid" % (kind.label, status))
    if existing is None and status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        raise Invalid("%s not of valid status for creation" % kind.label)
    if old in ("PAID", "VOIDED", "DELETED") or (
        old == "AUTHORISED" and status not in ("AUTHORISED", "VOIDED")
    ):
        raise Invalid(not_modifiable(kind))
    if old == "AUTHORISED" and status == "VOIDED" and _has_money_applied(org, existing):
        raise Invalid("This document cannot be edited as it has a payment or credit note allocated to it.")
    if status in ("VOIDED", "PAID") and old != "AUTHORISED":
        raise Invalid(not_modifiable(kind))


def _apply_fields(ctx, rec, element, errors, kind=INVOICE):
    """Copy contact, dates, plain fields and LineAmountTypes from the element onto ``rec``."""
    if _key(element, "Contact") is not None or not rec.get("ContactID"):
        try:
            rec["ContactID"] = _resolve_contact(ctx, _key(element, "Contact"))["ContactID"]
        except Invalid as exc:
            errors.extend(exc.messages)
    for key in ("Date", "DueDate"):
        if _key(element, key):
            try:
                rec[key] = parse_date_in(_key(element, key))
            except ValueError as exc:
                raise PostDataInvalid(str(exc)) from None
    for key in ("Reference", "Url", "BrandingThemeID", "SentToContact", kind.number_field):
        if _key(element, key) is not None:
            rec[key] = _key(element, key)
    from . import money as _money

    if _key(element, "CurrencyCode") is not None:
        rec["CurrencyCode"] = str(_key(element, "CurrencyCode")).upper()
    if (
        _key(element, "CurrencyCode") is not None
        or _key(element, "CurrencyRate") is not None
        or "CurrencyRate" not in rec
    ):
        # the rate sent, else the rate already booked (an edit), else the day rate
        given = _key(element, "CurrencyRate")
        if given is None and rec.get("CurrencyRate") and _key(element, "CurrencyCode") is None:
            given = rec["CurrencyRate"]
        rec["CurrencyRate"] = _money.currency_rate(ctx.org, rec["CurrencyCode"], given, errors)
    lat_raw = _key(element, "LineAmountTypes")
    if lat_raw is not None:
        if str(lat_raw).lower() not in LINE_AMOUNT_TYPES:
            raise Invalid("LineAmountTypes '%s' is not valid" % lat_raw)
        rec["LineAmountTypes"] = LINE_AMOUNT_TYPES[str(lat_raw).lower()]


def _check_number(org, rec, errors, kind=INVOICE):
    field = kind.number_field
    if rec["Type"] == kind.receivable and not rec.get(field):
        rec[field] = _next_number(org, kind)
    number = (rec.get(field) or "").lower()
    if len(number) > 255:
        errors.append("%s Number must be 255 characters or fewer." % kind.label)
    elif rec["Type"] == kind.receivable and any(
        (i.get(field) or "").lower() == number
        and i["Type"] == kind.receivable
        and i[kind.id_field] != rec[kind.id_field]
        and i["Status"] != "DELETED"
        for i in org[kind.store].values()
    ):
        errors.append("%s # must be unique." % kind.label)


def save_document(ctx, kind, element, create_only=False, target=None):
    """Create or update one invoice or credit note; raises Invalid with every validation message."""
    org = ctx.org
    existing = _target_document(org, kind, element, create_only, target)
    doc_type = (existing or {}).get("Type") or _key(element, "Type")
    if doc_type not in kind.types:
        raise Invalid(
            "%s Type must be specified" % kind.label
            if not doc_type
            else "%s type '%s' is not supported" % (kind.label, doc_type)
        )
    old_status = (existing or {}).get("Status")
    status = str(_key(element, "Status") or old_status or "DRAFT").upper()
    _check_status(existing, status, kind, org)
    errors = []
    rec = (
        copy.deepcopy(existing)
        if existing
        else {
            kind.id_field: str(uuid.uuid4()),
            "Type": doc_type,
            "CurrencyCode": org["BaseCurrency"],
            "LineItems": [],
            "LineAmountTypes": "Exclusive",
            "Date": utc_date_of(ctx.now),
            "ContactID": None,
        }
    )
    if existing is None and kind is INVOICE:
        rec.update(AmountPaid=0.0, AmountCredited=0.0, PaymentIDs=[], CreditAllocations=[])
    elif existing is None:
        rec.update(Allocations=[])
    _apply_fields(ctx, rec, element, errors, kind)
    if _key(element, "LineItems") is not None:
        lines = _build_lines(
            ctx,
            kind.is_sales(doc_type),
            rec["LineAmountTypes"],
            _key(element, "LineItems"),
            errors,
            credit=kind is CREDIT_NOTE,
        )
        if old_status == "AUTHORISED" and not _same_lines(existing["LineItems"], lines):
            errors.append(not_modifiable(kind))
        rec["LineItems"] = lines
    _check_number(org, rec, errors, kind)
    if kind is INVOICE and status == "AUTHORISED" and not rec.get("DueDate"):
        errors.append("The document DueDate field must be specified.")
    if status in ("SUBMITTED", "AUTHORISED") and not rec["LineItems"]:
        errors.append("At least one line item must be specified.")
    locked = lock_date_error(org, rec.get("Date"))
    if locked:
        errors.append(locked)
    stock = _stock_moves(ctx, kind, rec, old_status, status, errors)
    if errors:
        raise Invalid(*errors)
    rec["Status"] = status
    for item_id, delta in stock.items():
        item = org["items"][item_id]
        org["items"][item_id] = {
            **item,
            "QuantityOnHand": float(d(item.get("QuantityOnHand") or 0) + delta),
            "UpdatedDateUTC": ctx.now,
        }
    _totals(rec)
    rec["UpdatedDateUTC"] = ctx.now
    org[kind.store][rec[kind.id_field]] = rec
    _after_save(ctx, kind, rec, existing, old_status)
    return rec


def lock_date_error(org, on_date):
    """Xero's message when ``on_date`` (ISO) is on or before a lock date of the organisation, else None."""
    if not on_date:
        return None
    from datetime import date as _date

    for key, label in (
        ("EndOfYearLockDate", "end of year lock date"),
        ("PeriodLockDate", "period lock date"),
    ):
        lock = org.get(key)
        if lock and on_date <= lock:
            return "The document date cannot be before the %s, currently set at %s" % (
                label,
                _date.fromisoformat(lock).strftime("%d-%b-%Y"),
            )
    return None


def _stock_moves(ctx, kind, rec, old_status, status, errors) -> dict:
    """{ItemID: change of QuantityOnHand} for tracked-inventory items when a sales invoice is approved
    (stock out) or an approved one is voided (stock back). Approving below zero needs ``allowBackorders``."""
    if kind is not INVOICE or rec["Type"] != "ACCREC":
        return {}
    if status == "AUTHORISED" and old_status != "AUTHORISED":
        sign = -1
    elif status == "VOIDED" and old_status == "AUTHORISED":
        sign = 1
    else:
        return {}
    needed = {}
    for li in rec["LineItems"]:
        item = find_item(ctx.org, li.get("ItemCode")) if li.get("ItemCode") else None
        if item and item.get("IsTrackedAsInventory"):
            needed[item["ItemID"]] = needed.get(item["ItemID"], Decimal(0)) + d(li["Quantity"])
    backorders = parse_bool(ctx.request.args.get("allowBackorders"))
    if sign < 0 and not backorders:
        for item_id, qty in needed.items():
            item = ctx.org["items"][item_id]
            on_hand = d(item.get("QuantityOnHand") or 0)
            if on_hand - qty < 0:
                errors.append(
                    "The quantity of tracked inventory item '%s' on this invoice (%s) is more than the "
                    "quantity on hand (%s). Use allowBackorders=true to allow negative stock."
                    % (item["Code"], qty.normalize(), on_hand.normalize())
                )
    return {item_id: sign * qty for item_id, qty in needed.items()}


def save_invoice(ctx, element, create_only=False, target=None):
    return save_document(ctx, INVOICE, element, create_only, target)


def save_credit_note(ctx, element, create_only=False, target=None):
    return save_document(ctx, CREDIT_NOTE, element, create_only, target)


def _after_save(ctx, kind, rec, existing, old_status):
    """IsCustomer/IsSupplier flag, history record and webhook event of a saved invoice or credit note."""
    org = ctx.org
    contact = org["contacts"][rec["ContactID"]]
    flag = "IsCustomer" if kind.is_sales(rec["Type"]) else "IsSupplier"
    if not contact.get(flag):
        org["contacts"][contact["ContactID"]] = {**contact, flag: True}
    number = rec.get(kind.number_field) or ""
    doc_id = rec[kind.id_field]
    if existing is None:
        ctx.history(
            doc_id, "Created", "%s %s to %s for %.2f." % (kind.short, number, contact["Name"], rec["Total"])
        )
    elif old_status != rec["Status"]:
        changes = {"AUTHORISED": "Approved", "VOIDED": "Voided", "DELETED": "Deleted"}.get(
            rec["Status"], rec["Status"].title()
        )
        ctx.history(doc_id, changes, "%s %s status changed to %s." % (kind.short, number, rec["Status"]))
    else:
        ctx.history(doc_id, "Edited", "%s %s edited." % (kind.short, number))
    ctx.event(kind.category, "UPDATE" if existing else "CREATE", doc_id)


def invoices(ctx, ident, method, sub=None, sub_ident=None) -> Response:
    org = ctx.org
    render = lambda i, lines=True: render_invoice(org, i, lines, ctx.unitdp)  # noqa: E731
    if sub:
        rec = find_invoice(org, ident)
        if rec is None:
            return not_found()
        return invoice_subresource(ctx, rec, sub, sub_ident, method)
    if method == "GET" and ident:
        rec = find_invoice(org, ident)
        if rec is None:
            return not_found()
        if "application/pdf" in ctx.request.headers.get("Accept", ""):
            return Response(_pdf(org, rec), content_type="application/pdf")
        return json_response(envelope(ctx, "Invoices", [render(rec)]))
    return documents(ctx, INVOICE, ident, method, render)


def documents(ctx, kind, ident, method, render) -> Response:
    """GET list (filters, where, order, paging), GET by id/number, PUT create, POST create-or-update
    of invoices or credit notes."""
    org, args = ctx.org, ctx.request.args
    if method == "GET":
        if ident:
            rec = find_document(org, kind, ident)
            return json_response(envelope(ctx, kind.plural, [render(rec)])) if rec else not_found()
        records = list(org[kind.store].values())
        if not parse_bool(args.get("includeArchived")):
            records = [i for i in records if i["Status"] != "ARCHIVED"]
        number_param = kind.number_field.replace("Number", "Numbers")
        for param, get in (
            ("IDs", lambda i: i[kind.id_field]),
            (number_param, lambda i: (i.get(kind.number_field) or "").lower()),
            ("ContactIDs", lambda i: i["ContactID"]),
            ("Statuses", lambda i: i["Status"].lower()),
        ):
            wanted = _csv(args.get(param))
            if wanted:
                records = [i for i in records if get(i) in wanted]
        term = (args.get("searchTerm") or "").lower()
        if term:
            records = [
                i
                for i in records
                if term in (i.get(kind.number_field) or "").lower()
                or term in (i.get("Reference") or "").lower()
            ]
        summary = parse_bool(args.get("summaryOnly"))
        lines = bool(args.get("page")) and not summary
        if summary:
            # lightweight fields only: no lines, payments or allocations (amounts and status stay)
            def render_summary(i):
                return {k: v for k, v in render(i, False).items() if k not in SUMMARY_DROPPED}

            return list_records(ctx, records, render_summary, True, kind.plural)
        return list_records(ctx, records, lambda i: render(i, lines), True, kind.plural)
    if method not in ("PUT", "POST"):
        return Response(status=405)
    elements = _body_elements(ctx.request, kind.plural)
    target = None
    if ident:
        # an invoice may be addressed by number; a credit note only by its CreditNoteID
        target = find_document(org, kind, ident) if kind is INVOICE else org[kind.store].get(ident.lower())
        if target is None:
            return not_found()
    return batch_write(
        ctx,
        kind.plural,
        kind.id_field,
        elements,
        lambda c, e: save_document(c, kind, e, create_only=(method == "PUT"), target=target),
        render,
    )


# -- credit notes and allocations ---------------------------------------------------------------------------
def credit_notes(ctx, ident, method, sub=None, sub_ident=None) -> Response:
    org = ctx.org
    render = lambda c, lines=True: render_credit_note(org, c, lines, ctx.unitdp)  # noqa: E731
    if sub:
        rec = find_credit_note(org, ident)
        if rec is None:
            return not_found()
        if sub == "allocations" and method == "PUT" and not sub_ident:
            elements = _body_elements(ctx.request, "Allocations")
            return batch_write(
                ctx,
                "Allocations",
                "AllocationID",
                elements,
                lambda c, e: save_allocation(c, rec["CreditNoteID"], e),
                lambda a: render_allocation(org, a),
            )
        if sub == "history" and method == "GET" and not sub_ident:
            return json_response(
                envelope(
                    ctx,
                    "HistoryRecords",
                    [render_history(h) for h in org["history"].get(rec["CreditNoteID"], [])],
                )
            )
        return Response(status=405)
    return documents(ctx, CREDIT_NOTE, ident, method, render)


def save_allocation(ctx, credit_note_id, element):
    """Allocate part of an AUTHORISED credit note to an AUTHORISED invoice of the same contact: the
    invoice's AmountCredited rises and AmountDue drops, the credit note's RemainingCredit drops; either
    becomes PAID when it reaches zero."""
    org = ctx.org
    cn = org["credit_notes"][credit_note_id]  # re-read: an earlier element of the batch may have changed it
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
    amount = _check_allocation(cn, inv, _key(element, "Amount"))
    try:
        date = parse_date_in(_key(element, "Date")) if _key(element, "Date") else utc_date_of(ctx.now)
    except ValueError as exc:
        raise PostDataInvalid(str(exc)) from None
    alloc = {
        "AllocationID": str(uuid.uuid4()),
        "CreditNoteID": credit_note_id,
        "InvoiceID": inv["InvoiceID"],
        "Amount": float(amount),
        "Date": date,
    }
    new_cn = copy.deepcopy(cn)
    new_cn["Allocations"] = new_cn.get("Allocations", []) + [
        {k: alloc[k] for k in ("AllocationID", "InvoiceID", "Amount", "Date")}
    ]
    _totals(new_cn)
    if d(new_cn["RemainingCredit"]) == 0:
        new_cn["Status"], new_cn["FullyPaidOnDate"] = "PAID", date
    new_cn["UpdatedDateUTC"] = ctx.now
    org["credit_notes"][credit_note_id] = new_cn
    new_inv = copy.deepcopy(inv)
    new_inv["CreditAllocations"] = new_inv.get("CreditAllocations", []) + [
        {k: alloc[k] for k in ("AllocationID", "CreditNoteID", "Amount", "Date")}
    ]
    new_inv["AmountCredited"] = float(r2(d(new_inv.get("AmountCredited") or 0) + amount))
    _totals(new_inv)
    if d(new_inv["AmountDue"]) == 0:
        new_inv["Status"], new_inv["FullyPaidOnDate"] = "PAID", date
    new_inv["UpdatedDateUTC"] = ctx.now
    org["invoices"][inv["InvoiceID"]] = new_inv
    number = cn.get("CreditNoteNumber") or ""
    ctx.history(
        credit_note_id,
        "Credit Applied",
        "%.2f applied to invoice %s." % (amount, inv.get("InvoiceNumber") or ""),
    )
    ctx.history(inv["InvoiceID"], "Credit Applied", "Credit note %s for %.2f applied." % (number, amount))
    ctx.event("INVOICE", "UPDATE", inv["InvoiceID"])
    ctx.event("CREDITNOTE", "UPDATE", credit_note_id)
    return alloc


def _check_allocation(cn, inv, amount) -> Decimal:
    """Every reason Xero refuses an allocation (Invalid), else the amount to 2 dp."""
    errors = []
    if cn["Status"] != "AUTHORISED":
        errors.append("Credit Note must be AUTHORISED to allocate it")
    if inv["Status"] != "AUTHORISED":
        errors.append("Invoice must be AUTHORISED to allocate a credit note to it")
    if {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}[cn["Type"]] != inv["Type"]:
        errors.append("The document types of the credit note and the invoice do not match")
    if inv["ContactID"] != cn["ContactID"]:
        errors.append("The credit note and the invoice must be for the same contact")
    if inv["CurrencyCode"] != cn["CurrencyCode"]:
        errors.append("The credit note and the invoice must be in the same currency")
    if amount is None:
        errors.append("You must specify an allocation amount")
    else:
        amount = r2(d(amount))
        if amount <= 0:
            errors.append("Allocation amount must be greater than zero")
        elif amount > d(cn["RemainingCredit"]):
            errors.append("The amount allocated exceeds the remaining credit on this credit note")
        elif inv["Status"] == "AUTHORISED" and amount > d(inv["AmountDue"]):
            errors.append("The amount allocated exceeds the amount outstanding on this invoice")
    if errors:
        raise Invalid(*errors)
    return amount


def render_allocation(org, alloc) -> dict:
    inv = org["invoices"][alloc["InvoiceID"]]
    cn = org["credit_notes"][alloc["CreditNoteID"]]
    return {
        "AllocationID": alloc["AllocationID"],
        "Amount": alloc["Amount"],
        "Date": date_out(alloc["Date"]),
        "IsDeleted": False,
        "StatusAttributeString": "OK",
        "Invoice": render_invoice(org, inv, lines=False),
        "CreditNote": render_credit_note(org, cn, lines=False),
    }


def _pdf(org, rec) -> bytes:
    text = "Invoice %s %s %.2f" % (rec.get("InvoiceNumber") or "", org["Name"], rec["Total"])
    text = text.replace("(", "[").replace(")", "]")
    stream = "BT /F1 14 Tf 50 780 Td (%s) Tj ET" % text
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
        "/Contents 4 0 R >>",
        "<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = "%PDF-1.4\n", []
    for n, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += "%d 0 obj\n%s\nendobj\n" % (n, obj)
    xref = len(out)
    out += "xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += "".join("%010d 00000 n \n" % o for o in offsets)
    out += "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out.encode("latin-1")


def invoice_subresource(ctx, rec, sub, sub_ident, method) -> Response:
    org, state = ctx.org, ctx.state
    inv_id = rec["InvoiceID"]
    if sub == "attachments":
        return attachments(ctx, rec, sub_ident, method)
    if sub == "onlineinvoice" and method == "GET":
        if rec["Type"] != "ACCREC" or rec["Status"] in ("DRAFT", "DELETED"):
            return validation_error(
                [
                    {
                        "ValidationErrors": [
                            {
                                "Message": "Online invoices are not available for "
                                "invoices of status %s." % rec["Status"]
                            }
                        ]
                    }
                ]
            )
        with state.lock:
            token = next((t for t, v in org["online"].items() if v == inv_id), None)
            if token is None:
                token = secrets.token_urlsafe(16)
                org["online"][token] = inv_id
        return json_response(
            envelope(ctx, "OnlineInvoices", [{"OnlineInvoiceUrl": "%s/online/%s" % (ctx.sandbox.url, token)}])
        )
    if sub == "history":
        if method == "GET":
            return json_response(
                envelope(ctx, "HistoryRecords", [render_history(h) for h in org["history"].get(inv_id, [])])
            )
        if method == "PUT":
            elements = _body_elements(ctx.request, "HistoryRecords")
            out = []
            with state.lock:
                for element in elements:
                    details = _key(element, "Details") or ""
                    if not details or len(details) > 2500:
                        return validation_error(
                            [
                                {
                                    **element,
                                    "ValidationErrors": [
                                        {"Message": "Details must be between 1 and 2500 characters."}
                                    ],
                                }
                            ]
                        )
                    ctx.history(inv_id, "Note", details)
                    out.append(render_history(org["history"][inv_id][-1]))
            return json_response(envelope(ctx, "HistoryRecords", out))
    if sub == "email" and method == "POST":
        if rec["Status"] not in ("AUTHORISED", "SUBMITTED", "PAID"):
            return validation_error(
                [{"ValidationErrors": [{"Message": "Invoice not of valid status for sending by email"}]}]
            )
        with state.lock:
            org["invoices"][inv_id] = {**rec, "SentToContact": True}
            ctx.history(inv_id, "Emailed", "This invoice has been emailed.")
        return Response(status=204)
    return Response(status=405)


def attachments(ctx, rec, file_name, method) -> Response:
    org, state = ctx.org, ctx.state
    inv_id = rec["InvoiceID"]
    files = org["attachments"].get(inv_id, {})

    def render(att):
        return {k: v for k, v in att.items() if k != "Content"}

    if method == "GET":
        if not file_name:
            return json_response(envelope(ctx, "Attachments", [render(a) for a in files.values()]))
        att = files.get(file_name.lower())
        if att is None:
            return not_found()
        return Response(base64.b64decode(att["Content"]), content_type=att["MimeType"])
    if method not in ("PUT", "POST") or not file_name:
        return Response(status=405)
    body = ctx.request.get_data()
    if len(body) > MAX_ATTACHMENT:
        return error_response(
            14, "PostDataInvalidException", "The file exceeds the maximum size of 10MB.", 413
        )
    if BAD_FILENAME.search(file_name) or not file_name.strip():
        return validation_error(
            [
                {
                    "ValidationErrors": [
                        {"Message": "The file name '%s' contains invalid characters." % file_name}
                    ]
                }
            ]
        )
    if not body:
        return validation_error([{"ValidationErrors": [{"Message": "The attachment is empty."}]}])
    if file_name.lower() not in files and len(files) >= MAX_ATTACHMENTS:
        return validation_error(
            [
                {
                    "ValidationErrors": [
                        {
                            "Message": "A maximum of %d attachments can be added "
                            "to a document." % MAX_ATTACHMENTS
                        }
                    ]
                }
            ]
        )
    content_type = (ctx.request.content_type or "").split(";")[0]
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    att_id = files.get(file_name.lower(), {}).get("AttachmentID") or str(uuid.uuid4())
    att = {
        "AttachmentID": att_id,
        "FileName": file_name,
        "Url": "%s/api.xro/2.0/Invoices/%s/Attachments/%s" % (ctx.sandbox.url, inv_id, file_name),
        "MimeType": content_type,
        "ContentLength": len(body),
        "IncludeOnline": parse_bool(ctx.request.args.get("IncludeOnline")) and rec["Type"] == "ACCREC",
        "Content": base64.b64encode(body).decode(),
    }
    with state.lock:
        org["attachments"][inv_id] = {**files, file_name.lower(): att}
        org["invoices"][inv_id] = {**rec, "UpdatedDateUTC": ctx.now}
        ctx.history(inv_id, "Attached", "Attached the file %s." % file_name)
    return json_response(envelope(ctx, "Attachments", [render(att)]))


# -- payments ---------------------------------------------------------------------------------------------------
def save_payment(ctx, element):
    org = ctx.org
    inv_ref = _key(element, "Invoice") or {}
    inv = None
    if _key(inv_ref, "InvoiceID"):
        inv = org["invoices"].get(str(_key(inv_ref, "InvoiceID")).lower())
    elif _key(inv_ref, "InvoiceNumber"):
        inv = find_invoice(org, _key(inv_ref, "InvoiceNumber"))
    if inv is None:
        raise Invalid(
            "You must specify either an Invoice ID or Invoice Number or CreditNote ID or CreditNote "
            "Number or Prepayment ID or Overpayment ID for the payment"
            if not inv_ref
            else "Invoice could not be found"
        )
    acc_ref = _key(element, "Account") or {}
    account = None
    if _key(acc_ref, "AccountID"):
        account = org["accounts"].get(str(_key(acc_ref, "AccountID")).lower())
    elif _key(acc_ref, "Code"):
        account = _account_by_code(org, _key(acc_ref, "Code"))
    errors = []
    if account is None:
        errors.append(
            "You must specify an Account ID or an Account Code for the payment"
            if not acc_ref
            else "Account could not be found"
        )
    elif account["Type"] != "BANK" and not account.get("EnablePaymentsToAccount"):
        errors.append("Account type is invalid for making a payment to/from")
    if inv["Status"] != "AUTHORISED":
        errors.append("Payments can only be made against Authorised documents")
    amount = _key(element, "Amount")
    if amount is None:
        errors.append("You must specify a payment amount")
    else:
        amount = r2(d(amount))
        if amount <= 0:
            errors.append("Payment amount must be greater than zero")
        elif inv["Status"] == "AUTHORISED" and amount > d(inv["AmountDue"]):
            errors.append("Payment amount exceeds the amount outstanding on this document")
    try:
        date = parse_date_in(_key(element, "Date")) if _key(element, "Date") else utc_date_of(ctx.now)
    except ValueError as exc:
        raise PostDataInvalid(str(exc)) from None
    locked = lock_date_error(org, date)
    if locked:
        errors.append(locked.replace("document date", "payment date"))
    from . import money as _money

    rate = _money.currency_rate(org, inv["CurrencyCode"], _key(element, "CurrencyRate"), errors)
    if errors:
        raise Invalid(*errors)
    return apply_payment(ctx, inv, account, amount, date, _key(element, "Reference"), rate)


def apply_payment(ctx, inv, account, amount: Decimal, date: str, reference=None, rate=None):
    """Store a payment and update the invoice (AmountPaid/AmountDue/PAID/FullyPaidOnDate). ``rate``: units
    of the invoice's currency per unit of base currency when the money was received (default: the day rate)."""
    org = ctx.org
    if rate is None:
        from . import money as _money

        rate = _money.currency_rate(org, inv["CurrencyCode"])
    pay = {
        "PaymentID": str(uuid.uuid4()),
        "InvoiceID": inv["InvoiceID"],
        "AccountID": account["AccountID"],
        "Date": date,
        "Amount": float(amount),
        "Reference": reference,
        "Status": "AUTHORISED",
        "UpdatedDateUTC": ctx.now,
        "CurrencyRate": rate,
    }
    org["payments"][pay["PaymentID"]] = pay
    new = copy.deepcopy(inv)
    new["PaymentIDs"] = new.get("PaymentIDs", []) + [pay["PaymentID"]]
    new["AmountPaid"] = float(r2(d(new["AmountPaid"]) + amount))
    _totals(new)
    if d(new["AmountDue"]) == 0:
        new["Status"], new["FullyPaidOnDate"] = "PAID", date
    new["UpdatedDateUTC"] = ctx.now
    org["invoices"][new["InvoiceID"]] = new
    ctx.history(
        inv["InvoiceID"],
        "Paid" if new["Status"] == "PAID" else "Payment",
        "Payment received from %s on %s for %.2f."
        % (org["contacts"].get(inv["ContactID"], {}).get("Name"), date, amount),
    )
    ctx.event("INVOICE", "UPDATE", inv["InvoiceID"])
    return pay


def payments(ctx, ident, method) -> Response:
    org = ctx.org
    render = lambda p: render_payment(org, p)  # noqa: E731
    if method == "GET":
        if ident:
            rec = org["payments"].get(ident.lower())
            return json_response(envelope(ctx, "Payments", [render(rec)])) if rec else not_found()
        return list_records(ctx, list(org["payments"].values()), render, True, "Payments")
    if ident:
        from . import money as _money

        return _money.payment_by_id(ctx, ident, method)  # POST /Payments/{id} Status=DELETED
    return batch_write(
        ctx, "Payments", "PaymentID", _body_elements(ctx.request, "Payments"), save_payment, render
    )


RESOURCES = {
    "contacts": contacts,
    "items": items,
    "taxrates": tax_rates,
    "accounts": accounts,
    "invoices": invoices,
    "creditnotes": credit_notes,
    "payments": payments,
    "organisation": organisation,
    "trackingcategories": tracking_categories,
}


def dispatch(sandbox, org, request, parts: list) -> Response:
    """Route ``parts`` (path segments after /api.xro/2.0/, original case) to a resource handler."""
    from . import money as _money

    extra = {
        "currencies": _money.currencies,
        "prepayments": _money.credit_resource("prepayment"),
        "overpayments": _money.credit_resource("overpayment"),
    }
    handler = (RESOURCES.get(parts[0].lower()) or extra.get(parts[0].lower())) if parts else None
    if handler is None or len(parts) > 4:
        return not_found()
    ctx = Context(sandbox, org, request)
    try:
        if (
            handler in (invoices, credit_notes) or parts[0].lower() in ("prepayments", "overpayments")
        ) and len(parts) > 2:
            response = handler(
                ctx, parts[1], request.method, parts[2].lower(), parts[3] if len(parts) > 3 else None
            )
        elif len(parts) > 2:
            return not_found()
        else:
            response = handler(ctx, parts[1] if len(parts) > 1 else None, request.method)
    except query.QueryError as exc:
        return error_response(16, "QueryParseException", str(exc))
    except PostDataInvalid as exc:
        return error_response(14, "PostDataInvalidException", str(exc))
    if ctx.events:
        sandbox.webhooks.enqueue(org["tenant_id"], ctx.events, ctx.now)
    return response


def fingerprint(request) -> str:
    """What makes two requests 'the same' for Idempotency-Key replay."""
    h = hashlib.sha256()
    for part in (request.method, request.path.lower(), request.query_string, request.get_data()):
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    return h.hexdigest()
