"""Helpers for tests that use the sandbox (pytest fixtures, Odoo tests, benchmarks).

from xero_sandbox.testing import running_sandbox, SandboxControl
with running_sandbox(limits_enabled=False) as srv:
    ctl = SandboxControl(srv.url)
    token = ctl.grant()            # a token response, as after the consent page
"""

import contextlib
import json
import time
import urllib.request

from .server import SandboxServer


@contextlib.contextmanager
def running_sandbox(**kwargs):
    """Start a :class:`SandboxServer` on a random port (``port=0``) for the ``with`` block."""
    kwargs.setdefault("port", 0)
    server = SandboxServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


class SandboxControl:
    """Thin client for the ``/_sandbox/`` control API."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + "/_sandbox/" + path.lstrip("/"),
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def reset(self):
        return self.call("POST", "reset", {})

    def state(self):
        return self.call("GET", "state")

    def advance(self, seconds: float):
        return self.call("POST", "clock/advance", {"seconds": seconds})

    def fault(self, action="status", **options):
        """e.g. ``fault("status", status=429, retry_after=1, problem="minute", path="/Invoices")``,
        ``fault("drop", after=True, method="PUT")``, ``fault("delay", seconds=0.5)``."""
        return self.call("POST", "faults", {"action": action, **options})

    def clear_faults(self):
        return self.call("DELETE", "faults")

    def expire_tokens(self, access_token: str | None = None):
        return self.call("POST", "tokens/expire", {"access_token": access_token} if access_token else {})

    def grant(self, tenants: list | None = None, scope: str | None = None) -> dict:
        """Consent without the HTML flow; returns the token endpoint's JSON."""
        return self.call("POST", "oauth/grant", {"tenants": tenants, "scope": scope})

    def pay(self, tenant: str, invoice: str, amount=None, date: str | None = None):
        body = {"tenant": tenant, "invoice": invoice}
        if amount is not None:
            body["amount"] = amount
        if date:
            body["date"] = date
        return self.call("POST", "payments", body)

    def requests(self, since: int = 0) -> list:
        return self.call("GET", "requests?since=%d" % since)["requests"]

    def clear_requests(self):
        return self.call("DELETE", "requests")

    def limits(self, **values):
        return self.call("POST", "limits", values)

    def webhook_config(self, **values):
        return self.call("POST", "webhooks/config", values)

    def deliver_webhooks(self, duplicate=False, reverse=False) -> list:
        return self.call("POST", "webhooks/deliver", {"duplicate": duplicate, "reverse": reverse})["results"]

    def intent_to_receive(self, rounds: int = 4) -> dict:
        return self.call("POST", "webhooks/intent-to-receive", {"rounds": rounds})

    def seed(self, tenant: str, contacts: int = 0, items: int = 0):
        return self.call("POST", "seed", {"tenant": tenant, "contacts": contacts, "items": items})


def token_dict(token_response: dict) -> dict:
    """The dict xero-python's token getter must return (scope as a list, ``expires_at`` set)."""
    out = {k: token_response[k] for k in ("access_token", "token_type", "expires_in") if k in token_response}
    if token_response.get("refresh_token"):
        out["refresh_token"] = token_response["refresh_token"]
    out["scope"] = (
        token_response["scope"].split()
        if isinstance(token_response["scope"], str)
        else list(token_response["scope"])
    )
    out["expires_at"] = time.time() + int(token_response["expires_in"])
    return out


@contextlib.contextmanager
def sdk_token_urls(base_url: str):
    """Point xero-python's process-wide TokenApi URLs at the sandbox, restoring them afterwards."""
    from xero_python.api_client.oauth2 import TokenApi

    saved = (TokenApi.refresh_token_url, TokenApi.client_credentials_token_url, TokenApi.revoke_token_url)
    TokenApi.refresh_token_url = TokenApi.client_credentials_token_url = base_url + "/connect/token"
    TokenApi.revoke_token_url = base_url + "/connect/revocation"
    try:
        yield
    finally:
        TokenApi.refresh_token_url, TokenApi.client_credentials_token_url, TokenApi.revoke_token_url = saved


class SdkClients:
    """xero-python wired to the sandbox, with an in-memory token store (``.token``)."""

    def __init__(
        self,
        base_url: str,
        token: dict | None = None,
        client_id: str = "HALO-DEMO-CLIENT",
        client_secret: str | None = "halo-demo-secret",
    ):
        from xero_python.accounting import AccountingApi
        from xero_python.api_client import ApiClient
        from xero_python.api_client.configuration import Configuration
        from xero_python.api_client.oauth2 import OAuth2Token
        from xero_python.identity import IdentityApi

        self.token = token or {}
        cfg = Configuration()  # a hidden singleton copy: assign attributes after construction
        cfg.oauth2_token = OAuth2Token(client_id=client_id, client_secret=client_secret)
        self.api_client = ApiClient(
            cfg, pool_threads=1, oauth2_token_getter=lambda: self.token, oauth2_token_saver=self._save
        )
        self.accounting = AccountingApi(self.api_client, base_url=base_url + "/api.xro/2.0")
        self.identity = IdentityApi(self.api_client, base_url=base_url)
        self.saved = []

    def _save(self, token):
        self.saved.append(token)
        self.token = token
