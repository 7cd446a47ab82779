"""The control API under ``/_sandbox/``: JSON in/out, no auth. See README.md for the list."""

import json
import re

from werkzeug.wrappers import Response

from . import money, oauth, seed, templates
from .accounting import (
    Context,
    PostDataInvalid,
    apply_payment,
    d,
    find_contact,
    find_invoice,
    find_item,
    render_invoice,
)
from .common import html_response, json_response
from .xero_dates import parse_date_in, utc_date_of

FAULT_ACTIONS = ("status", "drop", "delay", "tamper")


def _body(request) -> dict:
    try:
        data = json.loads(request.get_data() or b"{}")
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def handle(sandbox, request, parts: list) -> Response:
    """``parts``: lower-cased path segments after ``/_sandbox/`` (tenant ids are case-insensitive)."""
    route = (
        "/".join(parts[:2])
        if parts[:1] in (["webhooks"], ["clock"], ["tokens"], ["oauth"])
        or (parts[:1] in (["payments"], ["usage"]) and len(parts) > 1)
        else parts[0]
    )
    method = request.method
    handler = ROUTES.get((method, route))
    if parts[:1] == ["orgs"] and method == "GET" and len(parts) == 2:
        return org_page(sandbox, parts[1])
    if parts[:1] == ["orgs"] and method == "POST" and len(parts) == 3 and parts[2] == "pay":
        return org_payment_form(sandbox, request, parts[1])
    if handler is None:
        return json_response({"error": "unknown control endpoint %s %s" % (method, "/".join(parts))}, 404)
    try:
        return handler(sandbox, request, _body(request))
    except (KeyError, TypeError, ValueError) as exc:
        return json_response({"error": "%s: %s" % (type(exc).__name__, exc)}, 400)


def state_counts(sandbox, request, body):
    return json_response(sandbox.state.counts())


def reset(sandbox, request, body):
    sandbox.state.reset()
    sandbox.persist()
    return json_response({"ok": True})


def clock_get(sandbox, request, body):
    return json_response({"now": sandbox.state.now(), "offset": sandbox.state.clock.offset})


def clock_advance(sandbox, request, body):
    now = sandbox.state.clock.advance(float(body.get("seconds", 0)))
    return json_response({"now": now, "offset": sandbox.state.clock.offset})


def faults_add(sandbox, request, body):
    """Queue a fault: ``{"action":"status"|"drop"|"delay"|"tamper", "count":1, "method":"PUT", "path":"regex",
    "status":429, "retry_after":1, "problem":"minute", "after":false, "seconds":1.0, "field":"CurrencyRate",
    "value":0}``. ``tamper`` answers normally but with ``field`` of every JSON object of the answer set to
    ``value`` (left out when no ``value`` is given): a hostile or incomplete Xero answer."""
    action = body.get("action", "status")
    if action not in FAULT_ACTIONS:
        raise ValueError("action must be one of %s" % (FAULT_ACTIONS,))
    fault = {
        "action": action,
        "count": int(body.get("count", 1)),
        "method": (body.get("method") or "").upper(),
        "path": body.get("path") or "",
        "status": int(body.get("status", 429)),
        "retry_after": int(body.get("retry_after", 1)),
        "problem": body.get("problem", "minute"),
        "after": bool(body.get("after", False)),
        "seconds": float(body.get("seconds", 0)),
    }
    if action == "tamper":
        if not body.get("field"):
            raise ValueError("a tamper fault needs the field to change")
        fault["field"] = str(body["field"])
        if "value" in body:
            fault["value"] = body["value"]
    re.compile(fault["path"])
    with sandbox.state.lock:
        sandbox.state.faults.append(fault)
    return json_response({"ok": True, "fault": fault})


def faults_list(sandbox, request, body):
    with sandbox.state.lock:
        return json_response({"faults": list(sandbox.state.faults)})


def faults_clear(sandbox, request, body):
    with sandbox.state.lock:
        sandbox.state.faults.clear()
    return json_response({"ok": True})


