"""Invoices, payments, attachments, online invoice, history, idempotency and dropped connections."""

import datetime as dt
from decimal import Decimal

import pytest
import urllib3
from xero_python.accounting import (
    Account,
    Contact,
    HistoryRecord,
    HistoryRecords,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Payment,
    Payments,
)
from xero_python.exceptions import AccountingBadRequestException, HTTPStatusException

from xero_sandbox.seed import guid

from .conftest import NZ, UK, http

ACME = guid("uk", "contact", 1)


def floats(*values):
    """The SDK parses money as Decimal."""
    return tuple(float(v) for v in values)


def line(desc="Support", qty="1", unit="100", account="200", tax="OUTPUT2", **kw):
    return LineItem(
        description=desc,
        quantity=Decimal(qty),
        unit_amount=Decimal(unit),
        account_code=account,
        tax_type=tax,
        **kw,
    )


def invoice(status="AUTHORISED", lines=None, contact=ACME, due=dt.date(2024, 3, 31), **kw):
    return Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact),
        date=dt.date(2024, 3, 1),
        due_date=due,
        line_amount_types=kw.pop("lat", LineAmountTypes.EXCLUSIVE),
        status=status,
        line_items=lines or [line()],
        **kw,
    )


def create(sdk, *invs, tenant=UK, **kw):
    return sdk.accounting.create_invoices(tenant, Invoices(invoices=list(invs)), **kw).invoices


def test_create_dates_numbers_totals_and_unitdp(sdk):
    inv = create(sdk, invoice(lines=[line(qty="2", unit="10.1234")], reference="T-1"))[0]
    assert inv.invoice_number == "INV-0001" and inv.status == "AUTHORISED"
    assert inv.date == dt.date(2024, 3, 1) and inv.due_date == dt.date(
        2024, 3, 31
    )  # parsed from /Date(ms+0000)/
    assert inv.updated_date_utc.tzinfo is not None
    assert inv.line_items[0].unit_amount == Decimal("10.12")  # 2 dp without unitdp
    assert floats(inv.sub_total, inv.total_tax, inv.total, inv.amount_due) == (20.24, 4.05, 24.29, 24.29)
    inv4 = create(sdk, invoice(lines=[line(qty="2", unit="10.1234")]), unitdp=4)[0]
    assert inv4.invoice_number == "INV-0002" and str(inv4.line_items[0].unit_amount) == "10.1234"
    assert floats(inv4.sub_total, inv4.total_tax, inv4.total) == (20.25, 4.05, 24.30)


def test_tax_is_rounded_per_line_then_summed(sdk):
    inv = create(sdk, invoice(lines=[line(unit="25.43", tax="OUTPUT2", account="200")] * 3), tenant=UK)[0]
    assert floats(inv.total_tax) == (15.27,)  # 3 x 5.086 -> 5.09 each; 76.29 x 20% would be 15.26
    nz = create(sdk, invoice(contact=guid("nz", "contact", 1), lines=[line(unit="25.43")] * 3), tenant=NZ)[0]
    assert floats(nz.total_tax, nz.total) == (11.43, 87.72)  # total-then-tax would give 11.44
    incl = create(sdk, invoice(lines=[line(unit="120")], lat=LineAmountTypes.INCLUSIVE))[0]
    assert (incl.sub_total, incl.total_tax, incl.total) == (100, 20, 120)
    notax = create(sdk, invoice(lines=[line(unit="50", tax=None)], lat=LineAmountTypes.NOTAX))[0]
    assert (notax.total_tax, notax.total, notax.line_items[0].tax_type) == (0, 50, "NONE")


def test_item_code_fills_defaults(sdk):
    inv = create(sdk, invoice(lines=[LineItem(item_code="ONSITE-HR", quantity=Decimal("2"))]))[0]
    li = inv.line_items[0]
    assert (li.description, li.unit_amount, li.account_code, li.tax_type, li.line_amount) == (
        "On-site engineer, per hour",
        120,
        "200",
        "OUTPUT2",
        240,
    )


@pytest.mark.parametrize(
    "bad,message",
    [
        (
            dict(lines=[line(tax="VAT20")]),
            "The TaxType code 'VAT20' does not exist or cannot be used with account code '200'.",
        ),
        (dict(lines=[line(account="999")]), "Account code '999' is not a valid code for this document."),
        (dict(lines=[line(account="280")]), "Account code '280' has been archived"),
        (dict(lines=[LineItem(item_code="NOPE", quantity=Decimal(1))]), "Item code 'NOPE' is not valid."),
        (dict(due=None), "The document DueDate field must be specified."),
        (dict(contact=guid("nope")), "could not be found"),
    ],
)
def test_validation_messages(sdk, bad, message):
    with pytest.raises(AccountingBadRequestException) as err:
        create(sdk, invoice(**bad))
    assert message in err.value.reason
    assert err.value.error_data["Type"] == "ValidationException"
    assert sdk.accounting.get_invoices(UK).invoices == []


