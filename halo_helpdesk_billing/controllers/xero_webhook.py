# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Xero webhooks: body size capped before anything is read, signature checked on the raw body in
constant time against the keys of connected connections, 200/401/413 with an empty body, events
stored once (at-least-once delivery) and processed by a cron (out of order is fine: the processing
fetches the invoice's current state)."""

import logging

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)

# Xero sends at most a few events per request (a few kB); anything far larger is refused unread
MAX_WEBHOOK_BODY = 256 * 1024


class HaloXeroWebhook(http.Controller):
    @http.route(
        "/halo_xero/webhook",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
        max_content_length=MAX_WEBHOOK_BODY,
    )
    def halo_xero_webhook(self, **_kwargs):
        httprequest = request.httprequest
        length = httprequest.content_length
        if length is not None and length > MAX_WEBHOOK_BODY:
            return self._halo_too_large(length)
        # a chunked body has no length: the route's max_content_length stops the read past the cap (413)
        raw = httprequest.get_data(cache=True)
        if len(raw) > MAX_WEBHOOK_BODY:
            return self._halo_too_large(len(raw))
        signature = httprequest.headers.get("x-xero-signature")
        status = request.env["halo.xero.webhook.event"].sudo()._halo_receive(raw, signature)
        return request.make_response(b"", status=status)

    def _halo_too_large(self, length):
        _logger.warning("Xero webhook: a body of %s bytes refused (the cap is %s)", length, MAX_WEBHOOK_BODY)
        return request.make_response(b"", status=413)
