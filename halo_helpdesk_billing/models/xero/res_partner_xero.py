# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

# fields that Xero owns once a partner is linked to a Xero contact (read-only in the form)
XERO_PARTNER_FIELDS = ("name", "vat", "email", "phone", "ref")


class ResPartner(models.Model):
    _inherit = "res.partner"

    halo_xero_contact_id = fields.Char(
        string="Xero Contact ID", index="btree_not_null", copy=False,
        help="ContactID of the customer in Xero (the invoice push sends this).")
    halo_xero_connection_id = fields.Many2one(
        "halo.xero.connection", string="Xero Connection", copy=False, index="btree_not_null",
        ondelete="set null")
    halo_xero_synced_values = fields.Json(copy=False, help="Xero-owned values as last imported.")
    halo_xero_updated_at = fields.Datetime(string="Updated in Xero", copy=False)

    _halo_xero_contact_uniq = models.UniqueIndex(
        "(halo_xero_contact_id, halo_xero_connection_id) WHERE halo_xero_contact_id IS NOT NULL")