def tokens_expire(sandbox, request, body):
    """Expire one access token (``{"access_token": ...}``) or all of them."""
    state = sandbox.state
    with state.lock:
        targets = [body["access_token"]] if body.get("access_token") else list(state.access_tokens)
        for token in targets:
            if token in state.access_tokens:
                state.access_tokens[token]["expires_at"] = state.now() - 1
    return json_response({"expired": len(targets)})


def refresh_tokens_expire(sandbox, request, body):
    """Make refresh tokens unusable (one or all): the next refresh gets invalid_grant."""
    state = sandbox.state
    with state.lock:
        targets = [body["refresh_token"]] if body.get("refresh_token") else list(state.refresh_tokens)
        for token in targets:
            state.refresh_tokens.pop(token, None)
    return json_response({"expired": len(targets)})


def oauth_grant(sandbox, request, body):
    """Consent without the HTML flow: ``{"tenants": [...], "scope": "..."}`` → a token response."""
    state = sandbox.state
    with state.lock:
        tenants = [t.lower() for t in body.get("tenants") or list(state.orgs)]
        unknown = [t for t in tenants if t not in state.orgs and t not in state.other_tenants]
        if unknown:
            raise ValueError("unknown tenants %s" % unknown)
        params = {
            "client_id": state.app["client_id"],
            "redirect_uri": "",
            "scope": body.get("scope") or oauth.DEFAULT_SCOPE,
        }
        if not oauth.scope_allowed(state.app, params["scope"]):
            # what the consent page refuses, refused here too
            return json_response(
                {"error": "invalid_scope", "error_description": "Invalid scope for client"}, 400
            )
    code = oauth.create_code(state, params, seed.DEMO_USER["user_id"], tenants)
    with state.lock:
        grant = state.grants[state.auth_codes.pop(code)["grant_id"]]
        return json_response(oauth.issue_tokens(sandbox, grant, id_token=True))


def _record_payment(sandbox, request, body):
    """A customer pays (the control API and the organisation page's form): ``{"tenant", "invoice": id|number,
    "amount"?, "date"?, "account_code": "090", "reference"?}``; returns (payment, rendered invoice)."""
    state = sandbox.state
    org = state.org(body["tenant"])
    if org is None:
        raise ValueError("unknown tenant")
    ctx = Context(sandbox, org, request)
    with state.lock:
        inv = find_invoice(org, body["invoice"])
        if inv is None or inv["Status"] != "AUTHORISED":
            raise ValueError("invoice not found or not AUTHORISED")
        amount = d(body.get("amount") or inv["AmountDue"])
        if amount <= 0 or amount > d(inv["AmountDue"]):
            raise ValueError("amount must be > 0 and <= AmountDue %s" % inv["AmountDue"])
        account = next(a for a in org["accounts"].values() if a["Code"] == body.get("account_code", "090"))
        date = parse_date_in(body["date"]) if body.get("date") else utc_date_of(ctx.now)
        pay = apply_payment(ctx, inv, account, amount, date, body.get("reference") or "Customer payment")
        invoice = render_invoice(org, org["invoices"][inv["InvoiceID"]])
    sandbox.webhooks.enqueue(org["tenant_id"], ctx.events, ctx.now)
    sandbox.persist()
    return pay, invoice


def customer_payment(sandbox, request, body):
    """A customer pays: ``{"tenant", "invoice": id|number, "amount"?, "date"?, "account_code": "090"}``."""
    pay, invoice = _record_payment(sandbox, request, body)
    return json_response({"PaymentID": pay["PaymentID"], "Invoice": invoice})


