# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The push gets through the rules real Xero enforces (and the sandbox with it): granular scopes for a
new app, no negative quantities, credit notes by CreditNoteID and without discounts, one contact e-mail,
Xero's messages verbatim, and no request over 3.5 MB."""

import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from unittest.mock import patch

from xero_python.accounting import Contact, Contacts, Invoice, Invoices

from odoo.tests import tagged

from ..services import xero_client as xc
from ..services import xero_push
from .test_tour_xero_setup import CALLBACK, _SandboxHttpCase
from .test_xero_connection import REDIRECT, SID, consent
from .test_xero_push_common import HaloXeroPushCommon
from .xero_common import SANDBOX_APP_REGISTERED, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET


def http_get(url):
    """``(status, body)`` of a GET, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@tagged("post_install", "-at_install")
class TestXeroRealRules(HaloXeroPushCommon):
    # -- scopes ------------------------------------------------------------------------------------
    def test_fresh_connection_asks_for_granular_scopes_broad_ones_are_refused(self):
        self.assertGreaterEqual(SANDBOX_APP_REGISTERED, "2026-03-02")  # the fixtures' app is a new app
        conn = self.env["halo.xero.connection"].sudo().new({"name": "Fresh"})
        self.assertEqual(conn.oauth_scopes.split(), list(xc.DEFAULT_SCOPES))
        self.assertNotIn("accounting.transactions", conn.oauth_scopes.split())
        self.assertIn("accounting.invoices", conn.oauth_scopes.split())
        self.assertIn("accounting.payments", conn.oauth_scopes.split())
        conn = self.connection.sudo()
        url = conn._halo_start_oauth(REDIRECT, SID)
        scope = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["scope"][0]
        self.assertEqual(scope.split(), list(xc.DEFAULT_SCOPES))
        answer = consent(url)
        self.assertEqual(
            set(conn._halo_finish_oauth(answer["code"]) and conn._halo_token()["scope"]),
            set(xc.DEFAULT_SCOPES),
        )
        self.assertFalse(conn.scope_warning)
        # the token works for invoices, payments, contacts and settings
        client = conn._halo_client()
        for method in ("get_invoices", "get_payments", "get_contacts", "get_accounts"):
            client.call(self.tenant_id, method)
        # asking for the old broad scope, as the addon did: refused at Xero's consent page
        conn.oauth_scopes = (
            "openid profile email offline_access accounting.transactions accounting.contacts "
            "accounting.settings"
        )
        self.assertIn("accounting.transactions", conn.scope_warning)
        status, page = http_get(conn._halo_start_oauth(REDIRECT, SID))
        self.assertEqual(status, 400)
        self.assertIn("Invalid scope for client", page)
        self.assertIn("unauthorized_client", page)

    def test_legacy_token_with_broad_scopes_is_flagged_for_re_consent(self):
        self.ctl.call("POST", "config", {"registered": "2025-01-15"})  # an app from before the change
        token = self.ctl.grant(
            scope="offline_access accounting.transactions accounting.contacts accounting.settings"
        )
        conn = self.connection.sudo()
        conn._halo_store_token(xc.normalise_token(token))
        conn.invalidate_recordset(["scope_warning"])
        self.assertIn("accounting.transactions", conn.scope_warning)
        self.assertIn("connect again", conn.scope_warning)
        conn._halo_client().call(self.tenant_id, "get_invoices")  # still accepted from a legacy app
        self.assertEqual(
            xc.broad_scopes(["accounting.invoices", "accounting.transactions.read"]),
            ["accounting.transactions.read"],
        )

    def test_missing_scope_says_connect_again(self):
        # a token consented without accounting.invoices: Xero answers 401 AuthorizationUnsuccessful
        token = self.ctl.grant(scope="offline_access accounting.contacts accounting.settings")
        self.connection.sudo()._halo_store_token(xc.normalise_token(token))
        self.customers[0].halo_xero_contact_id = next(
            iter(self.sandbox.state.orgs[self.tenant_id]["contacts"])
        )
        move = self.make_invoices(1, partner=self.customers[0])
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "queued")  # nothing lost: sent once the scope is granted
        self.assertIn("AuthorizationUnsuccessful", move.halo_xero_error)
        self.assertIn("permission (scope)", move.halo_xero_error)
        self.assertEqual({r["status"] for r in self.invoice_writes()}, {401})
        self.assertFalse(self.xero_invoices())

    # -- lines -------------------------------------------------------------------------------------
    def test_negative_quantity_goes_as_positive_quantity_with_negative_unit_amount(self):
        move = self.make_invoices(1, lines=[("Support", 2, 100.0), ("Goodwill discount", -1, 30.0)])
        self.assertEqual(move.amount_total, 204.0)  # (200 - 30) + 20 %
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "sent", move.halo_xero_error)
        lines = self.body(self.invoice_writes()[0])["Invoices"][0]["LineItems"]
        self.assertEqual([(li["Quantity"], li["UnitAmount"]) for li in lines], [(2.0, 100.0), (1.0, -30.0)])
        self.assertEqual(self.xero_by_number(move.name)[0]["Total"], 204.0)
        # both signs negative in Odoo (a negative price on a negative quantity) is a positive line
        line = xero_push.build_line(
            {"description": "x", "quantity": -2, "unit_price": -5, "account_code": "200"}
        )
        self.assertEqual((line["Quantity"], line["UnitAmount"]), (2, 5))

    def test_credit_note_without_discount_rate_and_updated_by_credit_note_id(self):
        self.connection.invoice_status = "DRAFT"  # a draft credit note can be edited in Xero
        refund = self.make_invoices(
            1, lines=[("Refund of support", 3, 50.0)], move_type="out_refund", post=False
        )
        refund.invoice_line_ids.discount = 10
        refund.action_post()
        self.assertEqual(refund.amount_total, 162.0)  # 3 × 50 − 10 % = 135 + 20 %
        refund._halo_xero_push()
        self.assertEqual(refund.halo_xero_state, "sent", refund.halo_xero_error)
        writes = [r for r in self.ctl.requests() if r["path"].lower().endswith("/creditnotes")]
        line = self.body(writes[0])["CreditNotes"][0]["LineItems"][0]
        self.assertNotIn("DiscountRate", line)
        self.assertEqual((line["Quantity"], line["UnitAmount"]), (3.0, 45.0))  # the discount in the price
        credit_notes = self.sandbox.state.orgs[self.tenant_id]["credit_notes"]
        self.assertEqual([cn["Total"] for cn in credit_notes.values()], [162.0])
        # edited in Odoo: the same credit note is updated in Xero, by its CreditNoteID
        cn_id = refund.halo_xero_invoice_id
        refund.button_draft()
        refund.invoice_line_ids.price_unit = 40.0
        refund.action_post()
        self.ctl.clear_requests()
        refund._halo_xero_push()
        self.assertEqual(refund.halo_xero_state, "sent", refund.halo_xero_error)
        body = self.body([r for r in self.ctl.requests() if r["path"].lower().endswith("/creditnotes")][0])
        self.assertEqual(body["CreditNotes"][0]["CreditNoteID"], cn_id)
        self.assertNotIn("InvoiceID", body["CreditNotes"][0])
        self.assertEqual(
            [(cn["CreditNoteID"], cn["Total"]) for cn in credit_notes.values()], [(cn_id, 129.6)]
        )  # 3 × 36 = 108 + 20 %
        self.assertEqual(refund.amount_total, 129.6)

    def test_tracked_inventory_without_stock_needs_allow_backorders(self):
        self.ctl.call(
            "POST", "inventory", {"tenant": self.tenant_id, "item": "SUPPORT-HR", "quantity_on_hand": 1}
        )
        move = self.make_invoices(1)  # 1.5 × SUPPORT-HR, approved in Xero
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "failed")
        self.assertIn("more than the quantity on hand (1)", move.halo_xero_error)  # Xero's message
        self.connection.allow_backorders = True
        move.action_halo_xero_retry()
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "sent", move.halo_xero_error)
        self.assertIn("allowBackorders=True", self.invoice_writes()[-1]["query"])
        item = next(
            i for i in self.sandbox.state.orgs[self.tenant_id]["items"].values() if i["Code"] == "SUPPORT-HR"
        )
        self.assertEqual(item["QuantityOnHand"], -0.5)

    def test_tracking_option_missing_in_xero_fails_with_what_to_fix(self):
        self.connection.write(
            {"tracking_category_name": "Region", "tracking_option_field": "partner_id.city"}
        )
        self.customers[0].city = "East"  # archived in Xero
        self.customers[1].city = "South"
        moves = self.make_invoices(1, partner=self.customers[0]) | self.make_invoices(
            1, partner=self.customers[1]
        )
        moves._halo_xero_push()
        self.assertEqual(moves[0].halo_xero_state, "failed")
        self.assertEqual(
            moves[0].halo_xero_error,
            "Xero has no active tracking option 'East' in the category "
            "'Region' (options: North, South): add it in Xero, or change the connection's tracking "
            "settings.",
        )
        self.assertEqual(moves[1].halo_xero_state, "sent", moves[1].halo_xero_error)
        self.assertEqual(len(self.invoice_writes()), 1)  # only the good one went to Xero
        self.assertEqual(len(self.sandbox_requests("/TrackingCategories")), 1)  # read once per push

    def test_account_codes_are_checked_against_the_imported_chart(self):
        self.env["halo.xero.import"].sudo()._halo_start(self.connection)._halo_run()  # imports the chart
        self.customers.write({"halo_xero_contact_id": self.seed_contact(1)})
        expected = {
            "090": "Account code '090' (Business Bank Account) is a bank or system account in Xero",
            "610": "Account code '610' (Accounts Receivable) is a bank or system account in Xero",
            "280": "Account code '280' (Consulting Services (archived)) is archived in Xero",
            "999": "Account code '999' is not in the chart of accounts imported from Xero",
        }
        products = {
            code: self.env["product.product"].create(
                {"name": "Mapped to %s" % code, "type": "service", "halo_xero_account_code": code}
            )
            for code in expected
        }
        moves = {
            code: self.make_invoices(
                1, lines=[("Support", 1, 10.0, products[code])], partner=self.customers[0]
            )
            for code in expected
        }
        good = self.make_invoices(1, partner=self.customers[0])
        self.ctl.clear_requests()
        for move in [*moves.values(), good]:
            move._halo_xero_push()
        for code, move in moves.items():
            self.assertEqual(move.halo_xero_state, "failed", code)
            self.assertTrue(move.halo_xero_error.startswith(expected[code]), move.halo_xero_error)
        self.assertEqual(good.halo_xero_state, "sent", good.halo_xero_error)
        self.assertEqual(len(self.invoice_writes()), 1)  # Xero never saw the four

    def test_invoice_deleted_in_xero_is_sent_again_as_new(self):
        self.connection.invoice_status = "DRAFT"
        move = self.make_invoices(1)
        move._halo_xero_push()
        old_id = move.halo_xero_invoice_id
        client = self.connection._halo_client()
        client.call(
            self.tenant_id,
            "update_invoice",
            old_id,
            Invoices(invoices=[Invoice(status="DELETED")]),
            idempotency_key="del",
            write=True,
        )
        move.action_halo_xero_refresh()
        self.assertEqual(move.halo_xero_status, "DELETED")
        move.button_draft()
        move.invoice_line_ids[0].price_unit = 100.0
        move.action_post()
        self.assertEqual((move.halo_xero_state, move.halo_xero_invoice_id), ("queued", False))
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "sent", move.halo_xero_error)
        self.assertNotEqual(move.halo_xero_invoice_id, old_id)
        statuses = sorted((i["InvoiceNumber"], i["Status"], i["Total"]) for i in self.xero_invoices())
        self.assertEqual(statuses, [(move.name, "DELETED", 171.0), (move.name, "DRAFT", 180.0)])

    def test_edited_invoice_gets_its_new_pdf_in_xero(self):
        self.connection.write({"invoice_status": "DRAFT", "attach_pdf": True})
        move = self.make_invoices(1)
        move._halo_xero_push()
        self.assertTrue(move.halo_xero_pdf_sent)
        files = self.sandbox.state.orgs[self.tenant_id]["attachments"][move.halo_xero_invoice_id]
        first = dict(next(iter(files.values())))
        move.button_draft()
        move.invoice_line_ids[0].price_unit = 100.0
        move.action_post()
        self.assertFalse(move.halo_xero_pdf_sent)
        self.ctl.clear_requests()
        move._halo_xero_push()
        self.assertTrue(move.halo_xero_pdf_sent)
        self.assertEqual(len(self.sandbox_requests("/Attachments/", method="PUT")), 1)
        files = self.sandbox.state.orgs[self.tenant_id]["attachments"][move.halo_xero_invoice_id]
        self.assertEqual(len(files), 1)  # replaced, not added
        again = next(iter(files.values()))
        self.assertEqual(
            (again["FileName"], again["AttachmentID"]), (first["FileName"], first["AttachmentID"])
        )
        self.assertNotEqual(again["Content"], first["Content"])

    def test_tax_rate_differing_from_xeros_effective_rate_goes_as_draft_and_is_flagged(self):
        self.env["halo.xero.import"].sudo()._halo_start(self.connection)._halo_run()  # imports the rates
        self.assertEqual((self.tax20.halo_xero_effective_rate, self.tax20.halo_xero_rate_known), (20.0, True))
        self.customers.write({"halo_xero_contact_id": self.seed_contact(1)})
        good = self.make_invoices(1, partner=self.customers[0])
        wrong = self.env["account.tax"].create(
            {
                "name": "VAT 20% mis-mapped",
                "amount": 20,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "halo_xero_tax_type": "RROUTPUT",
                "company_id": self.company.id,
            }
        )
        self.env["halo.xero.import"].sudo()._halo_start(self.connection, mode="refresh")._halo_run()
        self.assertEqual((wrong.halo_xero_effective_rate, wrong.halo_xero_rate_known), (5.0, True))
        bad = self.make_invoices(1, partner=self.customers[0], post=False)
        bad.invoice_line_ids.tax_ids = wrong
        bad.action_post()
        (good | bad)._halo_xero_push()
        self.assertEqual(
            (good.halo_xero_state, good.halo_xero_status, good.halo_xero_error), ("sent", "AUTHORISED", False)
        )
        self.assertEqual((bad.halo_xero_state, bad.halo_xero_status), ("sent", "DRAFT"))
        flag = (
            "Sent to Xero as a draft, not approved: Xero's rate of RROUTPUT differs from Odoo's (RROUTPUT 5% in "
            "Xero, 20% in Odoo). Fix the Xero tax type of the tax, then approve the invoice in Xero."
        )
        self.assertTrue(bad.halo_xero_error.startswith(flag), bad.halo_xero_error)
        self.assertIn(flag, bad.halo_xero_log_ids.mapped("message"))

    # -- contacts ----------------------------------------------------------------------------------
    def test_contact_gets_the_first_valid_address_of_the_partner_email(self):
        for email, expected in (
            ("ap@north.example, cfo@north.example", "ap@north.example"),
            ("nobody; Accounts <ap@south.example>", "ap@south.example"),
        ):
            partner = self.env["res.partner"].create(
                {"name": "Mail %s" % expected, "is_company": True, "email": email}
            )
            move = self.make_invoices(1, partner=partner)
            move._halo_xero_push()
            self.assertEqual(move.halo_xero_state, "sent", move.halo_xero_error)
            contact = self.sandbox.state.orgs[self.tenant_id]["contacts"][partner.halo_xero_contact_id]
            self.assertEqual(contact["EmailAddress"], expected)
            self.assertEqual(partner.email, email)  # Odoo keeps its list

    def test_xero_messages_are_shown_verbatim_on_the_invoice_and_in_the_log(self):
        # an address the addon passes on (it looks like one) but Xero refuses
        partner = self.env["res.partner"].create(
            {"name": "Umlaut GmbH", "is_company": True, "email": "rechnung@müller.example"}
        )
        move = self.make_invoices(1, partner=partner)
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "failed")
        expected = "Xero did not accept the contact Umlaut GmbH: Email address must be valid."
        self.assertEqual(move.halo_xero_error, expected)
        self.assertIn(expected, move.halo_xero_log_ids.mapped("message"))
        # an invoice refused by Xero (here: dated in a period locked in Xero) shows Xero's own words
        self.ctl.call("POST", "lock-dates", {"tenant": self.tenant_id, "PeriodLockDate": "2026-07-31"})
        move = self.make_invoices(1, partner=self.customers[0])
        move._halo_xero_push()
        message = "The document date cannot be before the period lock date, currently set at 31-Jul-2026"
        self.assertEqual((move.halo_xero_state, move.halo_xero_error), ("failed", message))
        self.assertIn(message, move.halo_xero_log_ids.mapped("message"))
        later = self.make_invoices(1, partner=self.customers[0], invoice_date=date(2026, 8, 1))
        later._halo_xero_push()
        self.assertEqual(later.halo_xero_state, "sent", later.halo_xero_error)

    def test_merged_and_archived_contacts_are_re_bound_on_refresh(self):
        org = self.sandbox.state.orgs[self.tenant_id]
        Import = self.env["halo.xero.import"].sudo()
        Import._halo_start(self.connection)._halo_run()  # full import: the ten seeded contacts linked
        Partner = self.env["res.partner"].with_context(active_test=False)
        bright = Partner.search([("halo_xero_contact_id", "=", self.seed_contact(2))])
        harbour = Partner.search([("halo_xero_contact_id", "=", self.seed_contact(8))])
        self.assertEqual((bright.name, harbour.name), ("Brightwater Dental Group", "Harbour View Hotel"))
        self.ctl.advance(5)
        self.ctl.call(
            "POST",
            "merge-contacts",
            {"tenant": self.tenant_id, "contact": self.seed_contact(2), "into": self.seed_contact(3)},
        )
        client = self.connection._halo_client()
        client.call(
            self.tenant_id,
            "update_or_create_contacts",
            Contacts(contacts=[Contact(contact_id=self.seed_contact(8), contact_status="ARCHIVED")]),
            idempotency_key="arch",
            write=True,
        )
        refresh = Import._halo_start(self.connection, mode="refresh")
        refresh._halo_run()
        self.assertEqual(refresh.state, "done")
        # merged: linked to the contact it was merged into (another partner holds it: no connection)
        self.assertEqual(bright.halo_xero_contact_id, self.seed_contact(3))
        self.assertIn("merged", bright.message_ids[0].body)
        # archived: unlinked, and the next invoice gets an active contact of that name
        self.assertFalse(harbour.halo_xero_contact_id)
        moves = self.make_invoices(1, partner=bright) | self.make_invoices(1, partner=harbour)
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        sent = {i["ContactID"] for i in self.xero_invoices()}
        self.assertIn(self.seed_contact(3), sent)
        new = org["contacts"][harbour.halo_xero_contact_id]
        self.assertEqual((new["Name"], new["ContactStatus"]), ("Harbour View Hotel", "ACTIVE"))
        self.assertNotEqual(new["ContactID"], self.seed_contact(8))

    def seed_contact(self, n):
        return next(
            c["ContactID"]
            for c in self.sandbox.state.orgs[self.tenant_id]["contacts"].values()
            if c.get("ContactNumber") == "UK-C%03d" % n
        )

    # -- request size ------------------------------------------------------------------------------
    def _big_invoices(self, count=4, lines=250):
        """Itemised invoices of ``lines`` lines with 4,000-character descriptions (about 1 MB each)."""
        self.customers.write(
            {"halo_xero_contact_id": next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))}
        )
        text = (
            "Remote support session: diagnosed the mail flow, replaced the certificate, verified the "
            "backups and documented the change for the customer. "
        ) * 30
        return self.make_invoices(
            count, lines=[("%04d %s" % (n, text[:3990]), 1, 10.0) for n in range(lines)]
        )

    def test_batches_are_cut_by_serialised_size(self):
        moves = self._big_invoices()
        sizes = [xc.payload_size(p) for p in moves._halo_xero_payloads(self.connection, "create").values()]
        self.assertTrue(all(900_000 < size < 1_100_000 for size in sizes), sizes)
        self.assertGreater(sum(sizes), xero_push.XERO_MAX_REQUEST)  # one request of four would be refused
        self.ctl.clear_requests()
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        writes = self.invoice_writes()
        self.assertEqual(
            [len(self.body(w)["Invoices"]) for w in writes], [2, 2]
        )  # 3 would pass 3,000,000 bytes
        self.assertTrue(all(len(w["body"].encode()) <= xero_push.MAX_REQUEST_BYTES for w in writes))
        self.assertEqual([w["status"] for w in writes], [200, 200])

    def test_batch_refused_as_too_large_is_split_in_two_and_sent_again(self):
        moves = self._big_invoices()
        self.ctl.clear_requests()
        with patch.object(xero_push, "MAX_REQUEST_BYTES", 10_000_000):  # as if the size were misjudged
            moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        writes = self.invoice_writes()
        self.assertEqual(
            [(w["status"], len(w["body"].encode()) > xero_push.XERO_MAX_REQUEST) for w in writes],
            [(413, True), (200, False), (200, False)],
        )
        self.assertEqual([len(self.body(w)["Invoices"]) for w in writes[1:]], [2, 2])
        retry = moves[0].halo_xero_log_ids.filtered(lambda entry: entry.outcome == "retry")
        self.assertIn("413", retry.message)

    def test_single_invoice_over_the_cap_fails_with_a_clear_message(self):
        move = self._big_invoices(count=1, lines=950)  # about 3.8 MB alone
        move._halo_xero_push()
        self.assertEqual(move.halo_xero_state, "failed")
        self.assertIn("larger than Xero accepts in one request", move.halo_xero_error)
        self.assertEqual([w["status"] for w in self.invoice_writes()], [413])


@tagged("post_install", "-at_install")
class TestXeroRedirectUri(_SandboxHttpCase):
    def test_redirect_uri_comes_from_the_configured_base_url(self):
        ICP = self.env["ir.config_parameter"].sudo()
        ICP.set_param("web.base.url", "https://odoo.example.com")  # Odoo behind a proxy
        ICP.set_param("web.base.url.freeze", True)
        self.authenticate(self.billing_manager.login, self.billing_manager.login)
        wizard = (
            self.env["halo.xero.setup.wizard"]
            .with_user(self.billing_manager)
            .create(
                {"auth_type": "code", "client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}
            )
        )
        action = self.make_jsonrpc_request(
            "/web/dataset/call_button/halo.xero.setup.wizard/action_connect",
            {
                "model": "halo.xero.setup.wizard",
                "method": "action_connect",
                "args": [[wizard.id]],
                "kwargs": {},
            },
        )
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(action["url"]).query))
        self.assertEqual(
            query["redirect_uri"], "https://odoo.example.com" + CALLBACK
        )  # not the request's host
        self.assertEqual(query["scope"].split(), list(xc.DEFAULT_SCOPES))
        # Xero (the sandbox) accepts it once it is the app's registered URI, exactly
        status, page = http_get(action["url"])
        self.assertEqual(status, 400)
        self.assertIn("Invalid redirect_uri", page)
        self.ctl.call("POST", "config", {"redirect_uris": ["https://odoo.example.com" + CALLBACK]})
        status, page = http_get(action["url"])
        self.assertEqual(status, 200)
        self.assertIn("name='password'", page)
