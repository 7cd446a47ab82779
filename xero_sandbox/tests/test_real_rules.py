"""Rules real Xero enforces and the sandbox now enforces too (README "Real-Xero rules"), over real HTTP."""

import json
import re
import urllib.parse

import pytest

from xero_sandbox.seed import PRACTICE_TENANT_ID, guid

from .conftest import NZ, UK, http

ACME = guid("uk", "contact", 1)
BRIGHT = guid("uk", "contact", 2)
REDIRECT = "http://localhost:8069/halo_xero/oauth/callback"
GRANULAR = (
    "openid profile email offline_access accounting.invoices accounting.payments accounting.contacts "
    "accounting.settings accounting.attachments"
)


def api(sandbox, token, method, path, body=None, tenant=UK, query=""):
    """``(status, parsed JSON or raw bytes)`` of one Accounting API call."""
    headers = {
        "Authorization": "Bearer " + token["access_token"],
        "xero-tenant-id": tenant,
        "Accept": "application/json",
    }
    url = sandbox.url + "/api.xro/2.0/" + path + ("?" + query if query else "")
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        headers["Content-Type"] = "application/json"
    status, _, raw = http(method, url, data=data, headers=headers)
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw


def messages(body) -> list:
    """Every ValidationErrors[].Message of a 400 ValidationException (or of per-element errors)."""
    elements = (
        body.get("Elements") or body.get("Invoices") or body.get("CreditNotes") or body.get("Contacts") or []
    )
    return [e["Message"] for el in elements for e in el.get("ValidationErrors", [])]


def line(**kw):
    return {
        "Description": "Support",
        "Quantity": 1,
        "UnitAmount": 100,
        "AccountCode": "200",
        "TaxType": "OUTPUT2",
        **kw,
    }


def invoice(status="AUTHORISED", lines=None, contact=ACME, date="2024-03-01", **kw):
    return {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact},
        "Date": date,
        "DueDate": "2024-03-31",
        "Status": status,
        "LineItems": lines or [line()],
        **kw,
    }


def credit_note(status="AUTHORISED", lines=None, contact=ACME, **kw):
    return {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": contact},
        "Date": "2024-03-05",
        "Status": status,
        "LineItems": lines or [line()],
        **kw,
    }


@pytest.fixture
def token(ctl):
    return ctl.grant(scope=GRANULAR)


def authorize_url(sandbox, scope=GRANULAR, redirect=REDIRECT):
    return (
        sandbox.url
        + "/identity/connect/authorize?"
        + urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": "HALO-DEMO-CLIENT",
                "redirect_uri": redirect,
                "scope": scope,
                "state": "s1",
            }
        )
    )


def consent(sandbox, url, tenants):
    """Log in and allow ``tenants`` on the HTML pages; returns (status, Location, consent page)."""
    form = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    _, _, page = http(
        "POST", url, form={**form, "step": "login", "email": "demo@halo.example", "password": "demo"}
    )
    ticket = re.search(rb"name='ticket' value='([^']+)'", page).group(1).decode()
    status, headers, _ = http(
        "POST", url, form={**form, "step": "consent", "ticket": ticket, "tenant": tenants, "action": "allow"}
    )
    return status, headers.get("Location"), page


# -- 1. OAuth: scopes, redirect URIs, tenants ------------------------------------------------------------------
def test_new_app_is_refused_broad_scopes_at_the_consent_page(sandbox, ctl):
    assert ctl.call("GET", "config")["registered"] >= "2026-03-02"  # the demo app is a new app
    status, _, page = http(
        "GET", authorize_url(sandbox, "offline_access accounting.transactions accounting.contacts")
    )
    assert status == 400 and b"unauthorized_client" in page and b"Invalid scope for client" in page
    # the control API's consent refuses it too; granular scopes pass
    status, _, body = http(
        "POST",
        sandbox.url + "/_sandbox/oauth/grant",
        data={"scope": "offline_access accounting.transactions"},
    )
    assert status == 400 and json.loads(body) == {
        "error": "invalid_scope",
        "error_description": "Invalid scope for client",
    }
    status, _, page = http("GET", authorize_url(sandbox))
    assert status == 200 and b"name='password'" in page
    # an unknown scope is refused as well
    assert http("GET", authorize_url(sandbox, "accounting.everything"))[0] == 400