def test_archived_contact_refused(sdk):
    from xero_python.accounting import Contacts

    sdk.accounting.update_or_create_contacts(
        UK, Contacts(contacts=[Contact(contact_id=ACME, contact_status="ARCHIVED")])
    )
    with pytest.raises(AccountingBadRequestException) as err:
        create(sdk, invoice())
    assert "archived" in err.value.reason


def test_summarize_errors_true_and_false(sdk):
    good, bad = invoice(reference="good"), invoice(reference="bad", lines=[line(tax="XX")])
    with pytest.raises(AccountingBadRequestException):
        create(sdk, good, bad)  # summarizeErrors=true: nothing is saved
    assert sdk.accounting.get_invoices(UK).invoices == []
    ok, failed = create(sdk, good, bad, summarize_errors=False)
    assert ok.status_attribute_string == "OK" and ok.invoice_number == "INV-0001"
    assert failed.status_attribute_string == "ERROR" and failed.has_errors
    assert failed.invoice_id == "00000000-0000-0000-0000-000000000000"
    assert "TaxType code 'XX'" in failed.validation_errors[0].message
    assert [i.reference for i in sdk.accounting.get_invoices(UK).invoices] == ["good"]


def test_unique_numbers_and_upsert_by_number(sdk):
    create(sdk, invoice(invoice_number="HALO-1"))
    with pytest.raises(AccountingBadRequestException) as err:
        create(sdk, invoice(invoice_number="HALO-1"))
    assert err.value.reason == "Invoice # must be unique."
    draft = create(sdk, invoice(status="DRAFT", invoice_number="HALO-2"))[0]
    upd = sdk.accounting.update_or_create_invoices(
        UK, Invoices(invoices=[Invoice(type="ACCREC", invoice_number="HALO-2", reference="changed")])
    ).invoices[0]
    assert upd.invoice_id == draft.invoice_id and upd.reference == "changed"
    got = sdk.accounting.get_invoice(UK, "HALO-2").invoices[0]  # by InvoiceNumber
    assert got.invoice_id == draft.invoice_id


def test_status_transitions(sdk):
    api = sdk.accounting
    inv = create(sdk, invoice(status="DRAFT"))[0]

    def update(status=None, **kw):
        return api.update_invoice(
            UK, inv.invoice_id, Invoices(invoices=[Invoice(status=status, **kw)])
        ).invoices[0]

    assert update("SUBMITTED").status == "SUBMITTED"
    assert update("AUTHORISED").status == "AUTHORISED"
    with pytest.raises(AccountingBadRequestException) as err:
        update("DELETED")
    assert err.value.reason == "Invoice not of valid status for modification"
    with pytest.raises(AccountingBadRequestException) as err:
        update(line_items=[line(unit="999")])
    assert err.value.reason == "Invoice not of valid status for modification"
    assert update(reference="still editable").reference == "still editable"
    assert update("VOIDED").status == "VOIDED"
    with pytest.raises(AccountingBadRequestException):
        update("AUTHORISED")
    draft = create(sdk, invoice(status="DRAFT"))[0]
    deleted = api.update_invoice(UK, draft.invoice_id, Invoices(invoices=[Invoice(status="DELETED")]))
    assert deleted.invoices[0].status == "DELETED"


def test_list_filters_and_paging(sdk, ctl):
    a = create(sdk, invoice(reference="R-A"))[0]
    b = create(sdk, invoice(status="DRAFT", reference="R-B", contact=guid("uk", "contact", 2)))[0]
    api = sdk.accounting
    assert [i.reference for i in api.get_invoices(UK, statuses=["DRAFT", "SUBMITTED"]).invoices] == ["R-B"]
    assert [i.invoice_id for i in api.get_invoices(UK, i_ds=[a.invoice_id]).invoices] == [a.invoice_id]
    assert [i.invoice_number for i in api.get_invoices(UK, invoice_numbers=[b.invoice_number]).invoices] == [
        b.invoice_number
    ]
    assert len(api.get_invoices(UK, contact_i_ds=[ACME]).invoices) == 1
    assert (
        api.get_invoices(UK, where='Contact.ContactID==guid("%s") && Status=="AUTHORISED"' % ACME)
        .invoices[0]
        .reference
        == "R-A"
    )
    assert api.get_invoices(UK, where='Reference=="R-B" AND Type=="ACCREC"').invoices[0].status == "DRAFT"
    paged = api.get_invoices(UK, page=1, page_size=1)
    assert paged.pagination.item_count == 2 and len(paged.invoices[0].line_items) == 1
    assert api.get_invoices(UK).invoices[0].line_items is None  # unpaged lists omit line items
    assert any("Statuses=DRAFT%2CSUBMITTED" in r["query"] for r in ctl.requests())


