"""Credit notes and their allocations to invoices, through the SDK."""

import datetime as dt
from decimal import Decimal

import pytest
from xero_python.accounting import (
    Allocation,
    Allocations,
    Contact,
    CreditNote,
    CreditNotes,
    Invoice,
    LineAmountTypes,
)
from xero_python.exceptions import AccountingBadRequestException, NotFoundException

from xero_sandbox.seed import guid

from .conftest import UK
from .test_invoices import ACME, create, floats, invoice, line

OTHER = guid("uk", "contact", 2)


def credit_note(status="AUTHORISED", lines=None, contact=ACME, **kw):
    return CreditNote(
        type=kw.pop("type", "ACCRECCREDIT"),
        contact=Contact(contact_id=contact),
        date=dt.date(2024, 3, 5),
        line_amount_types=kw.pop("lat", LineAmountTypes.EXCLUSIVE),
        status=status,
        line_items=lines or [line()],
        **kw,
    )


def create_cn(sdk, *cns, **kw):
    return sdk.accounting.create_credit_notes(UK, CreditNotes(credit_notes=list(cns)), **kw).credit_notes


def allocate(sdk, cn, inv, amount, **kw):
    body = Allocations(
        allocations=[
            Allocation(
                invoice=Invoice(invoice_id=inv.invoice_id), amount=Decimal(amount), date=dt.date(2024, 3, 6)
            )
        ]
    )
    return sdk.accounting.create_credit_note_allocation(UK, cn.credit_note_id, body, **kw).allocations


def test_create_numbers_totals_unitdp_and_get(sdk):
    cn = create_cn(sdk, credit_note(lines=[line(qty="3", unit="3.33")], reference="R-1"))[0]
    assert cn.credit_note_number == "CN-0001" and cn.status == "AUTHORISED" and cn.type == "ACCRECCREDIT"
    assert floats(cn.sub_total, cn.total_tax, cn.total, cn.remaining_credit) == (9.99, 2.0, 11.99, 11.99)
    cn4 = create_cn(sdk, credit_note(lines=[line(qty="2", unit="10.1234")]), unitdp=4)[0]
    assert cn4.credit_note_number == "CN-0002" and str(cn4.line_items[0].unit_amount) == "10.1234"
    # tax is rounded per line, then summed: 3 lines of 0.05 at 20 % carry 0.01 each (0.03, not 0.15 × 20 %)
    cn3 = create_cn(sdk, credit_note(lines=[line(unit="0.05"), line(unit="0.05"), line(unit="0.05")]))[0]
    assert floats(cn3.total_tax, cn3.total) == (0.03, 0.18)
    got = sdk.accounting.get_credit_note(UK, cn.credit_note_id).credit_notes[0]
    assert got.credit_note_number == "CN-0001" and got.reference == "R-1" and got.date == dt.date(2024, 3, 5)
    by_number = sdk.accounting.get_credit_note(UK, "CN-0002", unitdp=4).credit_notes[0]
    assert by_number.credit_note_id == cn4.credit_note_id
    with pytest.raises(NotFoundException):
        sdk.accounting.get_credit_note(UK, guid("uk", "nothing", 1))
    # an ACCPAYCREDIT is not numbered and does not take the sales numbering
    bill_cn = create_cn(sdk, credit_note(type="ACCPAYCREDIT", lines=[line(account="400", tax="INPUT2")]))[0]
    assert bill_cn.credit_note_number in (None, "")


def test_unique_number_upsert_and_status_rules(sdk):
    draft = create_cn(sdk, credit_note(status="DRAFT", credit_note_number="CN-X"))[0]
    with pytest.raises(AccountingBadRequestException) as caught:
        create_cn(sdk, credit_note(credit_note_number="CN-X"))
    assert "Credit Note # must be unique." in caught.value.body.decode()
    # credit notes are never matched by number (Xero upserts by number for ACCREC invoices only):
    # a POST with the number and no CreditNoteID is a new credit note, refused as a duplicate number
    api = sdk.accounting
    with pytest.raises(AccountingBadRequestException) as caught:
        api.update_or_create_credit_notes(
            UK,
            CreditNotes(
                credit_notes=[
                    credit_note(status="AUTHORISED", credit_note_number="CN-X", lines=[line(unit="50")])
                ]
            ),
        )
    assert "Credit Note # must be unique." in caught.value.body.decode()
    # by CreditNoteID it updates the draft, then approves it
    up = api.update_or_create_credit_notes(
        UK,
        CreditNotes(
            credit_notes=[
                credit_note(
                    status="AUTHORISED",
                    credit_note_number="CN-X",
                    lines=[line(unit="50")],
                    credit_note_id=draft.credit_note_id,
                )
            ]
        ),
    ).credit_notes[0]
    assert up.status == "AUTHORISED" and float(up.total) == 60.0
    assert len(api.get_credit_notes(UK).credit_notes) == 1
    # AUTHORISED: lines are frozen, DELETED refused, VOIDED allowed
    for bad, message in (
        (
            CreditNote(credit_note_id=up.credit_note_id, line_items=[line(unit="1")]),
            "Credit Note not of valid status for modification",
        ),
        (
            CreditNote(credit_note_id=up.credit_note_id, status="DELETED"),
            "Credit Note not of valid status for modification",
        ),
    ):
        with pytest.raises(AccountingBadRequestException) as caught:
            api.update_or_create_credit_notes(UK, CreditNotes(credit_notes=[bad]))
        assert message in caught.value.body.decode()
    voided = api.update_or_create_credit_notes(
        UK, CreditNotes(credit_notes=[CreditNote(credit_note_id=up.credit_note_id, status="VOIDED")])
    ).credit_notes[0]
    assert voided.status == "VOIDED"
    with pytest.raises(AccountingBadRequestException) as caught:
        create_cn(sdk, credit_note(status="PAID"))
    assert "Credit Note not of valid status for creation" in caught.value.body.decode()


