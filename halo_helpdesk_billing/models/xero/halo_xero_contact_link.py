# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import uuid

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER

from ...services import xero_client as xc
from .halo_xero_connection import halo_check_caller


class HaloXeroContactLink(models.Model):
    """The Xero contact of a customer in one Xero organisation (ContactID, Xero's values as last imported)."""

    _name = "halo.xero.contact.link"
    _inherit = ["halo.xero.link.mixin"]
    _description = "Xero Contact of a Customer"
    _order = "connection_id, partner_id"
    _rec_name = "partner_id"
    _halo_record_field = "partner_id"

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, ondelete="cascade", index=True
    )
    xero_contact_id = fields.Char(string="Xero ContactID", index="btree_not_null", copy=False)
    owner = fields.Boolean(
        default=True,
        help="Xero's values of the contact are applied to this customer. Another customer of the "
        "same name may bill the same Xero contact without owning it (Xero's names are unique, Odoo's need not be).",
    )
    synced_values = fields.Json(copy=False, help="Xero-owned values as last imported.")
    updated_at = fields.Datetime(string="Updated in Xero", copy=False)
    relink_to = fields.Char(
        string="Re-link To",
        copy=False,
        help="ContactID or exact name of another contact of this Xero organisation; then click Re-link.",
    )

    _partner_uniq = models.Constraint(
        "UNIQUE(connection_id, partner_id)", "A customer has one Xero contact per Xero connection."
    )
    _owner_uniq = models.UniqueIndex(
        "(connection_id, xero_contact_id) WHERE owner AND xero_contact_id IS NOT NULL"
    )

    @api.model
    def _halo_bind(self, connection, partner, contact_id, **vals):
        """Bind ``partner`` to ``contact_id`` on ``connection`` (engine: push, import, review). It owns the
        contact unless another customer of the connection already does."""
        taken = (
            self.sudo().search_count(
                [
                    ("connection_id", "=", connection.id),
                    ("xero_contact_id", "=", contact_id),
                    ("owner", "=", True),
                    ("partner_id", "!=", partner.id),
                ]
            )
            if contact_id
            else 0
        )
        vals = dict(vals, xero_contact_id=contact_id or False, owner=not taken)
        return self._halo_write_links(connection, partner, "partner_id", {partner.id: vals})

    # -- re-link (billing managers) -------------------------------------------------------------------
    def action_relink(self):
        """Bind the customer to the Xero contact named in ``relink_to`` (its ContactID or exact name), after
        reading it from Xero: it must exist, be active (a merged contact is followed to the contact it was
        merged into) and not be another customer's contact in this organisation."""
        halo_check_caller(self, BILLING_MANAGER, "write")
        for link in self.sudo():
            target = (link.relink_to or "").strip()
            if not target:
                raise UserError(
                    self.env._(
                        "Enter the ContactID or the exact name of the Xero contact to link %(partner)s to.",
                        partner=link.partner_id.display_name,
                    )
                )
            contact = link._halo_find_contact(target)
            contact_id = str(contact.contact_id)
            owner = self.search(
                [
                    ("connection_id", "=", link.connection_id.id),
                    ("xero_contact_id", "=", contact_id),
                    ("owner", "=", True),
                    ("id", "!=", link.id),
                ],
                limit=1,
            )
            if owner:
                raise UserError(
                    self.env._(
                        "The Xero contact %(name)s is already linked to %(partner)s in %(org)s: re-link that customer "
                        "first, or merge the two customers.",
                        name=contact.name,
                        partner=owner.partner_id.display_name,
                        org=link.connection_id.tenant_name or link.connection_id.name,
                    )
                )
            old = link.xero_contact_id
            link.write(
                {"xero_contact_id": contact_id, "owner": True, "relink_to": False, "synced_values": False}
            )
            link.partner_id.message_post(
                body=self.env._(
                    "Re-linked by %(user)s to the Xero contact %(name)s (%(contact)s) of %(org)s (was %(old)s).",
                    user=self.env.user.name,
                    name=contact.name,
                    contact=contact_id,
                    org=link.connection_id.tenant_name or link.connection_id.name,
                    old=old or "-",
                )
            )
        return True

    def _halo_find_contact(self, target):
        """The active Xero contact ``target`` names (ContactID or exact name), read through the SDK."""
        self.ensure_one()
        conn = self.connection_id
        if conn.state != "connected":
            raise UserError(
                self.env._("The Xero connection %(name)s is not connected: connect it first.", name=conn.name)
            )
        client = conn._halo_client()
        try:
            if _is_guid(target):
                contacts = client.call(conn.tenant_id, "get_contact", target).contacts or []
            else:
                contacts = (
                    client.call(
                        conn.tenant_id,
                        "get_contacts",
                        include_archived=True,
                        where='Name=="%s"' % target.replace('"', ""),
                    ).contacts
                    or []
                )
        except xc.XeroNotFound:
            contacts = []
        except xc.XeroError as err:
            raise UserError(str(err)) from None
        if not contacts:
            raise UserError(
                self.env._(
                    "Xero has no contact %(target)s in %(org)s.",
                    target=target,
                    org=conn.tenant_name or conn.name,
                )
            )
        contact = contacts[0]
        merged = str(contact.merged_to_contact_id or "")
        if merged and merged != str(contact.contact_id):
            try:
                contact = client.call(conn.tenant_id, "get_contact", merged).contacts[0]
            except xc.XeroError as err:
                raise UserError(str(err)) from None
        status = getattr(contact.contact_status, "value", contact.contact_status)
        if status != "ACTIVE":
            raise UserError(
                self.env._(
                    "The Xero contact %(name)s is %(status)s in Xero and takes no new invoices: choose an active "
                    "contact.",
                    name=contact.name,
                    status=(status or "-").lower(),
                )
            )
        return contact


def _is_guid(value):
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
