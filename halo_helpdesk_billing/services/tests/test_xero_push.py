"""Hand-computed cases for the plain Xero push core (no Odoo, no Xero needed).

Run: .cache/venv/bin/pytest halo_helpdesk_billing/services/tests/test_xero_push.py -q -p no:odoo

Loaded by file path like test_rating.py (this folder has no ``__init__.py``).
"""

import base64
import hashlib
import hmac
import importlib.util
import json
import sys
import types
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import _loader  # noqa: F401 - the addon's placeholder package, before importing its services
import pytest

from halo_helpdesk_billing.services import xero_client as xc


def _load():
    services_dir = Path(__file__).resolve().parents[1]
    addon_dir = services_dir.parent
    if addon_dir.name not in sys.modules:
        placeholder = types.ModuleType(
            addon_dir.name, "Placeholder: the Odoo addon is not loaded in plain tests."
        )
        placeholder.__file__ = str(addon_dir / "__init__.py")
        placeholder.__path__ = [str(addon_dir)]
        sys.modules[addon_dir.name] = placeholder
    name = "halo_helpdesk_billing_xero_push_under_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, services_dir / "xero_push.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


xp = _load()


def line(price, qty=1, rate=20, **kw):
    return {
        "description": kw.pop("description", "Support"),
        "quantity": D(str(qty)),
        "unit_price": D(str(price)),
        "account_code": "200",
        "tax_type": "OUTPUT2" if rate else "NONE",
        "tax_rate": D(str(rate)),
        **kw,
    }


def doc(lines, total, **kw):
    return {
        "move_id": 7,
        "name": "INV/2026/00007",
        "contact_id": "c-guid",
        "date": date(2026, 7, 31),
        "due_date": date(2026, 8, 30),
        "lines": lines,
        "total": D(str(total)),
        **kw,
    }


# -- Xero's per-line arithmetic ---------------------------------------------------------------------
def test_line_tax_is_rounded_per_line_half_up():
    assert xp.xero_line_tax(D("3.33"), 20) == D("0.67")  # 0.666
    assert xp.xero_line_tax(D("3.35"), 15) == D("0.50")  # 0.5025
    assert xp.xero_line_tax(D("3.33"), 15) == D("0.50")  # 0.4995
    assert xp.xero_line_tax(D("-3.33"), 20) == D("-0.67")
    assert xp.xero_line_tax(D("120.00"), 20, "Inclusive") == D("20.00")
    assert xp.xero_line_tax(D("10.00"), 20, "NoTax") == D("0.00")


def test_line_amount_uses_4dp_unit_and_quantity():
    assert xp.xero_line_amount(D("3"), D("1.79549")) == D("5.39")  # 3 × 1.7955 = 5.3865
    assert xp.xero_line_amount(D("1.5"), D("95"), D("10")) == D("128.25")


def test_three_lines_of_3_33_at_20_percent_differ_by_one_cent():
    # Odoo (round globally): 9.99 × 20 % = 1.998 → 2.00, total 11.99.
    # Xero per line: 3.33 × 20 % = 0.666 → 0.67, × 3 = 2.01, total 12.00.
    d = doc([line("3.33"), line("3.33"), line("3.33")], "11.99")
    assert xp.xero_totals(d["lines"]) == {"SubTotal": D("9.99"), "TotalTax": D("2.01"), "Total": D("12.00")}
    payload = xp.build_invoice(d, rounding_account_code="860")
    rounding = payload["LineItems"][-1]
    assert rounding["AccountCode"] == "860" and rounding["TaxType"] == "NONE"
    assert rounding["UnitAmount"] == D("-0.0100") and rounding["Quantity"] == D("1.0000")
    assert payload["_rounding"] == D("-0.01")
    assert xp.xero_totals(payload["LineItems"])["Total"] == D("11.99")


def test_three_lines_of_3_35_at_15_percent_differ_by_one_cent_upwards():
    # Odoo (round globally): 10.05 × 15 % = 1.5075 → 1.51, total 11.56.
    # Xero per line: 3.35 × 15 % = 0.5025 → 0.50, × 3 = 1.50, total 11.55 → +0.01 rounding line.
    d = doc([line("3.35", rate=15)] * 3, "11.56")
    payload = xp.build_invoice(d, rounding_account_code="860")
    assert payload["LineItems"][-1]["UnitAmount"] == D("0.0100")
    assert xp.xero_totals(payload["LineItems"])["Total"] == D("11.56")


def test_three_lines_of_3_33_at_15_percent_agree_without_rounding_line():
    # 0.4995 → 0.50 × 3 = 1.50 per line; 9.99 × 15 % = 1.4985 → 1.50 globally: no difference.
    d = doc([line("3.33", rate=15)] * 3, "11.49")
    payload = xp.build_invoice(d, rounding_account_code="860")
    assert len(payload["LineItems"]) == 3 and payload["_rounding"] == 0