def test_summarize_errors_false_fails_only_the_bad_element(sdk):
    good, bad = create_cn(
        sdk, credit_note(), credit_note(lines=[line(account="999")]), summarize_errors=False
    )
    assert good.status_attribute_string == "OK" and good.credit_note_number == "CN-0001"
    assert bad.status_attribute_string == "ERROR" and bad.has_errors
    assert "Account code '999'" in bad.validation_errors[0].message
    # summarizeErrors=true (default): the whole batch is rolled back
    with pytest.raises(AccountingBadRequestException):
        create_cn(sdk, credit_note(), credit_note(lines=[line(account="999")]))
    assert len(sdk.accounting.get_credit_notes(UK).credit_notes) == 1


def test_list_paging_if_modified_since_ids_statuses_where(sdk, sandbox, ctl):
    api = sdk.accounting
    first = create_cn(sdk, credit_note(status="DRAFT", reference="alpha"))[0]
    sandbox.state.clock.advance(10)
    second, third = create_cn(
        sdk, credit_note(reference="beta"), credit_note(contact=OTHER, reference="gamma")
    )
    page = api.get_credit_notes(UK, page=1, page_size=2, order="CreditNoteNumber")
    assert [c.credit_note_number for c in page.credit_notes] == ["CN-0001", "CN-0002"]
    assert page.credit_notes[0].line_items  # paged lists carry the lines
    assert not api.get_credit_notes(UK).credit_notes[0].line_items  # unpaged lists do not
    assert len(api.get_credit_notes(UK, page=2, page_size=2).credit_notes) == 1
    since = first.updated_date_utc + dt.timedelta(seconds=5)
    assert {c.reference for c in api.get_credit_notes(UK, if_modified_since=since).credit_notes} == {
        "beta",
        "gamma",
    }
    where = 'Reference=="gamma" OR CreditNoteNumber=="CN-0001"'
    assert {c.reference for c in api.get_credit_notes(UK, where=where).credit_notes} == {"alpha", "gamma"}
    assert [
        c.reference
        for c in api.get_credit_notes(UK, where='Contact.ContactID==guid("%s")' % OTHER).credit_notes
    ] == ["gamma"]
    # IDs / Statuses / CreditNoteNumbers are query parameters the SDK does not expose: raw HTTP
    from .conftest import http

    headers = {
        "Authorization": "Bearer " + sdk.token["access_token"],
        "xero-tenant-id": UK,
        "Accept": "application/json",
    }
    import json

    _s, _h, body = http("GET", sandbox.url + "/api.xro/2.0/CreditNotes?Statuses=DRAFT", headers=headers)
    assert [c["Reference"] for c in json.loads(body)["CreditNotes"]] == ["alpha"]
    _s, _h, body = http(
        "GET",
        sandbox.url + "/api.xro/2.0/CreditNotes?IDs=%s,%s" % (second.credit_note_id, third.credit_note_id),
        headers=headers,
    )
    assert {c["Reference"] for c in json.loads(body)["CreditNotes"]} == {"beta", "gamma"}


