"""Deleted and redone payments, prepayments, overpayments, credit-note allocations made in Xero, currencies and
day rates, and the usage counters (egress, calls per minute, concurrent calls), through the SDK."""

import datetime as dt
import threading
import urllib.error
from decimal import Decimal

import pytest
from xero_python.accounting import (
    Account,
    Allocation,
    Allocations,
    CurrencyCode,
    Invoice,
    Payment,
    PaymentDelete,
    Payments,
)
from xero_python.exceptions import AccountingBadRequestException

from .conftest import UK
from .test_credit_notes import create_cn, credit_note
from .test_invoices import ACME, create, floats, invoice, line


def pay(sdk, inv, amount, **kw):
    body = Payments(
        payments=[
            Payment(
                invoice=Invoice(invoice_id=inv.invoice_id),
                account=Account(code="090"),
                amount=Decimal(amount),
                date=dt.date(2024, 3, 10),
                **kw,
            )
        ]
    )
    return sdk.accounting.create_payments(UK, body).payments[0]


def get(sdk, inv):
    return sdk.accounting.get_invoice(UK, inv.invoice_id).invoices[0]


def test_delete_payment_reopens_invoice_and_if_modified_since_returns_it(sdk, ctl):
    inv = create(sdk, invoice())[0]  # 100 + 20 % = 120.00
    p = pay(sdk, inv, "120")
    assert get(sdk, inv).status == "PAID"
    since = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None) - dt.timedelta(seconds=1)
    deleted = sdk.accounting.delete_payment(UK, p.payment_id, PaymentDelete(status="DELETED")).payments[0]
    assert deleted.status == "DELETED"
    again = get(sdk, inv)
    assert again.status == "AUTHORISED" and floats(again.amount_due, again.amount_paid) == (120.0, 0.0)
    assert again.payments == [] and again.fully_paid_on_date is None
    changed = sdk.accounting.get_payments(UK, if_modified_since=since).payments
    assert [(str(x.payment_id), x.status) for x in changed] == [(str(p.payment_id), "DELETED")]
    # deleting twice is refused with Xero's validation error
    with pytest.raises(AccountingBadRequestException):
        sdk.accounting.delete_payment(UK, p.payment_id, PaymentDelete(status="DELETED"))


def test_remove_and_redo_recreates_with_a_new_payment_id(sdk, ctl):
    inv = create(sdk, invoice())[0]
    p = pay(sdk, inv, "50")
    out = ctl.call("POST", "payments/redo", {"tenant": UK, "payment": str(p.payment_id)})
    assert out["deleted"] == str(p.payment_id) and out["PaymentID"] != str(p.payment_id)
    again = get(sdk, inv)
    assert [str(x.payment_id) for x in again.payments] == [out["PaymentID"]]
    assert floats(again.amount_paid, again.amount_due) == (50.0, 70.0)
    statuses = {str(x.payment_id): x.status for x in sdk.accounting.get_payments(UK).payments}
    assert statuses == {str(p.payment_id): "DELETED", out["PaymentID"]: "AUTHORISED"}
    # control delete of a payment
    ctl.call("POST", "payments/delete", {"tenant": UK, "payment": out["PaymentID"]})
    assert floats(get(sdk, inv).amount_due) == (120.0,)


def test_prepayment_and_overpayment_allocations(sdk, ctl):
    inv = create(sdk, invoice())[0]  # 120.00 due
    pre = ctl.call("POST", "credits", {"tenant": UK, "kind": "prepayment", "contact": ACME, "amount": 100})
    over = ctl.call("POST", "credits", {"tenant": UK, "kind": "overpayment", "contact": ACME, "amount": 30})
    # through the API: PUT /Prepayments/{id}/Allocations
    body = Allocations(
        allocations=[
            Allocation(
                invoice=Invoice(invoice_id=inv.invoice_id), amount=Decimal("100"), date=dt.date(2024, 3, 6)
            )
        ]
    )
    sdk.accounting.create_prepayment_allocations(UK, pre["PrepaymentID"], body)
    mid = get(sdk, inv)
    assert floats(mid.amount_due, mid.amount_credited, mid.amount_paid) == (20.0, 100.0, 0.0)
    assert [(str(x.prepayment_id), float(x.applied_amount)) for x in mid.prepayments] == [
        (pre["PrepaymentID"], 100.0)
    ]
    # more than the invoice's AmountDue is refused
    with pytest.raises(urllib.error.HTTPError):
        ctl.call(
            "POST",
            "allocate",
            {
                "tenant": UK,
                "kind": "overpayment",
                "id": over["OverpaymentID"],
                "invoice": str(inv.invoice_id),
                "amount": 25,
            },
        )
    ctl.call(
        "POST",
        "allocate",
        {
            "tenant": UK,
            "kind": "overpayment",
            "id": over["OverpaymentID"],
            "invoice": str(inv.invoice_id),
            "amount": 20,
        },
    )
    done = get(sdk, inv)
    assert done.status == "PAID" and floats(done.amount_due, done.amount_credited) == (0.0, 120.0)
    assert [float(x.applied_amount) for x in done.overpayments] == [20.0]
    over_now = sdk.accounting.get_overpayments(UK).overpayments[0]
    assert float(over_now.remaining_credit) == 10.0 and over_now.status == "AUTHORISED"
    assert sdk.accounting.get_prepayments(UK).prepayments[0].status == "PAID"
    # an allocated invoice can no longer be voided
    with pytest.raises(AccountingBadRequestException):
        create(sdk, Invoice(invoice_id=inv.invoice_id, status="VOIDED"))


