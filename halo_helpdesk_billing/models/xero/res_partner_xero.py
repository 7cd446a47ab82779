# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

from .halo_xero_link_mixin import halo_check_link_writer

# fields that Xero owns once a partner is linked to a Xero contact (read-only in the form)
XERO_PARTNER_FIELDS = ("name", "vat", "email", "phone", "ref")
LINK_FIELDS = {
    "halo_xero_contact_id": "xero_contact_id",
    "halo_xero_synced_values": "synced_values",
    "halo_xero_updated_at": "updated_at",
}


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "halo.xero.linked.mixin"]
    _halo_link_model = "halo.xero.contact.link"
    _halo_link_field = "partner_id"
    _halo_link_o2m = "halo_xero_contact_link_ids"

    halo_xero_contact_link_ids = fields.One2many(
        "halo.xero.contact.link",
        "partner_id",
        string="Xero Contacts",
        copy=False,
        groups=BILLING_USER,
        help="The customer's contact in each Xero organisation.",
    )
    # the link of the current company's Xero connection
    halo_xero_contact_id = fields.Char(
        string="Xero Contact ID",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        search="_search_halo_xero_contact_id",
        compute_sudo=True,
        help="ContactID of the customer in the current company's Xero organisation (the invoice push sends this).",
    )
    halo_xero_connection_id = fields.Many2one(
        "halo.xero.connection",
        string="Xero Connection",
        compute="_compute_halo_xero_link",
        search="_search_halo_xero_connection_id",
        compute_sudo=True,
    )
    halo_xero_synced_values = fields.Json(
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        compute_sudo=True,
        help="Xero-owned values as last imported.",
    )
    halo_xero_updated_at = fields.Datetime(
        string="Updated in Xero",
        copy=False,
        compute="_compute_halo_xero_link",
        inverse="_inverse_halo_xero_link",
        compute_sudo=True,
    )

    @api.depends_context("company")
    @api.depends("halo_xero_contact_link_ids.xero_contact_id")
    def _compute_halo_xero_link(self):
        self._halo_compute_link_fields(LINK_FIELDS)
        links = self._halo_current_links()
        for partner in self:
            link = links.get(partner.id)
            partner.halo_xero_connection_id = link.connection_id if link and link.xero_contact_id else False

    def _inverse_halo_xero_link(self):
        halo_check_link_writer(self.env)
        Link = self.env["halo.xero.contact.link"]
        connection = Link._halo_current_connection()
        if not connection:
            self._halo_inverse_link_fields(LINK_FIELDS)  # says what is missing
            return
        for partner in self:
            # the first customer bound to a contact owns it; others of the same name may bill it too
            Link._halo_bind(
                connection,
                partner,
                partner.halo_xero_contact_id or False,
                synced_values=partner.halo_xero_synced_values or False,
                updated_at=partner.halo_xero_updated_at or False,
            )

    def _search_halo_xero_contact_id(self, operator, value):
        return self._halo_search_link_field("xero_contact_id", operator, value)

    def _search_halo_xero_connection_id(self, operator, value):
        if operator != "in":
            return NotImplemented
        ids = [v.id if hasattr(v, "id") else v for v in value if v]
        return [
            (
                "halo_xero_contact_link_ids",
                "any",
                [("connection_id", "in", ids), ("xero_contact_id", "!=", False)],
            )
        ]

    def _halo_xero_contact(self, connection):
        """{partner id: ContactID} of these customers in ``connection``'s organisation (one query)."""
        links = self.env["halo.xero.contact.link"]._halo_links_of(connection, self, "partner_id")
        return {pid: link.xero_contact_id for pid, link in links.items() if link.xero_contact_id}

    def _halo_xero_bind_contact(self, connection, contact_id):
        """Bind this customer to a Xero contact of ``connection`` (the owner of it, unless another customer of
        the same connection already is: Xero names are unique, Odoo names need not be)."""
        self.ensure_one()
        self.env["halo.xero.contact.link"]._halo_bind(connection, self, contact_id)
