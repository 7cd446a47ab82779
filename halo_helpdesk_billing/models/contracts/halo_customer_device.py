# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.fields import Domain

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER

DEVICE_TYPES = [
    ("workstation", "Workstation"),
    ("laptop", "Laptop"),
    ("server", "Server"),
    ("network", "Network device"),
    ("mobile", "Mobile device"),
    ("printer", "Printer"),
    ("other", "Other"),
]


class HaloCustomerDevice(models.Model):
    """A device of a customer (simple asset register). Device-based recurring items bill
    the number of devices active on the billing date."""

    _name = "halo.customer.device"
    _description = "Customer Device"
    _inherit = ["mail.thread"]
    _order = "partner_id, device_type, name, id"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
    )
    site_partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Site",
        domain="[('id', 'child_of', partner_id)]",
        check_company=True,
    )
    company_id = fields.Many2one(comodel_name="res.company", default=lambda self: self.env.company)
    device_type = fields.Selection(selection=DEVICE_TYPES, required=True, default="workstation")
    serial = fields.Char(string="Serial Number")
    date_active = fields.Date(
        string="In Service From", required=True, default=fields.Date.context_today, tracking=True
    )
    date_retired = fields.Date(string="Retired On", tracking=True, help="Not counted from this day on.")
    active = fields.Boolean(default=True)
    note = fields.Text()

    _dates_ordered = models.Constraint(
        "CHECK (date_retired IS NULL OR date_retired >= date_active)",
        "A device cannot be retired before it is in service.",
    )

    def _halo_check_billing_staff(self):
        """Devices drive per-device billing: only billing staff create, change or retire them
        (also checked here, not only by the access rights, so that no technician's right on
        the model can ever bill a customer for devices)."""
        if not self.env.su and not self.env.user.has_group(BILLING_USER):
            raise AccessError(
                self.env._(
                    "Customer devices are billed per device; only billing staff can record, change or "
                    "retire them."
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        self._halo_check_billing_staff()
        return super().create(vals_list)

    def write(self, vals):
        self._halo_check_billing_staff()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_technician(self):
        self._halo_check_billing_staff()

    @api.model
    def _halo_devices_of(self, partners, companies=None):
        """Devices of the customers (all their contacts) with ``companies`` (or no company),
        read once for counting."""
        if not partners:
            return self.browse()
        domain = Domain("partner_id", "child_of", partners.commercial_partner_id.ids)
        if companies is not None:
            domain &= Domain("company_id", "in", [False, *companies.ids])
        return self.sudo().search_fetch(
            domain,
            ["partner_id", "site_partner_id", "company_id", "device_type", "date_active", "date_retired"],
        )

    def _halo_count(self, partner, device_type, day, company=None, site=None):
        """How many of ``self`` (pre-read devices) belong to ``partner`` (and to ``company``
        or no company) and are active on ``day``; with ``site`` (a site contract's), only
        the devices of that site (its site, or its customer, is the site or one of its
        contacts / addresses)."""
        commercial = partner.commercial_partner_id
        return len(
            self.filtered(
                lambda d: (
                    d.partner_id.commercial_partner_id == commercial
                    and (company is None or not d.company_id or d.company_id == company)
                    and (not site or within_partner(d.site_partner_id or d.partner_id, site))
                    and (not device_type or d.device_type == device_type)
                    and d.date_active <= day
                    and (not d.date_retired or d.date_retired > day)
                )
            )
        )


def within_partner(partner, site):
    """``partner`` is ``site`` or one of its descendants."""
    seen = set()
    while partner and partner.id not in seen:
        if partner == site:
            return True
        seen.add(partner.id)
        partner = partner.parent_id
    return False
