"""In-memory sandbox state (one lock), the controllable clock and JSON persistence."""

import collections
import copy
import json
import os
import threading
import time

from . import seed
from .limits import RateLimiter


class Clock:
    """Real time plus an offset that the control API can advance."""

    def __init__(self):
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += float(seconds)
        return self.now()


DEFAULT_APP = {
    "client_id": "HALO-DEMO-CLIENT",
    "client_secret": "halo-demo-secret",
    "name": "Halo Helpdesk Billing (demo)",
    # Xero matches the redirect URI exactly against the ones registered for the app
    "redirect_uris": [
        "http://localhost:8069/halo_xero/oauth/callback",
        "http://127.0.0.1:8069/halo_xero/oauth/callback",
    ],
    # apps registered on or after 2026-03-02 may only ask for granular scopes (see oauth.GRANULAR_FROM)
    "registered": "2026-11-26",
    "custom_connection_tenant": seed.UK_TENANT_ID,  # org bound to client_credentials tokens
}

#: Keys persisted with ``--data`` (everything but transient runtime data).
PERSISTED = ("orgs", "connections", "grants", "access_tokens", "refresh_tokens", "webhook", "app")


class SandboxState:
    """All mutable sandbox data. Every access goes through ``with state.lock:``."""

    def __init__(
        self,
        data_file: str | None = None,
        app: dict | None = None,
        webhook_key: str | None = None,
        limits_enabled: bool = True,
    ):
        self.lock = threading.RLock()
        self.clock = Clock()
        self.data_file = data_file
        self._app_overrides = dict(app or {})
        self._webhook_key = webhook_key or "halo-demo-webhook-key"
        self.limiter = RateLimiter(self.clock, enabled=limits_enabled)
        self.reset()
        if data_file and os.path.exists(data_file):
            self.load(data_file)

    # -- lifecycle -------------------------------------------------------------------------------
    def reset(self):
        """Back to the seeded demo data; drops tokens, connections, logs, faults and webhook queue."""
        with self.lock:
            self.app = {**DEFAULT_APP, **self._app_overrides}
            self.orgs = seed.demo_orgs()
            self.other_tenants = seed.other_tenants()
            self.connections = {}  # id -> {id, tenantId, authEventId, client_id, user_id, created, updated}
            self.grants = {}  # auth event id -> {id, client_id, user_id, tenant_ids, scope, kind}
            self.access_tokens = {}  # token -> {grant_id, expires_at, client_id}
            self.refresh_tokens = {}  # token -> {grant_id, issued, superseded_at, expires_at}
            self.auth_codes = {}  # code -> {...}; transient
            self.login_tickets = {}  # consent-page ticket -> user id; transient
            self.idempotency = {}  # (client_id, key) -> {fingerprint, response, expires_at}
            self.requests = collections.deque(maxlen=5000)
            self.request_seq = 0
            self.faults = []
            self.webhook = {
                "url": None,
                "key": self._webhook_key,
                "auto": True,
                "max_attempts": 5,
                "sequence": 0,
            }
            self.webhook_queue = []  # pending events
            self.webhook_log = []  # delivery results
            self.limiter.reset()

    def save(self):
        """Write the persisted part of the state to ``data_file`` atomically (no-op without one)."""
        if not self.data_file:
            return
        with self.lock:
            data = {k: getattr(self, k) for k in PERSISTED}
            text = json.dumps(data, default=list)
        tmp = self.data_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.data_file)

    def load(self, path: str):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        with self.lock:
            for key in PERSISTED:
                if key in data:
                    setattr(self, key, data[key])
            # files saved before exact redirect URIs and registration dates: today's defaults, then the
            # command line's settings
            saved = {k: v for k, v in self.app.items() if v or k not in ("redirect_uris", "registered")}
            self.app = {**DEFAULT_APP, **saved, **self._app_overrides}

    # -- helpers ---------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def org(self, tenant_id: str) -> dict | None:
        return self.orgs.get((tenant_id or "").lower())

    def counts(self) -> dict:
        with self.lock:
            return {
                "clock_offset": self.clock.offset,
                "connections": len(self.connections),
                "access_tokens": len(self.access_tokens),
                "refresh_tokens": len(self.refresh_tokens),
                "requests": len(self.requests),
                "webhook_pending": len(self.webhook_queue),
                "orgs": {
                    tid: {
                        "name": o["Name"],
                        **{
                            k: len(o.get(k, {}))
                            for k in ("contacts", "items", "invoices", "credit_notes", "payments")
                        },
                    }
                    for tid, o in self.orgs.items()
                },
            }

    def snapshot(self, obj):
        """A deep copy taken under the lock (for rendering outside it)."""
        with self.lock:
            return copy.deepcopy(obj)
