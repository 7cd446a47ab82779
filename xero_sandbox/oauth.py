"""Xero identity: the consent page, ``/connect/token``, ``/connect/revocation`` and ``/connections``."""

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from urllib.parse import urlencode, urlsplit

from werkzeug.wrappers import Response

from . import seed, templates
from .common import html_response, json_response, problem
from .xero_dates import iso_datetime

ACCESS_TTL = 1800
CODE_TTL = 300
REFRESH_GRACE = 1800
REFRESH_TTL = 60 * 86400
DEFAULT_SCOPE = (
    "offline_access accounting.invoices accounting.payments accounting.contacts accounting.settings "
    "accounting.attachments"
)
#: Apps registered on or after this date get granular scopes only (developer.xero.com FAQ "Granular scopes").
GRANULAR_FROM = "2026-03-02"
#: The broad scopes an app registered before GRANULAR_FROM may still ask for (until September 2027).
BROAD_SCOPES = frozenset({"accounting.transactions", "accounting.transactions.read"})
GRANULAR_SCOPES = frozenset(
    {
        "accounting.invoices",
        "accounting.invoices.read",
        "accounting.payments",
        "accounting.payments.read",
        "accounting.banktransactions",
        "accounting.banktransactions.read",
        "accounting.manualjournals",
        "accounting.manualjournals.read",
    }
)
OTHER_SCOPES = frozenset(
    {
        "openid",
        "profile",
        "email",
        "offline_access",
        "accounting.contacts",
        "accounting.contacts.read",
        "accounting.settings",
        "accounting.settings.read",
        "accounting.attachments",
        "accounting.attachments.read",
        "accounting.reports.read",
        "accounting.journals.read",
        "accounting.budgets.read",
    }
)
AUTH_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_jwt(payload: dict, key: str) -> str:
    """A HS256 JWT (Xero's are RS256; clients only decode the payload)."""
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(payload).encode())
    sig = hmac.new(key.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, _b64url(sig))


def redirect_uri_allowed(app: dict, uri: str) -> bool:
    """Xero compares the redirect URI exactly with the app's registered ones (no "any localhost")."""
    parts = urlsplit(uri or "")
    if parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")
    ):
        return False  # HTTPS only, except for localhost
    return uri in app["redirect_uris"]


def is_granular_app(app: dict) -> bool:
    return str(app.get("registered") or GRANULAR_FROM) >= GRANULAR_FROM


def scope_allowed(app: dict, scope: str) -> bool:
    """Whether the app may ask for every scope of ``scope`` (space separated) at the consent page."""
    wanted = set((scope or "").split())
    allowed = OTHER_SCOPES | GRANULAR_SCOPES
    if not is_granular_app(app):
        allowed |= BROAD_SCOPES
    return bool(wanted) and wanted <= allowed


# -- authorize (consent page) -----------------------------------------------------------------------
def authorize(sandbox, request) -> Response:
    """GET shows the login form; POST steps: ``login`` → org choice, ``consent`` → redirect back."""
    state = sandbox.state
    params = {k: (request.values.get(k) or "") for k in AUTH_FIELDS}
    with state.lock:
        app = state.app
    if params["client_id"] != app["client_id"]:
        return html_response(templates.error_page("unauthorized_client", "Unknown client_id."), 400)
    if not redirect_uri_allowed(app, params["redirect_uri"]):
        return html_response(templates.error_page("invalid_request", "Invalid redirect_uri."), 400)
    if not scope_allowed(app, params["scope"]):
        # Xero shows this on its own page (the browser never returns to the app)
        return html_response(templates.error_page("unauthorized_client", "Invalid scope for client"), 400)
    if params["response_type"] != "code":
        return _back(params, error="unsupported_response_type")
    if params["code_challenge"] and params["code_challenge_method"] not in ("S256", "plain", ""):
        return _back(params, error="invalid_request")
    step = request.form.get("step") if request.method == "POST" else None
    if step is None:
        return html_response(templates.login_page(params, app["name"]))
    if step == "login":
        email, password = request.form.get("email", ""), request.form.get("password", "")
        if email.lower() != seed.DEMO_USER["email"] or password != seed.DEMO_USER["password"]:
            return html_response(
                templates.login_page(params, app["name"], "Your email or password is incorrect"), 200
            )
        ticket = secrets.token_urlsafe(16)
        with state.lock:
            state.login_tickets[ticket] = seed.DEMO_USER["user_id"]
            orgs = tenant_choices(state)
        return html_response(templates.consent_page(params, app["name"], ticket, orgs))
    with state.lock:
        user_id = state.login_tickets.pop(request.form.get("ticket", ""), None)
        orgs = tenant_choices(state)
    if user_id is None:
        return html_response(templates.login_page(params, app["name"], "Your session expired, log in again"))
    if request.form.get("action") != "allow":
        return _back(params, error="access_denied")
    chosen = [t for t in request.form.getlist("tenant") if t in dict(orgs)]
    if not chosen:
        with state.lock:
            ticket = secrets.token_urlsafe(16)
            state.login_tickets[ticket] = user_id
        return html_response(
            templates.consent_page(params, app["name"], ticket, orgs, "Select at least one organisation")
        )
    code = create_code(state, params, user_id, chosen)
    return _back(params, code=code, scope=params["scope"], session_state=secrets.token_urlsafe(8))