def org_payment_form(sandbox, request, tenant_id):
    """The organisation page's *Record payment* form (what a Xero user does in Xero's invoice screen):
    form fields ``invoice`` and ``amount`` (empty: the amount due); back to the page with a message."""
    form = request.form
    try:
        pay, invoice = _record_payment(
            sandbox,
            request,
            {
                "tenant": tenant_id,
                "invoice": form.get("invoice", ""),
                "amount": (form.get("amount") or "").strip(),
                "reference": "Payment recorded on the sandbox page",
            },
        )
    except (KeyError, TypeError, ValueError, StopIteration, PostDataInvalid) as exc:
        return html_response(templates.error_page("payment refused", str(exc) or type(exc).__name__), 400)
    org = sandbox.state.org(tenant_id)
    message = "Payment of %.2f recorded on %s; amount due now %.2f." % (
        float(pay["Amount"]),
        invoice.get("InvoiceNumber") or invoice["InvoiceID"],
        float(invoice["AmountDue"]),
    )
    return html_response(templates.org_page(sandbox.state.snapshot(org), sandbox.url, message=message))


def requests_list(sandbox, request, body):
    since = int(request.args.get("since", 0))
    with sandbox.state.lock:
        return json_response({"requests": [r for r in sandbox.state.requests if r["seq"] > since]})


def requests_clear(sandbox, request, body):
    with sandbox.state.lock:
        sandbox.state.requests.clear()
    return json_response({"ok": True})


def limits_get(sandbox, request, body):
    return json_response(sandbox.state.limiter.configure())


def limits_set(sandbox, request, body):
    """``{"enabled", "concurrent", "minute", "day", "app_minute", "use_sandbox_clock", "reset_counters"}``."""
    if body.pop("reset_counters", False):
        sandbox.state.limiter.reset()
    return json_response(sandbox.state.limiter.configure(**body))


def webhooks_get(sandbox, request, body):
    with sandbox.state.lock:
        return json_response(
            {
                "config": dict(sandbox.state.webhook),
                "pending": list(sandbox.state.webhook_queue),
                "log": list(sandbox.state.webhook_log),
            }
        )


def webhooks_config(sandbox, request, body):
    state = sandbox.state
    with state.lock:
        for key in ("url", "key", "auto", "max_attempts"):
            if key in body:
                state.webhook[key] = body[key]
        return json_response(dict(state.webhook))


def webhooks_deliver(sandbox, request, body):
    results = sandbox.webhooks.deliver(
        duplicate=bool(body.get("duplicate")), reverse=bool(body.get("reverse"))
    )
    return json_response({"results": results})


def webhooks_itr(sandbox, request, body):
    return json_response(sandbox.webhooks.intent_to_receive(int(body.get("rounds", 4))))


def seed_data(sandbox, request, body):
    """``{"tenant": id, "contacts": N, "items": M, "invoices": I, "bills": B}``: add synthetic records
    (invoices and bills: historical documents last changed at the seed epoch, 2024-01-01)."""
    state = sandbox.state
    org = state.org(body["tenant"])
    if org is None:
        raise ValueError("unknown tenant")
    with state.lock:
        added = {
            "contacts": seed.synthetic_contacts(org, int(body.get("contacts", 0)), state.now()),
            "items": seed.synthetic_items(org, int(body.get("items", 0)), state.now()),
        }
        if body.get("invoices") or body.get("bills"):
            added["documents"] = seed.synthetic_documents(
                org, int(body.get("invoices", 0)), int(body.get("bills", 0))
            )
    sandbox.persist()
    return json_response(added)


def config_set(sandbox, request, body):
    """``{"client_id", "client_secret", "name", "redirect_uris", "custom_connection_tenant", "registered"}``
    (``registered``: the app's registration date, ``YYYY-MM-DD``; from 2026-03-02 granular scopes only)."""
    state = sandbox.state
    with state.lock:
        for key in (
            "client_id",
            "client_secret",
            "name",
            "redirect_uris",
            "custom_connection_tenant",
            "registered",
        ):
            if key in body:
                state.app[key] = body[key]
        app = dict(state.app)
    return json_response(app)


