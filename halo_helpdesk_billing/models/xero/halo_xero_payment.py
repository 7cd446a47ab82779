# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Back from Xero: payments (each Xero PaymentID registered once), webhook events (each event key
processed once, in any order) and polling with If-Modified-Since."""

import json
import logging
from datetime import UTC, datetime

from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

from ...services import xero_push
from ...services.xero_client import XeroAuthError, XeroError, XeroRetryLater
from ..halo_engine import XERO_COMMIT

_logger = logging.getLogger(__name__)


def _naive_utc(value):
    if isinstance(value, datetime) and value.tzinfo:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


class HaloXeroPayment(models.Model):
    """A Xero payment registered in Odoo. The unique index on (tenant, PaymentID) guarantees that a
    webhook delivered twice, a poll and a webhook racing, or a replayed page never pay twice."""

    _name = "halo.xero.payment"
    _description = "Xero Payment"
    _order = "date desc, id desc"

    xero_payment_id = fields.Char(string="Xero PaymentID", required=True, readonly=True)
    tenant_id = fields.Char(required=True, readonly=True)
    connection_id = fields.Many2one("halo.xero.connection", readonly=True, ondelete="set null")
    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, readonly=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="move_id.company_id", store=True)
    payment_id = fields.Many2one("account.payment", string="Odoo Payment", readonly=True, ondelete="set null")
    currency_id = fields.Many2one(related="move_id.currency_id")
    amount = fields.Monetary(readonly=True, groups=BILLING_USER)
    date = fields.Date(readonly=True)
    reference = fields.Char(readonly=True)
    state = fields.Selection(
        [("registered", "Registered"), ("skipped", "Skipped")], default="registered", readonly=True
    )
    message = fields.Char(readonly=True)

    _xero_payment_unique = models.UniqueIndex("(tenant_id, xero_payment_id)")

    # registration: halo_xero_reconcile.py (per invoice: payments, deletions, allocations)


class HaloXeroWebhookEvent(models.Model):
    """Events received on the webhook endpoint. The key (tenant, category, resource, date, type) is
    unique, so a redelivered event is stored once; processing fetches the resource's current state,
    so the order of delivery does not matter."""

    _name = "halo.xero.webhook.event"
    _description = "Xero Webhook Event"
    _order = "id"

    key = fields.Char(required=True, readonly=True)
    tenant_id = fields.Char(readonly=True, index=True)
    category = fields.Char(readonly=True)
    event_type = fields.Char(readonly=True)
    resource_id = fields.Char(readonly=True)
    event_date = fields.Char(readonly=True)
    state = fields.Selection(
        [("new", "New"), ("done", "Done"), ("ignored", "Ignored"), ("error", "Error")],
        default="new",
        required=True,
        readonly=True,
        index=True,
    )
    message = fields.Char(readonly=True)

    _key_unique = models.UniqueIndex("(key)")

    @api.model
    def _halo_receive(self, raw, signature):
        """The webhook endpoint's work: 401 unless ``raw`` is signed with a connection's webhook key
        (each key compared in constant time), else store the new events and wake the processing cron.
        Returns the HTTP status (the body is always empty)."""
        connections = self.env["halo.xero.connection"].sudo().search([("state", "=", "connected")])
        # every key is compared (constant time each), so the answer's timing does not tell which one signed
        valid = [xero_push.webhook_signature_ok(raw, signature, conn.webhook_key) for conn in connections]
        signers = connections.browse([conn.id for conn, ok in zip(connections, valid, strict=True) if ok])
        if not signers:
            return 401
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return 200
        events = payload.get("events") if isinstance(payload, dict) else None
        if isinstance(events, list):
            events = self._halo_own_events(signers, events)
        if events:  # an intent-to-receive payload has none
            stored = self._halo_store(events)
            if stored:
                cron = self.env.ref(
                    "halo_helpdesk_billing.ir_cron_halo_xero_webhook_events", raise_if_not_found=False
                )
                if cron:
                    cron.sudo()._trigger()
            _logger.info("Xero webhook: %s events received, %s new", len(events), stored)
        return 200

    @api.model
    def _halo_own_events(self, signers, events):
        """The events of the organisations of the connections whose key signed them; the others are
        dropped (a key must not speak for another company's organisation) and logged."""
        tenants = {(conn.tenant_id or "").lower() for conn in signers if conn.tenant_id}
        own = [e for e in events if isinstance(e, dict) and str(e.get("tenantId") or "").lower() in tenants]
        if len(own) != len(events):
            foreign = sorted({str(e.get("tenantId")) for e in events if isinstance(e, dict) and e not in own})
            _logger.warning(
                "Xero webhook: %s events ignored, signed by the key of connection(s) %s but for "
                "other organisations %s",
                len(events) - len(own),
                signers.ids,
                foreign,
            )
        return own

    @api.model
    def _halo_store(self, events):
        """Insert the events not seen before (ON CONFLICT DO NOTHING). Returns how many were new."""
        rows = [
            (
                xero_push.event_key(e),
                str(e.get("tenantId") or "").lower(),
                e.get("eventCategory"),
                e.get("eventType"),
                str(e.get("resourceId") or "").lower(),
                e.get("eventDateUtc"),
            )
            for e in events
            if isinstance(e, dict)
        ]
        if not rows:
            return 0
        self.env.cr.execute(
            """INSERT INTO halo_xero_webhook_event
                      (key, tenant_id, category, event_type, resource_id, event_date, state,
                       create_uid, write_uid, create_date, write_date)
               SELECT k, t, c, ty, r, d, 'new', %s, %s, now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
                             %s::varchar[]) AS v(k, t, c, ty, r, d)
               ON CONFLICT (key) DO NOTHING""",
            (self.env.uid, self.env.uid, *[list(col) for col in zip(*rows, strict=True)]),
        )
        return self.env.cr.rowcount

    @api.model
    def _cron_halo_xero_events(self, limit=500):
        events = self.search([("state", "=", "new")], limit=limit).try_lock_for_update()
        events._halo_process()
        self.env["ir.cron"]._commit_progress(
            len(events), remaining=self.search_count([("state", "=", "new")])
        )

    def _halo_process(self):
        """Fetch the invoices the events are about (50 per request) and apply their state."""
        self = self.sudo()  # noqa: PLW0642 - events are technical records, processed as superuser
        Connection = self.env["halo.xero.connection"].sudo()
        Move = self.env["account.move"].sudo()
        for tenant, events in self.grouped("tenant_id").items():
            connection = Connection.search([("tenant_id", "=", tenant), ("state", "=", "connected")], limit=1)
            credit_events = events.filtered(lambda e: (e.category or "").upper() == "CREDITNOTE")
            invoice_events = events.filtered(lambda e: (e.category or "").upper() == "INVOICE")
            (events - invoice_events - credit_events).write({"state": "ignored"})
            if credit_events:
                self._halo_process_credit_notes(connection, credit_events)
            if not connection:
                invoice_events.write(
                    {"state": "ignored", "message": "No connected Xero connection for the tenant."}
                )
                continue
            known = set(
                Move.search(
                    [
                        ("halo_xero_invoice_id", "in", invoice_events.mapped("resource_id")),
                        ("halo_xero_connection_id", "=", connection.id),
                    ]
                ).mapped("halo_xero_invoice_id")
            )
            ours = invoice_events.filtered(lambda e, k=known: e.resource_id in k)
            (invoice_events - ours).write({"state": "ignored", "message": "Not an invoice sent from Odoo."})
            if not ours:
                continue
            try:
                Move._halo_xero_fetch(
                    connection, connection._halo_client(), sorted(set(ours.mapped("resource_id")))
                )
            except (XeroRetryLater, XeroAuthError) as err:
                ours.write({"message": str(err)[:200]})  # stay "new": retried by the next run
                continue
            except XeroError as err:
                ours.write({"state": "error", "message": str(err)[:200]})
                continue
            ours.write({"state": "done", "message": False})

    def _halo_process_credit_notes(self, connection, events):
        """CREDITNOTE events: fetch the credit notes sent from Odoo and apply their status."""
        if not connection:
            events.write({"state": "ignored", "message": "No connected Xero connection for the tenant."})
            return
        Move = self.env["account.move"].sudo()
        known = set(
            Move.search(
                [
                    ("halo_xero_invoice_id", "in", events.mapped("resource_id")),
                    ("move_type", "=", "out_refund"),
                    ("halo_xero_connection_id", "=", connection.id),
                ]
            ).mapped("halo_xero_invoice_id")
        )
        ours = events.filtered(lambda e: e.resource_id in known)
        (events - ours).write({"state": "ignored", "message": "Not a credit note sent from Odoo."})
        if not ours:
            return
        try:
            Move._halo_xero_fetch_credit_notes(
                connection, connection._halo_client(), sorted(set(ours.mapped("resource_id")))
            )
        except (XeroRetryLater, XeroAuthError) as err:
            ours.write({"message": str(err)[:200]})
            return
        except XeroError as err:
            ours.write({"state": "error", "message": str(err)[:200]})
            return
        ours.write({"state": "done", "message": False})


class HaloXeroConnection(models.Model):
    _inherit = "halo.xero.connection"

    halo_xero_poll_since = fields.Datetime(
        string="Polled Up To",
        copy=False,
        readonly=True,
        help="Largest UpdatedDateUTC seen by the last poll of invoices (sent as If-Modified-Since).",
    )
    halo_xero_poll_cn_since = fields.Datetime(
        string="Credit Notes Polled Up To",
        copy=False,
        readonly=True,
        help="Largest UpdatedDateUTC seen by the last poll of credit notes (sent as If-Modified-Since).",
    )

    @api.model
    def _cron_halo_xero_poll(self):
        for connection in self.search([("state", "=", "connected")]):
            try:
                # the marker lets the poll commit after every page (its watermark is then durable)
                XERO_COMMIT.on(connection)._halo_xero_poll()
            except XeroError as err:
                _logger.info("Xero poll postponed for connection %s: %s", connection.id, err)
            self.env["ir.cron"]._commit_progress(1)

    def _halo_xero_poll(self, page_size=1000):
        """Status and payments of invoices changed in Xero since the last poll (paged), then the status of
        credit notes. Returns the number of invoice pages read."""
        self.ensure_one()
        client = self._halo_client()
        Move = self.env["account.move"].sudo()
        pages = self._halo_xero_poll_changes(
            client, "get_invoices", Move._halo_xero_apply_remote, "halo_xero_poll_since", page_size
        )
        self._halo_xero_poll_credit_notes(client, page_size)
        return pages

    def _halo_xero_poll_credit_notes(self, client, page_size=100):
        """Status of credit notes changed in Xero since the last poll (paged, If-Modified-Since).
        Their allocations are not payments: an invoice's AmountCredited never registers one."""
        Move = self.env["account.move"].sudo()
        return self._halo_xero_poll_changes(
            client,
            "get_credit_notes",
            Move._halo_xero_apply_credit_notes,
            "halo_xero_poll_cn_since",
            page_size,
        )

    def _halo_xero_poll_changes(self, client, method, apply, since_field, page_size):
        """Read the documents changed in Xero since the watermark ``since_field`` page by page (paged,
        If-Modified-Since), hand each page to ``apply(connection, documents)`` and move the watermark
        to the newest UpdatedDateUTC seen. Returns the number of pages read."""
        since = self[since_field]
        kwargs = {"if_modified_since": since} if since else {}
        newest = since
        pages = 0
        for _page, documents in client.paged(self.tenant_id, method, page_size=page_size, **kwargs):
            pages += 1
            apply(self, documents)
            for document in documents:
                updated = _naive_utc(document.updated_date_utc)
                if updated and (not newest or updated > newest):
                    newest = updated
        if newest and newest != since:
            self[since_field] = newest
        return pages
