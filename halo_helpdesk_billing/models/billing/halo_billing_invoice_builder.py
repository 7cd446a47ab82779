# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The invoices of a billing run, as values (the invoicing pipeline's middle, see
``halo.billing.run._halo_create_invoices``): from the run's charges read as
``services.charges.Charge`` and each customer's settings, the itemised descriptions rendered
from the line template, the invoice lines from ``services.invoice_lines``, and the accounting
values Odoo would otherwise compute line by line.

A model of its own, without records: the run calls it with itself as the first argument
(``self.env["halo.billing.invoice.builder"]._halo_prepare_invoice_vals(run, ...)``), and
another module overrides its ``_halo_prepare_*`` hooks by ``_inherit`` of this model."""

import functools

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_round, format_date

from ...services import invoice_lines, line_template
from .res_company import line_template_message


class HaloBillingInvoiceBuilder(models.AbstractModel):
    """The values of a billing run's invoices (no records: ``run`` is every method's first argument)."""

    _name = "halo.billing.invoice.builder"
    _description = "Billing Run Invoice Builder"

    # ------------------------------------------------------------------ grouping
    @api.model
    def _halo_invoice_key(self, run, charge, grouping):
        if grouping == "ticket":
            return (charge.partner_id, charge.ticket_id)
        if grouping == "contract":
            return (charge.partner_id, charge.contract_id)
        return (charge.partner_id,)

    # ------------------------------------------------------------------ descriptions
    @api.model
    def _halo_render_descriptions(self, run, lines, template):
        """Itemised line descriptions from the template (``services.line_template``: Odoo's
        inline template syntax, placeholders that only read fields of the charge). The
        template is parsed once per run; the charges' values are read in batch and handed to
        it as plain values, never as records."""
        try:
            parsed = line_template.parse(template)
        except line_template.TemplateError as err:
            raise UserError(
                self.env._(
                    "The invoice line template cannot be used: %(error)s",
                    error=line_template_message(self.env, err),
                )
            ) from err
        lang_env = self.with_context(lang=self.env.user.lang).env

        def date_format(value, env=lang_env):
            return format_date(env, value)

        values_of = self._halo_template_values(lines, line_template.values_needed(parsed))
        result = {}
        for line in lines:
            try:
                text = parsed.render(values_of[line.id], date_format)
            except (line_template.TemplateError, TypeError, ValueError) as err:
                error = (
                    line_template_message(self.env, err)
                    if isinstance(err, line_template.TemplateError)
                    else err
                )
                raise UserError(
                    self.env._(
                        "The invoice line template failed on %(charge)s: %(error)s",
                        charge=line.name or line.kind_label,
                        error=error,
                    )
                ) from err
            text = text.strip() or line.name or line.kind_label
            if line.note:
                text = f"{text}\n{line.note}"
            result[line.id] = text
        return result

    @api.model
    def _halo_template_values(self, lines, needed):
        """``{line_id: {field: value}}``: the plain values a line template reads (only the
        fields of ``line_template.SCHEMA`` it names); a linked record is a dict of its fields
        (with its ``id``, so that it is true) or ``False``."""
        scalars = [name for name, subfields in needed.items() if line_template.SCHEMA[name] is None]
        relations = {
            name: sorted(subfields)
            for name, subfields in needed.items()
            if line_template.SCHEMA[name] is not None
        }
        lines.fetch(scalars + list(relations))
        records = {}
        for name, subfields in relations.items():
            linked = lines[name]
            if subfields:
                linked.fetch(subfields)
            records[name] = {
                record.id: dict({sub: record[sub] for sub in subfields}, id=record.id) for record in linked
            }
        result = {}
        for line in lines:
            values = {name: line[name] for name in scalars}
            for name in relations:
                record = line[name]
                values[name] = records[name][record.id] if record else False
            result[line.id] = values
        return result

    # ------------------------------------------------------------------ invoice values
    @api.model
    def _halo_prepare_invoice_vals(self, run, run_charges, layout, descriptions, names):
        """Hook: values of one invoice and, in the same order as its lines, the ids of the
        charges each invoice line bills. ``run_charges`` are the run's charges read for
        invoicing (``halo.billing.run._halo_read_charges``); ``names`` holds product and ticket labels. The
        lines themselves come from ``services.invoice_lines``."""
        line_price = functools.partial(self._halo_line_price, run)
        if layout == "itemised":
            lines = invoice_lines.itemised(run_charges, descriptions, line_price)
        else:
            lines = invoice_lines.summarised(
                run_charges,
                layout == "summary_ticket",
                names["product"],
                names["ticket"],
                line_price,
            )
        Product = self.env["product.product"]
        line_vals_list, line_map = [], []
        for line in lines:
            line_vals = self._halo_prepare_invoice_line_vals(
                run,
                Product.browse(line.product_id),
                line.name,
                line.quantity,
                line.price_unit,
                line.analytic_distribution or False,
            )
            if line.run_line_id:
                line_vals["halo_run_line_id"] = line.run_line_id
            line_vals["halo_kind"] = line.kind
            line_vals_list.append(line_vals)
            line_map.append(line.charge_ids)
        vals = {
            "move_type": "out_invoice",
            "partner_id": run_charges[0].partner_id,
            "company_id": run.company_id.id,
            "currency_id": run._halo_billing_currency(run_charges[0].partner_id).id,
            "invoice_date": run.date_invoice or fields.Date.context_today(self),
            "invoice_origin": run.name,
            "halo_run_id": run.id,
            "invoice_line_ids": [
                Command.create(dict(line_vals, sequence=sequence))
                for sequence, line_vals in enumerate(line_vals_list, 1)
            ],
        }
        return vals, line_map

    @api.model
    def _halo_prepare_invoice_line_vals(self, run, product, name, quantity, price_unit, analytic):
        """Hook: one invoice line (taxes come from the product and the fiscal position)."""
        vals = {
            "product_id": product.id,
            "name": name,
            "quantity": quantity,
            "price_unit": price_unit,
        }
        if analytic:
            vals["analytic_distribution"] = analytic
        return vals

    @api.model
    def _halo_line_price(self, run, quantity, unit_price, amount):
        """(quantity, unit price) of an invoice line that bills exactly ``amount``: the quantity
        as the invoice stores it (its unit precision) and the rated price when they make the
        amount, else the price that does (a rounding group's remainder, summed charges: the
        invoice then adds up to the charges, and to the preview)."""
        digits = self.env["decimal.precision"].precision_get("Product Unit")
        stored = float_round(quantity, precision_digits=digits)
        if not stored or run.currency_id.is_zero(run.currency_id.round(stored * unit_price) - amount):
            return stored, unit_price
        return stored, amount / stored

    @api.model
    def _halo_line_accounting(self, run, products, partners):
        """Per (product, partner): income account, taxes after the fiscal position and the base
        tax tags of an invoice line, computed once for the whole run."""
        result = {}
        Position = self.env["account.fiscal.position"].with_company(run.company_id)
        positions = {partner.id: Position._get_fiscal_position(partner) for partner in partners}
        for product in products:
            accounts = product.product_tmpl_id.with_company(run.company_id).get_product_accounts()
            taxes = product.taxes_id.filtered(lambda tax, c=run.company_id: tax.company_id in c.parent_ids)
            for partner in partners:
                position = positions[partner.id]
                mapped = position.map_tax(taxes) if position else taxes
                account = position.map_account(accounts["income"]) if position else accounts["income"]
                tags = mapped.invoice_repartition_line_ids.filtered(
                    lambda rep: rep.repartition_type == "base"
                ).tag_ids
                result[(product.id, partner.id)] = {
                    "account": account,
                    "taxes": mapped,
                    "tags": tags,
                    "position": position,
                    "simple": all(
                        not tax.price_include and tax.amount_type in ("percent", "fixed") for tax in mapped
                    ),
                }
        return result

    @api.model
    def _halo_complete_line_vals(self, run, move_vals, accounting):
        """Give invoice lines the values Odoo would otherwise compute and then rewrite line by line
        (account, taxes, balance, tax tags), when they are known for sure: company currency and
        tax-excluded prices. Anything else is left to Odoo's own computation."""
        partner_id = move_vals["partner_id"]
        currency = run.currency_id
        if move_vals.get("currency_id", currency.id) != currency.id:
            # another currency: Odoo converts the balances itself
            return
        for command in move_vals["invoice_line_ids"]:
            vals = command[2]
            info = accounting.get((vals.get("product_id"), partner_id))
            if not info or not info["simple"] or not info["account"]:
                continue
            subtotal = currency.round(vals["quantity"] * vals["price_unit"])
            vals.update(
                {
                    "account_id": info["account"].id,
                    "tax_ids": [Command.set(info["taxes"].ids)],
                    "tax_tag_ids": [Command.set(info["tags"].ids)],
                    "amount_currency": -subtotal,
                    "balance": -subtotal,
                }
            )
        if accounting and any(info["position"] for info in accounting.values()):
            position = next(
                info["position"] for (_product, partner), info in accounting.items() if partner == partner_id
            )
            if position:
                move_vals["fiscal_position_id"] = position.id