def config_get(sandbox, request, body):
    with sandbox.state.lock:
        return json_response(
            {
                **sandbox.state.app,
                "tenants": {t: o["Name"] for t, o in sandbox.state.orgs.items()},
                "demo_user": {k: seed.DEMO_USER[k] for k in ("email", "password")},
            }
        )


def _org_of(sandbox, body):
    org = sandbox.state.org(body.get("tenant"))
    if org is None:
        raise ValueError("unknown tenant")
    return org


def lock_dates(sandbox, request, body):
    """``{"tenant", "PeriodLockDate": "YYYY-MM-DD"|null, "EndOfYearLockDate": ...}``: the organisation's
    lock dates (documents dated on or before them are refused)."""
    org = _org_of(sandbox, body)
    with sandbox.state.lock:
        for key in ("PeriodLockDate", "EndOfYearLockDate"):
            if key in body:
                org[key] = parse_date_in(body[key]) if body[key] else None
        out = {k: org.get(k) for k in ("PeriodLockDate", "EndOfYearLockDate")}
    sandbox.persist()
    return json_response(out)


def merge_contacts(sandbox, request, body):
    """``{"tenant", "contact": id|number, "into": id|number}``: merge a contact into another, as a Xero
    user does in the UI (the merged one is archived with ``MergedToContactID``)."""
    org = _org_of(sandbox, body)
    with sandbox.state.lock:
        source, target = find_contact(org, body["contact"]), find_contact(org, body["into"])
        if source is None or target is None or source is target:
            raise ValueError("contact and into must be two existing contacts")
        org["contacts"][source["ContactID"]] = {
            **source,
            "ContactStatus": "ARCHIVED",
            "MergedToContactID": target["ContactID"],
            "UpdatedDateUTC": sandbox.state.now(),
        }
    sandbox.persist()
    return json_response({"ContactID": source["ContactID"], "MergedToContactID": target["ContactID"]})


def inventory(sandbox, request, body):
    """``{"tenant", "item": code, "quantity_on_hand": N}``: make an item tracked inventory with that stock
    (InventoryAssetAccountCode 630, created as an INVENTORY account if missing; COGSAccountCode 310)."""
    org = _org_of(sandbox, body)
    with sandbox.state.lock:
        item = find_item(org, body["item"])
        if item is None:
            raise ValueError("unknown item")
        if not any(a["Code"] == "630" for a in org["accounts"].values()):
            acc_id = seed.guid(org["tenant_id"], "account", "630")
            org["accounts"][acc_id] = {
                "AccountID": acc_id,
                "Code": "630",
                "Name": "Inventory",
                "Type": "INVENTORY",
                "Class": "ASSET",
                "Status": "ACTIVE",
                "TaxType": "NONE",
                "EnablePaymentsToAccount": False,
                "ShowInExpenseClaims": False,
                "ReportingCode": "ASS",
                "HasAttachments": False,
                "AddToWatchlist": False,
                "UpdatedDateUTC": sandbox.state.now(),
            }
        item.update(
            IsTrackedAsInventory=True,
            InventoryAssetAccountCode="630",
            QuantityOnHand=float(d(body.get("quantity_on_hand", 0))),
            UpdatedDateUTC=sandbox.state.now(),
        )
        item["PurchaseDetails"] = {**item.get("PurchaseDetails", {}), "COGSAccountCode": "310"}
        out = dict(item)
    sandbox.persist()
    return json_response(out)


# -- money: deleted and redone payments, prepayments, overpayments, allocations, currencies ---------------------
def _money_call(sandbox, request, body, work):
    """Run ``work(ctx, org)`` under the state lock like an API write (webhook events, persistence); an
    ``Invalid`` answers 400 with Xero's messages."""
    from .accounting import Invalid

    state = sandbox.state
    org = _org_of(sandbox, body)
    ctx = Context(sandbox, org, request)
    with state.lock:
        try:
            out = work(ctx, org)
        except Invalid as exc:
            return json_response({"error": "; ".join(exc.messages), "messages": exc.messages}, 400)
    sandbox.webhooks.enqueue(org["tenant_id"], ctx.events, ctx.now)
    sandbox.persist()
    return json_response(out)


