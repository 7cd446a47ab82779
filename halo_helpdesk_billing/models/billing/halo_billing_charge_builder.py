# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The charges of a billing run, built per kind of work (the preview's pipeline, see
``halo.billing.run._halo_collect``): timesheet lines rated for the run if they need it, then one
builder per kind of work (``_halo_prepare_*_charges``) making ``services.charges.Charge``
values, then the contracts' allocation turning covered parts into zero-priced parts.

A model of its own, without records: the run calls it with itself as the first argument
(``self.env["halo.billing.charge.builder"]._halo_prepare_mileage_charges(run, trips)``), and
another module overrides its ``_halo_prepare_*`` hooks by ``_inherit`` of this model."""

import functools
from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL, float_round

from odoo.addons.halo_helpdesk_billing.constants import TIMED_KINDS, WORK_TABLES

from ...services import charges
from ...services.charges import Charge


class HaloBillingChargeBuilder(models.AbstractModel):
    """The charges of a billing run's work (no records: ``run`` is every method's first argument)."""

    _name = "halo.billing.charge.builder"
    _description = "Billing Run Charge Builder"

    # ------------------------------------------------------------------ rating for the run
    @api.model
    def _halo_rate_for_run(self, run, lines):
        """Rate the timesheet ``lines`` the run needs priced again: not rated yet, priced in
        another currency than the customer's now, or priced from a converted version at another
        day's rate. Rated here, stored by the caller together with the claim (one pass over the
        lines). :return: ``(rated rows, ratings, fresh)``, ``fresh`` being
        ``{line_id: halo.rating._halo_timesheet_values()}``."""
        Rating = self.env["halo.rating"]
        rated_rows, ratings = [], {}
        if not lines:
            return rated_rows, ratings, {}
        self.env["account.analytic.line"].flush_model(["halo_rating_data"])
        self.env.cr.execute(
            SQL(
                """SELECT l.id, l.halo_rating_data IS NULL, l.halo_rating_data->>'currency_id',
                      l.halo_rating_data->'fx'->>'date', COALESCE(t.commercial_partner_id, t.partner_id),
                      l.halo_ticket_id, l.halo_versions_known
                 FROM account_analytic_line l JOIN helpdesk_ticket t ON t.id = l.halo_ticket_id
                WHERE l.id = ANY(%s)""",
                lines.ids,
            )
        )
        fx_date = fields.Date.to_string(run._halo_fx_date())
        missing, known_of = defaultdict(list), {}
        for (
            line_id,
            unrated,
            currency_id,
            rated_fx_date,
            partner_id,
            ticket_id,
            known,
        ) in self.env.cr.fetchall():
            if (
                unrated
                or (rated_fx_date and rated_fx_date != fx_date)
                or str(run._halo_billing_currency(partner_id).id) != (currency_id or str(run.currency_id.id))
            ):
                missing[ticket_id].append(line_id)
                if known:
                    known_of[ticket_id] = min(known, known_of.get(ticket_id, known))
        # priced again in the billing currency or at the run's conversion date, with the
        # versions the work knew (a version added since does not re-price it); a ticket's
        # lines together (its rounding groups)
        by_known = defaultdict(list)
        for ticket_id, line_ids in missing.items():
            by_known[known_of.get(ticket_id)] += line_ids
        for known, line_ids in by_known.items():
            known_rows, known_ratings = Rating._halo_rate_timesheet_rows(
                self.env["account.analytic.line"].browse(line_ids), known=known, fx_date=run._halo_fx_date()
            )
            rated_rows += known_rows
            ratings.update(known_ratings)
        fresh = {
            row.id: Rating._halo_timesheet_values(row, ratings[row.id])
            for row in rated_rows
            if row.id in ratings
        }
        return rated_rows, ratings, fresh

    # ------------------------------------------------------------------ a builder per kind of work
    @api.model
    def _halo_charge_base(self, record, kind, ticket, date, user):
        """A charge of ``record`` (mileage, an expense, an item) on ``ticket``'s customer."""
        customer = ticket.commercial_partner_id or ticket.partner_id
        return Charge(
            partner_id=customer.id,
            ticket_id=ticket.id,
            kind=kind,
            res_model=record._name,
            res_id=record.id,
            date=date,
            user_id=user.id,
        )

    @api.model
    def _halo_round_money(self, run, amount):
        """The company currency's rounding (of a contract's PAYG share of a charge)."""
        return float_round(amount, precision_rounding=run.currency_id.rounding)

    @api.model
    def _halo_prepare_timesheet_charges(self, run, lines, fresh=None):
        """Hook: the charges (``services.charges.Charge``) of actions and travel time, from
        their stored rating or the not yet stored ``fresh`` one (``{line_id:
        halo.rating._halo_timesheet_values()}``), read in one query."""
        fresh = fresh or {}
        self.env["account.analytic.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT l.id, l.halo_ticket_id, COALESCE(t.commercial_partner_id, t.partner_id), l.halo_kind,
                      l.halo_charge_rate_id, r.product_id, l.halo_rating_data, l.halo_rating_explanation,
                      l.halo_billable_hours, l.date, l.user_id, l.name, l.halo_invoice_note, l.halo_billable,
                      l.account_id, l.amount
                 FROM account_analytic_line l
                 JOIN helpdesk_ticket t ON t.id = l.halo_ticket_id
            LEFT JOIN halo_charge_rate r ON r.id = l.halo_charge_rate_id
                WHERE l.id = ANY(%s) ORDER BY l.id""",
                lines.ids,
            )
        )
        labels = {"normal": "", "ooh": self.env._("out of hours"), "holiday": self.env._("holiday")}
        surcharge_label = self.env._("surcharge")
        hour = self.env._("h")
        result = []
        for (
            line_id,
            ticket_id,
            customer_id,
            kind,
            rate_id,
            product_id,
            data,
            explanation,
            hours,
            date,
            user_id,
            name,
            note,
            billable,
            account_id,
            cost,
        ) in self.env.cr.fetchall():
            if line_id in fresh:
                hours, _amount, explanation, data, _version = fresh[line_id]
            data = data or {}
            segments = data.get("segments") or []
            parts = charges.timesheet_parts(
                segments, data.get("surcharge"), billable == "no_charge", labels, surcharge_label
            )
            amount = sum(part.amount for part in parts)
            hours = hours or 0.0
            charge = Charge(
                partner_id=customer_id,
                ticket_id=ticket_id,
                kind="travel" if kind == "travel" else "labour",
                res_model="account.analytic.line",
                res_id=line_id,
                date=date,
                user_id=user_id,
                rate_id=rate_id,
                product_id=product_id,
                name=name,
                note=note,
                quantity=hours,
                uom_name=hour,
                unit_price=charges.unit_price_of(amount, hours),
                amount=amount,
                rated_amount=amount,
                cost=-(cost or 0.0),
                explanation=explanation,
                parts=parts,
                # the timesheet's project account; other analytic plans are not carried
                analytic_distribution={str(account_id): 100.0} if account_id else None,
            )
            if not segments:
                charge.error = explanation or self.env._("Not rated.")
            result.append(charge)
        return result

    @api.model
    def _halo_prepare_mileage_charges(self, run, trips):
        """Hook: the charges of mileage (priced by ``halo.rating._rate_mileage``)."""
        result = []
        results = self.env["halo.rating"]._rate_mileage(trips, fx_date=run._halo_fx_date())
        product = self.env.ref("halo_helpdesk_billing.product_mileage", raise_if_not_found=False)
        for trip in trips:
            charge = self._halo_charge_base(trip, "mileage", trip.ticket_id, trip.date, trip.user_id)
            charge.product_id = product.id if product else None
            charge.name = self.env._(
                "Mileage %(from)s → %(to)s",
                **{"from": trip.location_from or "", "to": trip.location_to or ""},
            ).strip()
            charge.note = trip.note or None
            # the unit the trip is priced per (a km trip at a per-mile price: mi)
            charge.uom_name = self.env["halo.rating"]._halo_mileage_price(trip)[1]
            self._halo_charge_from_result(run, charge, results[trip.id], trip.unit)
            result.append(charge)
        self._halo_store_results(trips, results)
        return result

    @api.model
    def _halo_prepare_expense_charges(self, run, expenses):
        """Hook: the charges of expenses (priced by ``halo.rating._rate_expenses``)."""
        result = []
        results = self.env["halo.rating"]._rate_expenses(expenses, fx_date=run._halo_fx_date())
        default = self.env.ref("halo_helpdesk_billing.product_expense", raise_if_not_found=False)
        for expense in expenses:
            charge = self._halo_charge_base(
                expense, "expense", expense.ticket_id, expense.date, expense.user_id
            )
            charge.product_id = (expense.type_id.product_id or default).id or None
            charge.name = " - ".join(filter(None, [expense.type_id.name, expense.description]))
            charge.uom_name = self.env._("unit")
            # what it cost the company: the amount paid less the reclaimable taxes
            charge.cost = expense.currency_id._convert(
                float(self.env["halo.rating"]._halo_expense_net(expense)[0]),
                run.currency_id,
                run.company_id,
                expense.date,
            )
            self._halo_charge_from_result(run, charge, results[expense.id], "")
            result.append(charge)
        self._halo_store_results(expenses, results)
        return result

    @api.model
    def _halo_prepare_item_charges(self, run, items):
        """Hook: the charges of items (at their unit price, converted to the customer's currency)."""
        result = []
        for item in items:
            charge = self._halo_charge_base(item, "item", item.ticket_id, item.date, item.user_id)
            currency = run._halo_billing_currency(charge.partner_id)
            unit_price, note = item.unit_price, ""
            if currency != run.currency_id:
                Rating = self.env["halo.rating"]
                rate = Rating._halo_fx_rate(run.currency_id, currency, run.company_id, run._halo_fx_date())
                unit_price = float(Rating._halo_fx_amount(item.unit_price, rate, currency))
                note = self.env._(
                    " (converted from %(price)s at %(rate)s %(from_currency)s→%(target)s, rate of %(date)s)",
                    price=run.currency_id.format(item.unit_price),
                    rate=rate,
                    from_currency=run.currency_id.name,
                    target=currency.name,
                    date=run._halo_fx_date(),
                )
            amount = float_round(unit_price * item.quantity, precision_rounding=currency.rounding)
            charge.product_id = item.product_id.id or None
            charge.name = item.name
            charge.quantity = item.quantity
            charge.uom_name = item.product_id.uom_id.name or self.env._("unit")
            charge.unit_price = unit_price
            charge.amount = charge.rated_amount = amount
            charge.cost = item.unit_cost * item.quantity
            charge.explanation = (
                self.env._("%(qty)s × %(price)s", qty=item.quantity, price=currency.format(unit_price)) + note
            )
            charge.parts = charges.item_parts(item.quantity, unit_price, amount)
            result.append(charge)
        self._halo_store_amounts(items, [(charge.amount, charge.explanation) for charge in result])
        if items:
            # the currency of the stored amounts (the customer's)
            self.env.cr.execute(
                SQL(
                    """UPDATE halo_ticket_item AS w SET halo_amount_currency_id = v.currency
                     FROM unnest(%s::int[], %s::int[]) AS v(id, currency) WHERE w.id = v.id""",
                    items.ids,
                    [run._halo_billing_currency(charge.partner_id).id for charge in result],
                )
            )
            items.invalidate_recordset(["halo_amount_currency_id"])
        return result

    @api.model
    def _halo_charge_from_result(self, run, charge, result, unit):
        """Price ``charge`` from a rating result (``services.rating.RatedCharge``) or its error."""
        if isinstance(result, Exception):
            charge.error = charge.explanation = str(result)
            charge.quantity, charge.amount, charge.parts = 0, 0, []
            return
        quantity, unit_price, amount = float(result.quantity), float(result.unit_price), float(result.amount)
        currency = run._halo_billing_currency(charge.partner_id)
        charge.parts = charges.priced_parts(
            charge.kind,
            quantity,
            unit_price,
            amount,
            lambda value: float_round(value, precision_rounding=currency.rounding),
            self.env._("surcharge"),
        )
        charge.quantity = quantity
        charge.unit_price = charges.unit_price_of(amount, quantity)
        charge.amount = charge.rated_amount = amount
        charge.explanation = result.explanation

    @api.model
    def _halo_store_results(self, records, results):
        """Keep each charge's amount and explanation on its work (for the ticket and reports)."""
        priced = records.filtered(lambda record: not isinstance(results[record.id], Exception))
        self.env["halo.rating"]._halo_store_work_ratings(priced, results)

    @api.model
    def _halo_store_amounts(self, records, values):
        """Write ``(amount, explanation)`` pairs on ``records`` (mileage, expenses, items) in one
        UPDATE; the billing engine owns these fields, so no ORM write per record."""
        if not records:
            return
        records.flush_model(["halo_amount", "halo_explanation"])
        self.env.cr.execute(
            SQL(
                """UPDATE %s AS w SET halo_amount = v.amount, halo_explanation = v.explanation
                 FROM unnest(%s::int[], %s::numeric[], %s::text[]) AS v(id, amount, explanation)
                WHERE w.id = v.id""",
                SQL.identifier(WORK_TABLES[records._name]),
                records.ids,
                [amount for amount, _text in values],
                [text for _amount, text in values],
            )
        )
        records.invalidate_recordset(["halo_amount", "halo_explanation"])

    # ------------------------------------------------------------------ contracts
    @api.model
    def _halo_apply_contracts(self, run, run_charges):
        """Let customer contracts cover charges (included, prepay hours or money, PAYG beyond)."""
        Contract = self.env.get("halo.contract")
        if Contract is None or not hasattr(Contract, "_halo_allocate_charges"):
            return
        tickets = (
            self.env["helpdesk.ticket"]
            .sudo()
            .browse({charge.ticket_id for charge in run_charges if charge.ticket_id})
        )
        site_of = {ticket.id: ticket.partner_id.id for ticket in tickets}
        to_allocate = [
            {
                "key": index,
                "partner_id": charge.partner_id,
                "date": charge.date,
                "kind": charge.kind,
                "rate_id": charge.rate_id or False,
                "hours": (charge.quantity or 0.0) if charge.kind in TIMED_KINDS else 0.0,
                "amount": charge.amount or 0.0,
                # the ticket's partner: a site contract covers its site's work
                "work_partner_id": site_of.get(charge.ticket_id) or charge.partner_id,
                "segments": charge.time_segments(),
                "currency_id": run._halo_billing_currency(charge.partner_id).id,
            }
            for index, charge in enumerate(run_charges)
            if not charge.error
        ]
        allocations = (
            Contract.sudo()._halo_allocate_charges(to_allocate, run.company_id) if to_allocate else {}
        )
        for index, pieces in allocations.items():
            charge = run_charges[index]
            covered = [piece for piece in pieces if piece["mode"] != "payg"]
            if not covered:
                continue
            charge.contract_id = covered[0]["contract_id"]
            if any(piece["mode"] == "blocked" for piece in pieces):
                charge.error = "; ".join(
                    piece["explanation"] for piece in pieces if piece["mode"] == "blocked"
                )
                continue
            charge.parts = charges.allocated_parts(
                charge,
                pieces,
                functools.partial(self._halo_round_money, run),
                lambda quantity: float_round(quantity, 4),
            )
            charge.amount = sum(part.amount for part in charge.parts)
            charge.unit_price = charge.amount / charge.quantity if charge.quantity else charge.amount
            charge.explanation = "\n".join(
                [charge.explanation or ""]
                + [piece["explanation"] for piece in pieces if piece.get("explanation")]
            ).strip()