def test_legacy_app_may_still_ask_for_broad_scopes(sandbox, ctl):
    ctl.call("POST", "config", {"registered": "2024-05-01"})
    status, location, _ = consent(
        sandbox, authorize_url(sandbox, "offline_access accounting.transactions accounting.contacts"), [UK]
    )
    assert status == 302 and "code=" in location
    token = ctl.grant(scope="offline_access accounting.transactions accounting.settings")
    assert api(sandbox, token, "PUT", "Invoices", {"Invoices": [invoice()]})[0] == 200
    assert api(sandbox, token, "GET", "Payments")[0] == 200  # accounting.transactions covers payments


def test_scopes_are_checked_per_endpoint(sandbox, ctl):
    read_only = ctl.grant(scope="offline_access accounting.contacts.read accounting.invoices.read")
    assert api(sandbox, read_only, "GET", "Contacts")[0] == 200
    assert api(sandbox, read_only, "GET", "Invoices")[0] == 200
    status, body = api(sandbox, read_only, "PUT", "Contacts", {"Contacts": [{"Name": "New Ltd"}]})
    assert status == 401 and body["Detail"] == "AuthorizationUnsuccessful"
    assert api(sandbox, read_only, "PUT", "Invoices", {"Invoices": [invoice()]})[0] == 401
    for path in ("Payments", "Accounts", "TaxRates", "Organisation", "TrackingCategories"):
        assert api(sandbox, read_only, "GET", path)[0] == 401, path
    invoices_only = ctl.grant(scope="offline_access accounting.invoices")
    inv = api(sandbox, invoices_only, "PUT", "Invoices", {"Invoices": [invoice()]})[1]["Invoices"][0]
    assert api(sandbox, invoices_only, "GET", "Payments")[0] == 401  # payments are accounting.payments
    pay = {
        "Payments": [
            {
                "Invoice": {"InvoiceID": inv["InvoiceID"]},
                "Account": {"Code": "090"},
                "Amount": 10,
                "Date": "2024-03-02",
            }
        ]
    }
    assert api(sandbox, invoices_only, "PUT", "Payments", pay)[0] == 401
    # attachments need accounting.attachments
    status, _ = api(
        sandbox, invoices_only, "PUT", "Invoices/%s/Attachments/a.pdf" % inv["InvoiceID"], b"%PDF-1.4"
    )
    assert status == 401
    full = ctl.grant(scope=GRANULAR)
    assert api(sandbox, full, "PUT", "Payments", pay)[0] == 200
    assert (
        api(sandbox, full, "PUT", "Invoices/%s/Attachments/a.pdf" % inv["InvoiceID"], b"%PDF-1.4")[0] == 200
    )


def test_redirect_uri_must_match_a_registered_one_exactly(sandbox, ctl):
    for uri in (
        "http://localhost:8069/other/callback",
        REDIRECT + "?x=1",
        "http://127.0.0.1:9999/cb",
        "http://app.example/halo_xero/oauth/callback",
    ):
        status, _, page = http("GET", authorize_url(sandbox, redirect=uri))
        assert status == 400 and b"Invalid redirect_uri" in page, uri
    ctl.call(
        "POST",
        "config",
        {"redirect_uris": ["https://odoo.example/halo_xero/oauth/callback", "http://app.example/cb"]},
    )
    assert (
        http("GET", authorize_url(sandbox, redirect="https://odoo.example/halo_xero/oauth/callback"))[0]
        == 200
    )
    # plain HTTP is only for localhost, even when registered
    assert http("GET", authorize_url(sandbox, redirect="http://app.example/cb"))[0] == 400
    assert http("GET", authorize_url(sandbox))[0] == 400  # no longer registered