def tenant_choices(state) -> list:
    """(tenant id, name) of everything the demo user may connect: organisations, then other tenants."""
    return [(tid, o["Name"]) for tid, o in state.orgs.items()] + [
        (tid, t["Name"]) for tid, t in getattr(state, "other_tenants", {}).items()
    ]


def _back(params, **values) -> Response:
    query = {k: v for k, v in values.items() if v}
    if params["state"]:
        query["state"] = params["state"]
    sep = "&" if "?" in params["redirect_uri"] else "?"
    return Response(status=302, headers={"Location": params["redirect_uri"] + sep + urlencode(query)})


def create_code(state, params: dict, user_id: str, tenant_ids: list) -> str:
    """Record the consent: an auth event (grant) with connections, and a 5-minute single-use code."""
    now = state.now()
    code = secrets.token_urlsafe(24)
    with state.lock:
        grant_id = str(uuid.uuid4())
        state.grants[grant_id] = {
            "id": grant_id,
            "client_id": params["client_id"],
            "user_id": user_id,
            "tenant_ids": tenant_ids,
            "scope": params["scope"] or DEFAULT_SCOPE,
            "kind": "pkce" if params.get("code_challenge") else "code",
            "nonce": params.get("nonce") or None,
        }
        for tid in tenant_ids:
            conn = next(
                (
                    c
                    for c in state.connections.values()
                    if c["client_id"] == params["client_id"]
                    and c["user_id"] == user_id
                    and c["tenantId"] == tid
                ),
                None,
            )
            if conn is None:
                conn = {
                    "id": str(uuid.uuid4()),
                    "tenantId": tid,
                    "client_id": params["client_id"],
                    "user_id": user_id,
                    "created": now,
                }
                state.connections[conn["id"]] = conn
            conn.update(authEventId=grant_id, updated=now)
        state.auth_codes[code] = {
            "grant_id": grant_id,
            "client_id": params["client_id"],
            "redirect_uri": params["redirect_uri"],
            "expires_at": now + CODE_TTL,
            "challenge": params.get("code_challenge") or None,
            "method": params.get("code_challenge_method") or "plain",
        }
    return code


# -- token endpoint -----------------------------------------------------------------------------------
def _invalid(error: str) -> Response:
    return json_response({"error": error}, status=400, compact=True)


def _client_credentials(request):
    auth = request.authorization
    if auth and auth.type == "basic":
        return auth.username, auth.password
    return request.form.get("client_id"), request.form.get("client_secret")


def token(sandbox, request) -> Response:
    state = sandbox.state
    if request.method != "POST":
        return Response(status=405)
    client_id, secret = _client_credentials(request)
    with state.lock:
        app = dict(state.app)
    if client_id != app["client_id"] or (secret is not None and secret != app["client_secret"]):
        return _invalid("invalid_client")
    grant_type = request.form.get("grant_type")
    with state.lock:
        if grant_type == "authorization_code":
            return _exchange_code(sandbox, request, secret)
        if grant_type == "refresh_token":
            return _refresh(sandbox, request.form.get("refresh_token", ""), client_id, secret)
        if grant_type == "client_credentials":
            if secret is None:
                return _invalid("invalid_client")
            return _client_credentials_grant(sandbox, app)
    return _invalid("unsupported_grant_type")


