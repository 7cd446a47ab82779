# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Xero webhooks: signature checked on the raw body in constant time, 200/401 with an empty body,
events stored once (at-least-once delivery) and processed by a cron (out of order is fine: the
processing fetches the invoice's current state)."""

import json
import logging

from odoo import http
from odoo.http import request

from ..services import xero_push

_logger = logging.getLogger(__name__)


class HaloXeroWebhook(http.Controller):
    @http.route("/halo_xero/webhook", type="http", auth="public", methods=["POST"], csrf=False,
                save_session=False)
    def halo_xero_webhook(self, **_kwargs):
        raw = request.httprequest.get_data(cache=True)
        signature = request.httprequest.headers.get("x-xero-signature")
        keys = request.env["halo.xero.connection"].sudo().with_context(active_test=False).search(
            [("state", "!=", "draft")]).mapped("webhook_key")
        # every configured key is checked (each in constant time) so timing does not tell which matched
        valid = [xero_push.webhook_signature_ok(raw, signature, key) for key in keys if key]
        if not any(valid):
            return request.make_response(b"", status=401)
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return request.make_response(b"", status=200)
        events = payload.get("events") if isinstance(payload, dict) else None
        if events:
            stored = request.env["halo.xero.webhook.event"].sudo()._halo_store(events)
            if stored:
                cron = request.env.ref("halo_helpdesk_billing.ir_cron_halo_xero_webhook_events",
                                       raise_if_not_found=False)
                if cron:
                    cron.sudo()._trigger()
            _logger.info("Xero webhook: %s events received, %s new", len(events), stored)
        return request.make_response(b"", status=200)