def test_connections_list_tenants_that_are_not_organisations(sandbox, ctl):
    status, location, page = consent(sandbox, authorize_url(sandbox), [UK, PRACTICE_TENANT_ID])
    assert status == 302 and b"Halo Demo Practice" in page
    token = ctl.grant(tenants=[UK, PRACTICE_TENANT_ID], scope=GRANULAR)
    _, _, raw = http(
        "GET", sandbox.url + "/connections", headers={"Authorization": "Bearer " + token["access_token"]}
    )
    types = {c["tenantId"]: c["tenantType"] for c in json.loads(raw)}
    assert types == {UK: "ORGANISATION", PRACTICE_TENANT_ID: "PRACTICEMANAGER"}
    # no Accounting API for a practice
    status, body = api(sandbox, token, "GET", "Organisation", tenant=PRACTICE_TENANT_ID)
    assert status == 403 and body["Detail"] == "AuthenticationUnsuccessful"


# -- 2. request size ---------------------------------------------------------------------------------------------
def test_post_over_3_5_mb_is_refused_with_413(sandbox, token):
    description = "x" * 4000
    big = {"Invoices": [invoice(lines=[line(Description=description) for _ in range(920)])]}  # ~3.7 MB
    assert len(json.dumps(big)) > 3.5 * 1024 * 1024
    status, body = api(sandbox, token, "PUT", "Invoices", big)
    assert status == 413 and body["Title"] == "Request Entity Too Large"
    assert not sandbox.state.orgs[UK]["invoices"]
    fits = {"Invoices": [invoice(lines=[line(Description=description) for _ in range(800)])]}  # ~3.3 MB
    assert api(sandbox, token, "PUT", "Invoices", fits)[0] == 200


# -- 3. contacts ---------------------------------------------------------------------------------------------------
def test_contact_email_must_be_one_valid_address(sandbox, token):
    for bad in ("ap@x.com, cfo@x.com", "ap@x.com;cfo@x.com", "not-an-address", "ap@", "a b@x.com"):
        status, body = api(
            sandbox, token, "PUT", "Contacts", {"Contacts": [{"Name": "Mail Ltd", "EmailAddress": bad}]}
        )
        assert status == 400 and messages(body) == ["Email address must be valid."], bad
    status, body = api(
        sandbox,
        token,
        "PUT",
        "Contacts",
        {"Contacts": [{"Name": "Mail Ltd", "EmailAddress": "ap@x.example.com"}]},
    )
    assert status == 200 and body["Contacts"][0]["EmailAddress"] == "ap@x.example.com"


def test_archived_and_merged_contacts_are_refused_on_new_invoices(sandbox, ctl, token):
    assert (
        api(
            sandbox,
            token,
            "POST",
            "Contacts",
            {"Contacts": [{"ContactID": ACME, "ContactStatus": "ARCHIVED"}]},
        )[0]
        == 200
    )
    status, body = api(sandbox, token, "PUT", "Invoices", {"Invoices": [invoice()]})
    assert status == 400 and messages(body) == [
        "The contact 'Acme Facilities Ltd' has been archived and cannot be used on new transactions."
    ]
    ctl.call("POST", "merge-contacts", {"tenant": UK, "contact": BRIGHT, "into": guid("uk", "contact", 3)})
    status, body = api(sandbox, token, "GET", "Contacts/" + BRIGHT)
    assert body["Contacts"][0]["ContactStatus"] == "ARCHIVED"
    assert body["Contacts"][0]["MergedToContactID"] == guid("uk", "contact", 3)
    status, body = api(sandbox, token, "PUT", "Invoices", {"Invoices": [invoice(contact=BRIGHT)]})
    assert status == 400 and "has been merged into another contact" in messages(body)[0]