def test_agreeing_totals_add_no_line_and_unit_price_goes_at_4dp():
    d = doc([line("95.12345", qty="1.5")], "171.23")  # 1.5 × 95.1235 = 142.68525 → 142.69 (+28.538 → 28.54)
    payload = xp.build_invoice(d, rounding_account_code="860")
    assert [li["UnitAmount"] for li in payload["LineItems"]] == [D("95.1235")]
    assert payload["LineItems"][0]["Quantity"] == D("1.5000")


def test_difference_beyond_rounding_is_refused_not_papered_over():
    # Odoo says 115.00 (a 15 % tax) but the lines at 20 % make 120.00 in Xero: no 5.00 "rounding" line
    with pytest.raises(xp.PayloadError, match="more than rounding"):
        xp.build_invoice(doc([line("100")], "115"), rounding_account_code="860")
    # three lines can differ by up to a few cents, never more
    assert D("0.04") <= xp.rounding_tolerance([xp.build_line(line("3.33"))] * 3) < D("0.05")


def test_difference_without_rounding_account_is_a_payload_error():
    with pytest.raises(xp.PayloadError, match="ROUNDING"):
        xp.build_invoice(doc([line("3.33")] * 3, "11.99"))


# -- payload shape ------------------------------------------------------------------------------------
def test_odoo_numbering_sends_invoice_number_and_due_date_always():
    payload = xp.build_invoice(doc([line("100")], "120", reference="PO-1"), status="DRAFT", numbering="odoo")
    assert payload["InvoiceNumber"] == "INV/2026/00007" and payload["Reference"] == "PO-1"
    assert payload["DueDate"] == date(2026, 8, 30) and type(payload["Date"]) is date
    assert payload["Type"] == "ACCREC" and payload["Status"] == "DRAFT"
    assert xp.lookup_key(payload) == ("number", "INV/2026/00007")


def test_xero_numbering_sends_odoo_name_as_reference():
    payload = xp.build_invoice(doc([line("100")], "120"), status="AUTHORISED", numbering="xero")
    assert "InvoiceNumber" not in payload and payload["Reference"] == "INV/2026/00007"
    assert xp.lookup_key(payload) == ("reference", "INV/2026/00007")


def test_missing_due_date_falls_back_to_invoice_date():
    payload = xp.build_invoice(doc([line("100")], "120", due_date=None), status="AUTHORISED")
    assert payload["DueDate"] == date(2026, 7, 31)


def test_datetimes_are_refused():
    with pytest.raises(xp.PayloadError, match="date"):
        xp.build_invoice(doc([line("100")], "120", date=datetime(2026, 7, 31, 12)))


def test_credit_note_type_and_mapping_errors():
    payload = xp.build_invoice(doc([line("10")], "12", kind="refund"))
    assert payload["Type"] == "ACCRECCREDIT"
    with pytest.raises(xp.PayloadError, match="account code"):
        xp.build_invoice(doc([line("10", account_code=None)], "12"))
    with pytest.raises(xp.PayloadError, match="contact"):
        xp.build_invoice(doc([line("10")], "12", contact_id=None))


def test_credit_note_payload_number_lookup_and_sdk_model():
    payload = xp.build_invoice(doc([line("10")], "12", kind="refund"), status="AUTHORISED")
    assert payload["CreditNoteNumber"] and "InvoiceNumber" not in payload and "DueDate" not in payload
    assert xp.lookup_key(payload) == ("number", payload["CreditNoteNumber"])
    by_ref = xp.build_invoice(doc([line("10")], "12", kind="refund"), numbering="xero")
    assert "CreditNoteNumber" not in by_ref and xp.lookup_key(by_ref) == ("reference", by_ref["Reference"])
    body = xc.to_sdk_documents([payload])
    assert body.credit_notes[0].type == "ACCRECCREDIT"
    assert body.credit_notes[0].credit_note_number == payload["CreditNoteNumber"]
    with pytest.raises(ValueError):
        xc.to_sdk_documents([payload, xp.build_invoice(doc([line("10")], "12"))])
    ok = xp.element_outcome({"CreditNoteID": "c1", "CreditNoteNumber": "CN-1", "Status": "AUTHORISED"})
    assert ok["ok"] and ok["invoice_id"] == "c1" and ok["number"] == "CN-1"
    dup = xp.element_outcome(
        {
            "CreditNoteID": xp.ZERO_GUID,
            "StatusAttributeString": "ERROR",
            "ValidationErrors": [{"Message": "Credit Note # must be unique."}],
        }
    )
    assert xp.is_duplicate_number(dup)


def test_tracking_and_discount():
    li = line("100", discount=D("10"), tracking=[("Region", "North"), ("Team", "")])
    payload = xp.build_invoice(doc([li], "108"))
    assert payload["LineItems"][0]["Tracking"] == [{"Name": "Region", "Option": "North"}]
    assert payload["LineItems"][0]["DiscountRate"] == D("10.00")


def test_sdk_models_serialise_dates_and_4dp():
    pytest.importorskip("xero_python")
    from xero_python.api_client.serializer import serialize

    payload = xp.build_invoice(doc([line("3.33")] * 3, "11.99"), rounding_account_code="860")
    body = serialize(xc.to_sdk_invoices([payload]))
    inv = body["Invoices"][0]
    assert inv["Date"] == "/Date(1785456000000)/" and inv["DueDate"] == "/Date(1788048000000)/"
    assert inv["LineItems"][-1]["UnitAmount"] == -0.01 and inv["LineItems"][0]["UnitAmount"] == 3.33
    assert "_rate" not in json.dumps(body)


