# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Xero as a hostile caller sees it: every public method that works as superuser, the connection's
system-only settings, the set-up wizard's company and the webhook, driven over real HTTP
(``/web/session/authenticate`` then ``/web/dataset/call_kw``; the webhook posted to its route) as a
technician, a billing user, a billing manager of another company and a portal user."""

import json

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..services import xero_client as xc
from ..services import xero_push
from .rpc_common import HaloRpcCase
from .test_xero_push_common import HaloXeroPushCommon
from .xero_common import NZ_TENANT_ID, SANDBOX_CLIENT_ID

KEY = "halo-demo-webhook-key"
KEY_B = "halo-second-company-webhook-key"
WEBHOOK = "/halo_xero/webhook"
CONNECTION = "halo.xero.connection"
MOVE = "account.move"


@tagged("post_install", "-at_install")
class TestXeroSecurityRpc(HaloXeroPushCommon, HaloRpcCase):
    halo_other_company = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal.partner_id.parent_id = cls.customers[0]  # a contact of the invoiced customer
        # the second company's own connection, to the sandbox's other organisation
        cls.connection_b = cls._halo_xero_connection(
            cls.company_b, "Xero (second company)", webhook_key=KEY_B
        )
        cls.connection_b.write(
            {"tenant_id": NZ_TENANT_ID, "tenant_name": "Halo Demo NZ Limited", "state": "connected"}
        )

    def setUp(self):
        super().setUp()
        # the webhook's POSTs carry no session
        self.resolve_database_without_session()
        self.xero_calls_expected = False

    def outsiders(self):
        """Callers without the right group or company, each with a logged-in JSON-RPC client."""
        return [(user.login, self.rpc(user)) for user in (self.technician, self.portal, self.manager_b)]

    def assertNoXeroCall(self):
        self.assertSandboxCalls(0)

    # -- connection: disconnect, test ----------------------------------------------------------------
    def test_disconnect_refused_to_callers_without_group_or_company(self):
        refresh_token = self.connection._halo_token()["refresh_token"]
        for login, client in [*self.outsiders(), ("halo_biller", self.rpc(self.billing_user))]:
            with self.subTest(login):
                self.assertRpcRefused(client, CONNECTION, "action_disconnect", [self.connection.id])
        self.env.invalidate_all()
        self.assertTrue(self.connection.exists())
        self.assertEqual(self.connection._halo_token()["refresh_token"], refresh_token)
        self.assertNoXeroCall()  # nothing was revoked in Xero
        # the company's billing manager may
        self.rpc(self.billing_manager).call(CONNECTION, "action_disconnect", [self.connection.id])
        self.env.invalidate_all()
        self.assertFalse(self.connection.exists())
        self.assertSandboxCalls(1, "/connect/revocation")
        self.xero_calls_expected = True

    def test_test_connection_refused_to_callers_without_group_or_company(self):
        for login, client in self.outsiders():
            with self.subTest(login):
                self.assertRpcRefused(client, CONNECTION, "action_test_connection", [self.connection.id])
                self.assertRpcRefused(client, CONNECTION, "action_open_setup_wizard", [self.connection.id])
        self.assertNoXeroCall()
        # a billing user of the company may check it (one call to Xero)
        action = self.rpc(self.billing_user).call(CONNECTION, "action_test_connection", [self.connection.id])
        self.assertEqual(action["params"]["type"], "success")
        self.assertSandboxCalls(1, "/Organisation")
        self.xero_calls_expected = True

    def test_oauth_answer_only_for_a_billing_manager_of_the_company(self):
        """The consent round trip is bound to the session; the answer is also refused to a user who is
        not (or no longer) a billing manager of the connection's company."""
        Connection = self.env[CONNECTION]
        self.connection.with_user(self.billing_manager)._halo_start_oauth("http://localhost/cb", "SID")
        state = self.connection.oauth_state
        self.assertEqual(
            Connection.with_user(self.billing_manager)._halo_find_oauth_state(state, "SID"), self.connection
        )
        for user in (self.billing_user, self.technician, self.manager_b):
            with self.subTest(user.login), self.assertRaisesRegex(UserError, "Only billing managers"):
                Connection.with_user(user)._halo_find_oauth_state(state, "SID")

    # -- imports and reviews -------------------------------------------------------------------------
    def test_import_resume_refused_to_callers_without_group_or_company(self):
        imp = (
            self.env["halo.xero.import"]
            .sudo()
            .create({"connection_id": self.connection.id, "state": "paused"})
        )
        for login, client in [*self.outsiders(), ("halo_biller", self.rpc(self.billing_user))]:
            with self.subTest(login):
                self.assertRpcRefused(client, "halo.xero.import", "action_resume", [imp.id])
        self.env.invalidate_all()
        self.assertEqual((imp.state, imp.step, imp.api_calls), ("paused", "accounts", 0))
        self.assertNoXeroCall()
        self.rpc(self.billing_manager).call("halo.xero.import", "action_resume", [imp.id])
        self.env.invalidate_all()
        self.assertEqual(imp.state, "done")
        self.xero_calls_expected = True

    def _review(self, **vals):
        return (
            self.env["halo.xero.import.review"]
            .sudo()
            .create(
                {
                    "connection_id": self.connection.id,
                    "xero_contact_id": "11111111-2222-3333-4444-555555555555",
                    "xero_name": "Dunmore Logistics plc",
                    "xero_email": "accounts@dunmore.example",
                    "xero_values": {
                        "name": "Dunmore Logistics plc",
                        "email": "accounts@dunmore.example",
                        "vat": None,
                        "phone": None,
                        "ref": None,
                    },
                    **vals,
                }
            )
        )

    def test_review_link_refused_to_outsiders_and_to_users_partners(self):
        customer = self.env["res.partner"].create({"name": "Dunmore Logistics", "is_company": True})
        review = self._review(candidate_ids=[(6, 0, customer.ids)])
        for login, client in self.outsiders():
            with self.subTest(login):
                self.assertRpcRefused(client, "halo.xero.import.review", "action_link", [review.id])
        manager = self.rpc(self.billing_manager)
        admin_partner = self.env.ref("base.user_admin").partner_id
        admin_email = admin_partner.email
        company_partner = self.env.company.partner_id
        contact_person = self.env["res.partner"].create({"name": "Dora Dunmore", "parent_id": customer.id})
        partner_b = self.env["res.partner"].create(
            {"name": "B's customer", "is_company": True, "company_id": self.company_b.id}
        )
        for target, reason in (
            (admin_partner, ""),
            (self.billing_user.partner_id, "contact of a user"),
            (company_partner, "company's own contact"),
            (contact_person, "contact person"),
            (partner_b, ""),
        ):  # another company's customer: not even readable
            with self.subTest(target.name):
                # the reviewer may choose any partner in the list: the link checks it
                manager.call("halo.xero.import.review", "write", [review.id], {"partner_id": target.id})
                error = self.assertRpcRefused(manager, "halo.xero.import.review", "action_link", [review.id])
                if reason:
                    self.assertIn(reason, error.message)
        self.env.invalidate_all()
        self.assertEqual(admin_partner.email, admin_email)
        self.assertFalse(
            any(
                (admin_partner | self.billing_user.partner_id | company_partner | partner_b).mapped(
                    "halo_xero_contact_id"
                )
            )
        )
        # a customer of the company is linked, with Xero's values
        manager.call("halo.xero.import.review", "write", [review.id], {"partner_id": customer.id})
        manager.call("halo.xero.import.review", "action_link", [review.id])
        self.env.invalidate_all()
        self.assertEqual(
            (review.state, customer.halo_xero_contact_id, customer.name, customer.email),
            ("linked", review.xero_contact_id, "Dunmore Logistics plc", "accounts@dunmore.example"),
        )

    def test_review_values_keep_to_the_fields_xero_owns(self):
        """``xero_values`` is writable by the reviewer and applied as superuser: only Xero's fields."""
        review = self._review()
        for login, client in self.outsiders():
            with self.subTest(login):
                self.assertRpcRefused(client, "halo.xero.import.review", "action_create", [review.id])
        user_partner = self.billing_user.partner_id
        manager = self.rpc(self.billing_manager)
        manager.call(
            "halo.xero.import.review",
            "write",
            [review.id],
            {
                "xero_values": {
                    "name": "Evil Ltd",
                    "email": "evil@example.com",
                    "user_ids": [[4, self.billing_user.id]],
                    "company_id": self.company_b.id,
                    "_address": {"city": "Leeds", "user_ids": [[4, self.billing_user.id]]},
                }
            },
        )
        manager.call("halo.xero.import.review", "action_create", [review.id])
        self.env.invalidate_all()
        created = review.partner_id
        self.assertEqual(
            (created.name, created.email, created.city, created.company_id),
            ("Evil Ltd", "evil@example.com", "Leeds", self.env.company),
        )
        self.assertFalse(created.user_ids)
        self.assertEqual(self.billing_user.partner_id, user_partner)

    # -- invoices: retry, send now, refresh ----------------------------------------------------------
    def test_invoice_xero_actions_refused_to_callers_without_group_or_company(self):
        move = self.make_invoices(1, partner=self.customers[0])
        move.sudo().write(
            {
                "halo_xero_state": "failed",
                "halo_xero_invoice_id": "6a5e3f4c-0000-4000-8000-000000000001",
                "halo_xero_error": "Xero refused it",
            }
        )
        Job = self.env["queue.job"].sudo()
        push_jobs = [("method_name", "=", "_halo_job_xero_push")]
        jobs = Job.search_count(push_jobs)
        portal = self.rpc(self.portal)
        # the portal user reads their invoice...
        self.assertEqual(
            portal.call(MOVE, "read", [move.id], ["halo_xero_state"])[0]["halo_xero_state"], "failed"
        )
        for login, client in self.outsiders():
            for method in ("action_halo_xero_retry", "action_halo_xero_send_now", "action_halo_xero_refresh"):
                with self.subTest(login=login, method=method):
                    self.assertRpcRefused(client, MOVE, method, [move.id])
        self.env.invalidate_all()
        self.assertEqual((move.halo_xero_state, move.halo_xero_payload_version), ("failed", 1))
        self.assertEqual(Job.search_count(push_jobs), jobs, "no Xero push job enqueued")
        self.assertNoXeroCall()
        # a billing user of the company may, on the company's own connection only
        biller = self.rpc(self.billing_user)
        error = self.assertRpcRefused(
            biller, MOVE, "write", [move.id], {"halo_xero_connection_id": self.connection_b.id}
        )
        self.assertIn("company inconsistencies", error.message)
        biller.call(MOVE, "action_halo_xero_retry", [move.id])
        self.env.invalidate_all()
        self.assertEqual((move.halo_xero_state, move.halo_xero_payload_version), ("queued", 2))
        self.assertEqual(Job.search_count(push_jobs), jobs + 1, "queued again: its push job")
        action = biller.call(MOVE, "action_halo_xero_send_now", [move.id])
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(Job.search_count(push_jobs), jobs + 2, "send now: one more")

    def test_sync_log_and_payments_of_other_companies_are_not_readable(self):
        move = self.make_invoices(1)
        self.env["halo.xero.sync.log"]._halo_log(move, "create", "ok", "sent")
        self.env["halo.xero.payment"].sudo().create(
            {
                "xero_payment_id": "7b000000-0000-4000-8000-000000000001",
                "tenant_id": self.tenant_id,
                "connection_id": self.connection.id,
                "move_id": move.id,
                "amount": 171.0,
                "state": "skipped",
            }
        )
        domain = [("move_id", "=", move.id)]
        for model in ("halo.xero.sync.log", "halo.xero.payment"):
            with self.subTest(model):
                self.assertEqual(self.rpc(self.manager_b).call(model, "search_read", domain, ["id"]), [])
                self.assertEqual(
                    len(self.rpc(self.billing_user).call(model, "search_read", domain, ["id"])), 1
                )

    # -- connection settings: system administrators only --------------------------------------------
    def test_api_urls_and_tracking_path_for_system_administrators_only(self):
        manager = self.rpc(self.billing_manager)
        for fname in (
            "accounting_url",
            "token_url",
            "authorize_url",
            "revoke_url",
            "identity_url",
            "tracking_option_field",
        ):
            with self.subTest(fname):
                self.assertRpcRefused(
                    manager,
                    CONNECTION,
                    "write",
                    [self.connection.id],
                    {fname: "https://attacker.example/api.xro/2.0"},
                )
                self.assertRpcRefused(manager, CONNECTION, "read", [self.connection.id], [fname])
        # nor through a new connection (the second company's manager, for their own company)
        self.env[CONNECTION].sudo().browse(self.connection_b.id).unlink()
        self.assertRpcRefused(
            self.rpc(self.manager_b),
            CONNECTION,
            "create",
            {"company_id": self.company_b.id, "token_url": "https://attacker.example/connect/token"},
        )
        self.env.invalidate_all()
        self.assertEqual(self.connection._halo_endpoints(), xc.XeroEndpoints.for_base(self.sandbox_url))
        # the manager still edits the other settings
        manager.call(CONNECTION, "write", [self.connection.id], {"tracking_category_name": "Service"})
        # a system administrator sets a real field path of the invoice line, and nothing else
        admin = self.rpc(self.sysadmin)
        for path in ("product_id", "product_id.categ_id", "analytic_line_ids.account_id", "partner_id.ref"):
            admin.call(CONNECTION, "write", [self.connection.id], {"tracking_option_field": path})
        for path in (
            "company_id.halo_xero_connection_id.client_secret",
            "move_id.partner_id.user_ids.login",
            "create_uid.password",
            "product_id.standard_price",
            "price_subtotal",
            "nonexistent",
            "product_id.__class__",
            "product_id.categ_id.parent_id.parent_id.name",
        ):
            with self.subTest(path):
                self.assertRpcRefused(
                    admin,
                    CONNECTION,
                    "write",
                    [self.connection.id],
                    {"tracking_option_field": path},
                    names=("ValidationError",),
                )
        admin.call(
            CONNECTION, "write", [self.connection.id], {"accounting_url": self.sandbox_url + "/api.xro/2.0"}
        )

    def test_tracking_path_stored_before_the_check_is_not_read(self):
        """A path stored before this check (or by SQL) is not followed by the push."""
        move = self.make_invoices(1, post=False)
        self.env.cr.execute(
            "UPDATE halo_xero_connection SET tracking_category_name = 'Service', "
            "tracking_option_field = 'company_id.name' WHERE id = %s",
            [self.connection.id],
        )
        self.connection.invalidate_recordset()
        self.assertEqual(move._halo_xero_tracking(self.connection, move.invoice_line_ids[0]), [])
        self.connection.write({"tracking_option_field": "product_id"})
        self.assertEqual(
            move._halo_xero_tracking(self.connection, move.invoice_line_ids[0]),
            [("Service", self.product_xero.display_name)],
        )

    # -- set-up wizard: own companies only -----------------------------------------------------------
    def test_setup_wizard_only_for_the_callers_companies(self):
        other = self.rpc(self.manager_b)
        Wizard = "halo.xero.setup.wizard"
        self.assertRpcRefused(
            other, Wizard, "create", {"company_id": self.env.company.id, "auth_type": "client_credentials"}
        )
        self.assertRpcRefused(other, Wizard, "create", {"connection_id": self.connection.id})
        own = other.call(Wizard, "create", {"auth_type": "client_credentials"})
        self.assertRpcRefused(other, Wizard, "write", [own], {"connection_id": self.connection.id})
        self.assertRpcRefused(other, Wizard, "write", [own], {"company_id": self.env.company.id})
        # a wizard of company A, started by its manager: nobody else drives it
        wizard = (
            self.env[Wizard]
            .with_user(self.billing_manager)
            .create(
                {"auth_type": "client_credentials", "client_id": "ATTACKER-APP", "client_secret": "attacker"}
            )
        )
        for login, client in [*self.outsiders(), ("halo_biller", self.rpc(self.billing_user))]:
            with self.subTest(login):
                self.assertRpcRefused(client, Wizard, "action_connect", [wizard.id])
                self.assertRpcRefused(client, Wizard, "action_import", [wizard.id])
        self.env.invalidate_all()
        self.assertEqual(self.connection.client_id, SANDBOX_CLIENT_ID)
        self.assertEqual(self.connection.tenant_id, self.tenant_id)
        self.assertFalse(
            self.env["halo.xero.import"].sudo().search([("connection_id", "=", self.connection.id)])
        )
        self.assertNoXeroCall()

    # -- webhook -------------------------------------------------------------------------------------
    def post(self, body, key):
        self.env.flush_all()
        return self.url_open(
            WEBHOOK,
            data=body,
            headers={
                "Content-Type": "application/json",
                "x-xero-signature": xero_push.webhook_signature(body, key),
            },
        )

    def payload(self, *tenants, entropy="E"):
        events = [
            {
                "resourceId": "00000000-0000-0000-0000-%012d" % n,
                "eventDateUtc": "2026-07-31T10:00:00.000",
                "eventType": "UPDATE",
                "eventCategory": "INVOICE",
                "tenantId": tenant,
                "tenantType": "ORGANISATION",
            }
            for n, tenant in enumerate(tenants, 1)
        ]
        return json.dumps(
            {"events": events, "firstEventSequence": 1, "lastEventSequence": len(events), "entropy": entropy}
        ).encode()

    def stored_tenants(self):
        self.env.invalidate_all()
        return sorted(self.env["halo.xero.webhook.event"].search([]).mapped("tenant_id"))

    def test_webhook_refuses_a_big_body_before_reading_it(self):
        filler = "x" * (300 * 1024)
        body = json.dumps(
            {"events": json.loads(self.payload(self.tenant_id))["events"], "entropy": filler}
        ).encode()
        response = self.post(body, KEY)
        self.assertEqual(response.status_code, 413)
        # without a length (chunked): refused as well, the body is not read to its end
        chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
        self.env.flush_all()
        chunked = self.url_open(
            WEBHOOK,
            data=chunks,
            headers={
                "Content-Type": "application/json",
                "x-xero-signature": xero_push.webhook_signature(body, KEY),
            },
        )
        self.assertIn(chunked.status_code, (401, 413))  # read up to the cap at most: never a valid signature
        self.assertEqual(self.stored_tenants(), [])
        # a real payload passes
        self.assertEqual(self.post(self.payload(self.tenant_id), KEY).status_code, 200)
        self.assertEqual(self.stored_tenants(), [self.tenant_id.lower()])

    def test_webhook_refuses_keys_of_connections_not_connected(self):
        body = self.payload(NZ_TENANT_ID)
        for vals in (
            {"state": "disconnected"},
            {"state": "needs_reauth"},
            {"state": "draft"},
            {"state": "connected", "active": False},
        ):
            with self.subTest(**vals):
                self.connection_b.write(vals)
                self.assertEqual(self.post(body, KEY_B).status_code, 401)
        self.assertEqual(self.stored_tenants(), [])
        self.connection_b.write({"state": "connected", "active": True})
        self.assertEqual(self.post(body, KEY_B).status_code, 200)
        self.assertEqual(self.stored_tenants(), [NZ_TENANT_ID.lower()])

    def test_webhook_events_only_for_the_organisation_of_the_signing_key(self):
        body = self.payload(self.tenant_id, NZ_TENANT_ID, "AAAAAAAA-0000-0000-0000-000000000000")
        with self.assertLogs(
            "odoo.addons.halo_helpdesk_billing.models.xero.halo_xero_webhook_event", "WARNING"
        ) as logs:
            self.assertEqual(self.post(body, KEY_B).status_code, 200)
        self.assertIn("2 events ignored", logs.output[0])
        self.assertEqual(self.stored_tenants(), [NZ_TENANT_ID.lower()])
        # one Xero app (one webhook key) connected to both organisations: both are its own
        self.connection_b.write({"webhook_key": KEY})
        self.assertEqual(
            self.post(self.payload(self.tenant_id, NZ_TENANT_ID, entropy="F"), KEY).status_code, 200
        )
        # the NZ event was stored already (same event key): one new event, the UK one
        self.assertEqual(self.stored_tenants(), sorted([self.tenant_id.lower(), NZ_TENANT_ID.lower()]))