# -- 4. lines -------------------------------------------------------------------------------------------------------
def test_negative_quantity_is_refused_a_negative_unit_amount_is_not(sandbox, token):
    status, body = api(
        sandbox,
        token,
        "PUT",
        "Invoices",
        {"Invoices": [invoice(lines=[line(), line(Description="Discount", Quantity=-1, UnitAmount=10)])]},
    )
    assert status == 400 and messages(body) == ["Quantity must not be less than zero"]
    status, body = api(
        sandbox,
        token,
        "PUT",
        "Invoices",
        {"Invoices": [invoice(lines=[line(), line(Description="Discount", Quantity=1, UnitAmount=-10)])]},
    )
    assert status == 200 and body["Invoices"][0]["SubTotal"] == 90.0 and body["Invoices"][0]["Total"] == 108.0


def test_discounts_are_refused_on_credit_notes(sandbox, token):
    for field in ("DiscountRate", "DiscountAmount"):
        status, body = api(
            sandbox, token, "PUT", "CreditNotes", {"CreditNotes": [credit_note(lines=[line(**{field: 10})])]}
        )
        assert status == 400 and "Discounts are not supported on credit notes" in messages(body)[0], field
    status, body = api(
        sandbox, token, "PUT", "Invoices", {"Invoices": [invoice(lines=[line(DiscountRate=10)])]}
    )
    assert status == 200 and body["Invoices"][0]["SubTotal"] == 90.0  # ACCREC invoices take them


def test_tracked_inventory_needs_stock_or_allow_backorders(sandbox, ctl, token):
    ctl.call("POST", "inventory", {"tenant": UK, "item": "SPARE-PARTS", "quantity_on_hand": 5})
    six = invoice(lines=[{"ItemCode": "SPARE-PARTS", "Quantity": 6}])
    status, body = api(sandbox, token, "PUT", "Invoices", {"Invoices": [six]})
    assert status == 400 and "more than the quantity on hand (5)" in messages(body)[0]
    assert (
        api(sandbox, token, "PUT", "Invoices", {"Invoices": [dict(six, Status="DRAFT")]})[0] == 200
    )  # no stock move
    status, body = api(sandbox, token, "PUT", "Invoices", {"Invoices": [six]}, query="allowBackorders=True")
    assert status == 200
    item = api(sandbox, token, "GET", "Items/SPARE-PARTS")[1]["Items"][0]
    assert item["IsTrackedAsInventory"] and item["QuantityOnHand"] == -1.0
    # voiding the approved invoice puts the stock back
    inv_id = body["Invoices"][0]["InvoiceID"]
    assert api(sandbox, token, "POST", "Invoices/" + inv_id, {"Invoices": [{"Status": "VOIDED"}]})[0] == 200
    assert api(sandbox, token, "GET", "Items/SPARE-PARTS")[1]["Items"][0]["QuantityOnHand"] == 5.0
    # untracked items need no stock
    assert (
        api(
            sandbox,
            token,
            "PUT",
            "Invoices",
            {"Invoices": [invoice(lines=[{"ItemCode": "SUPPORT-HR", "Quantity": 600}])]},
        )[0]
        == 200
    )


def test_tracking_categories_and_options_must_exist(sandbox, token):
    status, body = api(sandbox, token, "GET", "TrackingCategories")
    cats = {c["Name"]: {o["Name"]: o["Status"] for o in c["Options"]} for c in body["TrackingCategories"]}
    assert status == 200 and cats["Region"] == {"North": "ACTIVE", "South": "ACTIVE", "East": "ARCHIVED"}
    status, body = api(
        sandbox,
        token,
        "PUT",
        "Invoices",
        {
            "Invoices": [
                invoice(
                    lines=[
                        line(
                            Tracking=[
                                {"Name": "Region", "Option": "North"},
                                {"Name": "Service Line", "Option": "Projects"},
                            ]
                        )
                    ]
                )
            ]
        },
    )
    assert status == 200
    assert [(t["Name"], t["Option"]) for t in body["Invoices"][0]["LineItems"][0]["Tracking"]] == [
        ("Region", "North"),
        ("Service Line", "Projects"),
    ]
    for tracking, expected in (
        ([{"Name": "Region", "Option": "East"}], "The tracking option 'East' is not a valid option"),
        ([{"Name": "Region", "Option": "West"}], "The tracking option 'West' is not a valid option"),
        ([{"Name": "Department", "Option": "Sales"}], "The tracking category 'Department' does not exist"),
        ([{"Name": "Region", "Option": "North"}] * 3, "maximum of 2 tracking categories"),
    ):
        status, body = api(
            sandbox, token, "PUT", "Invoices", {"Invoices": [invoice(lines=[line(Tracking=tracking)])]}
        )
        assert status == 400 and expected in messages(body)[0], tracking


