# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models
from odoo.exceptions import UserError


class AccountMoveReversal(models.TransientModel):
    _inherit = "account.move.reversal"

    def reverse_moves(self, is_modify=False):
        """*Reverse and create invoice* would release the work (or contract periods) of a
        billing-run or contract invoice and copy its lines to an invoice that bills the same work
        again: the next run or the scheduled invoicing would bill it a second time. Those invoices
        are credited with *Reverse* or *Credit and re-bill* instead."""
        if is_modify and any(move._halo_is_correctable() for move in self.move_ids):
            raise UserError(
                self.env._(
                    "Invoices of billing runs and contracts are corrected with Credit and re-bill (or "
                    "Reverse, then a new billing run): a copied invoice would bill their work twice."
                )
            )
        return super().reverse_moves(is_modify=is_modify)
