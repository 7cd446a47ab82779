# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Webhook events from Xero: each event key processed once, in any order (the resource's current state is
fetched), the poll being the safety net."""

import json
import logging

from odoo import api, fields, models

from ...services import xero_push
from ...services.xero_client import XeroAuthError, XeroError, XeroRetryLater

_logger = logging.getLogger(__name__)


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
            Move._halo_xero_fetch(
                connection, connection._halo_client(), sorted(set(ours.mapped("resource_id"))), credit=True
            )
        except (XeroRetryLater, XeroAuthError) as err:
            ours.write({"message": str(err)[:200]})
            return
        except XeroError as err:
            ours.write({"state": "error", "message": str(err)[:200]})
            return
        ours.write({"state": "done", "message": False})