def test_lines_may_not_use_system_bank_or_archived_accounts(sandbox, token):
    for code, expected in (
        ("090", "Account code '090' is not a valid code for this document."),
        ("610", "Account code '610' is not a valid code for this document."),
        ("820", "Account code '820' is not a valid code for this document."),
        ("280", "Account code '280' has been archived"),
    ):
        status, body = api(
            sandbox,
            token,
            "PUT",
            "Invoices",
            {"Invoices": [invoice(lines=[line(AccountCode=code, TaxType="NONE")])]},
        )
        assert status == 400 and messages(body)[0].startswith(expected), code
    # the ROUNDING system account takes rounding lines (Xero's guide on rounding)
    assert (
        api(
            sandbox,
            token,
            "PUT",
            "Invoices",
            {
                "Invoices": [
                    invoice(
                        lines=[
                            line(),
                            line(Description="Rounding", UnitAmount=0.01, AccountCode="860", TaxType="NONE"),
                        ]
                    )
                ]
            },
        )[0]
        == 200
    )


# -- 5. credit notes by id only ----------------------------------------------------------------------------------
def test_credit_notes_are_matched_by_id_never_by_number(sandbox, token):
    cn = api(
        sandbox,
        token,
        "PUT",
        "CreditNotes",
        {"CreditNotes": [credit_note(status="DRAFT", CreditNoteNumber="CN-77")]},
    )[1]
    cn_id = cn["CreditNotes"][0]["CreditNoteID"]
    # POST with the number and no id: a new credit note (refused: the number is taken)
    status, body = api(
        sandbox,
        token,
        "POST",
        "CreditNotes",
        {
            "CreditNotes": [
                credit_note(status="DRAFT", CreditNoteNumber="CN-77", LineItems=[line(UnitAmount=50)])
            ]
        },
    )
    assert status == 400 and messages(body) == ["Credit Note # must be unique."]
    assert (
        api(sandbox, token, "POST", "CreditNotes/CN-77", {"CreditNotes": [{"Status": "AUTHORISED"}]})[0]
        == 404
    )
    status, body = api(
        sandbox,
        token,
        "POST",
        "CreditNotes",
        {
            "CreditNotes": [
                credit_note(
                    status="DRAFT",
                    CreditNoteID=cn_id,
                    CreditNoteNumber="CN-77",
                    LineItems=[line(UnitAmount=50)],
                )
            ]
        },
    )
    assert status == 200 and body["CreditNotes"][0]["SubTotal"] == 50.0
    assert len(sandbox.state.orgs[UK]["credit_notes"]) == 1
    # invoices still upsert by number (documented for ACCREC)
    api(sandbox, token, "PUT", "Invoices", {"Invoices": [invoice(status="DRAFT", InvoiceNumber="INV-77")]})
    status, _ = api(
        sandbox,
        token,
        "POST",
        "Invoices",
        {"Invoices": [invoice(status="DRAFT", InvoiceNumber="INV-77", LineItems=[line(UnitAmount=5)])]},
    )
    assert status == 200 and len(sandbox.state.orgs[UK]["invoices"]) == 1


