# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Xero boundary: the only module that imports ``xero_python`` (inside functions). Typed bodies in
(``to_sdk_*`` from plain payloads), plain values out (``XeroRecord``): no SDK object leaves this module.

Plain Python, no ORM. What it takes care of (see shared/notes/xero-facts.md):

* the SDK's ``Configuration`` is a hidden singleton: construct, then assign attributes;
* the SDK sets no timeout, and honours only an ``int`` or a 2-tuple of ints;
* ``TokenApi`` URLs are process-wide class attributes: this client uses a ``TokenApi``
  subclass with per-instance URLs, so clients of several organisations never mix;
* urllib3 silently re-sends PUT after a dropped connection and GET/PUT on 429/503 with
  ``Retry-After``: its retries are switched off, this module decides every retry;
* the token dict has exactly the keys the SDK accepts, ``scope`` is a list and
  ``expires_at`` is set;
* refreshes go through one hook (``token_refresher``) so that the caller can serialise
  them (the Odoo model refreshes under a row lock).

Tokens are never logged.
"""

import base64
import collections
import contextlib
import datetime
import enum
import hashlib
import json
import logging
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from . import xero_push

_logger = logging.getLogger(__name__)

DEFAULT_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
DEFAULT_TOKEN_URL = "https://identity.xero.com/connect/token"
DEFAULT_REVOKE_URL = "https://identity.xero.com/connect/revocation"
DEFAULT_IDENTITY_URL = "https://api.xero.com"
DEFAULT_ACCOUNTING_URL = "https://api.xero.com/api.xro/2.0"

# Granular scopes: Xero apps registered since 2 March 2026 may not ask for accounting.transactions
# (refused at the consent page, "Invalid scope for client"); it is split into accounting.invoices
# (invoices, credit notes, items), accounting.payments, accounting.banktransactions and
# accounting.manualjournals. The addon needs invoices, payments, contacts, settings and attachments.
DEFAULT_SCOPES = (
    "openid",
    "profile",
    "email",
    "offline_access",
    "accounting.invoices",
    "accounting.payments",
    "accounting.contacts",
    "accounting.settings",
    "accounting.attachments",
)
# the broad scopes of apps registered before 2 March 2026 (accepted by Xero until September 2027)
BROAD_SCOPES = ("accounting.transactions", "accounting.transactions.read")
TOKEN_KEYS = ("access_token", "refresh_token", "token_type", "expires_in", "expires_at", "scope", "id_token")
# refresh this long before expiry; larger than the SDK's own 60 s buffer so that the SDK never
# refreshes on its own (which would bypass the caller's lock)
REFRESH_MARGIN = 120


# -- errors -----------------------------------------------------------------------------------------
class XeroError(Exception):
    """Permanent failure; ``str(err)`` is a user-facing message (Xero's own when there is one)."""

    def __init__(self, message, *, status=None, error_data=None):
        super().__init__(message)
        self.status = status
        self.error_data = error_data


class XeroRetryLater(XeroError):
    """Transient failure (429, 5xx, network): keep queued, retry later."""

    def __init__(self, message, *, retry_after=None, problem=None, status=None, error_data=None):
        super().__init__(message, status=status, error_data=error_data)
        self.retry_after = retry_after
        self.problem = problem


class XeroAuthError(XeroError):
    """The connection needs re-authorisation (invalid_grant, revoked, 401/403 a refresh cannot fix)."""


class XeroUnknownOutcome(XeroError):
    """A write whose response was lost: it may or may not have been applied."""


class XeroNotFound(XeroError):
    """404: the resource does not exist in Xero."""


class XeroTooLarge(XeroError):
    """413: the request body is over Xero's 3.5 MB cap (nothing was applied): send less per request."""


def broad_scopes(scopes) -> list:
    """The broad (pre-2026) scopes among ``scopes`` (a list or a space-separated string)."""
    scopes = scopes.split() if isinstance(scopes, str) else list(scopes or [])
    return [s for s in scopes if s in BROAD_SCOPES]


# -- endpoints --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class XeroEndpoints:
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    token_url: str = DEFAULT_TOKEN_URL
    revoke_url: str = DEFAULT_REVOKE_URL
    identity_url: str = DEFAULT_IDENTITY_URL
    accounting_url: str = DEFAULT_ACCOUNTING_URL

    @classmethod
    def for_base(cls, base_url) -> "XeroEndpoints":
        """All five URLs under one base, as served by ``xero_sandbox``."""
        base = base_url.rstrip("/")
        return cls(
            authorize_url=base + "/identity/connect/authorize",
            token_url=base + "/connect/token",
            revoke_url=base + "/connect/revocation",
            identity_url=base,
            accounting_url=base + "/api.xro/2.0",
        )

    def hosts(self):
        from urllib.parse import urlsplit

        return {
            urlsplit(url).netloc
            for url in (
                self.authorize_url,
                self.token_url,
                self.revoke_url,
                self.identity_url,
                self.accounting_url,
            )
        }


# -- throttle ---------------------------------------------------------------------------------------
class _TenantBudget:
    __slots__ = (
        "calls",
        "in_flight",
        "day_start",
        "day_count",
        "not_before",
        "min_remaining",
        "day_remaining",
        "day_limit_seen",
    )

    def __init__(self, now):
        self.calls = collections.deque()
        self.in_flight = 0
        self.day_start = now
        self.day_count = 0
        self.not_before = 0.0
        self.min_remaining = None
        self.day_remaining = None
        # Xero's daily limit as inferred from X-DayLimit-Remaining: calls counted here + remaining
        # (a lower bound when other processes use the same organisation)
        self.day_limit_seen = None


class ThrottleSlot:
    """``with throttle.slot(tenant):`` around a throttle's ``acquire`` / ``release``."""

    @contextlib.contextmanager
    def slot(self, tenant_id):
        self.acquire(tenant_id)
        try:
            yield
        finally:
            self.release(tenant_id)


class Throttle(ThrottleSlot):
    """Per-tenant, thread-safe, in-process limiter (sliding 60 s window, concurrency, daily budget)."""

    def __init__(
        self,
        per_minute=60,
        concurrent=5,
        daily=5000,
        daily_headroom=0.1,
        clock=time.monotonic,
        sleep=time.sleep,
        shared_scope="",
    ):
        # the budgets shared by every process of a database (models/halo_xero_throttle.py) are kept per
        # tenant and scope: production uses one scope, a replaced throttle (tests, benches) a fresh one
        self.shared_scope = shared_scope
        self.per_minute = per_minute
        self.concurrent = concurrent
        self.daily = daily
        self.daily_headroom = daily_headroom
        self.clock = clock
        self.sleep = sleep
        self._cond = threading.Condition()
        self._tenants = {}

    def _budget(self, tenant_id, now):
        budget = self._tenants.get(tenant_id)
        if budget is None:
            budget = self._tenants[tenant_id] = _TenantBudget(now)
        if now - budget.day_start >= 86400:
            budget.day_start, budget.day_count, budget.day_remaining = now, 0, None
            budget.day_limit_seen = None
        while budget.calls and budget.calls[0] <= now - 60:
            budget.calls.popleft()
        return budget

    def _day_limit(self, limit=None):
        """Calls allowed out of ``limit`` (default: the local ``daily``) once the headroom is kept."""
        limit = self.daily if limit is None else limit
        return int(limit * (1 - self.daily_headroom))

    def _reserve(self, budget):
        """Calls kept in reserve out of what Xero reports: the headroom of the smaller of the local
        ``daily`` and Xero's own daily limit (never of the local setting alone: a local ``daily`` larger
        than Xero's would otherwise reserve more than Xero's whole remaining budget)."""
        limit = self.daily
        if budget.day_limit_seen is not None:
            limit = min(limit, budget.day_limit_seen)
        return limit - self._day_limit(limit)

    def acquire(self, tenant_id):
        tenant_id = tenant_id or ""
        while True:
            with self._cond:
                now = self.clock()
                budget = self._budget(tenant_id, now)
                if budget.day_count >= self._day_limit() or (
                    budget.day_remaining is not None and budget.day_remaining <= self._reserve(budget)
                ):
                    raise XeroRetryLater(
                        "The daily Xero API budget of this organisation is used up; try again tomorrow.",
                        retry_after=max(0.0, budget.day_start + 86400 - now),
                        problem="day",
                    )
                wait = 0.0
                if budget.not_before > now:
                    wait = budget.not_before - now
                elif len(budget.calls) >= self.per_minute:
                    wait = budget.calls[0] + 60 - now
                elif budget.min_remaining is not None and budget.min_remaining <= 0 and budget.calls:
                    wait = budget.calls[0] + 60 - now
                    budget.min_remaining = None
                if wait <= 0:
                    if budget.in_flight >= self.concurrent:
                        self._cond.wait(0.5)
                        continue
                    budget.in_flight += 1
                    budget.calls.append(now)
                    budget.day_count += 1
                    if budget.min_remaining is not None:
                        budget.min_remaining -= 1
                    return
            self.sleep(min(wait, 60.0))

    def release(self, tenant_id):
        with self._cond:
            budget = self._tenants.get(tenant_id or "")
            if budget and budget.in_flight > 0:
                budget.in_flight -= 1
            self._cond.notify_all()

    def penalise(self, tenant_id, retry_after_seconds):
        with self._cond:
            now = self.clock()
            budget = self._budget(tenant_id or "", now)
            budget.not_before = max(budget.not_before, now + float(retry_after_seconds or 1))

    def remaining(self, tenant_id) -> dict:
        with self._cond:
            now = self.clock()
            budget = self._budget(tenant_id or "", now)
            minute = self.per_minute - len(budget.calls)
            if budget.min_remaining is not None:
                minute = min(minute, budget.min_remaining)
            day = self._day_limit() - budget.day_count
            if budget.day_remaining is not None:
                day = min(day, budget.day_remaining - self._reserve(budget))
            return {"minute": max(0, minute), "day": max(0, day)}

    def observe_headers(self, tenant_id, headers):
        if not headers:
            return
        with self._cond:
            budget = self._budget(tenant_id or "", self.clock())
            for header, attr in (
                ("X-MinLimit-Remaining", "min_remaining"),
                ("X-DayLimit-Remaining", "day_remaining"),
            ):
                value = headers.get(header)
                if value is None:
                    continue
                with contextlib.suppress(TypeError, ValueError):
                    setattr(budget, attr, int(value))
            if budget.day_remaining is not None and headers.get("X-DayLimit-Remaining") is not None:
                seen = budget.day_count + budget.day_remaining
                budget.day_limit_seen = max(seen, budget.day_limit_seen or 0)


_DEFAULT_THROTTLE = Throttle()


def default_throttle():
    """The process-wide throttle shared by all clients (one per tenant inside)."""
    return _DEFAULT_THROTTLE


def reset_default_throttle(**kwargs):
    """Replace the process-wide throttle (tests, benchmarks); returns the new one."""
    global _DEFAULT_THROTTLE
    kwargs.setdefault("shared_scope", uuid.uuid4().hex[:12])
    _DEFAULT_THROTTLE = Throttle(**kwargs)
    return _DEFAULT_THROTTLE


# -- tokens -----------------------------------------------------------------------------------------
def normalise_token(raw: dict, now=None) -> dict:
    """A token endpoint's JSON (or a stored token) → exactly the keys xero-python accepts."""
    now = time.time() if now is None else now
    token = {k: raw[k] for k in TOKEN_KEYS if raw.get(k) is not None}
    scope = token.get("scope") or []
    token["scope"] = scope.split() if isinstance(scope, str) else list(scope)
    token.setdefault("token_type", "Bearer")
    token["expires_in"] = int(token.get("expires_in") or 1800)
    if "expires_at" not in token:
        token["expires_at"] = now + token["expires_in"]
    token["expires_at"] = float(token["expires_at"])
    return token


def token_expiring(token: dict | None, margin=REFRESH_MARGIN, now=None) -> bool:
    if not token or not token.get("access_token"):
        return True
    expires_at = token.get("expires_at")
    if expires_at is None:
        return False
    return float(expires_at) <= (time.time() if now is None else now) + margin


def pkce_pair():
    """(code_verifier, code_challenge) for PKCE S256."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _int_timeout(timeout):
    if isinstance(timeout, tuple) and len(timeout) == 2:
        return (int(round(timeout[0])) or 1, int(round(timeout[1])) or 1)
    return int(round(timeout)) or 1


def _oauth_error(body) -> str:
    try:
        data = json.loads(body or b"{}")
    except (TypeError, ValueError):
        return ""
    return data.get("error", "") if isinstance(data, dict) else ""


def _problem_detail(body) -> str:
    try:
        data = json.loads(body or b"{}")
    except (TypeError, ValueError):
        return ""
    if isinstance(data, dict):
        return str(data.get("Detail") or data.get("Message") or data.get("detail") or data.get("Title") or "")
    return ""


# -- client -----------------------------------------------------------------------------------------
# -- plain values out -----------------------------------------------------------------------------------
class XeroRecord:
    """What Xero answered, as plain values: read-only, attributes named as the SDK's models name them
    (snake_case: ``invoice.invoice_id``, ``invoice.payments[0].amount``, ``answer.items``), enums as their
    values, nested records and lists; ``record["invoice_id"]`` too, and ``as_dict()``. No method of its own
    hides a Xero field (it is not a ``Mapping``: Xero's ``Items`` are ``answer.items``). Callers never hold
    an SDK object."""

    __slots__ = ("_values",)

    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return object.__getattribute__(self, "_values")[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("a Xero record is read-only")

    def __getitem__(self, key):
        return self._values[key]

    def __contains__(self, key):
        return key in self._values

    def __eq__(self, other):
        return isinstance(other, XeroRecord) and self._values == other._values

    __hash__ = None

    def as_dict(self):
        return dict(self._values)

    def __repr__(self):
        return "XeroRecord(%r)" % self._values


def plain(value):
    """An SDK answer (models, enums, lists, dicts) as plain values: ``XeroRecord`` for each model, the
    value of each enum; dates, numbers and strings as they are."""
    if isinstance(value, (str, int, float, bool, type(None), datetime.date)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    types = getattr(type(value), "openapi_types", None)
    if isinstance(types, dict):  # an SDK model
        return XeroRecord({name: plain(getattr(value, name, None)) for name in types})
    return value


# -- typed bodies in: plain payloads (services/xero_push.py) as SDK models ---------------------------------
def _sdk_lines(payload):
    from xero_python.accounting import LineItem, LineItemTracking

    lines = []
    for line in payload["LineItems"]:
        tracking = [LineItemTracking(name=t["Name"], option=t["Option"]) for t in line.get("Tracking", [])]
        lines.append(
            LineItem(
                description=line["Description"],
                quantity=float(line["Quantity"]),
                unit_amount=float(line["UnitAmount"]),
                item_code=line.get("ItemCode"),
                account_code=line.get("AccountCode"),
                tax_type=line.get("TaxType"),
                discount_rate=float(line["DiscountRate"]) if line.get("DiscountRate") else None,
                tracking=tracking or None,
            )
        )
    return lines


def to_sdk_invoice(payload):
    """xero_python ``Invoice`` for a payload (imports the SDK lazily)."""
    from xero_python.accounting import Contact, CurrencyCode, Invoice, LineAmountTypes

    lines = _sdk_lines(payload)
    return Invoice(
        type=payload["Type"],
        contact=Contact(contact_id=payload["Contact"]["ContactID"]),
        date=payload["Date"],
        due_date=payload["DueDate"],
        line_amount_types=LineAmountTypes(payload["LineAmountTypes"]),
        status=payload["Status"],
        invoice_number=payload.get("InvoiceNumber"),
        reference=payload.get("Reference"),
        currency_code=CurrencyCode(payload["CurrencyCode"]) if payload.get("CurrencyCode") else None,
        url=payload.get("Url"),
        line_items=lines,
        invoice_id=payload.get("InvoiceID"),
        currency_rate=payload.get("CurrencyRate"),
    )


def to_sdk_invoices(payloads):
    from xero_python.accounting import Invoices

    return Invoices(invoices=[to_sdk_invoice(p) for p in payloads])


def to_sdk_credit_note(payload):
    """xero_python ``CreditNote`` for a credit-note payload."""
    from xero_python.accounting import Contact, CreditNote, CurrencyCode, LineAmountTypes

    return CreditNote(
        type=payload["Type"],
        contact=Contact(contact_id=payload["Contact"]["ContactID"]),
        date=payload["Date"],
        line_amount_types=LineAmountTypes(payload["LineAmountTypes"]),
        status=payload["Status"],
        credit_note_number=payload.get("CreditNoteNumber"),
        reference=payload.get("Reference"),
        currency_code=CurrencyCode(payload["CurrencyCode"]) if payload.get("CurrencyCode") else None,
        line_items=_sdk_lines(payload),
        credit_note_id=payload.get("CreditNoteID"),
        currency_rate=payload.get("CurrencyRate"),
    )


def to_sdk_documents(payloads):
    """``Invoices`` or ``CreditNotes`` for payloads of one kind (a request never mixes them)."""
    from xero_python.accounting import CreditNotes

    kinds = {xero_push.is_credit_note(p) for p in payloads}
    if len(kinds) > 1:
        raise ValueError("invoices and credit notes go in separate requests")
    if kinds == {True}:
        return CreditNotes(credit_notes=[to_sdk_credit_note(p) for p in payloads])
    return to_sdk_invoices(payloads)


def to_sdk_status_changes(changes, credit=False):
    """``Invoices`` (``CreditNotes``) body changing only the status of documents: ``[(id, status)]``."""
    from xero_python.accounting import CreditNote, CreditNotes, Invoice, Invoices

    if credit:
        return CreditNotes(
            credit_notes=[CreditNote(credit_note_id=doc_id, status=status) for doc_id, status in changes]
        )
    return Invoices(invoices=[Invoice(invoice_id=doc_id, status=status) for doc_id, status in changes])


def to_sdk_allocation(invoice_id, amount, on_date):
    """``Allocations`` body allocating ``amount`` of a credit note to one invoice."""
    from xero_python.accounting import Allocation, Allocations, Invoice

    return Allocations(
        allocations=[
            Allocation(
                invoice=Invoice(invoice_id=invoice_id), amount=float(xero_push.r2(amount)), date=on_date
            )
        ]
    )


def to_sdk_contacts(contacts):
    """``Contacts`` body creating contacts from plain values: ``[{"Name": ..., "EmailAddress": ...}]``."""
    from xero_python.accounting import Contact, Contacts

    return Contacts(
        contacts=[Contact(name=c["Name"], email_address=c.get("EmailAddress") or None) for c in contacts]
    )


def payload_size(payload) -> int:
    """Bytes this document adds to a request body, as xero-python serialises it (``json.dumps`` of the
    serialised model) plus the separator."""
    from xero_python.api_client.serializer import serialize

    model = to_sdk_credit_note(payload) if xero_push.is_credit_note(payload) else to_sdk_invoice(payload)
    return len(json.dumps(serialize(model))) + 2


class XeroClient:
    """xero-python wired to one app's credentials and one token store.

    ``token_getter()`` returns the token dict; ``token_saver(token)`` stores a new one;
    ``token_refresher(client, stale_token, force)`` (optional) must return a fresh token dict:
    the Odoo model passes one that refreshes under a row lock. Without it the client
    refreshes itself (:meth:`refresh`).
    """

    def __init__(
        self,
        endpoints: XeroEndpoints,
        client_id: str,
        client_secret: str | None,
        token_getter,
        token_saver,
        *,
        timeout=(5, 60),
        throttle: Throttle | None = None,
        max_retries=3,
        token_refresher=None,
        custom_connection=False,
        sleep=time.sleep,
    ):
        import urllib3
        from xero_python.accounting import AccountingApi
        from xero_python.api_client import ApiClient
        from xero_python.api_client.configuration import Configuration
        from xero_python.identity import IdentityApi

        self.endpoints = endpoints
        self.client_id = client_id
        self.client_secret = client_secret or None
        self.token_getter = token_getter
        self.token_saver = token_saver
        self.token_refresher = token_refresher
        self.custom_connection = custom_connection
        self.timeout = _int_timeout(timeout)
        self.throttle = throttle if throttle is not None else _DEFAULT_THROTTLE
        self.max_retries = max_retries
        self.sleep = sleep
        self.calls = 0  # HTTP requests made by this client (API + token endpoint)

        cfg = Configuration()  # a hidden singleton copy: assign attributes after construction
        cfg.oauth2_token = _make_oauth2_token(self)
        self.api_client = ApiClient(
            cfg,
            pool_threads=1,
            oauth2_token_getter=self._sdk_get_token,
            oauth2_token_saver=self._sdk_save_token,
        )
        # our code decides every retry: no silent re-sent PUT, no sleeping on Retry-After
        pool_manager = self.api_client.rest_client.pool_manager
        pool_manager.connection_pool_kw["retries"] = urllib3.Retry(False)
        self.accounting = AccountingApi(self.api_client, base_url=endpoints.accounting_url)
        self.identity = IdentityApi(self.api_client, base_url=endpoints.identity_url)

    # -- token plumbing ---------------------------------------------------------------------------
    def _sdk_get_token(self):
        token = self.token_getter() or {}
        return {k: token[k] for k in TOKEN_KEYS if k in token} or {
            "access_token": None,
            "scope": [],
            "expires_in": None,
            "token_type": "Bearer",
        }

    def _sdk_save_token(self, token):
        self.token_saver(normalise_token(token))

    def _fresh_token(self, force=False):
        """Make sure a usable access token is stored; refresh (through the hook) if needed."""
        token = self.token_getter() or {}
        if not force and not token_expiring(token):
            return token
        if not token.get("refresh_token"):
            if self.client_secret and self._is_custom_connection(token):
                return self.client_credentials()
            if force or token_expiring(token, margin=0):
                raise XeroAuthError(
                    "The Xero access has expired and cannot be renewed: connect to Xero again."
                )
            return token
        if self.token_refresher is not None:
            return self.token_refresher(self, token, force)
        return self.refresh()

    def _is_custom_connection(self, token):
        return self.custom_connection or bool(
            token.get("access_token")
            and not token.get("refresh_token")
            and "offline_access" not in (token.get("scope") or [])
        )

    def _token_post(self, url, fields, *, basic=False):
        """POST a form to the token/revocation endpoint; returns the parsed JSON (or {})."""
        from xero_python.exceptions import HTTPStatusException

        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        fields = dict(fields)
        if basic and self.client_secret:
            raw = ("%s:%s" % (self.client_id, self.client_secret)).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        else:
            fields["client_id"] = self.client_id
            if self.client_secret:
                fields["client_secret"] = self.client_secret
        self.calls += 1
        try:
            response = self.api_client.rest_client.request(
                "POST", url, headers=headers, post_params=fields, _request_timeout=self.timeout
            )
        except HTTPStatusException as err:
            error = _oauth_error(err.body)
            if error == "invalid_grant":
                raise XeroAuthError(
                    "Xero refused the authorisation (invalid_grant): the code or refresh token is expired, "
                    "was already used or was revoked. Connect to Xero again.",
                    status=err.status,
                ) from None
            if error in ("invalid_client", "unauthorized_client"):
                raise XeroError(
                    "Xero does not recognise this app's client id and secret; check the credentials.",
                    status=err.status,
                ) from None
            if err.status and err.status >= 500 or err.status == 429:
                raise XeroRetryLater(
                    "Xero's identity service is unavailable (HTTP %s); try again later." % err.status,
                    problem="server",
                    status=err.status,
                ) from None
            raise XeroError(
                "Xero's token endpoint answered HTTP %s %s." % (err.status, error or ""), status=err.status
            ) from None
        except Exception as err:
            if _is_network_error(err):
                raise XeroRetryLater(
                    "Cannot reach Xero (%s); check the network and try again." % type(err).__name__,
                    problem="network",
                ) from None
            raise
        if not response.data:
            return {}
        return json.loads(response.data)

    # -- OAuth2 -----------------------------------------------------------------------------------
    def authorize_url(self, redirect_uri, state, scopes=DEFAULT_SCOPES, code_challenge=None) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes) if not isinstance(scopes, str) else scopes,
            "state": state,
        }
        if code_challenge:
            params.update(code_challenge=code_challenge, code_challenge_method="S256")
        return self.endpoints.authorize_url + "?" + urlencode(params)

    def exchange_code(self, code, redirect_uri, code_verifier=None) -> dict:
        fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            fields["code_verifier"] = code_verifier
        token = normalise_token(self._token_post(self.endpoints.token_url, fields))
        self.token_saver(token)
        return token

    def client_credentials(self) -> dict:
        if not self.client_secret:
            raise XeroError("A custom connection needs the app's client secret.")
        token = normalise_token(
            self._token_post(self.endpoints.token_url, {"grant_type": "client_credentials"})
        )
        self.token_saver(token)
        return token

    def refresh(self) -> dict:
        """Refresh now (the caller serialises refreshes). Saves and returns the new token."""
        token = self.token_getter() or {}
        if not token.get("refresh_token"):
            if self._is_custom_connection(token) and self.client_secret:
                return self.client_credentials()
            raise XeroAuthError("There is no refresh token: connect to Xero again.")
        fields = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
        if token.get("scope"):
            fields["scope"] = " ".join(token["scope"])
        new = normalise_token(self._token_post(self.endpoints.token_url, fields))
        self.token_saver(new)
        _logger.info("Xero: access token refreshed for client %s", self.client_id)
        return new

    def revoke(self):
        token = self.token_getter() or {}
        if token.get("refresh_token"):
            self._token_post(self.endpoints.revoke_url, {"token": token["refresh_token"]})

    # -- identity ---------------------------------------------------------------------------------
    def connections(self) -> list:
        result = self._call_sdk(self.identity, None, "get_connections", (), {}, write=False, tenant_free=True)
        return [
            {
                "id": str(c.id),
                "tenant_id": str(c.tenant_id),
                "tenant_name": c.tenant_name,
                "tenant_type": c.tenant_type,
                "auth_event_id": str(c.auth_event_id or ""),
            }
            for c in result or []
        ]

    def delete_connection(self, connection_id):
        self._call_sdk(
            self.identity, None, "delete_connection", (connection_id,), {}, write=True, tenant_free=True
        )

    # -- accounting -------------------------------------------------------------------------------
    def call(self, tenant_id, method_name, *args, write=False, **kwargs):
        """``getattr(self.accounting, method_name)(tenant_id, *args, **kwargs)`` with throttling,
        timeouts, token refresh and error mapping (see the module docstring)."""
        return plain(self._call_sdk(self.accounting, tenant_id, method_name, args, kwargs, write=write))

    def paged(self, tenant_id, method_name, *, page_size=1000, start_page=1, **kwargs):
        """Yield ``(page, records)`` of a paged accounting read until a short page."""
        attr = method_name[4:].lower() if method_name.startswith("get_") else method_name
        page = start_page
        while True:
            result = self.call(tenant_id, method_name, page=page, page_size=page_size, **kwargs)
            records = getattr(result, attr, None) or []
            yield page, records
            if len(records) < page_size:
                return
            page += 1

    def _call_sdk(self, api, tenant_id, method_name, args, kwargs, *, write, tenant_free=False):
        method = getattr(api, method_name)
        kwargs.setdefault("_request_timeout", self.timeout)
        want_http_info = "_return_http_data_only" not in kwargs
        if want_http_info:
            kwargs["_return_http_data_only"] = False
        call_args = args if tenant_free else (tenant_id, *args)
        throttle_key = tenant_id or ("identity:" + str(self.client_id))
        state = {"attempt": 0, "refreshed": False}
        while True:
            self._fresh_token()
            self.calls += 1
            try:
                with self.throttle.slot(throttle_key):
                    result = method(*call_args, **kwargs)
            except Exception as err:  # noqa: BLE001 - mapped (or re-raised) by _retry_or_raise
                self._retry_or_raise(err, state, throttle_key, method_name, write, tenant_free)
                continue
            if not want_http_info:
                return result
            data, _status, headers = result
            if tenant_id:
                self.throttle.observe_headers(throttle_key, headers)
            return data

    def _retry_or_raise(self, err, state, throttle_key, method_name, write, tenant_free):
        """Map an SDK/urllib3 error: return to retry (after sleeping), or raise a XeroError."""
        from xero_python import exceptions as xe

        attempt = state["attempt"]
        if isinstance(err, xe.RateLimitException):
            problem = (err.rate_limit or "minute").lower()
            retry_after = _retry_after(err.headers)
            self.throttle.penalise(throttle_key, retry_after or 1)
            if write or problem == "day" or attempt >= self.max_retries:
                raise XeroRetryLater(
                    self._rate_limit_message(problem), retry_after=retry_after, problem=problem, status=429
                ) from None
            state["attempt"] += 1
            self.sleep(min(retry_after or (2 ** state["attempt"]), 60))
            return
        if isinstance(err, xe.NotFoundException):
            raise XeroNotFound("Xero has no such record (%s)." % method_name, status=404) from None
        if isinstance(err, xe.BadRequestException):
            raise self._bad_request(err) from None
        if isinstance(err, xe.HTTPStatusException):
            status = err.status or 0
            if status == 413:
                raise XeroTooLarge(
                    "Xero refused the request as too large (HTTP 413: over 3.5 MB).", status=413
                ) from None
            if status in (401, 403):
                if not state["refreshed"] and not (status == 403 and tenant_free):
                    state["refreshed"] = True
                    self._fresh_token(force=True)
                    return
                raise XeroAuthError(self._auth_message(status, err.body), status=status) from None
            if status >= 500:
                if write or attempt >= self.max_retries:
                    raise XeroRetryLater(
                        "Xero is unavailable (HTTP %s); try again later." % status,
                        retry_after=_retry_after(err.headers),
                        problem="server",
                        status=status,
                    ) from None
                state["attempt"] += 1
                self.sleep(min(2 ** state["attempt"] * 0.5 + random.random() * 0.1, 30))
                return
            raise XeroError(
                "Xero answered HTTP %s: %s" % (status, _problem_detail(err.body) or err.reason), status=status
            ) from None
        if isinstance(err, xe.AccessTokenExpiredError):
            raise XeroAuthError("The Xero access has expired: connect to Xero again.") from None
        if not _is_network_error(err):
            raise err
        if write and not _is_connect_error(err):
            raise XeroUnknownOutcome(
                "The connection to Xero was lost before its answer arrived (%s); the change may or may "
                "not have been applied in Xero." % type(err).__name__
            ) from None
        if attempt >= self.max_retries:
            raise XeroRetryLater(
                "Cannot reach Xero (%s); check the network and try again." % type(err).__name__,
                problem="network",
            ) from None
        state["attempt"] += 1
        self.sleep(min(2 ** state["attempt"] * 0.25, 10))

    @staticmethod
    def _rate_limit_message(problem):
        if problem == "day":
            return "Xero's daily API limit for this organisation is reached; the work resumes tomorrow."
        return "Xero's rate limit (%s) is reached; the work resumes shortly." % problem

    @staticmethod
    def _auth_message(status, body):
        detail = _problem_detail(body)
        if detail == "AuthorizationUnsuccessful":
            return (
                "Xero refused the call (AuthorizationUnsuccessful): the connection was not granted the "
                "permission (scope) this needs. Connect to Xero again to grant it."
            )
        if status == 403:
            return (
                "Xero refused access to the organisation (%s): it may have been disconnected from this app "
                "in Xero. Connect to Xero again." % (detail or "Forbidden")
            )
        return "Xero refused the access token (%s): connect to Xero again." % (detail or "Unauthorized")

    @staticmethod
    def _bad_request(err):
        from xero_python.exceptions import AccountingBadRequestException

        data = None
        with contextlib.suppress(Exception):
            data = err.error_data
        if isinstance(data, dict) and data.get("error") == "invalid_grant":
            return XeroAuthError(
                "Xero refused the refresh token (invalid_grant): connect to Xero again.",
                status=400,
                error_data=data,
            )
        message = None
        if isinstance(err, AccountingBadRequestException):
            with contextlib.suppress(Exception):
                message = err.reason
        if not message and isinstance(data, dict):
            message = data.get("Message") or data.get("Detail") or data.get("error")
        return XeroError(str(message or "Xero rejected the request (HTTP 400)."), status=400, error_data=data)


def _retry_after(headers):
    if not headers:
        return None
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _is_network_error(err):
    import urllib3

    return isinstance(err, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError))


def _is_connect_error(err):
    import urllib3

    exc = urllib3.exceptions
    if isinstance(err, exc.MaxRetryError):
        err = err.reason or err
    return isinstance(err, (exc.NewConnectionError, exc.ConnectTimeoutError, ConnectionRefusedError))


def _make_oauth2_token(client):
    """An ``OAuth2Token`` whose refreshes go through the client (its URLs, its lock hook)."""
    from xero_python.api_client.oauth2 import OAuth2Token

    class _HaloOAuth2Token(OAuth2Token):
        def refresh_access_token(self, api_client):
            token = client._fresh_token(force=True)
            self.update_token(**{k: token[k] for k in TOKEN_KEYS if k in token})
            return True

        def get_client_credentials_access_token(self, api_client, app_store_billing):
            token = client.client_credentials()
            self.update_token(**{k: token[k] for k in TOKEN_KEYS if k in token})
            return True

        def revoke_access_token(self, api_client):
            client.revoke()
            return True

    return _HaloOAuth2Token(
        client_id=client.client_id, client_secret=client.client_secret or "-", expiration_buffer=30
    )
