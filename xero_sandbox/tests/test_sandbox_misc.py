"""HTML pages, case-insensitive paths, persistence, control API state and the command line."""

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from xero_python.accounting import Contact, Contacts

from xero_sandbox.server import SandboxServer
from xero_sandbox.testing import SandboxControl, SdkClients, token_dict

from .conftest import UK, http


def test_html_pages(sdk, sandbox, ctl):
    sdk.accounting.create_contacts(UK, Contacts(contacts=[Contact(name="Visible & Co")]))
    status, _, page = http("GET", sandbox.url + "/")
    assert status == 200 and b"Halo Demo UK Ltd" in page and b"Halo Demo NZ Limited" in page
    status, _, page = http("GET", sandbox.url + "/_sandbox/orgs/" + UK)
    assert status == 200 and b"Visible &amp; Co" in page and b"SUPPORT-HR" in page


def test_paths_are_case_insensitive(sdk, sandbox):
    headers = {"Authorization": "Bearer " + sdk.token["access_token"], "xero-tenant-id": UK}
    for path in ("/api.xro/2.0/Items", "/API.XRO/2.0/items", "/api.xro/2.0/ITEMS"):
        status, resp_headers, body = http("GET", sandbox.url + path, headers=headers)
        assert status == 200 and len(json.loads(body)["Items"]) == 8
        assert json.loads(body)["DateTimeUTC"].startswith("/Date(")
    assert http("GET", sandbox.url + "/CONNECTIONS", headers=headers)[0] == 200


def test_request_log_hides_authorization(sdk, ctl):
    sdk.accounting.get_items(UK)
    rec = ctl.requests()[-1]
    assert rec["tenant"] == UK and rec["status"] == 200 and rec["method"] == "GET"
    assert "authorization" not in {k.lower() for k in rec["headers"]}
    ctl.clear_requests()
    assert ctl.requests() == []


def test_persistence_to_json_file(tmp_path):
    data = tmp_path / "sandbox.json"
    with SandboxServer(data_file=str(data), limits_enabled=False) as srv:
        ctl = SandboxControl(srv.url)
        token = token_dict(ctl.grant([UK]))
        clients = SdkClients(srv.url, token)
        clients.accounting.create_contacts(UK, Contacts(contacts=[Contact(name="Persisted Ltd")]))
    assert "Persisted Ltd" in data.read_text()
    with SandboxServer(data_file=str(data)) as srv:
        clients = SdkClients(srv.url, token)  # tokens survive a restart too
        names = [c.name for c in clients.accounting.get_contacts(UK, search_term="persisted").contacts]
        assert names == ["Persisted Ltd"]


def test_state_counts_and_config(ctl):
    state = ctl.state()
    assert state["orgs"][UK]["contacts"] == 10 and state["orgs"][UK]["items"] == 8
    config = ctl.call("GET", "config")
    assert config["client_id"] == "HALO-DEMO-CLIENT" and config["demo_user"]["email"] == "demo@halo.example"
    assert http("GET", ctl.base + "/_sandbox/nope")[0] == 404


def test_command_line_help():
    out = subprocess.run(
        [sys.executable, "-m", "xero_sandbox", "--help"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    ).stdout
    assert "--port" in out and "--data" in out


def test_org_page_records_a_payment(sdk, sandbox, ctl):
    """The organisation page's *Record payment* form (what a newcomer does instead of calling the control
    API): a part payment, then the rest (empty amount = the amount due); refused input changes nothing."""
    from .test_invoices import create, invoice, line

    # 1 x 100.00 + 20 % VAT (OUTPUT2) = 120.00 due; a draft gets no form
    inv = create(sdk, invoice(lines=[line()]))[0]
    draft = create(sdk, invoice(status="DRAFT"))[0]
    page = http("GET", sandbox.url + "/_sandbox/orgs/" + UK)[2].decode()
    assert (
        page.count("Record payment") == 1
        and str(inv.invoice_id) in page
        and str(draft.invoice_id) not in page
    )
    url = sandbox.url + "/_sandbox/orgs/" + UK + "/pay"
    for bad in ("abc", "-5", "120.01"):
        status, _, body = http("POST", url, form={"invoice": str(inv.invoice_id), "amount": bad})
        assert status == 400 and b"payment refused" in body
    status, _, body = http("POST", url, form={"invoice": str(draft.invoice_id), "amount": ""})
    assert status == 400 and b"not AUTHORISED" in body
    assert sdk.accounting.get_invoice(UK, inv.invoice_id).invoices[0].amount_due == Decimal("120.00")
    status, _, body = http("POST", url, form={"invoice": str(inv.invoice_id), "amount": "40.00"})
    assert status == 200 and b"Payment of 40.00 recorded on INV-0001; amount due now 80.00." in body
    status, _, body = http("POST", url, form={"invoice": inv.invoice_number, "amount": ""})
    assert status == 200 and b"amount due now 0.00" in body and b"Record payment" not in body
    paid = sdk.accounting.get_invoice(UK, inv.invoice_id).invoices[0]
    assert (paid.status, paid.amount_paid, len(paid.payments)) == ("PAID", Decimal("120.00"), 2)