# -- 6. lock dates ---------------------------------------------------------------------------------------------
def test_documents_dated_on_or_before_a_lock_date_are_refused(sandbox, ctl, token):
    ctl.call("POST", "lock-dates", {"tenant": UK, "PeriodLockDate": "2024-03-31"})
    org = api(sandbox, token, "GET", "Organisation")[1]["Organisations"][0]
    assert org["PeriodLockDate"] == "/Date(1711843200000+0000)/" and "EndOfYearLockDate" not in org
    for date in ("2024-03-31", "2024-03-01"):
        status, body = api(
            sandbox, token, "PUT", "Invoices", {"Invoices": [invoice(date=date, status="DRAFT")]}
        )
        assert status == 400 and messages(body) == [
            "The document date cannot be before the period lock date, currently set at 31-Mar-2024"
        ], date
        status, body = api(sandbox, token, "PUT", "CreditNotes", {"CreditNotes": [credit_note(Date=date)]})
        assert status == 400, date
    status, body = api(sandbox, token, "PUT", "Invoices", {"Invoices": [invoice(date="2024-04-01")]})
    assert status == 200
    inv_id = body["Invoices"][0]["InvoiceID"]
    pay = {
        "Payments": [
            {"Invoice": {"InvoiceID": inv_id}, "Account": {"Code": "090"}, "Amount": 10, "Date": "2024-03-30"}
        ]
    }
    status, body = api(sandbox, token, "PUT", "Payments", pay)
    assert status == 400 and "The payment date cannot be before the period lock date" in messages(body)[0]
    ctl.call("POST", "lock-dates", {"tenant": UK, "PeriodLockDate": None, "EndOfYearLockDate": "2024-04-30"})
    status, body = api(sandbox, token, "POST", "Invoices/" + inv_id, {"Invoices": [{"Status": "VOIDED"}]})
    assert status == 400 and messages(body) == [
        "The document date cannot be before the end of year lock date, currently set at 30-Apr-2024"
    ]
    # the NZ organisation has no lock dates
    assert (
        api(
            sandbox,
            token,
            "PUT",
            "Invoices",
            {"Invoices": [invoice(contact=guid("nz", "contact", 1), lines=[line(TaxType="OUTPUT2")])]},
            tenant=NZ,
        )[0]
        == 200
    )


# -- 7. voiding and deleting -----------------------------------------------------------------------------------------
def test_void_and_delete_follow_xero_status_rules(sandbox, ctl, token):
    def put(doc, plural="Invoices"):
        return api(sandbox, token, "PUT", plural, {plural: [doc]})[1][plural][0]

    def set_status(plural, doc_id, status):
        return api(sandbox, token, "POST", "%s/%s" % (plural, doc_id), {plural: [{"Status": status}]})

    for start in ("DRAFT", "SUBMITTED"):
        inv = put(invoice(status=start))
        assert set_status("Invoices", inv["InvoiceID"], "VOIDED")[0] == 400  # only approved ones are voided
        status, body = set_status("Invoices", inv["InvoiceID"], "DELETED")
        assert status == 200 and body["Invoices"][0]["Status"] == "DELETED"
    approved = put(invoice())
    status, body = set_status("Invoices", approved["InvoiceID"], "DELETED")
    assert status == 400 and messages(body) == ["Invoice not of valid status for modification"]
    status, body = set_status("Invoices", approved["InvoiceID"], "VOIDED")
    assert status == 200 and body["Invoices"][0]["Status"] == "VOIDED"
    assert set_status("Invoices", approved["InvoiceID"], "AUTHORISED")[0] == 400  # final
    paid = put(invoice())
    ctl.pay(UK, paid["InvoiceID"], amount=10)
    status, body = set_status("Invoices", paid["InvoiceID"], "VOIDED")
    assert status == 400 and "has a payment or credit note allocated" in messages(body)[0]
    # credit notes: the same rules
    draft_cn = put(credit_note(status="DRAFT"), "CreditNotes")
    assert set_status("CreditNotes", draft_cn["CreditNoteID"], "DELETED")[0] == 200
    cn = put(credit_note(), "CreditNotes")
    status, body = set_status("CreditNotes", cn["CreditNoteID"], "DELETED")
    assert status == 400 and messages(body) == ["Credit Note not of valid status for modification"]
    assert set_status("CreditNotes", cn["CreditNoteID"], "VOIDED")[1]["CreditNotes"][0]["Status"] == "VOIDED"


