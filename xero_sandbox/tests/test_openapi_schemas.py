"""Every request body the sandbox accepts and every JSON body it answers, checked against Xero's OpenAPI spec.

The spec lives beside the repository (``<repo>/../shared/xero-openapi/``) and is not copied here.
OpenAPI 3.0 schemas are converted to JSON Schema (draft 4): ``nullable`` allows null, ``x-*`` are
dropped, and extra properties are allowed (the SDK is newer than the spec).
"""

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

from xero_python.accounting import (  # noqa: E402
    Account,
    Allocation,
    Allocations,
    Contact,
    Contacts,
    CreditNote,
    CreditNotes,
    HistoryRecord,
    HistoryRecords,
    Invoice,
    Invoices,
    Item,
    Items,
    LineItem,
    Payment,
    Purchase,
)

from .conftest import UK  # noqa: E402

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "xero-openapi"
pytestmark = pytest.mark.skipif(
    not (SPEC_DIR / "xero_accounting.yaml").exists(), reason="Xero OpenAPI specs not found at %s" % SPEC_DIR
)


def to_json_schema(node):
    """OpenAPI 3.0 schema object -> JSON Schema draft 4."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: to_json_schema(v)
        for k, v in node.items()
        if not k.startswith("x-")
        and k
        not in (
            "nullable",
            "readOnly",
            "writeOnly",
            "example",
            "discriminator",
            "externalDocs",
            "format",
            "additionalProperties",
        )
    }
    if "$ref" in out:
        return {"$ref": out["$ref"]}  # siblings of $ref are ignored in draft 4 anyway
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    return out


def load(name):
    with open(SPEC_DIR / name, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="module")
def spec():
    return load("xero_accounting.yaml")


class SpecChecker:
    def __init__(self, spec):
        self.spec = spec
        self.components = to_json_schema(spec["components"])
        self.templates = []
        for path, ops in spec["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"
            literal = len(re.sub(r"\{[^}]+\}", "", path))
            self.templates.append((literal, re.compile(pattern, re.I), ops))
        self.templates.sort(key=lambda t: -t[0])  # most literal template first

    def operation(self, method, path):
        for _, pattern, ops in self.templates:
            if pattern.match(path) and method.lower() in ops:
                return ops[method.lower()]
        return None

    def validate(self, schema, instance, where):
        root = {"components": self.components, **to_json_schema(schema)}
        errors = sorted(jsonschema.Draft4Validator(root).iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, "%s: %s at %s" % (where, errors[0].message, list(errors[0].path))


def exercise(sdk, ctl):
    """Drive every accounting operation the sandbox implements (successes and validation errors)."""
    api = sdk.accounting
    contact = api.create_contacts(
        UK, Contacts(contacts=[Contact(name="Schema Ltd", email_address="s@x.example")])
    ).contacts[0]
    api.update_or_create_contacts(
        UK, Contacts(contacts=[Contact(contact_id=contact.contact_id, first_name="S")])
    )
    api.update_contact(UK, contact.contact_id, Contacts(contacts=[Contact(last_name="Chema")]))
    api.create_contacts(UK, Contacts(contacts=[Contact(name="Schema Ltd")]), summarize_errors=False)
    api.get_contacts(UK, page=1, include_archived=True)
    api.get_contact(UK, contact.contact_id)
    api.get_contact_by_contact_number(UK, "UK-C001")
    api.create_items(
        UK, Items(items=[Item(code="SCHEMA", name="Schema", sales_details=Purchase(unit_price=5))])
    )
    api.update_or_create_items(UK, Items(items=[Item(code="SCHEMA", description="d")]))
    api.get_items(UK)
    api.get_item(UK, "SCHEMA")
    api.get_tax_rates(UK)
    api.get_accounts(UK)
    api.get_organisations(UK)
    lines = [
        LineItem(
            description="Work",
            quantity=Decimal(2),
            unit_amount=Decimal("12.5"),
            account_code="200",
            tax_type="OUTPUT2",
        )
    ]
    inv = api.create_invoices(
        UK,
        Invoices(
            invoices=[
                Invoice(
                    type="ACCREC",
                    contact=Contact(contact_id=contact.contact_id),
                    date=dt.date(2024, 1, 5),
                    due_date=dt.date(2024, 2, 5),
                    status="AUTHORISED",
                    line_items=lines,
                    reference="schema",
                )
            ]
        ),
        idempotency_key="schema-1",
    ).invoices[0]
    api.create_invoices(
        UK,
        Invoices(
            invoices=[
                Invoice(
                    type="ACCREC",
                    contact=Contact(contact_id=contact.contact_id),
                    status="AUTHORISED",
                    line_items=lines,
                )
            ]
        ),
        summarize_errors=False,
    )
    api.update_or_create_invoices(
        UK,
        Invoices(
            invoices=[
                Invoice(type="ACCREC", contact=Contact(contact_id=contact.contact_id), line_items=lines)
            ]
        ),
    )
    api.update_invoice(UK, inv.invoice_id, Invoices(invoices=[Invoice(reference="schema-2")]))
    api.get_invoices(UK, page=1, statuses=["AUTHORISED"])
    api.get_invoices(UK)
    api.get_invoice(UK, inv.invoice_id)
    api.create_invoice_attachment_by_file_name(UK, inv.invoice_id, "a.txt", b"hello", include_online=True)
    api.get_invoice_attachments(UK, inv.invoice_id)
    api.get_online_invoice(UK, inv.invoice_id)
    api.create_invoice_history(
        UK, inv.invoice_id, HistoryRecords(history_records=[HistoryRecord(details="n")])
    )
    api.get_invoice_history(UK, inv.invoice_id)
    api.create_payment(
        UK,
        Payment(
            invoice=Invoice(invoice_id=inv.invoice_id),
            account=Account(code="090"),
            amount=Decimal(10),
            date=dt.date(2024, 1, 10),
        ),
    )
    from xero_python.accounting import Payments

    api.create_payments(
        UK,
        Payments(
            payments=[
                Payment(
                    invoice=Invoice(invoice_id=inv.invoice_id), account=Account(code="090"), amount=Decimal(1)
                )
            ]
        ),
    )
    api.get_payments(UK, page=1)
    cn = api.create_credit_notes(
        UK,
        CreditNotes(
            credit_notes=[
                CreditNote(
                    type="ACCRECCREDIT",
                    contact=Contact(contact_id=contact.contact_id),
                    date=dt.date(2024, 1, 6),
                    status="AUTHORISED",
                    line_items=lines,
                    reference="schema-cn",
                )
            ]
        ),
        unitdp=4,
        idempotency_key="schema-cn-1",
    ).credit_notes[0]
    api.create_credit_notes(
        UK,
        CreditNotes(
            credit_notes=[
                CreditNote(
                    type="ACCRECCREDIT",
                    contact=Contact(contact_id=contact.contact_id),
                    line_items=[
                        LineItem(
                            description="Bad", quantity=Decimal(1), unit_amount=Decimal(1), account_code="999"
                        )
                    ],
                )
            ]
        ),
        summarize_errors=False,
    )
    api.update_or_create_credit_notes(
        UK,
        CreditNotes(
            credit_notes=[
                CreditNote(
                    type="ACCRECCREDIT",
                    contact=Contact(contact_id=contact.contact_id),
                    status="DRAFT",
                    line_items=lines,
                )
            ]
        ),
    )
    api.create_credit_note_allocation(
        UK,
        cn.credit_note_id,
        Allocations(
            allocations=[
                Allocation(
                    invoice=Invoice(invoice_id=inv.invoice_id), amount=Decimal(5), date=dt.date(2024, 1, 7)
                )
            ]
        ),
    )
    api.get_credit_notes(UK, page=1)
    api.get_credit_notes(UK, where='Status=="AUTHORISED"')
    api.get_credit_note(UK, cn.credit_note_id)
    ctl.pay(UK, inv.invoice_id)
    api.get_invoice(UK, inv.invoice_id)
    try:
        api.create_contacts(UK, Contacts(contacts=[Contact(name="Schema Ltd")]))
    except Exception:  # noqa: BLE001 - the 400 body is validated below
        pass


def test_requests_and_responses_match_the_spec(spec, sdk, ctl):
    checker = SpecChecker(spec)
    exercise(sdk, ctl)
    checked = set()
    for rec in ctl.requests():
        if not rec["path"].lower().startswith("/api.xro/2.0/"):
            continue
        path = rec["path"][len("/api.xro/2.0") :]
        op = checker.operation(rec["method"], path)
        assert op is not None, "no spec operation for %s %s" % (rec["method"], path)
        where = "%s %s" % (rec["method"], rec["path"])
        body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body_schema and rec["body"]:
            checker.validate(body_schema, json.loads(rec["body"]), "request " + where)
        content = op["responses"].get(str(rec["status"]), {}).get("content") or {}
        schema = content.get("application/json", {}).get("schema")
        if schema and rec.get("response"):
            checker.validate(schema, json.loads(rec["response"]), "response %s (%s)" % (where, rec["status"]))
            checked.add((op["operationId"], rec["status"]))
    expected = {
        "createContacts",
        "updateOrCreateContacts",
        "updateContact",
        "getContacts",
        "getContactByContactNumber",  # same template as getContact "createItems", "updateOrCreateItems", "getItems", "getItem",
        "getTaxRates",
        "getAccounts",
        "getOrganisations",
        "createInvoices",
        "updateOrCreateInvoices",
        "updateInvoice",
        "getInvoices",
        "getInvoice",
        "createInvoiceAttachmentByFileName",
        "getInvoiceAttachments",
        "getOnlineInvoice",
        "createPayment",
        "createPayments",
        "getPayments",
        "createCreditNotes",
        "updateOrCreateCreditNotes",
        "getCreditNotes",
        "getCreditNote",
        "createCreditNoteAllocation",
    }
    assert expected <= {op for op, _ in checked}, expected - {op for op, _ in checked}
    assert ("createContacts", 400) in checked  # the ValidationException body matches the Error schema


def test_checker_rejects_wrong_bodies(spec):
    checker = SpecChecker(spec)
    schema = {"$ref": "#/components/schemas/Invoices"}
    with pytest.raises(AssertionError, match="BOGUS"):
        checker.validate(schema, {"Invoices": [{"Status": "BOGUS"}]}, "negative")
    with pytest.raises(AssertionError):
        checker.validate(schema, {"Invoices": [{"LineItems": [{"Quantity": "two"}]}]}, "negative")


def test_connections_match_identity_spec(sdk, sandbox):
    identity = load("xero-identity.yaml")
    checker = SpecChecker(identity)
    sdk.identity.get_connections()
    from .conftest import http

    status, _, body = http(
        "GET", sandbox.url + "/connections", headers={"Authorization": "Bearer " + sdk.token["access_token"]}
    )
    op = checker.operation("GET", "/Connections")
    checker.validate(
        op["responses"]["200"]["content"]["application/json"]["schema"], json.loads(body), "GET /connections"
    )
