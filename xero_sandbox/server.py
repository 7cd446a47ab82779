"""The Werkzeug application (routing, faults, limits, idempotency, request log) and SandboxServer."""

import base64
import json
import re
import socket
import threading
import time

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import accounting, control, oauth, templates
from .common import html_response, problem
from .limits import RateLimited
from .state import SandboxState
from .webhooks import WebhookDispatcher

IDEMPOTENCY_TTL = 360  # seconds of sandbox clock
API_PREFIX = ["api.xro", "2.0"]
#: Xero refuses a POST/PUT to the Accounting API larger than 3.5 MB (attachments have their own 10 MB cap).
MAX_BODY = int(3.5 * 1024 * 1024)
#: Scope family of each Accounting API resource (granular scopes, 2026). Transactional families are also
#: granted by the broad ``accounting.transactions`` of apps registered before 2026-03-02.
RESOURCE_SCOPES = {
    "invoices": "accounting.invoices",
    "creditnotes": "accounting.invoices",
    "quotes": "accounting.invoices",
    "purchaseorders": "accounting.invoices",
    "repeatinginvoices": "accounting.invoices",
    "linkedtransactions": "accounting.invoices",
    "items": "accounting.invoices",
    "payments": "accounting.payments",
    "overpayments": "accounting.payments",
    "prepayments": "accounting.payments",
    "batchpayments": "accounting.payments",
    "banktransactions": "accounting.banktransactions",
    "banktransfers": "accounting.banktransactions",
    "manualjournals": "accounting.manualjournals",
    "contacts": "accounting.contacts",
    "contactgroups": "accounting.contacts",
    "taxrates": "accounting.settings",
    "accounts": "accounting.settings",
    "organisation": "accounting.settings",
    "trackingcategories": "accounting.settings",
    "currencies": "accounting.settings",
    "brandingthemes": "accounting.settings",
}
TRANSACTION_FAMILIES = (
    "accounting.invoices",
    "accounting.payments",
    "accounting.banktransactions",
    "accounting.manualjournals",
)


