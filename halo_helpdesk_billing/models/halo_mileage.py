# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

BILLING_USER = "halo_helpdesk_billing.group_halo_billing_user"


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
        string="Amount", readonly=True, copy=False, groups=BILLING_USER
    )
    halo_explanation = fields.Text(
        string="Rating", readonly=True, copy=False, groups=BILLING_USER
    )

    _positive_distance = models.Constraint(
        "CHECK (distance > 0)", "The distance must be greater than zero."
    )

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
