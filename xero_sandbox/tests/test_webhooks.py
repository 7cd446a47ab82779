"""Signed webhook deliveries, retries, duplicates, out-of-order and the intent-to-receive check."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from xero_python.accounting import Contact, Contacts, Invoice, Invoices, LineItem

from .conftest import UK

KEY = "test-webhook-key"


class Receiver:
    """A webhook endpoint that checks signatures like a real receiver would."""

    def __init__(self, statuses=None, check=True):
        self.payloads, self.statuses, self.check = [], list(statuses or []), check
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                good = hmac.compare_digest(
                    base64.b64encode(hmac.new(KEY.encode(), body, hashlib.sha256).digest()).decode(),
                    self.headers.get("x-xero-signature", ""),
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.check and not good:
                    status = 401
                elif good:
                    receiver.payloads.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/xero/webhook" % self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver(ctl):
    rec = Receiver()
    ctl.webhook_config(url=rec.url, key=KEY, auto=False, max_attempts=2)
    yield rec
    rec.close()


def _invoice(sdk):
    inv = Invoice(
        type="ACCREC",
        contact=Contact(contact_id="%s" % sdk.accounting.get_contacts(UK).contacts[0].contact_id),
        date=dt.date(2024, 3, 1),
        due_date=dt.date(2024, 3, 2),
        status="AUTHORISED",
        line_items=[
            LineItem(description="x", quantity=Decimal(1), unit_amount=Decimal(10), account_code="200")
        ],
    )
    return sdk.accounting.create_invoices(UK, Invoices(invoices=[inv])).invoices[0]


def test_signed_delivery_of_invoice_and_contact_events(sdk, ctl, receiver, sandbox):
    inv = _invoice(sdk)
    contact = sdk.accounting.create_contacts(UK, Contacts(contacts=[Contact(name="Hooked Ltd")])).contacts[0]
    results = ctl.deliver_webhooks()
    assert [r["status"] for r in results] == [[200]]
    payload = receiver.payloads[0]
    events = {(e["eventCategory"], e["eventType"], e["resourceId"]) for e in payload["events"]}
    assert ("INVOICE", "CREATE", inv.invoice_id) in events and (
        "CONTACT",
        "CREATE",
        contact.contact_id,
    ) in events
    event = payload["events"][0]
    assert event["tenantId"] == UK and event["tenantType"] == "ORGANISATION"
    assert event["resourceUrl"].startswith(sandbox.url + "/api.xro/2.0/")
    assert payload["lastEventSequence"] - payload["firstEventSequence"] == len(payload["events"]) - 1
    assert payload["entropy"]
    ctl.pay(UK, inv.invoice_id)  # customer pays -> INVOICE UPDATE
    ctl.deliver_webhooks()
    assert [(e["eventCategory"], e["eventType"]) for e in receiver.payloads[1]["events"]] == [
        ("INVOICE", "UPDATE")
    ]
    assert ctl.deliver_webhooks() == []


def test_retry_then_give_up(sdk, ctl, receiver):
    receiver.statuses = [500, 500]
    _invoice(sdk)
    assert ctl.deliver_webhooks()[0]["ok"] is False
    second = ctl.deliver_webhooks()[0]
    assert second["ok"] is False and second["dropped"] == 1  # max_attempts=2
    assert ctl.deliver_webhooks() == []
    receiver.statuses = [503]
    _invoice(sdk)
    ctl.deliver_webhooks()
    assert ctl.deliver_webhooks()[0]["ok"] is True  # at-least-once: retried and delivered


def test_duplicate_and_out_of_order(sdk, ctl, receiver):
    first, second = _invoice(sdk), _invoice(sdk)
    results = ctl.deliver_webhooks(duplicate=True, reverse=True)
    assert [r["status"] for r in results] == [[200, 200], [200, 200]]
    ids = [p["events"][0]["resourceId"] for p in receiver.payloads]
    assert ids == [second.invoice_id, second.invoice_id, first.invoice_id, first.invoice_id]


def test_background_delivery(sdk, ctl, receiver):
    ctl.webhook_config(auto=True)
    _invoice(sdk)
    deadline = dt.datetime.now() + dt.timedelta(seconds=5)
    while not receiver.payloads and dt.datetime.now() < deadline:
        threading.Event().wait(0.05)
    assert receiver.payloads[0]["events"][0]["eventCategory"] == "INVOICE"


def test_intent_to_receive(ctl, receiver):
    report = ctl.intent_to_receive()
    assert report["ok"] and {r["signed_correctly"] for r in report["results"]} == {True, False}
    naive = Receiver(check=False)  # answers 200 to everything: fails ITR
    ctl.webhook_config(url=naive.url)
    try:
        assert ctl.intent_to_receive()["ok"] is False
        assert naive.payloads[0]["events"] == []
    finally:
        naive.close()
