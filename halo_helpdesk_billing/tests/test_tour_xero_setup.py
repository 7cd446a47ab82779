# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Xero set-up wizard in a browser (headless Chromium) against ``xero_sandbox``, and the OAuth
callback controller over HTTP. Both need Odoo's test HTTP server, which pytest-odoo does not start
as ./test.sh runs it (no ``--odoo-http``): tagged ``halo_tour``, run by ``./test.sh --only tours``.

The tour leaves Odoo for the sandbox's consent page (another origin, where Odoo's tour runner does
not exist). The test answers that page in the same Chromium tab through the DevTools protocol, with
real input events (typing, mouse clicks), as a user would; the sandbox then redirects the browser to
``/halo_xero/oauth/callback``, which returns to the wizard, where the tour resumes on its own (the tour
runner keeps its position in the Odoo origin's localStorage across the page loads)."""

import json
import threading
import time
import urllib.parse
from contextlib import ExitStack
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser, ChromeBrowserException

from ..services import xero_client as xc
from .common import HaloBillingCommon
from .test_xero_connection import consent
from .xero_common import (
    NZ_TENANT_ID,
    PRACTICE_TENANT_ID,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    UK_TENANT_ID,
    _HostSpy,
    start_sandbox,
)

TOUR = "halo_xero_setup_tour"
CALLBACK = "/halo_xero/oauth/callback"
WIZARD_URL = "/odoo/action-halo_helpdesk_billing.halo_xero_setup_wizard_action"


class _ServerHostSpy(_HostSpy):
    """Records the hosts urllib3 opens from Odoo's HTTP request threads (the server side), not the
    test's own requests (url_open, Chrome's DevTools endpoint)."""

    def __call__(self, manager, host, port=None, scheme="http", pool_kwargs=None):
        if threading.current_thread().name.startswith("odoo.service.http.request."):
            self.hosts.append((scheme, host, port))
        return self._original(manager, host, port=port, scheme=scheme, pool_kwargs=pool_kwargs)


class _SandboxHttpCase(HaloBillingCommon, HttpCase):
    """A sandbox per class; the company's connection points at it, without credentials (they are
    entered in the wizard) and without a token; Odoo's outgoing HTTP (urllib3) is recorded."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_sandbox(cls, _ServerHostSpy())
        cls.env.company._halo_xero_use_sandbox(cls.sandbox.url)
        cls.connection = (
            cls.env["halo.xero.connection"].sudo().search([("company_id", "=", cls.env.company.id)])
        )

    def setUp(self):
        super().setUp()
        self.ctl.reset()
        # Xero matches redirect URIs exactly: Odoo's callback (this test server) is registered for the app
        self.ctl.call("POST", "config", {"redirect_uris": [self.base_url() + CALLBACK]})
        xc.reset_default_throttle()
        self.host_spy.hosts.clear()

    def tearDown(self):
        stray = [h for h in self.host_spy.hosts if h != ("http", "127.0.0.1", self.sandbox.port)]
        self.assertFalse(stray, "Odoo's HTTP requests left the sandbox: %s" % stray)
        super().tearDown()

    def sandbox_log(self):
        return [(r["method"], r["path"].lower(), r["status"]) for r in self.ctl.requests()]


@tagged("post_install", "-at_install", "halo_tour")
class TestXeroSetupTour(_SandboxHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the wizard's user types the app's credentials (the demo app of the sandbox)
        cls.connection.write({"client_id": False, "client_secret": False})

    def setUp(self):
        super().setUp()
        self.external_requests = []

    def fetch_proxy(self, url):
        """Chromium asked for a URL outside 127.0.0.1 (answered 404 by Odoo's test browser)."""
        self.external_requests.append(url)
        return super().fetch_proxy(url)

    # -- browser helpers (Chrome DevTools protocol of Odoo's ChromeBrowser) -----------------------
    def _eval(self, browser, expression, timeout=10):
        res = browser._websocket_request(
            "Runtime.evaluate",
            params={"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if not res or "exceptionDetails" in res:
            return None
        return res["result"].get("value")

    def _wait_for(self, browser, expression, what, timeout=30):
        """Poll ``expression`` in the page until truthy (across page loads); False if the tour ended."""
        code = "(() => { try { return !!(%s); } catch (e) { return false; } })()" % expression
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if browser._result.done():
                return False  # the tour stopped (failed): _wait_code_ok reports why
            try:
                if self._eval(browser, code, timeout=5):
                    return True
            except (TimeoutError, ChromeBrowserException):  # pylint: disable=except-pass
                pass  # the page is navigating
            time.sleep(0.1)
        browser.take_screenshot("sc_xero_consent_")
        self.fail(
            "timed out waiting for %s; the browser is on %s" % (what, self._eval(browser, "location.href"))
        )

    def _type(self, browser, selector, text):
        self.assertTrue(
            self._eval(
                browser,
                "(() => { const el = document.querySelector(%s);"
                " el.focus(); return document.activeElement === el; })()" % json.dumps(selector),
            ),
            selector,
        )
        browser._websocket_request("Input.insertText", params={"text": text})

    def _click(self, browser, selector):
        """A real mouse click (pressed + released) in the middle of the element."""
        point = self._eval(
            browser,
            "(() => { const el = document.querySelector(%s);"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()" % json.dumps(selector),
        )
        self.assertTrue(point, "nothing to click at %s" % selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            browser._websocket_request(
                "Input.dispatchMouseEvent",
                params={
                    "type": kind,
                    "x": point[0],
                    "y": point[1],
                    "button": "none" if kind == "mouseMoved" else "left",
                    "buttons": 1 if kind == "mousePressed" else 0,
                    "clickCount": 1,
                },
            )

    def _answer_consent_page(self, browser):
        """The sandbox's consent page, as a user answers it: log in, tick both organisations and the
        practice (a tenant that is not an organisation, which the wizard must not offer), Allow."""
        authorize = self.sandbox.url + "/identity/connect/authorize?"
        if not self._wait_for(
            browser,
            "location.href.startsWith(%s) && document.readyState === 'complete'"
            " && document.querySelector('input[name=email]')" % json.dumps(authorize),
            "the consent page's login form",
        ):
            return
        self.assertIn("Sandbox login for", self._eval(browser, "document.body.innerText"))
        self._type(browser, "input[name=email]", "demo@halo.example")
        self._type(browser, "input[name=password]", "demo")
        self._click(browser, "form button[type=submit]")
        if not self._wait_for(
            browser,
            "document.readyState === 'complete'"
            " && document.querySelectorAll('input[name=tenant]').length === 3",
            "the organisation choice",
        ):
            return
        page = self._eval(browser, "document.body.innerText")
        self.assertIn("wants access to your Xero data", page)
        self.assertIn("Halo Demo NZ Limited", page)
        for tenant in (UK_TENANT_ID, NZ_TENANT_ID, PRACTICE_TENANT_ID):
            selector = "input[name=tenant][value='%s']" % tenant
            if not self._eval(browser, "document.querySelector(%s).checked" % json.dumps(selector)):
                self._click(browser, selector)
            self.assertTrue(self._eval(browser, "document.querySelector(%s).checked" % json.dumps(selector)))
        self._click(browser, "button[name=action][value=allow]")
        # the sandbox redirects to Odoo's callback, which redirects to the wizard: the tour resumes there
        self._wait_for(
            browser,
            "location.href.startsWith(%s)" % json.dumps(self.base_url() + WIZARD_URL),
            "the return to the wizard",
        )

    def _run_tour_through_consent(self, login, url_path="/odoo", timeout=90, tour=TOUR):
        """start_tour/browser_js, keeping the browser between the tour's start and its end to
        answer the consent page in it."""
        Users = self.registry["res.users"]

        def setup(_model):
            Users.tour_enabled = False

        with ExitStack() as stack:
            stack.enter_context(patch.object(Users, "tour_enabled", False))
            stack.enter_context(patch.object(Users, "_post_model_setup__", setup))
            stack.enter_context(patch.object(Users, "_compute_tour_enabled", lambda _records: None))
            browser = ChromeBrowser(self, success_signal="tour succeeded")
            stack.enter_context(self.allow_requests(browser=browser))
            stack.callback(self._wait_remaining_requests)
            if "bus.bus" in self.env.registry:
                from odoo.addons.bus.websocket import CloseCode, WebsocketConnectionHandler, _kick_all

                stack.callback(_kick_all, CloseCode.KILL_NOW)
                stack.enter_context(
                    patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True)
                )
            self.authenticate(login, login, browser=browser)
            self.cr.flush()
            self.cr.clear()
            browser.navigate_to(self.base_url() + url_path)
            stack.callback(browser.stop)
            self.assertTrue(
                browser._wait_ready("odoo.isTourReady(%s)" % json.dumps(tour)), "the tour never got ready"
            )
            started = time.monotonic()
            options = {
                "stepDelay": 0,
                "keepWatchBrowser": False,
                "debug": False,
                "startUrl": url_path,
                "delayToCheckUndeterminisms": 0,
            }
            self._eval(browser, "odoo.startTour(%s, %s)" % (json.dumps(tour), json.dumps(options)))
            self._answer_consent_page(browser)
            try:
                browser._wait_code_ok("true", max(timeout - (time.monotonic() - started), 10))
            except ChromeBrowserException as error:
                self.fail("The Xero set-up tour failed\n\n%s" % error)

    # -- the test -----------------------------------------------------------------------------------
    def test_setup_wizard_tour(self):
        self.assertFalse(self.env["res.partner"].search_count([("halo_xero_contact_id", "!=", False)]))
        self.assertFalse(self.env["product.template"].search_count([("halo_xero_item_code", "!=", False)]))
        seed = self.sandbox.state.snapshot(self.sandbox.state.org(UK_TENANT_ID))
        contact_ids = {cid.lower() for cid, c in seed["contacts"].items() if c["ContactStatus"] == "ACTIVE"}
        item_codes = {item["Code"] for item in seed["items"].values()}
        self.assertEqual((len(contact_ids), len(item_codes)), (10, 8))  # xero_sandbox/README.md

        started = time.monotonic()
        self._run_tour_through_consent(self.billing_manager.login)
        self._logger.info("Xero set-up tour took %.1f s", time.monotonic() - started)
        self.env.invalidate_all()

        conn = self.connection
        self.assertEqual(
            (conn.state, conn.tenant_id, conn.tenant_name, conn.client_id, conn.auth_type),
            ("connected", UK_TENANT_ID, "Halo Demo UK Ltd", SANDBOX_CLIENT_ID, "code"),
        )
        self.assertEqual(conn.client_secret, SANDBOX_CLIENT_SECRET)  # typed in the wizard
        self.assertEqual(conn.connected_by_id, self.billing_manager)
        self.assertTrue(conn.xero_connection_ref)
        self.assertFalse(conn.oauth_state)  # single use
        self.assertTrue(conn._halo_token().get("refresh_token"))
        self.assertEqual(conn.oauth_redirect_uri, self.base_url() + CALLBACK)
        # granular scopes were asked for (a new app), and the practice was granted but not offered
        self.assertEqual(set(conn._halo_token()["scope"]), set(xc.DEFAULT_SCOPES))
        self.assertNotIn("accounting.transactions", conn._halo_token()["scope"])
        offered = self.env["halo.xero.setup.tenant"].sudo().search([]).mapped("tenant_id")
        self.assertIn(NZ_TENANT_ID, offered)
        self.assertNotIn(PRACTICE_TENANT_ID, offered)
        self.assertIn(PRACTICE_TENANT_ID, [c["tenantId"] for c in self.sandbox.state.connections.values()])
        # the settings step: the journal chosen, the webhook key typed, the rounding account proposed
        self.assertEqual(
            (conn.payment_journal_id.type, conn.payment_journal_id.company_id), ("bank", self.env.company)
        )
        self.assertEqual(
            (conn.webhook_key, conn.rounding_account_code, conn.default_account_code),
            ("halo-demo-webhook-key", "860", "200"),
        )
        imp = self.env["halo.xero.import"].sudo().search([("connection_id", "=", conn.id)])
        self.assertEqual(len(imp), 1)
        wizard = self.env["halo.xero.setup.wizard"].sudo().search([("connection_id", "=", conn.id)])
        self.assertEqual(wizard.step, "checklist")
        # the checklist's one red item: the sales taxes the import created for Xero's rates the test
        # company lacks, flagged for review, with what to do about them
        todo = [(label, fix) for ok, label, fix in wizard._halo_checklist() if not ok]
        self.assertEqual(
            todo,
            [
                (
                    "Sales taxes mapped to Xero tax types",
                    "4 taxes flagged Xero Mapping to Review (Billing > Configuration > Xero > Mapping).",
                )
            ],
        )
        self.assertFalse(wizard.checklist_ok)
        # nothing in this database matches the sandbox's customers or items: all are created
        self.assertEqual(
            (
                imp.state,
                imp.contacts_created,
                imp.contacts_linked,
                imp.review_count,
                imp.items_created,
                imp.items_linked,
            ),
            ("done", 10, 0, 0, 8, 0),
        )
        partners = self.env["res.partner"].search([("halo_xero_connection_id", "=", conn.id)])
        self.assertEqual({p.halo_xero_contact_id.lower() for p in partners}, contact_ids)
        self.assertEqual(len(partners), 10)
        products = self.env["product.template"].search([("halo_xero_connection_id", "=", conn.id)])
        self.assertEqual(set(products.mapped("halo_xero_item_code")), item_codes)
        self.assertEqual(len(products), 8)

        # the browser went through the consent page (login, organisations + Allow), Odoo exchanged the
        # code server side, listed the organisations and called the UK organisation's API only
        log = [r for r in self.ctl.requests() if r["path"] != "/favicon.ico"]
        calls = [(r["method"], r["path"].lower()) for r in log]
        authorize = "/identity/connect/authorize"
        self.assertEqual(
            calls[:6],
            [
                ("GET", authorize),
                ("POST", authorize),
                ("POST", authorize),
                ("POST", "/connect/token"),
                ("GET", "/connections"),
                ("GET", "/api.xro/2.0/contacts"),
            ],
        )
        self.assertEqual([r["status"] for r in log[:5]], [200, 200, 302, 200, 200])
        granted = self.sandbox.state.snapshot(self.sandbox.state.connections)
        self.assertEqual(
            {c["tenantId"] for c in granted.values()}, {UK_TENANT_ID, NZ_TENANT_ID, PRACTICE_TENANT_ID}
        )
        self.assertTrue(all(path.startswith("/api.xro/2.0/") for _method, path in calls[5:]), calls)
        self.assertEqual({r["tenant"] for r in log[5:]}, {UK_TENANT_ID})
        self.assertFalse([(r["method"], r["path"], r["status"]) for r in log if r["status"] >= 400])
        self.assertEqual(self.external_requests, [], "the browser asked for URLs outside 127.0.0.1")
        self.assertTrue(self.host_spy.hosts)


@tagged("post_install", "-at_install", "halo_tour")
class TestXeroOAuthCallback(_SandboxHttpCase):
    """``/halo_xero/oauth/callback`` and the wizard's Connect on the authorisation-code flow, over
    HTTP with the billing manager's session (the consent page answered over HTTP)."""

    def setUp(self):
        super().setUp()
        self.authenticate(self.billing_manager.login, self.billing_manager.login)
        self.wizard = (
            self.env["halo.xero.setup.wizard"]
            .with_user(self.billing_manager)
            .create(
                {"auth_type": "code", "client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}
            )
        )

    def _connect(self, wizard=None):
        """The wizard's Connect button, as the web client calls it; returns the authorize URL's query."""
        wizard = wizard or self.wizard
        action = self.make_jsonrpc_request(
            "/web/dataset/call_button/halo.xero.setup.wizard/action_connect",
            {
                "model": "halo.xero.setup.wizard",
                "method": "action_connect",
                "args": [[wizard.id]],
                "kwargs": {},
            },
        )
        self.assertEqual((action["type"], action["target"]), ("ir.actions.act_url", "self"))
        url = urllib.parse.urlsplit(action["url"])
        self.assertEqual(
            "%s://%s%s" % (url.scheme, url.netloc, url.path), self.sandbox.url + "/identity/connect/authorize"
        )
        self.env.invalidate_all()
        return action["url"], dict(urllib.parse.parse_qsl(url.query))

    def _callback(self, **params):
        response = self.url_open("%s?%s" % (CALLBACK, urllib.parse.urlencode(params)), allow_redirects=False)
        self.env.invalidate_all()
        return response

    def assertRedirectsToWizard(self, response, wizard=None):
        self.assertEqual(response.status_code, 303, response.text[:500])
        self.assertURLEqual(response.headers["Location"], "%s/%d" % (WIZARD_URL, (wizard or self.wizard).id))

    def test_connect_redirects_to_consent_page(self):
        url, query = self._connect()
        self.assertEqual(
            (query["client_id"], query["response_type"], query["redirect_uri"]),
            (SANDBOX_CLIENT_ID, "code", self.base_url() + CALLBACK),
        )
        self.assertIn("offline_access", query["scope"].split())
        self.assertNotIn("code_challenge", query)
        self.assertGreaterEqual(len(query["state"]), 32)
        conn = self.connection
        self.assertEqual(
            (conn.oauth_state, conn.oauth_wizard_id, conn.oauth_redirect_uri),
            (query["state"], self.wizard.id, self.base_url() + CALLBACK),
        )
        self.assertEqual(self.wizard.connection_id, conn)
        self.assertFalse(self.wizard.client_secret)  # kept on the connection only
        # the consent page answers it
        page = self.url_open(url, allow_redirects=False)
        self.assertEqual(page.status_code, 200)
        self.assertIn("Log in to Xero", page.text)
        # with PKCE: a S256 challenge, no secret needed
        self.wizard.write({"use_pkce": True})
        _url, query = self._connect()
        self.assertEqual(query["code_challenge_method"], "S256")
        self.assertTrue(self.connection.oauth_code_verifier)

    def test_good_code_and_state_connects(self):
        url, query = self._connect()
        answer = consent(url, tenants=(UK_TENANT_ID, NZ_TENANT_ID))
        self.assertEqual(answer["state"], query["state"])
        response = self._callback(code=answer["code"], state=answer["state"], scope=answer["scope"])
        self.assertRedirectsToWizard(response)
        wizard, conn = self.wizard, self.connection
        self.assertEqual((wizard.step, wizard.error_message), ("tenant", False))
        self.assertEqual(
            sorted(wizard.tenant_line_ids.mapped("name")), ["Halo Demo NZ Limited", "Halo Demo UK Ltd"]
        )
        self.assertTrue(conn._halo_token().get("refresh_token"))
        self.assertEqual(conn.connected_by_id, self.billing_manager)
        self.assertFalse(conn.oauth_state)
        # the organisation chosen in the wizard: connected
        uk = wizard.tenant_line_ids.filtered(lambda line: line.tenant_id == UK_TENANT_ID)
        action = self.make_jsonrpc_request(
            "/web/dataset/call_button/halo.xero.setup.tenant/action_select",
            {"model": "halo.xero.setup.tenant", "method": "action_select", "args": [uk.ids], "kwargs": {}},
        )
        self.assertEqual(action["res_id"], wizard.id)
        self.env.invalidate_all()
        self.assertEqual(
            (conn.state, conn.tenant_id, conn.tenant_name), ("connected", UK_TENANT_ID, "Halo Demo UK Ltd")
        )
        self.assertEqual((wizard.step, wizard.xero_contacts, wizard.xero_items), ("preview", 10, 8))
        # the code was used once: the same answer again is refused (its state is gone)
        again = self._callback(code=answer["code"], state=answer["state"])
        self.assertEqual(again.status_code, 400)
        self.assertEqual(
            [(m, p) for m, p, s in self.sandbox_log() if p == "/connect/token"], [("POST", "/connect/token")]
        )

    def test_wrong_state_is_refused(self):
        url, query = self._connect()
        answer = consent(url)
        for state in ("forged-state", ""):
            response = self._callback(code=answer["code"], state=state)
            self.assertEqual(response.status_code, 400)
            self.assertIn("text/html", response.headers["Content-Type"])
            self.assertIn("Xero connection", response.text)
            self.assertIn("Start the connection again" if state else "no state parameter", response.text)
            self.assertIn('href="%s"' % WIZARD_URL, response.text.replace("'", '"'))
        # the right state from another session (another browser, or a forged link): refused too
        self.authenticate(self.billing_manager.login, self.billing_manager.login)
        response = self._callback(code=answer["code"], state=answer["state"])
        self.assertEqual(response.status_code, 400)
        self.assertIn("does not belong to a connection started in your session (wrong state)", response.text)
        conn = self.connection
        self.assertEqual(conn.state, "draft")
        self.assertFalse(conn._halo_token())
        self.assertFalse(conn.tenant_id)
        self.assertEqual(self.wizard.step, "credentials")
        self.assertNotIn(
            "/connect/token", [p for _m, p, _s in self.sandbox_log()]
        )  # the code was never exchanged
        self.assertEqual(conn.oauth_state, query["state"])  # the user's own round trip is still open

    def test_declined_consent(self):
        url, query = self._connect()
        answer = consent(url, allow=False)
        self.assertEqual(answer, {"error": "access_denied", "state": query["state"]})
        response = self._callback(**answer)
        self.assertRedirectsToWizard(response)
        self.assertEqual(self.wizard.step, "credentials")
        self.assertEqual(
            self.wizard.error_message,
            "You declined the access in Xero, so Odoo is not connected. Connect again and click Allow.",
        )
        conn = self.connection
        self.assertEqual(conn.state, "draft")
        self.assertFalse(conn._halo_token())
        self.assertFalse(conn.oauth_state)
        self.assertNotIn("/connect/token", [p for _m, p, _s in self.sandbox_log()])
        # an error Xero does not explain further is shown as it came
        _url, query = self._connect()
        self._callback(error="server_error", state=query["state"])
        self.assertEqual(self.wizard.error_message, "Xero did not authorise the connection (server_error).")
