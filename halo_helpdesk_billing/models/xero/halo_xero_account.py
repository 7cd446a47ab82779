# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models


def _enum(value):
    return getattr(value, "value", value)


class HaloXeroAccount(models.Model):
    """A Xero account (chart of accounts of the connected organisation), for revenue codes."""

    _name = "halo.xero.account"
    _description = "Xero Account"
    _order = "code"
    _rec_names_search = ["code", "name"]

    connection_id = fields.Many2one("halo.xero.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True)
    xero_id = fields.Char(string="Xero AccountID", required=True)
    code = fields.Char(required=True)
    name = fields.Char(required=True)
    account_type = fields.Char(string="Type")
    account_class = fields.Char(string="Class")
    status = fields.Char()
    tax_type = fields.Char()
    system_account = fields.Char()
    is_revenue = fields.Boolean(compute="_compute_is_revenue", store=True)

    _code_uniq = models.Constraint("UNIQUE(connection_id, code)", "A Xero account code is unique.")

    @api.depends("account_class", "status", "system_account")
    def _compute_is_revenue(self):
        for account in self:
            account.is_revenue = (
                account.account_class == "REVENUE"
                and account.status == "ACTIVE"
                and not account.system_account
            )

    @api.depends("code", "name")
    def _compute_display_name(self):
        for account in self:
            account.display_name = "%s %s" % (account.code, account.name)

    @api.model
    def _halo_store(self, connection, accounts):
        """Store Xero's accounts (SDK ``Account`` objects) of ``connection``; the ROUNDING system account
        becomes the connection's rounding account."""
        existing = {a.code: a for a in self.sudo().search([("connection_id", "=", connection.id)])}
        to_create = []
        for acc in accounts:
            if not acc.code:
                continue
            vals = {
                "xero_id": str(acc.account_id),
                "code": acc.code,
                "name": acc.name,
                "account_type": _enum(acc.type),
                "account_class": _enum(acc._class),
                "status": _enum(acc.status),
                "tax_type": acc.tax_type,
                "system_account": _enum(acc.system_account) or False,
            }
            if acc.code in existing:
                existing[acc.code].write(vals)
            else:
                to_create.append(dict(vals, connection_id=connection.id))
            if vals["system_account"] == "ROUNDING" and connection.rounding_account_code != acc.code:
                connection.rounding_account_code = acc.code
        self.sudo().create(to_create)