def _payment_of(org, ref):
    pay = org["payments"].get(str(ref or "").lower())
    if pay is None:
        raise ValueError("unknown payment %s" % ref)
    return pay


def payment_delete(sandbox, request, body):
    """``{"tenant", "payment"}``: delete a payment as a Xero user does (bounced, mistaken)."""

    def work(ctx, org):
        pay = money.delete_payment(ctx, _payment_of(org, body["payment"]))
        return {
            "PaymentID": pay["PaymentID"],
            "Status": pay["Status"],
            "Invoice": render_invoice(org, org["invoices"][pay["InvoiceID"]], lines=False),
        }

    return _money_call(sandbox, request, body, work)


def payment_redo(sandbox, request, body):
    """``{"tenant", "payment", "amount"?, "date"?}``: bank reconciliation's "remove & redo": the payment is
    deleted and recreated (same invoice, account and reference; same amount and date unless given) with a new
    PaymentID."""

    def work(ctx, org):
        old = money.delete_payment(ctx, _payment_of(org, body["payment"]))
        inv = org["invoices"][old["InvoiceID"]]
        account = org["accounts"][old["AccountID"]]
        amount = d(body.get("amount", old["Amount"]))
        if amount <= 0 or amount > d(inv["AmountDue"]):
            raise ValueError("amount must be > 0 and <= AmountDue %s" % inv["AmountDue"])
        date = parse_date_in(body["date"]) if body.get("date") else old["Date"]
        pay = apply_payment(
            ctx,
            org["invoices"][old["InvoiceID"]],
            account,
            amount,
            date,
            old.get("Reference"),
            old.get("CurrencyRate"),
        )
        return {
            "deleted": old["PaymentID"],
            "PaymentID": pay["PaymentID"],
            "Invoice": render_invoice(org, org["invoices"][pay["InvoiceID"]], lines=False),
        }

    return _money_call(sandbox, request, body, work)


def credit_create(sandbox, request, body):
    """``{"tenant", "kind": "prepayment"|"overpayment", "contact", "amount", "date"?, "currency"?, "rate"?,
    "reference"?}``: money received from a customer ahead of (prepayment) or beyond (overpayment) its invoices."""
    kind = body.get("kind", "prepayment")
    if kind not in money.KINDS:
        raise ValueError("kind must be prepayment or overpayment")

    def work(ctx, org):
        date = parse_date_in(body["date"]) if body.get("date") else utc_date_of(ctx.now)
        rec = money.create_credit(
            ctx,
            kind,
            money.contact_of(org, body["contact"]),
            body["amount"],
            date,
            body.get("currency"),
            body.get("rate"),
            body.get("reference"),
        )
        return money.render_credit(org, kind, rec)

    return _money_call(sandbox, request, body, work)


def allocate(sandbox, request, body):
    """``{"tenant", "kind": "prepayment"|"overpayment"|"creditnote", "id", "invoice": id|number, "amount",
    "date"?}``: allocate a credit to an invoice as a Xero user does in Xero's UI."""
    from .accounting import save_allocation

    kind = body.get("kind", "prepayment")

    def work(ctx, org):
        inv = find_invoice(org, body["invoice"])
        if inv is None:
            raise ValueError("unknown invoice")
        element = {"Invoice": {"InvoiceID": inv["InvoiceID"]}, "Amount": body["amount"]}
        if body.get("date"):
            element["Date"] = body["date"]
        if kind == "creditnote":
            cn = org["credit_notes"].get(str(body["id"]).lower()) or next(
                (
                    c
                    for c in org["credit_notes"].values()
                    if (c.get("CreditNoteNumber") or "").lower() == str(body["id"]).lower()
                ),
                None,
            )
            if cn is None:
                raise ValueError("unknown credit note")
            alloc = save_allocation(ctx, cn["CreditNoteID"], element)
        elif kind in money.KINDS:
            rec = money.find_credit(org, kind, body["id"])
            if rec is None:
                raise ValueError("unknown %s" % kind)
            alloc = money.allocate_credit(ctx, kind, rec[money.KINDS[kind][2]], element)
        else:
            raise ValueError("kind must be prepayment, overpayment or creditnote")
        return {
            "AllocationID": alloc["AllocationID"],
            "Invoice": render_invoice(org, org["invoices"][inv["InvoiceID"]], lines=False),
        }

    return _money_call(sandbox, request, body, work)