def _exchange_code(sandbox, request, secret) -> Response:
    state = sandbox.state
    code = state.auth_codes.pop(request.form.get("code", ""), None)  # single use, even on failure
    if (
        not code
        or code["expires_at"] < state.now()
        or code["redirect_uri"] != request.form.get("redirect_uri")
    ):
        return _invalid("invalid_grant")
    verifier = request.form.get("code_verifier")
    if code["challenge"]:
        if not verifier:
            return _invalid("invalid_grant")
        if code["method"] == "S256":
            computed = _b64url(hashlib.sha256(verifier.encode()).digest())
        else:
            computed = verifier
        if not hmac.compare_digest(computed, code["challenge"]):
            return _invalid("invalid_grant")
    elif secret is None:
        return _invalid("invalid_client")
    grant = state.grants.get(code["grant_id"])
    if grant is None:
        return _invalid("invalid_grant")
    return json_response(issue_tokens(sandbox, grant, id_token=True))


def _refresh(sandbox, refresh_token: str, client_id: str, secret) -> Response:
    state = sandbox.state
    now = state.now()
    rec = state.refresh_tokens.get(refresh_token)
    grant = state.grants.get(rec["grant_id"]) if rec else None
    if (
        not rec
        or not grant
        or grant["client_id"] != client_id
        or rec["expires_at"] < now
        or (rec["superseded_at"] is not None and now > rec["superseded_at"] + REFRESH_GRACE)
    ):
        return _invalid("invalid_grant")
    if secret is None and grant["kind"] != "pkce":
        return _invalid("invalid_client")
    if rec["superseded_at"] is None:
        rec["superseded_at"] = now
    return json_response(issue_tokens(sandbox, grant))


def _client_credentials_grant(sandbox, app) -> Response:
    """Custom connection: one org bound to the app, no refresh token."""
    state = sandbox.state
    tid = app["custom_connection_tenant"]
    grant_id = "cc-" + app["client_id"]
    grant = state.grants.setdefault(
        grant_id,
        {
            "id": grant_id,
            "client_id": app["client_id"],
            "user_id": None,
            "tenant_ids": [tid],
            "kind": "client_credentials",
            "scope": DEFAULT_SCOPE.replace("offline_access ", ""),
        },
    )
    if not any(c["authEventId"] == grant_id for c in state.connections.values()):
        cid = str(uuid.uuid4())
        state.connections[cid] = {
            "id": cid,
            "tenantId": tid,
            "client_id": app["client_id"],
            "user_id": None,
            "authEventId": grant_id,
            "created": state.now(),
            "updated": state.now(),
        }
    return json_response(issue_tokens(sandbox, grant, refresh=False))


def issue_tokens(sandbox, grant: dict, refresh: bool = True, id_token: bool = False) -> dict:
    """Mint an access token (JWT, 1800 s of sandbox clock) and, with offline_access, a refresh token."""
    state = sandbox.state
    now = state.now()
    scope = grant["scope"]
    user = seed.DEMO_USER if grant["user_id"] == seed.DEMO_USER["user_id"] else None
    claims = {
        "nbf": int(now),
        "exp": int(now) + ACCESS_TTL,
        "iss": sandbox.url,
        "aud": sandbox.url + "/resources",
        "client_id": grant["client_id"],
        "auth_time": int(now),
        "jti": uuid.uuid4().hex,
        "authentication_event_id": grant["id"],
        "scope": scope.split(),
    }
    if user:
        claims.update(sub=user["user_id"], xero_userid=user["user_id"], global_session_id=grant["id"])
    access = make_jwt(claims, state.app["client_secret"])
    state.access_tokens[access] = {
        "grant_id": grant["id"],
        "client_id": grant["client_id"],
        "expires_at": now + ACCESS_TTL,
    }
    out = {"access_token": access, "expires_in": ACCESS_TTL, "token_type": "Bearer", "scope": scope}
    if refresh and "offline_access" in scope.split():
        rt = secrets.token_hex(32)
        state.refresh_tokens[rt] = {
            "grant_id": grant["id"],
            "issued": now,
            "superseded_at": None,
            "expires_at": now + REFRESH_TTL,
        }
        out["refresh_token"] = rt
    if id_token and user and "openid" in scope.split():
        id_claims = {
            "nbf": int(now),
            "exp": int(now) + 300,
            "iss": sandbox.url,
            "aud": grant["client_id"],
            "sub": user["user_id"],
            "auth_time": int(now),
            "xero_userid": user["user_id"],
            "email": user["email"],
            "given_name": user["first_name"],
            "family_name": user["last_name"],
            "preferred_username": user["email"],
            "global_session_id": grant["id"],
        }
        if grant.get("nonce"):
            id_claims["nonce"] = grant["nonce"]
        out["id_token"] = make_jwt(id_claims, state.app["client_secret"])
    sandbox.persist()
    return out


