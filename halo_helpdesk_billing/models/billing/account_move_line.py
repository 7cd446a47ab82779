# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError

from odoo.addons.halo_helpdesk_billing.constants import BILLED_KINDS

from ..halo_engine import BILLING_RUN


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    halo_run_line_id = fields.Many2one(
        comodel_name="halo.billing.run.line",
        string="Billed Charge",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The charge this itemised invoice line bills (empty on summarised lines).",
    )
    halo_kind = fields.Selection(
        selection=BILLED_KINDS,
        string="Billed Kind",
        readonly=True,
        index="btree_not_null",
        help="What a billing run or a contract billed on this line (kept on its credit notes), "
        "for the billing analysis.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        # the access check first: Odoo's own create reads the values before it checks access
        self.browse().check_access("create")
        if any(vals.get("halo_run_line_id") for vals in vals_list):
            self._halo_check_charge_link()
        return super().create(vals_list)

    def write(self, vals):
        if "halo_run_line_id" in vals:
            self._halo_check_charge_link()
        return super().write(vals)

    def _halo_check_charge_link(self):
        """Only billing runs tie invoice lines to their charges (the invoice document prints the
        charge's details, read as superuser)."""
        if not (BILLING_RUN.is_set(self.env) or self.env.su):
            raise AccessError(self.env._("Invoice lines are tied to billing-run charges by the runs only."))