def currencies_set(sandbox, request, body):
    """``{"tenant", "enable": [...], "disable": [...], "rates": {"EUR": 1.15}}``: the organisation's currencies
    and day rates (units of the currency per unit of base currency)."""
    org = _org_of(sandbox, body)
    with sandbox.state.lock:
        money.ensure(org)
        for code in body.get("enable") or []:
            if code.upper() not in org["currencies"]:
                org["currencies"].append(code.upper())
        for code in body.get("disable") or []:
            if code.upper() != org["BaseCurrency"] and code.upper() in org["currencies"]:
                org["currencies"].remove(code.upper())
        for code, rate in (body.get("rates") or {}).items():
            if float(rate) <= 0:
                raise ValueError("rates must be > 0")
            org["day_rates"][code.upper()] = float(rate)
        out = {"currencies": list(org["currencies"]), "day_rates": dict(org["day_rates"])}
    sandbox.persist()
    return json_response(out)


def usage_get(sandbox, request, body):
    """Per organisation: calls, bytes sent (egress), peak calls in any 60 s and peak concurrent calls."""
    return json_response(sandbox.state.limiter.usage_report())


def usage_reset(sandbox, request, body):
    sandbox.state.limiter.reset_usage()
    return json_response({"ok": True})


def save(sandbox, request, body):
    sandbox.persist()
    return json_response({"ok": True, "file": sandbox.state.data_file})


def org_page(sandbox, tenant_id):
    org = sandbox.state.org(tenant_id)
    if org is None:
        return html_response(templates.error_page("not found", "Unknown organisation"), 404)
    return html_response(templates.org_page(sandbox.state.snapshot(org), sandbox.url))


ROUTES = {
    ("GET", "state"): state_counts,
    ("POST", "reset"): reset,
    ("GET", "clock"): clock_get,
    ("POST", "clock/advance"): clock_advance,
    ("POST", "faults"): faults_add,
    ("GET", "faults"): faults_list,
    ("DELETE", "faults"): faults_clear,
    ("POST", "tokens/expire"): tokens_expire,
    ("POST", "tokens/expire-refresh"): refresh_tokens_expire,
    ("POST", "oauth/grant"): oauth_grant,
    ("POST", "payments"): customer_payment,
    ("GET", "requests"): requests_list,
    ("DELETE", "requests"): requests_clear,
    ("GET", "limits"): limits_get,
    ("POST", "limits"): limits_set,
    ("GET", "webhooks"): webhooks_get,
    ("POST", "webhooks/config"): webhooks_config,
    ("POST", "webhooks/deliver"): webhooks_deliver,
    ("POST", "webhooks/intent-to-receive"): webhooks_itr,
    ("POST", "seed"): seed_data,
    ("POST", "config"): config_set,
    ("GET", "config"): config_get,
    ("POST", "save"): save,
    ("POST", "lock-dates"): lock_dates,
    ("POST", "merge-contacts"): merge_contacts,
    ("POST", "inventory"): inventory,
    ("POST", "payments/delete"): payment_delete,
    ("POST", "payments/redo"): payment_redo,
    ("POST", "credits"): credit_create,
    ("POST", "allocate"): allocate,
    ("POST", "currencies"): currencies_set,
    ("GET", "usage"): usage_get,
    ("POST", "usage/reset"): usage_reset,
}
