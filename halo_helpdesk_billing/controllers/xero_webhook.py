# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Xero webhooks: signature checked on the raw body in constant time, 200/401 with an empty body,
events stored once (at-least-once delivery) and processed by a cron (out of order is fine: the
processing fetches the invoice's current state)."""

from odoo import http
from odoo.http import request


class HaloXeroWebhook(http.Controller):
    @http.route("/halo_xero/webhook", type="http", auth="public", methods=["POST"], csrf=False,
                save_session=False)
    def halo_xero_webhook(self, **_kwargs):
        raw = request.httprequest.get_data(cache=True)
        signature = request.httprequest.headers.get("x-xero-signature")
        status = request.env["halo.xero.webhook.event"].sudo()._halo_receive(raw, signature)
        return request.make_response(b"", status=status)
