# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class AccountAccount(models.Model):
    _inherit = "account.account"

    # per company, like the account's own code: each company has one Xero connection (organisation)
    halo_xero_code = fields.Char(
        string="Xero Account Code",
        copy=False,
        company_dependent=True,
        help="Code of the matching revenue account in the current company's Xero organisation.",
    )
