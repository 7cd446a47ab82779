# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What links an Odoo record (customer, product, category, tax) to one Xero organisation.

A customer or a product may be shared by companies connected to different Xero organisations: each
organisation has its own ContactID, ItemID and code, account code and TaxType, so these live in one
link row per (connection, record), never on the record itself. The record keeps convenience fields
(``halo_xero_contact_id``...) that read and write the link of the current company's connection."""

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER

# a link row's problem, shown first on the mapping screen
PROBLEM_STATES = [("ok", "OK"), ("problem", "To fix"), ("unchecked", "Not imported yet")]


class HaloXeroLinkMixin(models.AbstractModel):
    _name = "halo.xero.link.mixin"
    _description = "Link to a Xero organisation"

    connection_id = fields.Many2one(
        "halo.xero.connection", string="Xero Connection", required=True, ondelete="cascade", index=True)
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
        return self.env["halo.xero.connection"].sudo().with_context(active_test=False).search(
            [("company_id", "=", company.id)], limit=1)

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
    raise AccessError(env._(
        "%(user)s may not change the Xero links of customers, products or taxes: it needs the group %(group)s.",
        user=env.user.name, group=env.ref(BILLING_MANAGER).sudo().full_name))


class HaloXeroLinkedMixin(models.AbstractModel):
    """Convenience fields of a linked record (customer, product, tax, category): its link to the current
    company's Xero connection, read and written through the link model."""

    _name = "halo.xero.linked.mixin"
    _description = "Record linked to Xero organisations"
    _halo_link_model = None
    _halo_link_field = None
    _halo_link_o2m = None

    def _halo_current_links(self):
        """{record id: link} of these records on the current company's connection."""
        Link = self.env[self._halo_link_model]
        return Link._halo_links_of(Link._halo_current_connection(), self, self._halo_link_field)

    def _halo_compute_link_fields(self, mapping):
        """Set ``mapping`` ({record field: link field}) from the current connection's links."""
        links = self._halo_current_links()
        for record in self:
            link = links.get(record.id)
            for fname, lname in mapping.items():
                record[fname] = link[lname] if link else False

    def _halo_inverse_link_fields(self, mapping):
        halo_check_link_writer(self.env)
        Link = self.env[self._halo_link_model]
        connection = Link._halo_current_connection()
        vals_by_id = {record.id: {lname: record[fname] or False for fname, lname in mapping.items()}
                      for record in self}
        if not connection:
            if any(any(vals.values()) for vals in vals_by_id.values()):
                raise UserError(self.env._(
                    "%(company)s is not connected to Xero: connect it (Billing > Configuration > Xero) before "
                    "linking records to Xero.", company=self.env.company.name))
            return
        Link._halo_write_links(connection, self, self._halo_link_field, vals_by_id)

    def _halo_search_link_field(self, link_field, operator, value):
        """Domain of the records whose current link's ``link_field`` matches (``in`` only; False for none)."""
        if operator not in ("in", "like", "ilike", "=like", "=ilike"):
            return NotImplemented
        Link = self.env[self._halo_link_model]
        connection = Link._halo_current_connection()
        base = [("connection_id", "=", connection.id)]
        if operator != "in":
            return Domain(self._halo_link_o2m, "any", base + [(link_field, operator, value)])
        values = [v for v in value if v not in (False, None)]
        domain = Domain.FALSE
        if values:
            domain |= Domain(self._halo_link_o2m, "any", base + [(link_field, "in", values)])
        if len(values) < len(value):
            domain |= ~Domain(self._halo_link_o2m, "any", base + [(link_field, "!=", False)])
        return domain
