"""Contacts, items, tax rates, accounts: lists, filters, where, If-Modified-Since, writes."""

import datetime as dt
import json

import pytest
from xero_python.accounting import Contact, Contacts, Item, Items, Purchase
from xero_python.exceptions import AccountingBadRequestException, NotFoundException

from xero_sandbox.seed import guid

from .conftest import NZ, UK, http


def test_contacts_paging_filters_and_capitalised_booleans(sdk, ctl):
    page = sdk.accounting.get_contacts(UK, page=2, page_size=4)
    assert (
        page.pagination.page,
        page.pagination.page_size,
        page.pagination.page_count,
        page.pagination.item_count,
    ) == (2, 4, 3, 10)
    assert len(page.contacts) == 4
    assert [c.name for c in sdk.accounting.get_contacts(UK, search_term="harbour").contacts] == [
        "Harbour View Hotel"
    ]
    one = sdk.accounting.get_contacts(UK, where='EmailAddress=="ap@dunmore.example"').contacts
    assert one[0].contact_number == "UK-C004"
    ids = [guid("uk", "contact", 1), guid("uk", "contact", 2)]
    assert {c.contact_id for c in sdk.accounting.get_contacts(UK, i_ds=ids).contacts} == set(ids)
    summary = sdk.accounting.get_contacts(UK, summary_only=True).contacts[0]
    assert summary.addresses is None and summary.updated_date_utc.tzinfo is not None
    assert (
        sdk.accounting.get_contact_by_contact_number(UK, "UK-C003").contacts[0].name
        == "Castle & Crown Solicitors"
    )
    assert sdk.accounting.get_contact(UK, ids[0]).contacts[0].name == "Acme Facilities Ltd"
    with pytest.raises(NotFoundException):
        sdk.accounting.get_contact(UK, guid("nope"))
    # the SDK sends Python booleans capitalised; the sandbox honoured summaryOnly=True above
    assert any("summaryOnly=True" in r["query"] for r in ctl.requests())


