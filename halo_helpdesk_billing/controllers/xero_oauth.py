# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging

from markupsafe import Markup, escape

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

_logger = logging.getLogger(__name__)

WIZARD_URL = "/odoo/action-halo_helpdesk_billing.halo_xero_setup_wizard_action"
OAUTH_ERRORS = {
    "access_denied": "You declined the access in Xero, so Odoo is not connected. Connect again and click Allow.",
    "unsupported_response_type": "Xero refused the request (unsupported response type).",
    "invalid_request": "Xero refused the request as invalid; check the app's settings.",
    "invalid_scope": "Xero refused the requested permissions (scopes).",
    "unauthorized_client": "Xero does not recognise this app's client ID.",
}


class HaloXeroOAuth(http.Controller):
    @http.route("/halo_xero/oauth/callback", type="http", auth="user", methods=["GET"], sitemap=False)
    def halo_xero_callback(self, code=None, state=None, error=None, **kwargs):
        """Xero's redirect after the consent page: check ``state`` against the session, exchange
        the code server side, and return to the set-up wizard."""
        env = request.env
        try:
            conn = env["halo.xero.connection"]._halo_find_oauth_state(state, request.session.sid)
        except UserError as err:
            _logger.warning("Xero OAuth callback with an unknown state for user %s", env.uid)
            return self._error_page(str(err))
        wizard = env["halo.xero.setup.wizard"].browse(conn.oauth_wizard_id).exists()
        if not wizard or wizard.create_uid != env.user:
            wizard = env["halo.xero.setup.wizard"].create({"company_id": conn.company_id.id})
        if error or not code:
            conn._halo_clear_oauth()
            message = env._(
                OAUTH_ERRORS.get(error, "Xero did not authorise the connection (%(error)s)."),
                error=error or "no code",
            )
            wizard.write({"step": "credentials", "error_message": message})
            return request.redirect("%s/%s" % (WIZARD_URL, wizard.id))
        try:
            tenants = conn._halo_finish_oauth(code)
        except UserError as err:
            wizard.write({"step": "credentials", "error_message": str(err)})
            return request.redirect("%s/%s" % (WIZARD_URL, wizard.id))
        wizard.write({"connection_id": conn.id})
        wizard._halo_set_tenants(tenants)
        return request.redirect("%s/%s" % (WIZARD_URL, wizard.id))

    def _error_page(self, message):
        body = Markup(
            "<!DOCTYPE html><html><head><title>Xero</title></head><body style='font-family:sans-serif'>"
            "<h1>Xero connection</h1><p class='o_halo_xero_error'>%s</p><p><a href='%s'>Back to the Xero set-up</a>"
            "</p></body></html>"
        ) % (escape(message), WIZARD_URL)
        return request.make_response(body, headers=[("Content-Type", "text/html; charset=utf-8")], status=400)
