# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER, RERATABLE_STATES


class HaloMileage(models.Model):
    """Distance driven for a ticket, billed per distance unit plus a surcharge per trip."""

    _name = "halo.mileage"
    _description = "Helpdesk Mileage"
    _inherit = ["halo.ticket.work.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True

    distance = fields.Float(required=True, digits=(16, 2))
    unit = fields.Selection(
        selection=[("km", "km"), ("mi", "mi")],
        required=True,
        default=lambda self: self.env.company.halo_distance_unit or "km",
    )
    round_trip = fields.Boolean(help="The distance is one way; a round trip bills it twice.")
    billed_distance = fields.Float(compute="_compute_billed_distance", store=True, digits=(16, 2))
    location_from = fields.Char(string="From")
    location_to = fields.Char(string="To")
    vehicle = fields.Char()
    note = fields.Char()
    currency_id = fields.Many2one(related="company_id.currency_id")
    halo_amount = fields.Monetary(
        string="Amount",
        currency_field="halo_amount_currency_id",
        readonly=True,
        copy=False,
        groups=BILLING_USER,
    )
    halo_amount_currency_id = fields.Many2one(
        comodel_name="res.currency",
        string="Billing Currency",
        readonly=True,
        copy=False,
        help="Currency of the amount (the customer's billing currency).",
    )
    # The price fixed when the trip is recorded: a later change of the customer's or the
    # company's mileage price does not re-price it.
    halo_price_unit = fields.Float(
        string="Price per Unit", digits=(16, 4), readonly=True, copy=False, groups=BILLING_USER
    )
    halo_price_per = fields.Selection(
        selection=[("km", "km"), ("mi", "mi")],
        string="Price per",
        readonly=True,
        copy=False,
        groups=BILLING_USER,
    )
    halo_price_surcharge = fields.Float(
        string="Surcharge per Trip (fixed)", digits=(16, 4), readonly=True, copy=False, groups=BILLING_USER
    )
    halo_price_currency_id = fields.Many2one(
        comodel_name="res.currency", string="Price Currency", readonly=True, copy=False, groups=BILLING_USER
    )
    halo_explanation = fields.Text(string="Rating", readonly=True, copy=False, groups=BILLING_USER)

    _positive_distance = models.Constraint("CHECK (distance > 0)", "The distance must be greater than zero.")

    @api.model_create_multi
    def create(self, vals_list):
        trips = super().create(vals_list)
        trips._halo_fix_price()
        return trips

    def write(self, vals):
        result = super().write(vals)
        if {"ticket_id", "unit"}.intersection(vals):
            self._halo_fix_price()
        elif {"distance", "round_trip", "date", "billable"}.intersection(vals):
            self.env["halo.rating"]._halo_rate_recorded(self)
        return result

    def _halo_fix_price(self):
        """Fix the mileage price in force now on the unbilled trips, and price them."""
        Rating = self.env["halo.rating"]
        trips = self.sudo().filtered(lambda trip: trip.halo_billing_state in RERATABLE_STATES)
        for trip in trips:
            price, per, surcharge, currency = Rating._halo_mileage_settings(
                trip.partner_id, trip.company_id, trip.unit
            )
            trip.write(
                {
                    "halo_price_unit": float(price),
                    "halo_price_per": per,
                    "halo_price_surcharge": float(surcharge),
                    "halo_price_currency_id": currency.id,
                }
            )
        Rating._halo_rate_recorded(trips)

    @api.depends("distance", "round_trip")
    def _compute_billed_distance(self):
        for trip in self:
            trip.billed_distance = trip.distance * (2 if trip.round_trip else 1)

    @api.depends("ticket_id", "date", "billed_distance", "unit")
    def _compute_display_name(self):
        for trip in self:
            trip.display_name = self.env._(
                "%(ticket)s: %(distance)s %(unit)s on %(date)s",
                ticket=trip.ticket_id.number or "",
                distance=trip.billed_distance,
                unit=trip.unit,
                date=trip.date,
            )