# -- revocation -------------------------------------------------------------------------------------
def revoke(sandbox, request) -> Response:
    state = sandbox.state
    client_id, secret = _client_credentials(request)
    with state.lock:
        if client_id != state.app["client_id"] or (
            secret is not None and secret != state.app["client_secret"]
        ):
            return _invalid("invalid_client")
        rec = state.refresh_tokens.get(request.form.get("token", ""))
        if rec:
            revoke_grant(state, rec["grant_id"])
    sandbox.persist()
    return Response(status=200)


def revoke_grant(state, grant_id: str):
    """Drop a grant's tokens and the connections it created (caller holds the lock)."""
    grant = state.grants.pop(grant_id, None)
    for store in (state.refresh_tokens, state.access_tokens):
        for key in [k for k, v in store.items() if v["grant_id"] == grant_id]:
            del store[key]
    if grant:
        for cid in [
            c["id"]
            for c in state.connections.values()
            if c["client_id"] == grant["client_id"]
            and c["user_id"] == grant["user_id"]
            and c["tenantId"] in grant["tenant_ids"]
        ]:
            del state.connections[cid]


# -- bearer check and /connections ------------------------------------------------------------------
def authenticate(state, request):
    """Return ``(grant, None)`` for a valid Bearer token, else ``(None, 401 response)``."""
    auth = request.headers.get("Authorization", "")
    token_value = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    with state.lock:
        rec = state.access_tokens.get(token_value)
        grant = state.grants.get(rec["grant_id"]) if rec else None
        if rec and grant and rec["expires_at"] <= state.now():
            return None, problem(
                401, "Unauthorized", "TokenExpired: token expired at %s" % iso_datetime(rec["expires_at"], 0)
            )
        if not grant:
            return None, problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        return dict(grant), None


def connections_of(state, grant: dict) -> list:
    """Connections visible to a token (same app and user; for custom connections, its own)."""
    with state.lock:
        if grant["kind"] == "client_credentials":
            return [c for c in state.connections.values() if c["authEventId"] == grant["id"]]
        return [
            c
            for c in state.connections.values()
            if c["client_id"] == grant["client_id"] and c["user_id"] == grant["user_id"]
        ]


def render_connection(state, conn: dict) -> dict:
    org = state.orgs.get(conn["tenantId"])
    other = getattr(state, "other_tenants", {}).get(conn["tenantId"], {})
    return {
        "id": conn["id"],
        "authEventId": conn["authEventId"],
        "tenantId": conn["tenantId"],
        "tenantType": "ORGANISATION" if org else other.get("tenantType", "PRACTICEMANAGER"),
        "tenantName": (org or other).get("Name"),
        "createdDateUtc": iso_datetime(conn["created"]),
        "updatedDateUtc": iso_datetime(conn["updated"]),
    }


def connections(sandbox, request, conn_id: str | None) -> Response:
    state = sandbox.state
    grant, error = authenticate(state, request)
    if error:
        return error
    conns = connections_of(state, grant)
    if conn_id is None and request.method == "GET":
        event = request.args.get("authEventId")
        with state.lock:
            body = [render_connection(state, c) for c in conns if not event or c["authEventId"] == event]
        return json_response(body)
    if conn_id is not None and request.method == "DELETE":
        with state.lock:
            if not any(c["id"] == conn_id.lower() for c in conns):
                return Response(status=404)
            state.connections.pop(conn_id.lower(), None)
        sandbox.persist()
        return Response(status=204)
    return Response(status=405)