def test_answers_come_back_as_plain_values():
    """What Xero answers leaves the client as plain values: records with the SDK's attribute names, enums as
    their values, nested records and lists, dates as dates; read-only."""
    pytest.importorskip("xero_python")
    from xero_python.accounting import CurrencyCode, Invoice, Invoices, LineItem, Payment

    answer = Invoices(
        invoices=[
            Invoice(
                invoice_id="6a5e3f4c-0000-4000-8000-000000000001",
                status="AUTHORISED",
                currency_code=CurrencyCode("EUR"),
                date=date(2026, 7, 31),
                amount_due=60.0,
                line_items=[LineItem(description="Remote support", quantity=1.5, unit_amount=95.0)],
                payments=[Payment(payment_id="p1", amount=111.0)],
            )
        ]
    )
    record = xc.plain(answer)
    assert isinstance(record, xc.XeroRecord)
    (inv,) = record.invoices
    assert inv.invoice_id == "6a5e3f4c-0000-4000-8000-000000000001" and inv["status"] == "AUTHORISED"
    assert inv.currency_code == "EUR" and not hasattr(inv.currency_code, "value")  # the enum's value
    assert inv.date == date(2026, 7, 31) and inv.amount_due == 60.0
    assert inv.line_items[0].description == "Remote support" and inv.payments[0].amount == 111.0
    assert inv.credit_notes is None  # unset in the answer: None, as on the SDK's model
    assert getattr(inv, "no_such_field", "default") == "default"
    with pytest.raises(AttributeError):
        inv.status = "PAID"
    assert inv.as_dict()["invoice_id"] == inv.invoice_id and "payments" in inv
    assert not any(type(v).__module__.startswith("xero_python") for v in inv.as_dict().values())
    from xero_python.accounting import Item, Items

    assert (
        xc.plain(Items(items=[Item(code="SUPPORT-HR")])).items[0].code == "SUPPORT-HR"
    )  # a field, not a method


# -- batching and keys -------------------------------------------------------------------------------
def test_batches_of_at_most_fifty():
    assert [len(b) for b in xp.batches(range(120))] == [50, 50, 20]
    assert xp.batches([]) == []
    with pytest.raises(ValueError):
        xp.batches(range(3), 51)


def test_keys_are_stable_bounded_and_content_bound():
    dbuuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert xp.invoice_key(dbuuid, 42, 1) == dbuuid + "-42-v1"
    assert len(xp.invoice_key("x" * 200, 42, 1)) <= 128
    k1 = xp.request_key("create", ["b", "a"], "d1")
    assert k1 == xp.request_key("create", ["a", "b"], "d1") and len(k1) <= 128
    assert k1 != xp.request_key("create", ["a", "b"], "d2")
    assert k1 != xp.request_key("create", ["a", "c"], "d1")
    p1 = xp.build_invoice(doc([line("100")], "120"))
    p2 = xp.build_invoice(doc([line("100")], "120"))
    assert xp.payload_digest([p1]) == xp.payload_digest([p2])
    p2["LineItems"][0]["UnitAmount"] = D("100.0001")
    assert xp.payload_digest([p1]) != xp.payload_digest([p2])


def test_element_outcomes():
    ok = xp.element_outcome(
        {"InvoiceID": "abc", "InvoiceNumber": "INV-1", "StatusAttributeString": "OK", "Status": "DRAFT"}
    )
    assert ok["ok"] and ok["invoice_id"] == "abc" and ok["status"] == "DRAFT"
    bad = xp.element_outcome(
        {
            "InvoiceID": xp.ZERO_GUID,
            "StatusAttributeString": "ERROR",
            "ValidationErrors": [{"Message": "Invoice # must be unique."}],
        }
    )
    assert not bad["ok"] and xp.is_duplicate_number(bad) and bad["invoice_id"] is None


# -- webhooks -------------------------------------------------------------------------------------------
def test_webhook_signature_constant_time_check():
    body = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"X"}'
    good = base64.b64encode(hmac.new(b"key", body, hashlib.sha256).digest()).decode()
    assert xp.webhook_signature(body, "key") == good
    assert xp.webhook_signature_ok(body, good, "key")
    assert not xp.webhook_signature_ok(body + b" ", good, "key")
    assert not xp.webhook_signature_ok(body, good, "other")
    assert not xp.webhook_signature_ok(body, None, "key")
    assert not xp.webhook_signature_ok(body, good, "")
    assert not xp.webhook_signature_ok(body, "ünïcode", "key")


def test_event_key_ignores_sequence_and_case():
    e = {
        "tenantId": "T",
        "eventCategory": "INVOICE",
        "resourceId": "ABC",
        "eventDateUtc": "2026-07-31T10:00:00.1",
        "eventType": "UPDATE",
    }
    assert xp.event_key(e) == xp.event_key({**{k: v.lower() for k, v in e.items()}, "sequence": 9})
