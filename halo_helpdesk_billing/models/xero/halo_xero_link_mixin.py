# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What links an Odoo record (customer, product, category, tax) to one Xero organisation.

A customer or a product may be shared by companies connected to different Xero organisations: each
organisation has its own ContactID, ItemID and code, account code and TaxType, so these live in one
link row per (connection, record), never on the record itself. The record keeps convenience fields
(``halo_xero_contact_id``...) that read and write the link of the current company's connection."""

from odoo import api, fields, models
from odoo.exceptions import AccessError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER

# a link row's problem, shown first on the mapping screen
PROBLEM_STATES = [("ok", "OK"), ("problem", "To fix"), ("unchecked", "Not imported yet")]


class HaloXeroLinkMixin(models.AbstractModel):
    _name = "halo.xero.link.mixin"
    _description = "Link to a Xero organisation"

    connection_id = fields.Many2one(
        "halo.xero.connection", string="Xero Connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)

    _halo_record_field = None  # the linked record's Many2one field

    def _halo_is_primary(self):
        """Whether this is the record's first link: the organisation whose values a shared record follows."""
        self.ensure_one()
        field = self._halo_record_field
        return self.sudo().search([(field, "=", self[field].id)], order="id", limit=1) == self

    @api.model
    def _halo_current_connection(self, company=None):
        """The Xero connection of ``company`` (default: the current company), connected or not."""
        company = company or self.env.company
        return (
            self.env["halo.xero.connection"]
            .sudo()
            .with_context(active_test=False)
            .search([("company_id", "=", company.id)], limit=1)
        )

    @api.model
    def _halo_links_of(self, connection, records, field):
        """{record id: link} of ``records`` (ids of ``field``) on ``connection``, in one query."""
        if not connection or not records:
            return {}
        links = self.sudo().search([("connection_id", "=", connection.id), (field, "in", records.ids)])
        return {link[field].id: link for link in links}

    @api.model
    def _halo_write_links(self, connection, records, field, vals_by_id):
        """Write ``vals_by_id`` ({record id: vals}) on the links of ``connection``, creating missing ones.
        Returns the links. Callers checked the caller's rights (or are the engine)."""
        Link = self.sudo()
        existing = self._halo_links_of(connection, records, field)
        creates = []
        for record_id, vals in vals_by_id.items():
            link = existing.get(record_id)
            if link:
                link.write(vals)
            else:
                creates.append(dict(vals, connection_id=connection.id, **{field: record_id}))
        created = Link.create(creates) if creates else Link
        return Link.browse([link.id for link in existing.values()]) | created


def halo_check_link_writer(env):
    """Only billing managers (or the engine, as superuser) change what a record is linked to in Xero:
    the link decides which Xero contact is billed."""
    if env.su or env.user.has_group(BILLING_MANAGER):
        return
    raise AccessError(
        env._(
            "%(user)s may not change the Xero links of customers, products or taxes: it needs the group %(group)s.",
            user=env.user.name,
            group=env.ref(BILLING_MANAGER).sudo().full_name,
        )
    )
