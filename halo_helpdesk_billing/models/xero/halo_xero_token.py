# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from ...services import xero_client as xc

SYSTEM = "base.group_system"


class HaloXeroToken(models.Model):
    """OAuth2 tokens of a connection, in their own row so that the refresh lock and its
    committed write never conflict with business transactions that touch the connection."""

    _name = "halo.xero.token"
    _description = "Xero OAuth2 Token"
    _log_access = True

    connection_id = fields.Many2one("halo.xero.connection", required=True, ondelete="cascade", index=True)
    access_token = fields.Char(groups=SYSTEM, copy=False)
    refresh_token = fields.Char(groups=SYSTEM, copy=False)
    token_type = fields.Char(groups=SYSTEM, copy=False, default="Bearer")
    expires_in = fields.Integer(groups=SYSTEM, copy=False)
    expires_at = fields.Float(groups=SYSTEM, copy=False, digits=(16, 3))
    scope = fields.Char(groups=SYSTEM, copy=False)

    _connection_uniq = models.Constraint("UNIQUE(connection_id)", "One token per Xero connection.")

    def _to_dict(self):
        if not self or not self.access_token:
            return {}
        token = {
            "access_token": self.access_token,
            "token_type": self.token_type or "Bearer",
            "expires_in": self.expires_in or 1800,
            "expires_at": self.expires_at or 0.0,
            "scope": (self.scope or "").split(),
        }
        if self.refresh_token:
            token["refresh_token"] = self.refresh_token
        return token

    @api.model
    def _vals_from_dict(self, token):
        token = xc.normalise_token(token) if token.get("access_token") else {}
        return {
            "access_token": token.get("access_token") or False,
            "refresh_token": token.get("refresh_token") or False,
            "token_type": token.get("token_type") or "Bearer",
            "expires_in": token.get("expires_in") or 0,
            "expires_at": token.get("expires_at") or 0.0,
            "scope": " ".join(token.get("scope") or []),
        }