def test_contact_create_duplicate_upsert_and_archive(sdk):
    created = sdk.accounting.create_contacts(
        UK, Contacts(contacts=[Contact(name="New Client Ltd", email_address="a@new.example")])
    )
    cid = created.contacts[0].contact_id
    with pytest.raises(AccountingBadRequestException) as err:
        sdk.accounting.create_contacts(UK, Contacts(contacts=[Contact(name="New Client Ltd")]))
    assert err.value.reason == (
        "The contact name New Client Ltd is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    )
    upsert = sdk.accounting.update_or_create_contacts(
        UK, Contacts(contacts=[Contact(name="New Client Ltd", email_address="b@new.example")])
    )
    assert upsert.contacts[0].contact_id == cid and upsert.contacts[0].email_address == "b@new.example"
    sdk.accounting.update_or_create_contacts(
        UK, Contacts(contacts=[Contact(contact_id=cid, contact_status="ARCHIVED")])
    )
    assert cid not in {c.contact_id for c in sdk.accounting.get_contacts(UK).contacts}
    assert cid in {c.contact_id for c in sdk.accounting.get_contacts(UK, include_archived=True).contacts}


def test_contacts_summarize_errors_false(sdk):
    res = sdk.accounting.create_contacts(
        UK,
        Contacts(contacts=[Contact(name="Fresh One"), Contact(name="Acme Facilities Ltd")]),
        summarize_errors=False,
    )
    ok, bad = res.contacts
    assert ok.status_attribute_string == "OK"
    assert bad.status_attribute_string == "ERROR" and bad.contact_id == "00000000-0000-0000-0000-000000000000"
    assert "already assigned" in bad.validation_errors[0].message


def test_if_modified_since(sdk, ctl):
    assert len(sdk.accounting.get_contacts(UK, if_modified_since=dt.datetime(2023, 12, 31)).contacts) == 10
    now = ctl.advance(600)["now"]  # sandbox clock; the token (1800 s) stays valid
    since = dt.datetime.fromtimestamp(int(now) - 1, tz=dt.UTC)
    sdk.accounting.create_contacts(UK, Contacts(contacts=[Contact(name="Later Ltd")]))
    changed = sdk.accounting.get_contacts(UK, if_modified_since=since).contacts
    assert [c.name for c in changed] == ["Later Ltd"]
    assert sdk.accounting.get_items(UK, if_modified_since=since).items == []
    assert sdk.accounting.get_accounts(UK, if_modified_since=since).accounts == []


def test_items_where_create_and_validation(sdk, sandbox):
    items = sdk.accounting.get_items(UK).items
    assert len(items) == 8 and all(i.code for i in items)
    hr = sdk.accounting.get_items(UK, where='Code=="SUPPORT-HR"').items[0]
    assert hr.sales_details.unit_price == 85 and hr.sales_details.tax_type == "OUTPUT2"
    made = sdk.accounting.create_items(
        UK,
        Items(
            items=[
                Item(
                    code="NEW-SVC",
                    name="New service",
                    sales_details=Purchase(unit_price=12.3456, account_code="200", tax_type="OUTPUT2"),
                )
            ]
        ),
        unitdp=4,
    )
    assert str(made.items[0].sales_details.unit_price) == "12.3456"
    with pytest.raises(AccountingBadRequestException) as err:
        sdk.accounting.create_items(UK, Items(items=[Item(code="NEW-SVC")]))
    assert "already exists" in err.value.reason
    with pytest.raises(AccountingBadRequestException) as err:
        sdk.accounting.create_items(
            UK, Items(items=[Item(code="BAD-TAX", sales_details=Purchase(tax_type="NOPE"))])
        )
    assert "TaxType code 'NOPE'" in err.value.reason
    # the SDK refuses a Code > 30 itself, so check the server rule with raw HTTP
    token = sdk.token["access_token"]
    status, _, body = http(
        "PUT",
        sandbox.url + "/api.xro/2.0/Items",
        data={"Items": [{"Code": "X" * 31}]},
        headers={"Authorization": "Bearer " + token, "xero-tenant-id": UK},
    )
    assert (
        status == 400 and "30 characters" in json.loads(body)["Elements"][0]["ValidationErrors"][0]["Message"]
    )
    upd = sdk.accounting.update_or_create_items(UK, Items(items=[Item(code="NEW-SVC", name="Renamed")]))
    assert upd.items[0].item_id == made.items[0].item_id and upd.items[0].name == "Renamed"


def test_tax_rates_and_accounts(sdk):
    uk = {t.tax_type: t for t in sdk.accounting.get_tax_rates(UK).tax_rates}
    assert {"OUTPUT2", "RROUTPUT", "ZERORATEDOUTPUT", "EXEMPTOUTPUT", "NONE", "INPUT2"} <= set(uk)
    assert uk["OUTPUT2"].effective_rate == 20 and uk["RROUTPUT"].effective_rate == 5
    nz = sdk.accounting.get_tax_rates(NZ, where='TaxType=="OUTPUT2"').tax_rates
    assert [t.effective_rate for t in nz] == [15]
    rounding = sdk.accounting.get_accounts(UK, where='SystemAccount=="ROUNDING"').accounts
    assert [(a.code, a.system_account) for a in rounding] == [("860", "ROUNDING")]
    bank = sdk.accounting.get_accounts(UK, where='Type=="BANK" && Code=="090"').accounts
    assert bank[0].name == "Business Bank Account"
    revenue = sdk.accounting.get_accounts(UK, where='Type=="REVENUE" AND Status=="ACTIVE"', order="Code DESC")
    assert [a.code for a in revenue.accounts] == ["270", "260", "200"]
    assert sdk.accounting.get_tax_rate_by_tax_type(UK, "RROUTPUT").tax_rates[0].name == "5% (VAT on Income)"


def test_bad_where_is_a_query_parse_error(sdk):
    with pytest.raises(AccountingBadRequestException) as err:
        sdk.accounting.get_contacts(UK, where="Name ~~ 3")
    assert err.value.error_data["Type"] == "QueryParseException"


def test_synthetic_seed(sdk, ctl):
    assert ctl.seed(UK, contacts=1500, items=120) == {"contacts": 1500, "items": 120}
    page = sdk.accounting.get_contacts(UK, page=3, page_size=1000)
    assert page.pagination.item_count == 1510 and page.contacts == []
    assert len(sdk.accounting.get_items(UK).items) == 128
