# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging

from odoo import models

_logger = logging.getLogger(__name__)

CONSUMING_MODES = ("included", "prepay_hours", "prepay_money")


class HaloBillingRunLine(models.Model):
    """Read the contract coverage the billing engine stored on a charge, for the ledger."""

    _inherit = "halo.billing.run.line"

    def _halo_contract_parts(self):
        """Consuming allocation parts held by these charges, from their invoice ``parts``:
        entries whose ``coverage`` is included / prepay_hours / prepay_money, with their
        ``contract_id``, ``hours`` (else ``quantity``) and ``value`` (the money a
        prepay_money part takes from the balance, as returned by ``_halo_allocate_charges``)."""
        result = []
        for line in self:
            for part in line.parts or []:
                mode = part.get("coverage")
                if mode not in CONSUMING_MODES or not part.get("contract_id"):
                    continue
                money = part.get("value", part.get("contract_amount"))
                if mode == "prepay_money" and money is None:
                    _logger.warning(
                        "Run line %s: prepay_money part without 'value'; no money consumed", line.id
                    )
                hours = part.get("hours")
                if hours is None:
                    hours = part.get("quantity") or 0.0
                result.append(
                    {
                        "run_line": line,
                        "contract_id": part["contract_id"],
                        "mode": mode,
                        "hours": hours,
                        # balance hours drawn (work hours × the consumption multiplier)
                        "consumed": part.get("consumed", hours),
                        "amount": money or 0.0,
                        "explanation": part.get("label") or line.name,
                    }
                )
        return result