def test_payments_mark_paid_and_bump_updated(sdk, ctl):
    api = sdk.accounting
    inv = create(sdk, invoice(lines=[line(unit="100")]))[0]
    draft = create(sdk, invoice(status="DRAFT"))[0]
    ctl.advance(60)
    part = api.create_payment(
        UK,
        Payment(
            invoice=Invoice(invoice_id=inv.invoice_id),
            account=Account(code="090"),
            amount=Decimal("20.00"),
            date=dt.date(2024, 3, 10),
            reference="part",
        ),
    )
    assert part.payments[0].status == "AUTHORISED"
    got = api.get_invoice(UK, inv.invoice_id).invoices[0]
    assert (got.status, got.amount_paid, got.amount_due, len(got.payments)) == ("AUTHORISED", 20, 100, 1)
    assert got.updated_date_utc > inv.updated_date_utc
    res = api.create_payments(
        UK,
        Payments(
            payments=[
                Payment(
                    invoice=Invoice(invoice_number=inv.invoice_number), account=Account(code="200"), amount=1
                ),
                Payment(invoice=Invoice(invoice_id=inv.invoice_id), account=Account(code="090"), amount=500),
                Payment(invoice=Invoice(invoice_id=draft.invoice_id), account=Account(code="090"), amount=1),
                Payment(
                    invoice=Invoice(invoice_id=inv.invoice_id),
                    account=Account(account_id=guid("uk", "account", "090")),
                    amount=Decimal("100.00"),
                    date=dt.date(2024, 3, 20),
                ),
            ]
        ),
        summarize_errors=False,
    ).payments
    assert [p.status_attribute_string for p in res] == ["ERROR", "ERROR", "ERROR", "OK"]
    assert "Account type is invalid" in res[0].validation_errors[0].message
    assert "exceeds the amount outstanding" in res[1].validation_errors[0].message
    assert "Authorised" in res[2].validation_errors[0].message
    paid = api.get_invoice(UK, inv.invoice_id).invoices[0]
    assert (paid.status, paid.amount_due, paid.fully_paid_on_date) == ("PAID", 0, dt.date(2024, 3, 20))
    pays = api.get_payments(UK, where='Invoice.InvoiceID==guid("%s")' % inv.invoice_id, page=1)
    assert pays.pagination.item_count == 2
    with pytest.raises(AccountingBadRequestException) as err:
        api.update_invoice(UK, inv.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")]))
    assert err.value.reason == "Invoice not of valid status for modification"
    since = dt.datetime.fromtimestamp(ctl.advance(0)["now"] - 5, tz=dt.UTC)
    assert [
        i.invoice_id for i in api.get_invoices(UK, if_modified_since=since, statuses=["PAID"]).invoices
    ] == [inv.invoice_id]


def test_void_refused_with_payment(sdk, ctl):
    inv = create(sdk, invoice())[0]
    ctl.pay(UK, inv.invoice_number, amount=10)
    with pytest.raises(AccountingBadRequestException) as err:
        sdk.accounting.update_invoice(UK, inv.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")]))
    assert "payment" in err.value.reason


def test_attachments(sdk, sandbox):
    api = sdk.accounting
    inv = create(sdk, invoice())[0]
    att = api.create_invoice_attachment_by_file_name(
        UK, inv.invoice_id, "timesheet.pdf", b"%PDF-1.4 test", include_online=True
    ).attachments[0]
    assert att.include_online and att.content_length == 13 and att.mime_type == "application/pdf"
    api.update_invoice_attachment_by_file_name(UK, inv.invoice_id, "timesheet.pdf", b"%PDF-1.4 replaced!")
    listed = api.get_invoice_attachments(UK, inv.invoice_id).attachments
    assert [(a.file_name, a.content_length) for a in listed] == [("timesheet.pdf", 18)]
    assert api.get_invoice(UK, inv.invoice_id).invoices[0].has_attachments
    with pytest.raises(AccountingBadRequestException) as err:
        api.create_invoice_attachment_by_file_name(UK, inv.invoice_id, "a*b.pdf", b"x")
    assert "invalid characters" in err.value.reason
    for n in range(9):
        api.create_invoice_attachment_by_file_name(UK, inv.invoice_id, "f%d.txt" % n, b"x")
    with pytest.raises(AccountingBadRequestException) as err:
        api.create_invoice_attachment_by_file_name(UK, inv.invoice_id, "eleven.txt", b"x")
    assert "maximum of 10" in err.value.reason
    with pytest.raises(HTTPStatusException) as err:
        api.create_invoice_attachment_by_file_name(
            UK, inv.invoice_id, "f1.txt", b"x" * (10 * 1024 * 1024 + 1)
        )
    assert err.value.status == 413


def test_online_invoice_history_pdf_and_email(sdk, sandbox):
    api = sdk.accounting
    draft = create(sdk, invoice(status="DRAFT"))[0]
    with pytest.raises(AccountingBadRequestException):
        api.get_online_invoice(UK, draft.invoice_id)
    inv = create(sdk, invoice())[0]
    url = api.get_online_invoice(UK, inv.invoice_id).online_invoices[0].online_invoice_url
    assert url.startswith(sandbox.url + "/online/")
    status, _, page = http("GET", url)
    assert status == 200 and inv.invoice_number.encode() in page
    api.create_invoice_history(
        UK, inv.invoice_id, HistoryRecords(history_records=[HistoryRecord(details="Sent by Halo")])
    )
    history = api.get_invoice_history(UK, inv.invoice_id).history_records
    assert [h.changes for h in history] == ["Created", "Note"] and history[1].details == "Sent by Halo"
    assert history[1].user == "System Generated" and history[1].date_utc.tzinfo is not None
    with open(api.get_invoice_as_pdf(UK, inv.invoice_id), "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    api.email_invoice(UK, inv.invoice_id, {})
    assert api.get_invoice(UK, inv.invoice_id).invoices[0].sent_to_contact


def test_idempotency_key_replay_and_mismatch(sdk, ctl):
    first = create(sdk, invoice(reference="idem"), idempotency_key="halo-move-1-v1")[0]
    again = create(sdk, invoice(reference="idem"), idempotency_key="halo-move-1-v1")[0]
    assert again.invoice_id == first.invoice_id
    assert len(sdk.accounting.get_invoices(UK).invoices) == 1
    with pytest.raises(AccountingBadRequestException) as err:
        create(sdk, invoice(reference="other"), idempotency_key="halo-move-1-v1")
    assert "is used with a different request" in err.value.reason
    ctl.advance(361)  # after 6 minutes the key is new again
    sdk.token["expires_at"] = 0  # (the sandbox clock moved: let the SDK refresh)
    later = create(sdk, invoice(reference="idem"), idempotency_key="halo-move-1-v1")[0]
    assert later.invoice_id != first.invoice_id


def test_dropped_response_put_retry_with_and_without_idempotency_key(sdk, ctl):
    """urllib3 silently re-sends a PUT after a dropped connection: one invoice with a key, two without."""
    ctl.fault("drop", after=True, method="PUT", path="/Invoices$")
    inv = create(sdk, invoice(reference="with-key"), idempotency_key="k-drop-1")[0]
    log = [r for r in ctl.requests() if r["method"] == "PUT"]
    assert [r["dropped"] for r in log] == [True, False]
    assert [i.invoice_id for i in sdk.accounting.get_invoices(UK).invoices] == [inv.invoice_id]

    ctl.fault("drop", after=True, method="PUT", path="/Invoices$")
    create(sdk, invoice(reference="no-key"))
    dupes = sdk.accounting.get_invoices(UK, where='Reference=="no-key"').invoices
    assert len(dupes) == 2  # the duplicate-invoice bug

    ctl.fault("drop", after=True, method="PUT", path="/Invoices$")
    with pytest.raises(AccountingBadRequestException) as err:  # with a fixed number the retry is refused...
        create(sdk, invoice(reference="fixed-number", invoice_number="HALO-77"))
    assert err.value.reason == "Invoice # must be unique."  # ...although the first PUT was saved
    assert len(sdk.accounting.get_invoices(UK, invoice_numbers=["HALO-77"]).invoices) == 1


def test_dropped_post_is_not_retried(sdk, ctl):
    ctl.fault("drop", after=True, method="POST")
    with pytest.raises(urllib3.exceptions.HTTPError):
        sdk.accounting.update_or_create_invoices(UK, Invoices(invoices=[invoice(reference="post")]))
    assert len(sdk.accounting.get_invoices(UK).invoices) == 1  # applied, answer lost