class SandboxApp:
    """WSGI app. ``url`` is the externally visible base URL (set once the socket is bound)."""

    def __init__(self, state: SandboxState, url: str = "http://127.0.0.1"):
        self.state = state
        self.url = url
        self.webhooks = WebhookDispatcher(self)

    def persist(self):
        self.state.save()

    # -- entry point ---------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        parts = [p for p in request.path.split("/") if p]
        lower = [p.lower() for p in parts]
        if lower[:1] == ["_sandbox"]:
            response = control.handle(self, request, lower[1:] or ["state"])
            return response(environ, start_response)
        started = time.time()
        drop_after = False
        response = None
        delay = 0.0
        tampers = []
        for fault in self._take_faults(request):
            if fault["action"] == "tamper":
                tampers.append(fault)
            elif fault["action"] == "delay":
                delay += fault["seconds"]
            elif fault["action"] == "drop" and fault["after"]:
                drop_after = True
            elif fault["action"] == "drop":
                response = "drop"
            elif response is None:
                response = self._fault_response(fault)
        if response is None:
            # accounting calls sleep while holding their in-flight slot (a slow Xero), others up front
            request.environ["sandbox.delay"] = delay
            response = self._route(request, parts, lower)
            time.sleep(request.environ["sandbox.delay"])
            if tampers:
                _tamper(response, tampers)
        if response == "drop" or drop_after:
            self._log(request, None, started, dropped=True)
            return self._drop(environ, start_response)
        self._log(request, response, started)
        return response(environ, start_response)

    def _route(self, request, parts, lower) -> Response:
        if not lower:
            with self.state.lock:
                orgs = list(self.state.orgs.values())
            return html_response(templates.index_page(orgs, self.url))
        if lower == ["identity", "connect", "authorize"]:
            return oauth.authorize(self, request)
        if lower == ["connect", "token"]:
            return oauth.token(self, request)
        if lower == ["connect", "revocation"]:
            return oauth.revoke(self, request)
        if lower[0] == "connections" and len(lower) <= 2:
            return oauth.connections(self, request, lower[1] if len(lower) == 2 else None)
        if lower[0] == "online" and len(lower) == 2:
            return self._online_invoice(parts[1])
        if lower[:2] == API_PREFIX:
            return self._accounting(request, parts[2:])
        return Response(b"", status=404, content_type="text/html")

    # -- accounting: auth, tenant, limits, idempotency ------------------------------------------------
    def _accounting(self, request, parts) -> Response:
        state = self.state
        grant, error = oauth.authenticate(state, request)
        if error:
            return error
        allowed = [c["tenantId"] for c in oauth.connections_of(state, grant)]
        tenant = request.headers.get("xero-tenant-id", "").strip().lower()
        if not tenant and grant["kind"] == "client_credentials" and allowed:
            tenant = allowed[0]
        org = state.org(tenant)
        if org is None or tenant not in allowed:
            return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        request.environ["sandbox.tenant"] = tenant
        if not scope_grants(grant["scope"], parts, request.method):
            return problem(401, "Unauthorized", "AuthorizationUnsuccessful")
        if (
            request.method in ("POST", "PUT")
            and not _is_attachment(parts)
            and ((request.content_length or 0) > MAX_BODY or len(request.get_data()) > MAX_BODY)
        ):
            return problem(
                413,
                "Request Entity Too Large",
                "The request is larger than the maximum of 3.5 MB for a single request.",
            )
        try:
            headers = state.limiter.acquire(tenant)
        except RateLimited as exc:
            refused = self._rate_limited(exc.problem, exc.retry_after, state.limiter.headers(tenant))
            state.limiter.record_egress(tenant, len(refused.get_data()))
            return refused
        try:
            time.sleep(request.environ.pop("sandbox.delay", 0.0))
            request.environ["sandbox.delay"] = 0.0
            response = self._idempotent(
                request, grant, lambda: accounting.dispatch(self, org, request, parts)
            )
        finally:
            state.limiter.release(tenant)
        response.headers.update(headers)
        state.limiter.record_egress(tenant, len(response.get_data()))
        if request.method in ("POST", "PUT", "DELETE") and response.status_code < 300:
            self.persist()
        return response

    def _idempotent(self, request, grant, run) -> Response:
        key = request.headers.get("Idempotency-Key")
        if request.method not in ("POST", "PUT", "PATCH") or not key:
            return run()
        state = self.state
        cache_key = "%s|%s" % (grant["client_id"], key)
        fingerprint = accounting.fingerprint(request)
        with state.lock:
            for k in [k for k, v in state.idempotency.items() if v["expires_at"] <= state.now()]:
                del state.idempotency[k]
            hit = state.idempotency.get(cache_key)
        if hit and hit["fingerprint"] != fingerprint:
            return accounting.validation_error(
                [
                    {
                        "ValidationErrors": [
                            {"Message": "Idempotency key %s is used with a different request" % key}
                        ]
                    }
                ]
            )
        if hit:
            status, body, content_type = hit["response"]
            return Response(base64.b64decode(body), status=status, content_type=content_type)
        response = run()
        if response.status_code < 500:
            with state.lock:
                state.idempotency[cache_key] = {
                    "fingerprint": fingerprint,
                    "expires_at": state.now() + IDEMPOTENCY_TTL,
                    "response": (
                        response.status_code,
                        base64.b64encode(response.get_data()).decode(),
                        response.content_type,
                    ),
                }
        return response

    @staticmethod
    def _rate_limited(problem_name, retry_after, limit_headers) -> Response:
        headers = dict(limit_headers)
        headers["X-Rate-Limit-Problem"] = problem_name
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return problem(
            429, "Too Many Requests", "You've exceeded the per %s rate limit" % problem_name, headers
        )

    # -- faults ---------------------------------------------------------------------------------
    def _take_faults(self, request) -> list:
        taken = []
        with self.state.lock:
            for fault in list(self.state.faults):
                if fault["method"] and fault["method"] != request.method:
                    continue
                if fault["path"] and not _search(fault["path"], request.path):
                    continue
                taken.append(dict(fault))
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.state.faults.remove(fault)
        return taken

    def _fault_response(self, fault) -> Response:
        status = fault["status"]
        if status == 429:
            tenant = ""
            return self._rate_limited(
                fault["problem"], fault["retry_after"], self.state.limiter.headers(tenant)
            )
        titles = {500: "Internal Server Error", 503: "Service Unavailable", 502: "Bad Gateway"}
        return problem(status, titles.get(status, "Error"), "Injected by the sandbox control API")

    @staticmethod
    def _drop(environ, start_response):
        """Close the client's socket without an HTTP answer."""
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        start_response("500 Dropped", [("Content-Length", "0")])
        return [b""]

    # -- request log ----------------------------------------------------------------------------
    def _log(self, request, response, started, dropped=False):
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        raw = request.get_data()
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            body = "<%d bytes>" % len(raw)
        entry = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode(),
            "headers": headers,
            "body": body,
            "tenant": request.environ.get("sandbox.tenant"),
            "status": None if dropped else response.status_code,
            "dropped": dropped,
            "elapsed_ms": int((time.time() - started) * 1000),
            "time": self.state.now(),
        }
        if response is not None and (response.content_type or "").startswith("application/json"):
            entry["response"] = response.get_data(as_text=True)
        with self.state.lock:
            self.state.request_seq += 1
            entry["seq"] = self.state.request_seq
            self.state.requests.append(entry)

    def _online_invoice(self, token) -> Response:
        with self.state.lock:
            for org in self.state.orgs.values():
                inv_id = org["online"].get(token)
                if inv_id:
                    inv = org["invoices"][inv_id]
                    name = org["contacts"].get(inv["ContactID"], {}).get("Name", "")
                    return html_response(templates.online_invoice_page(org, inv, name))
        return html_response(templates.error_page("not found", "This invoice link is not valid."), 404)


