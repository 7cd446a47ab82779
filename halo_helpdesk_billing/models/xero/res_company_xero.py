# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

SANDBOX_CLIENT_ID = "HALO-DEMO-CLIENT"
SANDBOX_CLIENT_SECRET = "halo-demo-secret"  # the public demo app of xero_sandbox, not a real secret


class ResCompany(models.Model):
    _inherit = "res.company"

    halo_xero_connection_id = fields.Many2one(
        "halo.xero.connection", string="Xero Connection", compute="_compute_halo_xero_connection_id"
    )

    def _compute_halo_xero_connection_id(self):
        connections = self.env["halo.xero.connection"].sudo().search([("company_id", "in", self.ids)])
        by_company = {conn.company_id.id: conn.id for conn in connections}
        for company in self:
            company.halo_xero_connection_id = by_company.get(company.id, False)

    def _halo_xero_use_sandbox(self, sandbox_url):
        """Point every company's Xero connection at ``xero_sandbox`` with its demo app, so a demo
        user clicks "Connect" and sees the sandbox's consent page (called by tools/demo_configure.py)."""
        Connection = self.env["halo.xero.connection"].sudo().with_context(active_test=False)
        for company in self:
            conn = Connection.search([("company_id", "=", company.id)], limit=1)
            if not conn:
                conn = Connection.create({"company_id": company.id, "name": "Xero (sandbox)"})
            conn._halo_set_base_url(sandbox_url)
            if not conn.client_id or conn.client_id == SANDBOX_CLIENT_ID:
                conn.write({"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET})
        return True
