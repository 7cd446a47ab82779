# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models
from odoo.exceptions import UserError
from odoo.fields import Domain

from .halo_xero_link_mixin import halo_check_link_writer


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
        vals_by_id = {
            record.id: {lname: record[fname] or False for fname, lname in mapping.items()} for record in self
        }
        if not connection:
            if any(any(vals.values()) for vals in vals_by_id.values()):
                raise UserError(
                    self.env._(
                        "%(company)s is not connected to Xero: connect it (Billing > Configuration > Xero) before "
                        "linking records to Xero.",
                        company=self.env.company.name,
                    )
                )
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
