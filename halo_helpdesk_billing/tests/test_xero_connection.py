# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Connection: OAuth2 round trip against the sandbox's consent page (driven over HTTP), errors,
token refresh under a row lock from two threads, invalid_grant, disconnect, access rights."""

import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..services import xero_client as xc
from .xero_common import NZ_TENANT_ID, UK_TENANT_ID, HaloXeroCommon

REDIRECT = "http://127.0.0.1:8069/halo_xero/oauth/callback"
SID = "session-of-the-user"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def consent(authorize_url, tenants=(UK_TENANT_ID,), allow=True, password="demo"):
    """Log in on the sandbox's consent page and answer it, as the user would; returns the
    query of the redirect back to Odoo."""
    opener = urllib.request.build_opener(_NoRedirect)
    page = opener.open(authorize_url, timeout=10).read().decode()
    hidden = dict(re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", page))
    hidden.update(email="demo@halo.example", password=password)
    page = opener.open(authorize_url, urllib.parse.urlencode(hidden).encode(), timeout=10).read().decode()
    fields = dict(re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", page))
    if fields.get("step") != "consent":
        return {"page": page}
    body = (
        list(fields.items()) + [("tenant", t) for t in tenants] + [("action", "allow" if allow else "cancel")]
    )
    try:
        opener.open(authorize_url, urllib.parse.urlencode(body).encode(), timeout=10)
    except urllib.error.HTTPError as redirect:
        location = redirect.headers["Location"]
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    raise AssertionError("the consent page did not redirect")


@tagged("post_install", "-at_install")
class TestXeroConnection(HaloXeroCommon):
    def _fresh_connection(self):
        self.connection.sudo().write({"state": "draft", "tenant_id": False, "tenant_name": False})
        self.connection._halo_token_record().unlink()
        return self.connection.sudo()

    def test_oauth_round_trip_with_state_bound_to_session(self):
        conn = self._fresh_connection()
        url = conn._halo_start_oauth(REDIRECT, SID)
        self.assertTrue(url.startswith(self.sandbox_url + "/identity/connect/authorize?"))
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        self.assertEqual(
            (query["client_id"], query["redirect_uri"], query["response_type"]),
            ("HALO-DEMO-CLIENT", REDIRECT, "code"),
        )
        self.assertIn("offline_access", query["scope"].split())
        answer = consent(url, tenants=(UK_TENANT_ID, NZ_TENANT_ID))
        self.assertEqual(answer["state"], query["state"])
        # the answer comes back in another session: refused
        with self.assertRaisesRegex(UserError, "wrong state"):
            self.env["halo.xero.connection"]._halo_find_oauth_state(answer["state"], "another-session")
        with self.assertRaisesRegex(UserError, "wrong state"):
            self.env["halo.xero.connection"]._halo_find_oauth_state("forged", SID)
        found = self.env["halo.xero.connection"]._halo_find_oauth_state(answer["state"], SID)
        self.assertEqual(found, conn)
        tenants = found._halo_finish_oauth(answer["code"])
        self.assertEqual(
            sorted(t["tenant_name"] for t in tenants), ["Halo Demo NZ Limited", "Halo Demo UK Ltd"]
        )
        token = conn._halo_token()
        self.assertEqual(
            sorted(token),
            ["access_token", "expires_at", "expires_in", "refresh_token", "scope", "token_type"],
        )
        self.assertIsInstance(token["scope"], list)
        self.assertAlmostEqual(token["expires_at"], time.time() + 1800, delta=30)
        self.assertFalse(conn.oauth_state)  # single use
        uk = next(t for t in tenants if t["tenant_id"] == UK_TENANT_ID)
        conn._halo_select_tenant(uk)
        self.assertEqual((conn.state, conn.tenant_name), ("connected", "Halo Demo UK Ltd"))
        self.assertEqual(conn._halo_check()["tenant_id"], UK_TENANT_ID)

    def test_pkce_round_trip(self):
        conn = self._fresh_connection()
        conn.write({"use_pkce": True, "client_secret": False})
        url = conn._halo_start_oauth(REDIRECT, SID)
        self.assertIn("code_challenge_method=S256", url)
        answer = consent(url)
        tenants = conn._halo_finish_oauth(answer["code"])
        self.assertIn(UK_TENANT_ID, [t["tenant_id"] for t in tenants])
        # no secret was sent: the sandbox only accepts that with the right code_verifier
        self.assertEqual([r["status"] for r in self.sandbox_requests("/connect/token")], [200])

    def test_declined_consent(self):
        conn = self._fresh_connection()
        answer = consent(conn._halo_start_oauth(REDIRECT, SID), allow=False)
        self.assertEqual(answer["error"], "access_denied")
        self.xero_calls_expected = False

    def test_expired_or_reused_code(self):
        conn = self._fresh_connection()
        state_url = conn._halo_start_oauth(REDIRECT, SID)
        code = consent(state_url)["code"]
        conn._halo_finish_oauth(code)
        conn.oauth_redirect_uri = REDIRECT
        with self.assertRaisesRegex(UserError, "expired or was already used"):
            conn._halo_finish_oauth(code)  # reused
        code = consent(conn._halo_start_oauth(REDIRECT, SID))["code"]
        self.ctl.advance(301)  # codes live 5 minutes
        with self.assertRaisesRegex(UserError, "expired or was already used"):
            conn._halo_finish_oauth(code)

    def test_wrong_credentials(self):
        conn = self._fresh_connection()
        conn.client_secret = "not-the-secret"
        code = consent(conn._halo_start_oauth(REDIRECT, SID))["code"]
        with self.assertRaisesRegex(UserError, "does not recognise this app's client id and secret"):
            conn._halo_finish_oauth(code)
        conn.auth_type = "client_credentials"
        with self.assertRaisesRegex(UserError, "does not recognise"):
            conn._halo_connect_client_credentials()

    def test_custom_connection(self):
        conn = self._fresh_connection()
        conn.auth_type = "client_credentials"
        tenants = conn._halo_connect_client_credentials()
        self.assertEqual([t["tenant_id"] for t in tenants], [UK_TENANT_ID])
        conn._halo_select_tenant(tenants[0])
        self.assertNotIn("refresh_token", conn._halo_token())
        # an expired client-credentials token is simply fetched again
        conn._halo_token_record().expires_at = time.time() - 1
        conn._halo_client().call(UK_TENANT_ID, "get_organisations")
        self.assertEqual([r["status"] for r in self.sandbox_requests("/connect/token")], [200, 200])
        self.assertNotIn("refresh_token", conn._halo_token())

    def test_invalid_grant_flags_reauth_and_notifies_managers(self):
        self.ctl.call("POST", "tokens/expire-refresh", {})
        self.connection._halo_token_record().expires_at = time.time() - 1
        # not assertRaises: Odoo's rolls back to a savepoint, and the flag is written in this transaction
        # (the token row is not committed; in production the flag is committed by the lock's cursor)
        try:
            self.connection._halo_client().call(self.tenant_id, "get_organisations")
            raised = None
        except xc.XeroAuthError as err:
            raised = err
        self.assertIn("invalid_grant", str(raised))
        self.assertEqual(self.connection.state, "needs_reauth")
        self.assertIn("invalid_grant", self.connection.last_error)
        message = self.connection.message_ids[:1]
        self.assertIn("re-authorisation", message.subject)
        self.assertIn(self.billing_manager.partner_id, message.partner_ids)
        self.assertNotIn(self.billing_user.partner_id, message.partner_ids)
        # an import stops with a clear message
        imp = self.env["halo.xero.import"]._halo_start(self.connection)._halo_run()
        self.assertEqual(imp.state, "failed")
        self.assertIn("connect to Xero again", imp.last_error)

    def test_organisation_disconnected_on_xero_side(self):
        conns = self.connection._halo_client().connections()
        uk = next(c for c in conns if c["tenant_id"] == UK_TENANT_ID)
        self.connection._halo_client().delete_connection(uk["id"])  # as if removed in Xero's settings
        with self.assertRaisesRegex(UserError, "disconnected from this app in Xero"):
            self.connection._halo_check()
        self.assertEqual(self.connection.state, "needs_reauth")

    def test_disconnect_revokes_and_deletes(self):
        conns = self.connection._halo_client().connections()
        self.connection.xero_connection_ref = next(c["id"] for c in conns if c["tenant_id"] == UK_TENANT_ID)
        rt = self.connection._halo_token()["refresh_token"]
        ref = self.connection.xero_connection_ref
        self.connection.action_disconnect()
        self.assertFalse(self.connection.exists())
        self.assertFalse(self.env["halo.xero.token"].sudo().search([("refresh_token", "=", rt)]))
        calls = [(r["method"], r["path"].lower(), r["status"]) for r in self.sandbox_requests()]
        self.assertIn(("DELETE", "/connections/" + ref.lower(), 204), calls)
        self.assertIn(("POST", "/connect/revocation", 200), calls)
        # the revoked refresh token is dead in Xero
        client = xc.XeroClient(
            xc.XeroEndpoints.for_base(self.sandbox_url),
            "HALO-DEMO-CLIENT",
            "halo-demo-secret",
            lambda: {
                "access_token": "x",
                "refresh_token": rt,
                "scope": ["offline_access"],
                "expires_in": 1800,
                "token_type": "Bearer",
            },
            lambda token: None,
        )
        with self.assertRaises(xc.XeroAuthError):
            client.refresh()

    def test_tokens_readable_by_system_only(self):
        self.xero_calls_expected = False
        manager_conn = self.connection.with_user(self.billing_manager)
        self.assertEqual(manager_conn.tenant_name, "Halo Demo UK Ltd")
        with self.assertRaises(AccessError):
            manager_conn.read(["client_secret"])
        with self.assertRaises(AccessError):
            self.env["halo.xero.token"].with_user(self.billing_manager).search([])
        with self.assertRaises(AccessError):
            self.connection.with_user(self.billing_user).write({"name": "x"})
        self.assertEqual(self.connection.with_user(self.sysadmin).client_id, "HALO-DEMO-CLIENT")

    def test_for_company_and_use_sandbox(self):
        self.xero_calls_expected = False
        Connection = self.env["halo.xero.connection"]
        self.assertEqual(Connection._halo_for_company(self.env.company), self.connection)
        self.assertEqual(self.env.company.halo_xero_connection_id, self.connection)
        other = self.setup_other_company(name="Second Ltd")["company"]
        self.assertFalse(Connection._halo_for_company(other))
        other._halo_xero_use_sandbox("http://127.0.0.1:8765")
        conn = Connection.sudo().search([("company_id", "=", other.id)])
        self.assertEqual(
            (conn.state, conn.client_id, conn.client_secret),
            ("draft", "HALO-DEMO-CLIENT", "halo-demo-secret"),
        )
        self.assertEqual(conn._halo_endpoints(), xc.XeroEndpoints.for_base("http://127.0.0.1:8765"))

    def test_never_logs_tokens(self):
        token = self.connection._halo_token()
        with self.assertLogs("odoo.addons.halo_helpdesk_billing", level="DEBUG") as logs:
            self.connection._halo_token_record().expires_at = time.time() - 1
            self.connection._halo_client().call(self.tenant_id, "get_organisations")
            self.ctl.call("POST", "tokens/expire-refresh", {})
            self.connection._halo_token_record().expires_at = time.time() - 1
            with self.assertRaises(xc.XeroAuthError):
                self.connection._halo_client().call(self.tenant_id, "get_organisations")
        new = self.connection._halo_token()
        text = "\n".join(logs.output)
        for secret in (
            token["access_token"],
            token["refresh_token"],
            new["access_token"],
            new["refresh_token"],
            "halo-demo-secret",
        ):
            self.assertNotIn(secret, text)


@tagged("post_install", "-at_install")
class TestXeroRefreshConcurrency(HaloXeroCommon):
    """Two workers (threads with their own cursors) refresh the same expired token at once:
    the row lock lets one refresh; the other re-reads and uses the new token."""

    def test_two_threads_refresh_once(self):
        registry = self.env.registry
        main_company = self.env.ref("base.main_company")
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            self.assertFalse(
                env["halo.xero.connection"].search([("company_id", "=", main_company.id)]),
                "base.main_company already has a Xero connection",
            )
            conn = env["halo.xero.connection"].create(
                {
                    "company_id": main_company.id,
                    "client_id": "HALO-DEMO-CLIENT",
                    "client_secret": "halo-demo-secret",
                    "tenant_id": UK_TENANT_ID,
                    "state": "connected",
                }
            )
            conn._halo_set_base_url(self.sandbox_url)
            token = xc.normalise_token(self.ctl.grant())
            token["expires_at"] = time.time() - 10  # expired for both workers
            conn._halo_store_token(token)
            conn_id = conn.id

        def cleanup():
            with registry.cursor() as cr:
                api.Environment(cr, SUPERUSER_ID, {})["halo.xero.connection"].browse(conn_id).unlink()

        self.addCleanup(cleanup)
        self.ctl.fault("delay", seconds=0.5, path="/connect/token")  # widen the race window
        self.ctl.clear_requests()
        barrier = threading.Barrier(2)
        results, errors = [], []

        def worker():
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    client = env["halo.xero.connection"].browse(conn_id)._halo_client()
                    barrier.wait(timeout=10)
                    org = client.call(UK_TENANT_ID, "get_organisations")
                    results.append((org.organisations[0].name, client.token_getter()["access_token"]))
            except Exception as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=worker) for _i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        self.assertFalse(errors)
        self.assertEqual([r[0] for r in results], ["Halo Demo UK Ltd"] * 2)
        refreshes = self.sandbox_requests("/connect/token")
        self.assertEqual(len(refreshes), 1, "the refresh token was used twice")
        with registry.cursor() as cr:
            stored = (
                api.Environment(cr, SUPERUSER_ID, {})["halo.xero.connection"].browse(conn_id)._halo_token()
            )
        self.assertEqual({r[1] for r in results}, {stored["access_token"]})
        self.assertGreater(stored["expires_at"], time.time() + 1700)
        self.assertNotEqual(stored["refresh_token"], token["refresh_token"])
