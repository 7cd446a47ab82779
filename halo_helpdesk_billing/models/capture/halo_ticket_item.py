# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import float_compare

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER, BILLING_USER

from ..halo_engine import BILLING_ENGINE


class HaloTicketItem(models.Model):
    """A catalogue item issued to a ticket, or an ad hoc item bought for it.

    Issuing a storable catalogue item moves it out of stock at once; its cost is the value
    Odoo's own valuation (``stock_account``, FIFO or average per product category) gives the
    outgoing move, so margins are real.
    """

    _name = "halo.ticket.item"
    _description = "Helpdesk Ticket Item"
    _inherit = ["halo.ticket.work.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True

    kind = fields.Selection(
        selection=[("catalogue", "Catalogue item"), ("adhoc", "Ad hoc item")],
        required=True,
        default="catalogue",
    )
    product_id = fields.Many2one(
        comodel_name="product.product",
        check_company=True,
        domain=[("sale_ok", "=", True)],
    )
    is_storable = fields.Boolean(related="product_id.is_storable")
    tracking = fields.Selection(related="product_id.tracking")
    name = fields.Char(string="Description", compute="_compute_name", store=True, readonly=False)
    quantity = fields.Float(required=True, default=1.0, digits="Product Unit")
    lot_id = fields.Many2one(
        comodel_name="stock.lot",
        string="Lot/Serial Number",
        check_company=True,
        domain="[('product_id', '=', product_id)]",
    )
    location_id = fields.Many2one(
        comodel_name="stock.location",
        string="Issued From",
        check_company=True,
        domain=[("usage", "=", "internal")],
    )
    move_id = fields.Many2one(comodel_name="stock.move", readonly=True, copy=False)
    currency_id = fields.Many2one(related="company_id.currency_id")
    unit_cost = fields.Monetary(groups=BILLING_USER, copy=False)
    unit_price = fields.Monetary(string="Unit Sale Price", groups=BILLING_USER)
    cost_entry = fields.Monetary(
        string="Cost per Unit",
        compute="_compute_entries",
        inverse="_inverse_cost_entry",
        help="Ad hoc items: cost per unit. Once saved it is only shown to billing staff.",
    )
    price_entry = fields.Monetary(
        string="Sale Price per Unit",
        compute="_compute_entries",
        inverse="_inverse_price_entry",
        help="Ad hoc items: sale price per unit. Once saved it is only shown to billing staff.",
    )
    margin = fields.Monetary(compute="_compute_margin", groups=BILLING_MANAGER)
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
    halo_explanation = fields.Text(string="Rating", readonly=True, copy=False, groups=BILLING_USER)

    _positive_quantity = models.Constraint(
        "CHECK (quantity > 0)", "The quantity of an item must be greater than zero."
    )

    @api.depends("product_id")
    def _compute_name(self):
        for item in self:
            if item.product_id and not item.name:
                item.name = item.product_id.display_name

    def _compute_entries(self):
        for item in self:
            item.cost_entry = item.price_entry = 0.0

    def _inverse_cost_entry(self):
        for item in self.filtered("cost_entry"):
            item._halo_check_not_negative(item.cost_entry)
            item._halo_check_entry_allowed()
            item.sudo().unit_cost = item.cost_entry

    def _inverse_price_entry(self):
        for item in self.filtered("price_entry"):
            item._halo_check_not_negative(item.price_entry)
            item._halo_check_entry_allowed()
            item.sudo().unit_price = item.price_entry

    def _halo_is_billing_staff(self):
        return self.env.su or self.env.user.has_group(BILLING_USER)

    def _halo_check_entry_allowed(self):
        """Technicians enter the cost and price of ad hoc items (bought for the ticket) only:
        a catalogue item is priced and costed by the catalogue (and stock valuation)."""
        if self.kind == "catalogue" and not self._halo_is_billing_staff():
            raise AccessError(
                self.env._(
                    "The cost and price of catalogue item %(item)s come from the catalogue.",
                    item=self.name or self.product_id.display_name,
                )
            )

    def _halo_check_not_negative(self, value):
        if value < 0:
            raise ValidationError(self.env._("Costs and prices cannot be negative."))

    @api.depends("unit_cost", "unit_price", "quantity")
    def _compute_margin(self):
        for item in self:
            item.margin = (item.unit_price - item.unit_cost) * item.quantity

    @api.constrains("kind", "product_id", "name", "lot_id")
    def _check_kind(self):
        for item in self:
            if item.kind == "catalogue" and not item.product_id:
                raise ValidationError(self.env._("A catalogue item needs a product."))
            if item.kind == "adhoc" and not item.name:
                raise ValidationError(self.env._("An ad hoc item needs a description."))
            if item.product_id.tracking in ("lot", "serial") and item.is_storable and not item.lot_id:
                raise ValidationError(
                    self.env._(
                        "%(product)s is tracked: choose its lot or serial number.",
                        product=item.product_id.display_name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        items = super().create(vals_list)
        catalogue = items.filtered(lambda i: i.kind == "catalogue")
        for item in catalogue:
            if not item.sudo().unit_price:
                item.sudo().unit_price = item.product_id.lst_price
        catalogue.filtered("is_storable")._halo_issue_stock()
        for item in catalogue.filtered(lambda i: not i.is_storable):
            item.sudo().unit_cost = item.product_id.standard_price
        return items

    # What a technician cannot change on a recorded item (they record a new one instead): the
    # catalogue product decides its price and cost, and stock was moved for it.
    _halo_recorded_fields = frozenset({"kind", "product_id", "lot_id", "location_id", "move_id"})

    def write(self, vals):
        if not (self._halo_is_billing_staff() or BILLING_ENGINE.is_set(self.env)):
            self._halo_check_technician_write(vals)
        return super().write(vals)

    def _halo_check_technician_write(self, vals):
        for item in self:
            if item.sudo().move_id.state == "done":  # technicians cannot read stock moves
                raise UserError(
                    self.env._(
                        "%(item)s was issued from stock and cannot be changed; return it to stock and "
                        "record it again.",
                        item=item.name,
                    )
                )
            changed = {
                fname
                for fname in self._halo_recorded_fields.intersection(vals)
                if item._fields[fname].convert_to_write(item[fname], item) != vals[fname]
            }
            if changed:
                raise AccessError(
                    self.env._(
                        "%(fields)s of %(item)s cannot be changed once recorded; record a new item instead.",
                        fields=", ".join(sorted(changed)),
                        item=item.name,
                    )
                )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_issued(self):
        for item in self:
            if item.sudo().move_id.state == "done":  # technicians cannot read stock moves
                raise UserError(
                    self.env._(
                        "%(item)s was issued from stock; use 'Return to stock' instead of deleting it.",
                        item=item.name,
                    )
                )

    def _halo_stock_env(self):
        """Environment of the stock moves of an item: technicians have no stock rights, and
        stock_account values FIFO moves as the real user (``sudo(False)``), so a plain
        ``sudo()`` is not enough; the moves are done by the superuser, in the item's company
        (costs are company-dependent)."""
        self.ensure_one()
        return self.with_company(self.company_id).env(user=SUPERUSER_ID, su=True)

    def _halo_issue_stock(self):
        """Move the items out of stock to the customer and record their valued cost."""
        customer_location = self.env.ref("stock.stock_location_customers")
        for item in self:
            Move = item._halo_stock_env()["stock.move"]
            location = (
                item.location_id
                or self.env["stock.warehouse"]
                .search([("company_id", "=", item.company_id.id)], limit=1)
                .lot_stock_id
            )
            if not location:
                raise UserError(
                    self.env._(
                        "Company %(company)s has no warehouse to issue items from.",
                        company=item.company_id.name,
                    )
                )
            item.sudo().location_id = location
            if not item.company_id.halo_allow_negative_issue:
                available = (
                    self.env["stock.quant"]
                    .sudo()
                    ._get_available_quantity(item.product_id, location, lot_id=item.lot_id or None)
                )
                if (
                    float_compare(
                        available, item.quantity, precision_rounding=item.product_id.uom_id.rounding
                    )
                    < 0
                ):
                    raise UserError(
                        self.env._(
                            "Only %(available)s %(uom)s of %(product)s are available in %(location)s; "
                            "%(quantity)s cannot be issued.",
                            available=available,
                            uom=item.product_id.uom_id.name,
                            product=item.product_id.display_name,
                            location=location.display_name,
                            quantity=item.quantity,
                        )
                    )
            move = Move.create(
                {
                    "product_id": item.product_id.id,
                    "product_uom_qty": item.quantity,
                    "product_uom": item.product_id.uom_id.id,
                    "location_id": location.id,
                    "location_dest_id": customer_location.id,
                    "company_id": item.company_id.id,
                    "origin": item.ticket_id.number,
                    "partner_id": item.partner_id.id,
                }
            )
            move._action_confirm()
            move._action_assign()
            if item.lot_id:
                move.move_line_ids.unlink()
                move.move_line_ids = [
                    fields.Command.create(
                        {
                            "product_id": item.product_id.id,
                            "lot_id": item.lot_id.id,
                            "quantity": item.quantity,
                            "location_id": location.id,
                            "location_dest_id": customer_location.id,
                        }
                    )
                ]
            else:
                move.quantity = item.quantity
            move.picked = True
            move._action_done()
            item.sudo().move_id = move
            item.sudo().unit_cost = abs(move.value) / item.quantity if item.quantity else 0.0

    def action_return_to_stock(self):
        """Return issued items to the location they came from (reverses the stock move)."""
        # the stock move is reversed as superuser: only those who may change the item
        self.check_access("write")
        for item in self.filtered(lambda i: i.sudo().move_id.state == "done"):
            item._halo_check_unlocked()
            move = item.sudo().move_id
            back = move.with_env(item._halo_stock_env()).copy(
                {
                    "location_id": move.location_dest_id.id,
                    "location_dest_id": move.location_id.id,
                    "origin_returned_move_id": move.id,
                }
            )
            back._action_confirm()
            back.quantity = move.quantity
            back.picked = True
            back._action_done()
            item.sudo().write({"move_id": False, "billable": False})
        return True