def test_credit_note_allocated_in_xero_through_the_control_api(sdk, ctl):
    inv = create(sdk, invoice())[0]
    cn = create_cn(sdk, credit_note(lines=[line(unit="25")]))[0]  # 30.00
    out = ctl.call(
        "POST",
        "allocate",
        {
            "tenant": UK,
            "kind": "creditnote",
            "id": cn.credit_note_number,
            "invoice": inv.invoice_number,
            "amount": 30,
        },
    )
    assert out["Invoice"]["AmountDue"] == 90.0 and out["Invoice"]["AmountCredited"] == 30.0
    assert get(sdk, inv).credit_notes[0].applied_amount == 30.0


def test_currencies_day_rates_and_currency_rate(sdk, ctl):
    codes = [str(getattr(c.code, "value", c.code)) for c in sdk.accounting.get_currencies(UK).currencies]
    assert codes == ["GBP", "EUR", "USD"]
    # a currency the organisation has not enabled: Xero's message
    with pytest.raises(AccountingBadRequestException) as err:
        create(sdk, invoice(currency_code=CurrencyCode.CHF))
    assert "Organisation is not subscribed to currency CHF" in str(err.value.error_data)
    day = create(sdk, invoice(currency_code=CurrencyCode.EUR))[0]
    assert float(day.currency_rate) == 1.15  # no CurrencyRate sent: the day rate
    own = create(sdk, invoice(currency_code=CurrencyCode.EUR, currency_rate=Decimal("1.1725")))[0]
    assert float(own.currency_rate) == 1.1725 and own.currency_code.value == "EUR"
    # a payment on a foreign-currency invoice carries its own rate; BankAmount is in base currency
    p = pay(sdk, own, "117.25", currency_rate=Decimal("1.1725"))  # 100 EUR + 20 % = 120 EUR; 117.25 paid
    assert float(p.currency_rate) == 1.1725 and float(p.bank_amount) == 100.0
    assert float(pay(sdk, own, "2.75").currency_rate) == 1.15  # no rate sent: the day rate
    ctl.call("POST", "currencies", {"tenant": UK, "disable": ["EUR"], "rates": {"USD": 1.3}})
    with pytest.raises(AccountingBadRequestException):
        create(sdk, invoice(currency_code=CurrencyCode.EUR))
    assert float(create(sdk, invoice(currency_code=CurrencyCode.USD))[0].currency_rate) == 1.3
    base = create(sdk, invoice())[0]
    assert float(base.currency_rate) == 1.0


def test_usage_counts_egress_calls_per_minute_and_concurrency(sdk, ctl):
    ctl.call("POST", "usage/reset", {})
    ctl.limits(enabled=True, reset_counters=True)
    ctl.fault("delay", seconds=0.3, count=3, path="/Invoices")
    errors = []

    def read():
        try:
            sdk.accounting.get_invoices(UK)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sdk.accounting.get_organisations(UK)
    usage = ctl.call("GET", "usage")[UK]
    assert not errors and usage["calls"] == 4 and usage["peak_minute"] == 4
    assert usage["peak_concurrent"] == 3 and usage["egress_bytes"] > 0 and usage["refused"] == {}
    before = usage["egress_bytes"]
    sdk.accounting.get_organisations(UK)
    assert ctl.call("GET", "usage")[UK]["egress_bytes"] > before


def test_scale_seed_of_historical_invoices_and_bills(sdk, ctl):
    assert ctl.call("POST", "seed", {"tenant": UK, "invoices": 300, "bills": 200})["documents"] == 500
    ctl.call("POST", "usage/reset", {})
    sales = sdk.accounting.get_invoices(UK, where='Type=="ACCREC"', page=1, page_size=1000, summary_only=True)
    assert len(sales.invoices) == 300 and sales.invoices[0].line_items in (None, [])
    assert sum(1 for i in sales.invoices if i.status == "PAID") == 150
    since = dt.datetime(2025, 1, 1)
    assert sdk.accounting.get_invoices(UK, if_modified_since=since, page=1).invoices == []
    usage = ctl.call("GET", "usage")[UK]
    assert usage["calls"] == 2 and usage["egress_bytes"] > 300 * 200  # each summary is a few hundred bytes


