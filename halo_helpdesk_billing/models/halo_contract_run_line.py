# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"
PART_MODES = [
    ("included", "Included"),
    ("prepay_hours", "Prepaid hours"),
    ("prepay_money", "Prepaid money"),
    ("payg", "PAYG"),
    ("blocked", "Blocked"),
]


class HaloBillingRunLine(models.Model):
    """Where a billed charge's contract allocation is kept (one allocation part per run
    line), so that ``halo.contract._halo_commit_consumption`` can write the ledger."""

    _inherit = "halo.billing.run.line"

    contract_id = fields.Many2one(
        comodel_name="halo.contract", string="Contract", index="btree_not_null", readonly=True
    )
    contract_mode = fields.Selection(selection=PART_MODES, string="Coverage", readonly=True)
    contract_hours = fields.Float(string="Hours Covered", digits=(16, 4), readonly=True)
    contract_amount = fields.Monetary(
        string="Value Covered", readonly=True, groups=BILLING_USER,
        help="Included / prepaid hours: the PAYG value covered; prepaid money: the money "
        "taken from the balance.",
    )

    @api.model
    def _halo_prepare_contract_vals(self, part):
        """Run line values for one part returned by ``halo.contract._halo_allocate_charges``."""
        return {
            "contract_id": part["contract_id"] or False,
            "contract_mode": part["mode"],
            "contract_hours": part["hours"],
            "contract_amount": part["amount"],
        }

    def _halo_contract_parts(self):
        """Allocation parts held by these lines (hook: one part per line by default)."""
        return [
            {
                "run_line": line,
                "contract_id": line.contract_id.id,
                "mode": line.contract_mode,
                "hours": line.contract_hours,
                "amount": line.contract_amount,
                "explanation": line.explanation or line.name,
            }
            for line in self
            if line.contract_id
        ]