def _is_attachment(parts) -> bool:
    return len(parts) >= 3 and parts[2].lower() == "attachments"


def scope_grants(scope: str, parts: list, method: str) -> bool:
    """Whether a token's scopes allow ``method`` on the Accounting API resource ``parts``: the resource's
    scope (or its ``.read`` variant for GET), attachments under ``accounting.attachments``; Items also
    under ``accounting.settings`` (where older apps read them)."""
    held = set((scope or "").split())
    if not parts:
        return True
    family = "accounting.attachments" if _is_attachment(parts) else RESOURCE_SCOPES.get(parts[0].lower())
    if family is None:
        return True  # unknown resources answer 404 further on
    families = [family]
    if family in TRANSACTION_FAMILIES:
        families.append("accounting.transactions")
    if parts[0].lower() == "items" and family != "accounting.attachments":
        families.append("accounting.settings")
    read = method in ("GET", "HEAD")
    return any(f in held or (read and f + ".read" in held) for f in families)


def _search(pattern, path) -> bool:
    return re.search(pattern, path, re.I) is not None


def _tamper(response, faults):
    """``tamper`` faults on a JSON answer: the named field of every object set to the fault's value, or left out."""
    if not isinstance(response, Response) or not (response.mimetype or "").endswith("json"):
        return
    data = json.loads(response.get_data() or b"null")

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for fault in faults:
                if fault["field"] in node:
                    if "value" in fault:
                        node[fault["field"]] = fault["value"]
                    else:
                        del node[fault["field"]]
            for value in node.values():
                walk(value)

    walk(data)
    response.set_data(json.dumps(data))


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass

    def log_error(self, *args, **kwargs):
        pass


class SandboxServer:
    """A running sandbox on a background thread.

    >>> srv = SandboxServer(port=0).start(); srv.url; srv.stop()
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        data_file: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        webhook_key: str | None = None,
        limits_enabled: bool = True,
        public_url: str | None = None,
        quiet: bool = True,
        redirect_uris: list | None = None,
        registered: str | None = None,
    ):
        app = {
            k: v
            for k, v in (
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("redirect_uris", redirect_uris),
                ("registered", registered),
            )
            if v
        }
        self.state = SandboxState(
            data_file=data_file, app=app, webhook_key=webhook_key, limits_enabled=limits_enabled
        )
        self.app = SandboxApp(self.state)
        self.host, self.port, self.public_url, self.quiet = host, port, public_url, quiet
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        return self.app.url

    def start(self) -> "SandboxServer":
        handler = _QuietHandler if self.quiet else WSGIRequestHandler
        self._server = make_server(self.host, self.port, self.app, threaded=True, request_handler=handler)
        self.port = self._server.server_port
        self.app.url = self.public_url or "http://%s:%d" % (self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="xero-sandbox", daemon=True)
        self._thread.start()
        self.app.webhooks.start()
        return self

    def stop(self):
        self.app.webhooks.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None
        self.state.save()

    def serve_forever(self):
        """Block until Ctrl-C (after :meth:`start`), then stop."""
        try:
            self._thread.join()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


__all__ = ["SandboxServer", "SandboxApp"]
