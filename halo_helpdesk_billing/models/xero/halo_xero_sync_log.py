# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models


class HaloXeroSyncLog(models.Model):
    """One line per invoice and Xero exchange: what was sent, with which key, and what came back."""

    _name = "halo.xero.sync.log"
    _description = "Xero Sync Log"
    _order = "id desc"

    move_id = fields.Many2one("account.move", string="Invoice", index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", related="move_id.company_id", store=True, index=True)
    action = fields.Selection(
        [
            ("contact", "Ensure contact"),
            ("create", "Create"),
            ("update", "Update"),
            ("lookup", "Look up"),
            ("attach", "Attach PDF"),
            ("online", "Online URL"),
            ("status", "Status"),
            ("payment", "Payment"),
            ("webhook", "Webhook"),
            ("refused", "Refused"),
            ("allocate", "Allocate credit note"),
            ("cancel", "Void / delete"),
            ("reverse", "Reverse payment"),
            ("allocation", "Xero allocation"),
            ("reconcile", "Reconcile"),
        ],
        required=True,
    )
    idempotency_key = fields.Char(
        help="Idempotency-Key of the request (the same key means the same request)."
    )
    request_id = fields.Char(help="The Xero request's envelope Id, when Xero answered.")
    outcome = fields.Selection(
        [
            ("ok", "OK"),
            ("error", "Error"),
            ("retry", "Retry later"),
            ("unknown", "Unknown outcome"),
            ("skipped", "Skipped"),
        ],
        required=True,
    )
    message = fields.Text()
    xero_invoice_id = fields.Char(string="Xero InvoiceID")

    @api.model
    def _halo_log(self, moves, action, outcome, message="", key=None, request_id=None, xero_ids=None):
        """Batch-create one log line per move (``xero_ids``: {move id: InvoiceID})."""
        xero_ids = xero_ids or {}
        return self.sudo().create(
            [
                {
                    "move_id": move.id,
                    "action": action,
                    "outcome": outcome,
                    "message": (message or "")[:2000],
                    "idempotency_key": key,
                    "request_id": request_id,
                    "xero_invoice_id": xero_ids.get(move.id),
                }
                for move in moves
            ]
        )
