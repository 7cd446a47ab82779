# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Tests against ``xero_sandbox`` over real HTTP through the real SDK (Xero is never mocked).

``HaloXeroCommon`` starts one sandbox per test class, resets it before each test, gives the
company a connected ``halo.xero.connection`` (token from the sandbox's ``oauth/grant``, no
browser) and checks after each test that every HTTP request the SDK opened went to the
sandbox: the API base URLs are settings, and Odoo's test guard does not block urllib3. In an
``HttpCase`` (``HaloRpcCase``, ``url_open``), requests to Odoo's own test server are not Xero calls.
"""

from unittest.mock import patch

import urllib3

import odoo.service.server
from odoo.tests import HttpCase, tagged
from odoo.tools import config as odoo_config

from xero_sandbox import NZ_TENANT_ID, UK_TENANT_ID  # an installed package (tools/setup.sh)
from xero_sandbox.seed import PRACTICE_TENANT_ID
from xero_sandbox.server import SandboxServer
from xero_sandbox.testing import SandboxControl

from ..services import xero_client as xc
from .common import HaloBillingCommon

SANDBOX_CLIENT_ID = "HALO-DEMO-CLIENT"
SANDBOX_CLIENT_SECRET = "halo-demo-secret"
SANDBOX_APP_REGISTERED = "2026-06-01"  # after 2 March 2026: granular scopes only

__all__ = [
    "HaloXeroCommon",
    "NZ_TENANT_ID",
    "PRACTICE_TENANT_ID",
    "UK_TENANT_ID",
    "SandboxControl",
    "SandboxServer",
]


class _HostSpy:
    """Records every (host, port) urllib3 opens a pool for (a spy, not a mock: requests go out)."""

    def __init__(self):
        self.hosts = []
        self._original = urllib3.PoolManager.connection_from_host

    def __call__(self, manager, host, port=None, scheme="http", pool_kwargs=None):
        self.hosts.append((scheme, host, port))
        return self._original(manager, host, port=port, scheme=scheme, pool_kwargs=pool_kwargs)


def start_sandbox(cls, spy, limits_enabled=False):
    """Start a sandbox for the test class ``cls`` (stopped after it), its app a new app (granular
    scopes only), and record with ``spy`` the hosts Odoo's HTTP requests (urllib3) go to."""
    cls.sandbox = SandboxServer(
        port=0, limits_enabled=limits_enabled, registered=SANDBOX_APP_REGISTERED
    ).start()
    cls.addClassCleanup(cls.sandbox.stop)
    cls.sandbox_url = cls.sandbox.url
    cls.ctl = SandboxControl(cls.sandbox_url)
    cls.host_spy = spy
    cls.startClassPatcher(
        patch.object(
            urllib3.PoolManager,
            "connection_from_host",
            lambda manager, host, port=None, scheme="http", pool_kwargs=None: spy(
                manager, host, port, scheme, pool_kwargs
            ),
        )
    )


@tagged("post_install", "-at_install")
class HaloXeroCommon(HaloBillingCommon):
    sandbox_limits = False  # the sandbox's rate limits (5 in flight, 60/min) for this class

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo's callback is registered for the sandbox's app in setUp
        start_sandbox(cls, _HostSpy(), limits_enabled=cls.sandbox_limits)
        cls.tenant_id = UK_TENANT_ID
        cls.connection = cls._halo_xero_connection(cls.env.company, "Xero (test)", default_account_code="200")

    def setUp(self):
        super().setUp()
        self.ctl.reset()
        # Xero matches redirect URIs exactly: register Odoo's callback (its test server's port) for the app
        self.ctl.call("POST", "config", {"redirect_uris": self.odoo_callbacks()})
        xc.reset_default_throttle()
        self.host_spy.hosts.clear()
        self.xero_calls_expected = True
        self.connect_sandbox()
        self.ctl.clear_requests()

    def tearDown(self):
        if isinstance(self, HttpCase):
            port = int(odoo_config["http_port"])
            self.host_spy.hosts[:] = [h for h in self.host_spy.hosts if h[2] != port]
        sandbox_host = ("http", "127.0.0.1", self.sandbox.port)
        stray = [h for h in self.host_spy.hosts if h != sandbox_host]
        self.assertFalse(stray, "HTTP requests left the sandbox: %s" % stray)
        if self.xero_calls_expected:
            self.assertTrue(self.host_spy.hosts, "the test expected Xero calls and made none")
        super().tearDown()

    # -- helpers --------------------------------------------------------------------------------------
    @classmethod
    def _halo_xero_connection(cls, company, name, **vals):
        """A (not yet connected) connection of ``company`` to the sandbox's app."""
        connection = (
            cls.env["halo.xero.connection"]
            .sudo()
            .create(
                {
                    "name": name,
                    "company_id": company.id,
                    "client_id": SANDBOX_CLIENT_ID,
                    "client_secret": SANDBOX_CLIENT_SECRET,
                    **vals,
                }
            )
        )
        connection._halo_set_base_url(cls.sandbox_url)
        return connection

    def resolve_database_without_session(self):
        """Xero's webhook POSTs carry no session and no X-Odoo-Database header: like a production
        server with a dbfilter (or one database), the test server must resolve the database by itself."""
        saved = odoo_config["dbfilter"]
        odoo_config["dbfilter"] = "^%s$" % self.env.cr.dbname
        self.addCleanup(odoo_config.__setitem__, "dbfilter", saved)

    @staticmethod
    def odoo_callbacks():
        """Odoo's OAuth callback URLs as the app registers them in the sandbox (test server and 8069)."""
        server = odoo.service.server.server
        httpd = getattr(server, "httpd", None) if server is not None else None
        ports = sorted({httpd.server_port if httpd else 8069, int(odoo_config["http_port"] or 8069), 8069})
        return [
            "http://%s:%s/halo_xero/oauth/callback" % (host, port)
            for host in ("127.0.0.1", "localhost")
            for port in ports
        ]

    def connect_sandbox(self, connection=None, tenants=None, tenant_id=None):
        """Give ``connection`` a fresh sandbox token (as after the consent page) and an organisation."""
        conn = (connection or self.connection).sudo()
        token = self.ctl.grant(tenants=tenants, scope=" ".join(xc.DEFAULT_SCOPES))
        conn._halo_store_token(xc.normalise_token(token))
        tid = tenant_id or self.tenant_id
        name = "Halo Demo UK Ltd" if tid == UK_TENANT_ID else "Halo Demo NZ Limited"
        conn.write({"tenant_id": tid, "tenant_name": name, "state": "connected", "last_error": False})
        return conn

    def sandbox_requests(self, path_contains=None, method=None):
        """The sandbox's request log (method, path, query, status...), optionally filtered."""
        rows = self.ctl.requests()
        if path_contains:
            rows = [r for r in rows if path_contains.lower() in r["path"].lower()]
        if method:
            rows = [r for r in rows if r["method"] == method]
        return rows

    def assertSandboxCalls(self, expected, path_contains=None, method=None):
        rows = self.sandbox_requests(path_contains, method)
        self.assertEqual(len(rows), expected, [(r["method"], r["path"], r["status"]) for r in rows])
        return rows