def test_allocation_reduces_invoice_and_credit_and_marks_paid(sdk, ctl):
    api = sdk.accounting
    inv = create(sdk, invoice(lines=[line(unit="100")]))[0]  # 120.00
    cn = create_cn(sdk, credit_note(lines=[line(unit="50")]))[0]  # 60.00
    alloc = allocate(sdk, cn, inv, "40", summarize_errors=False)[0]
    assert alloc.allocation_id and float(alloc.amount) == 40.0 and alloc.date == dt.date(2024, 3, 6)
    inv_now = api.get_invoice(UK, inv.invoice_id).invoices[0]
    assert floats(inv_now.amount_due, inv_now.amount_credited, inv_now.amount_paid) == (80.0, 40.0, 0.0)
    assert inv_now.status == "AUTHORISED" and not inv_now.payments  # a credit is not a payment
    assert inv_now.credit_notes[0].credit_note_id == cn.credit_note_id
    assert inv_now.updated_date_utc >= inv.updated_date_utc
    cn_now = api.get_credit_note(UK, cn.credit_note_id).credit_notes[0]
    assert float(cn_now.remaining_credit) == 20.0 and cn_now.status == "AUTHORISED"
    assert [float(a.amount) for a in cn_now.allocations] == [40.0]
    # more than what is left: refused; the rest: PAID
    with pytest.raises(AccountingBadRequestException) as caught:
        allocate(sdk, cn, inv, "20.01")
    assert "remaining credit" in caught.value.body.decode()
    allocate(sdk, cn, inv, "20")
    cn_now = api.get_credit_note(UK, cn.credit_note_id).credit_notes[0]
    assert cn_now.status == "PAID" and float(cn_now.remaining_credit) == 0.0 and cn_now.fully_paid_on_date
    # the invoice is still owed 60; pay it by credit: PAID with no payment
    cn2 = create_cn(sdk, credit_note(lines=[line(unit="50")]))[0]
    allocate(sdk, cn2, inv, "60")
    inv_now = api.get_invoice(UK, inv.invoice_id).invoices[0]
    assert inv_now.status == "PAID" and float(inv_now.amount_due) == 0.0 and not inv_now.payments
    # a fully allocated invoice cannot be voided
    with pytest.raises(AccountingBadRequestException):
        api.update_invoice(UK, inv.invoice_id, _invoices(Invoice(status="VOIDED")))


def _invoices(*invs):
    from xero_python.accounting import Invoices

    return Invoices(invoices=list(invs))


def test_allocation_refusals(sdk):
    inv = create(sdk, invoice())[0]
    draft = create_cn(sdk, credit_note(status="DRAFT"))[0]
    other = create_cn(sdk, credit_note(contact=OTHER))[0]
    big = create_cn(sdk, credit_note(lines=[line(unit="500")]))[0]
    for cn, amount, message in (
        (draft, "10", "Credit Note must be AUTHORISED"),
        (other, "10", "same contact"),
        (big, "500", "amount outstanding on this invoice"),
    ):
        with pytest.raises(AccountingBadRequestException) as caught:
            allocate(sdk, cn, inv, amount)
        assert message in caught.value.body.decode()
    res = allocate(sdk, draft, inv, "10", summarize_errors=False)[0]
    assert res.status_attribute_string == "ERROR" and res.validation_errors
    assert float(sdk.accounting.get_invoice(UK, inv.invoice_id).invoices[0].amount_due) == 120.0


def test_idempotency_key_replays_credit_note_create(sdk, ctl):
    first = create_cn(sdk, credit_note(), idempotency_key="cn-key-1")[0]
    again = create_cn(sdk, credit_note(), idempotency_key="cn-key-1")[0]
    assert again.credit_note_id == first.credit_note_id
    assert len(sdk.accounting.get_credit_notes(UK).credit_notes) == 1
    with pytest.raises(AccountingBadRequestException) as caught:
        create_cn(sdk, credit_note(reference="different"), idempotency_key="cn-key-1")
    assert "different request" in caught.value.body.decode()


def test_dropped_put_replayed_by_idempotency_key(sdk, ctl):
    """urllib3 re-sends a PUT after a dropped connection: with a key, one credit note and one allocation."""
    inv = create(sdk, invoice())[0]
    ctl.fault("drop", after=True, method="PUT", path="/CreditNotes$")
    cn = create_cn(sdk, credit_note(lines=[line(unit="10")]), idempotency_key="cn-drop-1")[0]
    assert [
        r["dropped"] for r in ctl.requests() if r["method"] == "PUT" and r["path"].endswith("CreditNotes")
    ] == [True, False]
    assert [c.credit_note_id for c in sdk.accounting.get_credit_notes(UK).credit_notes] == [cn.credit_note_id]
    ctl.fault("drop", after=True, method="PUT", path="/Allocations$")
    replay = allocate(sdk, cn, inv, "12", idempotency_key="alloc-1")
    assert float(replay[0].amount) == 12.0
    assert float(sdk.accounting.get_invoice(UK, inv.invoice_id).invoices[0].amount_due) == 108.0