def test_void_after_the_payment_is_removed_and_allocated_documents_cannot_be_voided(sandbox, ctl, token):
    def put(doc, plural="Invoices"):
        return api(sandbox, token, "PUT", plural, {plural: [doc]})[1][plural][0]

    def set_status(plural, doc_id, status):
        return api(sandbox, token, "POST", "%s/%s" % (plural, doc_id), {plural: [{"Status": status}]})

    # a payment made, then removed in Xero: the invoice can be voided (the deleted payment no longer counts)
    paid = put(invoice())  # 100 + 20 % = 120 due
    payment = ctl.pay(UK, paid["InvoiceID"], amount=10)
    status, body = set_status("Invoices", paid["InvoiceID"], "VOIDED")
    assert status == 400 and messages(body) == [
        "This document cannot be edited as it has a payment or credit note allocated to it."
    ]
    ctl.call("POST", "payments/delete", {"tenant": UK, "payment": payment["PaymentID"]})
    status, body = set_status("Invoices", paid["InvoiceID"], "VOIDED")
    assert status == 200 and body["Invoices"][0]["Status"] == "VOIDED"
    # a credit note partly allocated to an invoice (20 of its 25 + 20 % = 30; both stay AUTHORISED):
    # neither the credit note nor the invoice can be voided
    inv = put(invoice())
    cn = put(credit_note(lines=[line(UnitAmount=25)]), "CreditNotes")
    ctl.call(
        "POST",
        "allocate",
        {
            "tenant": UK,
            "kind": "creditnote",
            "id": cn["CreditNoteID"],
            "invoice": inv["InvoiceID"],
            "amount": 20,
        },
    )
    for plural, doc_id in (("CreditNotes", cn["CreditNoteID"]), ("Invoices", inv["InvoiceID"])):
        status, body = set_status(plural, doc_id, "VOIDED")
        assert status == 400 and "has a payment or credit note allocated" in messages(body)[0], plural
    # a batch of status changes answers per element (summarizeErrors=false): one voided, one refused
    free = put(invoice())
    status, body = api(
        sandbox,
        token,
        "POST",
        "Invoices",
        {
            "Invoices": [
                {"InvoiceID": free["InvoiceID"], "Status": "VOIDED"},
                {"InvoiceID": inv["InvoiceID"], "Status": "VOIDED"},
            ]
        },
        query="summarizeErrors=false",
    )
    assert status == 200
    assert [e.get("StatusAttributeString") for e in body["Invoices"]] == ["OK", "ERROR"]
    assert sandbox.state.orgs[UK]["invoices"][free["InvoiceID"]]["Status"] == "VOIDED"


def test_a_data_file_saved_before_these_rules_gets_todays_app_settings(tmp_path):
    from xero_sandbox.state import DEFAULT_APP, SandboxState

    path = str(tmp_path / "old.json")
    old = SandboxState(data_file=path)
    old.app["redirect_uris"] = []  # "any localhost" in the old sandbox
    old.app.pop("registered")
    old.save()
    assert SandboxState(data_file=path).app["redirect_uris"] == DEFAULT_APP["redirect_uris"]
    assert SandboxState(data_file=path).app["registered"] == DEFAULT_APP["registered"]
    cli = SandboxState(
        data_file=path, app={"redirect_uris": ["http://localhost:9000/cb"], "registered": "2025-01-01"}
    )
    assert (cli.app["redirect_uris"], cli.app["registered"]) == (["http://localhost:9000/cb"], "2025-01-01")