def test_currency_rate_of_credits_only_on_the_document_read_by_id(sdk, ctl):
    """A foreign-currency prepayment, overpayment and credit note keep their own CurrencyRate. Xero shows it on
    the document read by its id (and on credit-note lists, per the spec's examples), not on an invoice's
    Prepayments / Overpayments / CreditNotes (id, Date, Total, AppliedAmount) nor on prepayment/overpayment
    lists: a client needing the rate reads the document."""
    inv = create(sdk, invoice(currency_code=CurrencyCode.EUR, currency_rate=Decimal("1.2")))[0]  # 120.00 EUR
    pre = ctl.call(
        "POST",
        "credits",
        {"tenant": UK, "kind": "prepayment", "contact": ACME, "amount": 50, "currency": "EUR", "rate": 1.25},
    )
    over = ctl.call(
        "POST",
        "credits",
        {"tenant": UK, "kind": "overpayment", "contact": ACME, "amount": 40, "currency": "EUR", "rate": 1.5},
    )
    assert (pre["CurrencyRate"], over["CurrencyRate"]) == (1.25, 1.5)
    cn = create_cn(
        sdk, credit_note(lines=[line(unit="25")], currency_code=CurrencyCode.EUR, currency_rate=1)
    )[0]
    for kind, ident, amount in (
        ("prepayment", pre["PrepaymentID"], 50),
        ("overpayment", over["OverpaymentID"], 40),
        ("creditnote", str(cn.credit_note_id), 30),  # 25.00 + 20 % VAT
    ):
        ctl.call(
            "POST",
            "allocate",
            {"tenant": UK, "kind": kind, "id": ident, "invoice": str(inv.invoice_id), "amount": amount},
        )
    got = get(sdk, inv)
    assert got.status == "PAID" and floats(got.amount_due, got.amount_credited) == (0.0, 120.0)
    embedded = got.prepayments + got.overpayments + got.credit_notes
    assert [float(x.applied_amount) for x in embedded] == [50.0, 40.0, 30.0]
    assert [x.currency_rate for x in embedded] == [None, None, None]
    assert float(sdk.accounting.get_prepayment(UK, pre["PrepaymentID"]).prepayments[0].currency_rate) == 1.25
    assert (
        float(sdk.accounting.get_overpayment(UK, over["OverpaymentID"]).overpayments[0].currency_rate) == 1.5
    )
    assert float(sdk.accounting.get_credit_note(UK, cn.credit_note_id).credit_notes[0].currency_rate) == 1.0
    assert sdk.accounting.get_prepayments(UK).prepayments[0].currency_rate is None
    assert sdk.accounting.get_overpayments(UK).overpayments[0].currency_rate is None
    # a base-currency credit is at 1; a rate of zero or less is refused, as on any document
    base = ctl.call("POST", "credits", {"tenant": UK, "kind": "prepayment", "contact": ACME, "amount": 5})
    assert base["CurrencyRate"] == 1.0
    with pytest.raises(urllib.error.HTTPError) as err:
        ctl.call(
            "POST",
            "credits",
            {"tenant": UK, "kind": "overpayment", "contact": ACME, "amount": 5, "currency": "EUR", "rate": 0},
        )
    assert "The currency rate must be greater than zero." in err.value.read().decode()


def test_tamper_fault_leaves_out_or_changes_a_field_of_the_answer(sdk, ctl):
    pre = ctl.call(
        "POST",
        "credits",
        {"tenant": UK, "kind": "prepayment", "contact": ACME, "amount": 50, "currency": "EUR", "rate": 1.25},
    )
    ctl.fault("tamper", field="CurrencyRate", path="/Prepayments/", method="GET")
    assert sdk.accounting.get_prepayment(UK, pre["PrepaymentID"]).prepayments[0].currency_rate is None
    ctl.fault("tamper", field="CurrencyRate", value=0, path="/Prepayments/", method="GET")
    assert float(sdk.accounting.get_prepayment(UK, pre["PrepaymentID"]).prepayments[0].currency_rate) == 0.0
    # each fault is used up; the stored document is unchanged
    assert float(sdk.accounting.get_prepayment(UK, pre["PrepaymentID"]).prepayments[0].currency_rate) == 1.25
    with pytest.raises(urllib.error.HTTPError):
        ctl.fault("tamper", path="/Prepayments/")  # which field?
