# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models
from odoo.exceptions import UserError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER

from .halo_xero_connection import halo_check_caller
from .halo_xero_import import PARTNER_ADDRESS_FIELDS, PARTNER_XERO_FIELDS, _snapshot


class HaloXeroImportReview(models.Model):
    """A Xero contact whose match is ambiguous: the billing manager links, creates or skips it."""

    _name = "halo.xero.import.review"
    _description = "Xero Customer to Review"
    _order = "id"

    import_id = fields.Many2one("halo.xero.import", ondelete="set null", index=True)
    connection_id = fields.Many2one("halo.xero.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True)
    xero_contact_id = fields.Char(string="Xero ContactID", required=True)
    xero_name = fields.Char(string="Name in Xero")
    xero_email = fields.Char(string="E-mail in Xero")
    xero_tax_number = fields.Char(string="Tax Number in Xero")
    xero_values = fields.Json()
    match_kind = fields.Selection(
        [("vat", "Tax number"), ("email", "E-mail"), ("name", "Name")], string="Matched On"
    )
    candidate_ids = fields.Many2many("res.partner", string="Candidates")
    partner_id = fields.Many2one("res.partner", string="Link To")
    state = fields.Selection(
        [("pending", "To review"), ("linked", "Linked"), ("created", "Created"), ("skipped", "Skipped")],
        default="pending",
        required=True,
    )

    _contact_uniq = models.Constraint(
        "UNIQUE(connection_id, xero_contact_id)", "A Xero contact is reviewed once per connection."
    )

    def _importer(self):
        return self.import_id or self.env["halo.xero.import"].new({"connection_id": self.connection_id.id})

    def _halo_xero_vals(self):
        """The stored Xero values, kept to the fields Xero owns (``xero_values`` is editable by the
        reviewer, and is written as superuser)."""
        self.ensure_one()
        raw = self.xero_values if isinstance(self.xero_values, dict) else {}

        def plain(values, fnames):
            return {
                f: values[f]
                for f in fnames
                if f in values and (values[f] is None or isinstance(values[f], (str, bool)))
            }

        vals = plain(raw, PARTNER_XERO_FIELDS)
        if isinstance(raw.get("_address"), dict):
            vals["_address"] = plain(raw["_address"], PARTNER_ADDRESS_FIELDS)
        return vals

    def _halo_check_link_partner(self, partner):
        """A reviewer links a Xero contact to a customer of the connection's company only: never to a
        user's or a company's own partner (whose e-mail the link would overwrite), nor to a contact person,
        nor to a customer already bound to another Xero contact."""
        self.ensure_one()
        partner.check_access("read")
        company = self.sudo().connection_id.company_id
        target = partner.sudo().with_context(active_test=False)
        if target.company_id and target.company_id != company:
            reason = self.env._("it belongs to %(company)s", company=target.company_id.name)
        elif target.user_ids:
            reason = self.env._("it is the contact of a user")
        elif (
            self.env["res.company"]
            .sudo()
            .with_context(active_test=False)
            .search_count([("partner_id", "=", target.id)], limit=1)
        ):
            reason = self.env._("it is a company's own contact")
        elif target.parent_id:
            reason = self.env._("it is a contact person of %(parent)s", parent=target.parent_id.display_name)
        elif (
            self.env["halo.xero.contact.link"]
            .sudo()
            .search_count(
                [
                    ("connection_id", "=", self.sudo().connection_id.id),
                    ("partner_id", "=", target.id),
                    ("xero_contact_id", "not in", [False, self.xero_contact_id]),
                ]
            )
        ):
            reason = self.env._("it is already linked to another Xero contact")
        else:
            return
        raise UserError(
            self.env._(
                "%(partner)s cannot be linked to the Xero contact %(name)s: %(reason)s.",
                partner=target.display_name,
                name=self.xero_name,
                reason=reason,
            )
        )

    def action_link(self):
        halo_check_caller(self, BILLING_MANAGER, "write")
        for review in self:
            partner = review.partner_id or (review.candidate_ids if len(review.candidate_ids) == 1 else False)
            if not partner:
                raise UserError(self.env._("Choose the partner to link %(name)s to.", name=review.xero_name))
            review._halo_check_link_partner(partner)
            partner = partner.sudo().with_context(no_vat_validation=True)
            link = self.env["halo.xero.contact.link"]._halo_bind(
                review.sudo().connection_id, partner, review.xero_contact_id
            )
            review._importer()._halo_update_record(
                partner, link, review._halo_xero_vals(), PARTNER_XERO_FIELDS, None, first=True
            )
            review.write({"state": "linked", "partner_id": partner.id})
        return True

    def action_create(self):
        halo_check_caller(self, BILLING_MANAGER, "write")
        for review in self:
            importer = review._importer()
            vals = review._halo_xero_vals()
            partner = (
                self.env["res.partner"]
                .sudo()
                .with_context(no_vat_validation=True)
                .create(importer._halo_partner_create_vals(vals))
            )
            self.env["halo.xero.contact.link"]._halo_bind(
                review.sudo().connection_id,
                partner,
                review.xero_contact_id,
                synced_values=_snapshot(vals, PARTNER_XERO_FIELDS),
            )
            review.write({"state": "created", "partner_id": partner.id})
        return True

    def action_skip(self):
        self.write({"state": "skipped"})
        return True
