# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""ORM side of rating: gather inputs in batches, call ``services.rating``, write back in bulk.

The number of SQL queries of :meth:`HaloRating._rate_timesheets` does not grow with the
number of lines: one read of the lines, one of their customers, one of the versions, one
of the public holidays, and one ``UPDATE ... FROM unnest(...)`` for all results.
"""

import dataclasses
import json
from collections import defaultdict, namedtuple
from datetime import UTC, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.halo_helpdesk_billing.constants import RERATABLE_STATES, WORK_TABLES

from ...services import rating

TimesheetInput = namedtuple(
    "TimesheetInput",
    "id start end ticket_id rate_id customer_id company_id billable kind site_id currency_id fx",
    defaults=(None, None),
)

# 1 mile in km (international mile)
KM_PER_MILE = Decimal("1.609344")
_Q2 = Decimal("0.01")
_Q3 = Decimal("0.001")
_Q6 = Decimal("0.000001")


def _price_text(value):
    """A price for an explanation: 2 decimals, more only when it has them (95.00, 0.4525)."""
    value = Decimal(str(value))
    return f"{value.quantize(_Q2)}" if value == value.quantize(_Q2) else f"{value.normalize():f}"


class HaloRating(models.AbstractModel):
    _name = "halo.rating"
    _description = "Helpdesk Rating Engine"

    # ------------------------------------------------------------------ inputs
    @api.model
    def _halo_plain_calendars(self, calendars, date_from, date_to):
        """``{calendar_id: rating.Calendar}`` with public holidays between the dates."""
        calendars = calendars.sudo()
        leaves = (
            self.env["resource.calendar.leaves"]
            .sudo()
            .search_fetch(
                [
                    ("resource_id", "=", False),
                    ("date_to", ">=", date_from),
                    ("date_from", "<=", date_to),
                    "|",
                    ("calendar_id", "in", calendars.ids),
                    ("calendar_id", "=", False),
                ],
                ["calendar_id", "company_id", "date_from", "date_to"],
            )
        )
        result = {}
        for calendar in calendars:
            attendance = tuple(
                (int(att.dayofweek), att.hour_from, att.hour_to)
                for att in calendar.attendance_ids
                if att.day_period != "lunch" and att.hour_to > att.hour_from
            )
            holidays = tuple(
                sorted(
                    (leave.date_from, leave.date_to)
                    for leave in leaves
                    if leave.calendar_id == calendar
                    or (
                        not leave.calendar_id
                        and leave.company_id in (calendar.company_id, self.env["res.company"])
                    )
                )
            )
            result[calendar.id] = rating.Calendar(
                tz=calendar.tz or "UTC", attendance=attendance, holidays=holidays
            )
        return result

    @api.model
    def _halo_fx_rate(self, from_currency, to_currency, company, day):
        """Conversion rate (Decimal, 6 decimals) from one currency to another on ``day``."""
        if from_currency == to_currency:
            return Decimal(1)
        rate = from_currency._get_conversion_rate(from_currency, to_currency, company, day)
        return Decimal(str(rate)).quantize(_Q6, ROUND_HALF_UP)

    @api.model
    def _halo_fx_amount(self, amount, rate, currency):
        """``amount`` × ``rate`` rounded to ``currency``'s decimals (half up)."""
        places = Decimal(1).scaleb(-currency.decimal_places)
        return (Decimal(str(amount)) * rate).quantize(places, ROUND_HALF_UP)

    @api.model
    def _halo_versions_by_partner(self, rate_ids, partners, company=None, fx_date=None, fx=None, known=None):
        """``{partner_id: {rate_id: [RateVersion]}}`` (global + the customer's own + its contracts')
        that may price work of ``company`` (default: the current one): versions of rates shared
        by all companies or of that company, and contract versions of its own contracts only.
        ``known``: only the versions that existed when work was first rated (ids up to it).

        Currencies: a customer is priced in its billing currency. A rate with versions in that
        currency (at any level) is priced from those only; a rate without any is priced from
        its versions in the company's currency (or, for a rate shared with a company in another
        currency, in the currency they are in), their prices converted at the rate of
        ``fx_date`` (default today). ``fx``, when given, receives ``{(partner_id, version_id):
        {"from", "to", "rate", "date", "price"}}`` for every converted version."""
        return self._halo_versions_and_contracts(
            rate_ids, partners, company, known=known, fx_date=fx_date, fx=fx
        )[0]

    @api.model
    def _halo_versions_and_contracts(
        self, rate_ids, partners, company=None, known=None, fx_date=None, fx=None
    ):
        """``(_halo_versions_by_partner(...), {version_id: contract_id})`` for the contract
        versions: rating keeps a contract's versions for the work that contract governs
        (converted versions keep their ``version_id``)."""
        company = company or self.env.company
        Version = self.env["halo.charge.rate.version"].sudo()
        domain = [
            ("rate_id", "in", list(rate_ids)),
            ("company_id", "in", [False, company.id]),
            "|",
            ("contract_id", "=", False),
            ("contract_id.company_id", "=", company.id),
            "|",
            ("partner_id", "=", False),
            ("partner_id", "in", partners.ids),
        ]
        if known:
            domain.append(("id", "<=", known))
        versions = Version.search_fetch(
            domain,
            [
                "rate_id",
                "partner_id",
                "contract_id",
                "level",
                "date_from",
                "hourly_price",
                "min_minutes",
                "increment_minutes",
                "rounding",
                "ooh_multiplier",
                "holiday_multiplier",
                "surcharge",
                "currency_id",
            ],
        )
        contract_of = {version.id: version.contract_id.id for version in versions if version.contract_id}
        plain = {version.id: version._to_rating() for version in versions}
        currency_of = {version.id: version.currency_id or company.currency_id for version in versions}
        common = defaultdict(list)
        own = defaultdict(lambda: defaultdict(list))
        for version in versions:
            if version.partner_id:
                own[version.partner_id.id][version.rate_id.id].append(plain[version.id])
            else:
                common[version.rate_id.id].append(plain[version.id])
        result = {}
        rates = {}
        for partner in partners:
            billing = partner._halo_billing_currency(company)
            by_rate = {}
            for rate_id in rate_ids:
                candidates = common.get(rate_id, []) + own[partner.id].get(rate_id, [])
                in_currency = {currency_of[v.version_id] for v in candidates}
                if billing in in_currency or not candidates:
                    by_rate[rate_id] = [v for v in candidates if currency_of[v.version_id] == billing]
                    continue
                # converted from the company's currency, else (a rate shared with a company in
                # another currency) from the currency its versions are in
                source = (
                    company.currency_id
                    if company.currency_id in in_currency
                    else min(in_currency, key=lambda currency: currency.id)
                )
                fx_date = fx_date or fields.Date.context_today(self)
                if (source, billing) not in rates:
                    rates[(source, billing)] = self._halo_fx_rate(source, billing, company, fx_date)
                rate = rates[(source, billing)]
                converted = []
                for version in candidates:
                    if currency_of[version.version_id] != source:
                        continue
                    converted.append(
                        dataclasses.replace(
                            version,
                            hourly_price=self._halo_fx_amount(version.hourly_price, rate, billing),
                            surcharge=self._halo_fx_amount(version.surcharge, rate, billing),
                        )
                    )
                    if fx is not None:
                        fx[(partner.id, version.version_id)] = {
                            "from": source.name,
                            "to": billing.name,
                            "rate": str(rate),
                            "date": fields.Date.to_string(fx_date),
                            "price": _price_text(version.hourly_price),
                        }
                by_rate[rate_id] = converted
            result[partner.id] = by_rate
        return result, contract_of

    @api.model
    def _halo_contract_versions(self, partner_versions, contract_of, contract):
        """``partner_versions`` ({rate_id: [RateVersion]}) without the contract versions of
        other contracts than ``contract`` (the contract governing the work, or none)."""
        return {
            rate_id: [
                v for v in versions if v.level != "contract" or contract_of.get(v.version_id) == contract.id
            ]
            for rate_id, versions in partner_versions.items()
        }

    # ------------------------------------------------------------------ rating
    @api.model
    def _halo_read_timesheets(self, lines):
        """The inputs of rating, for all lines in one query (the ORM would read them in chunks)."""
        self.env["account.analytic.line"].flush_model()
        self.env["helpdesk.ticket"].flush_model(["commercial_partner_id", "partner_id"])
        self.env.cr.execute(
            SQL(
                """SELECT l.id, l.halo_start, l.halo_end, l.halo_ticket_id, l.halo_charge_rate_id,
                      COALESCE(t.commercial_partner_id, t.partner_id, l.partner_id), l.company_id,
                      l.halo_billable, COALESCE(l.halo_kind, 'labour'), t.partner_id
                 FROM account_analytic_line l JOIN helpdesk_ticket t ON t.id = l.halo_ticket_id
                WHERE l.id = ANY(%s)
             ORDER BY l.id""",
                lines.ids,
            )
        )
        return [TimesheetInput(*row) for row in self.env.cr.fetchall()]

    @api.model
    def _rate_timesheets(self, lines, write=True, known=None, rerate=False, fx_date=None):
        """Rate ticket actions and travel time; returns ``{line_id: RatedAction | RatingError}``.

        Lines without an end (running), without a charge rate or not billable get no price.
        With ``write``, results are stored on the lines in one bulk UPDATE. ``known`` limits
        the versions to those that existed when the work was first rated (see
        ``halo_versions_known``); ``rerate`` (an explicit re-rate) moves that mark to now.
        """
        rows, results = self._halo_rate_timesheet_rows(lines, known=known, fx_date=fx_date)
        if write and rows:
            self._halo_store_timesheet_ratings(rows, results, known=known, rerate=rerate)
        return results

    @api.model
    def _halo_rate_timesheet_rows(self, lines, known=None, fx_date=None):
        """Rate without storing: ``(rows read, {line_id: RatedAction | RatingError})``.
        ``known``: see :meth:`_rate_timesheets`.

        Each row carries the currency of its price (``currency_id``, the customer's billing
        currency) and, when its version was converted, ``fx`` (see ``_halo_versions_by_partner``:
        conversion at the rate of ``fx_date``, default today; billing runs pass their invoice date)."""
        rows = self._halo_read_timesheets(lines.sudo()) if lines else []
        if not rows:
            return [], {}
        customers = (
            self.env["res.partner"].sudo().browse({row.customer_id for row in rows if row.customer_id})
        )
        companies = self.env["res.company"].sudo().browse({row.company_id for row in rows})
        rates = self.env["halo.charge.rate"].sudo().browse({row.rate_id for row in rows if row.rate_id})
        calendars = companies.resource_calendar_id
        for company in companies:
            calendars |= customers.with_company(company).halo_calendar_id
        starts = [row.start for row in rows if row.start]
        plain_calendars = (
            self._halo_plain_calendars(
                calendars, min(starts) - timedelta(days=2), max(starts) + timedelta(days=3)
            )
            if starts
            else {}
        )
        fx = {}
        versions, contract_of, contracts = {}, {}, {}
        for company in companies:
            versions[company.id], company_contract_of = self._halo_versions_and_contracts(
                set(rates.ids), customers, company, known=known, fx_date=fx_date, fx=fx
            )
            contract_of.update(company_contract_of)
            contracts[company.id] = self.env["halo.contract"]._halo_scope_contracts(customers, company)
        sites = self.env["res.partner"].sudo().browse({row.site_id for row in rows if row.site_id})
        customer_of = {customer.id: customer for customer in customers}
        company_of = {company.id: company for company in companies}
        rate_names = {rate.id: rate.name for rate in rates}

        results = {}
        groups = defaultdict(list)
        governing = {}  # (company, work partner, day, rate) -> contract
        for row in rows:
            if not (row.start and row.end):
                results[row.id] = rating.RatingError(self.env._("Not rated: the action has no end yet."))
                continue
            if not row.rate_id:
                results[row.id] = rating.RatingError(self.env._("Not rated: no charge rate."))
                continue
            company = company_of[row.company_id]
            # customer settings are per company (company-dependent fields)
            customer = customer_of.get(row.customer_id, self.env["res.partner"]).with_company(company)
            calendar = customer.halo_calendar_id or company.resource_calendar_id
            contract = self.env["halo.contract"]
            if contracts[row.company_id] and row.start:
                # the contract governing the work: its price overrides and rounding scope apply
                zone = ZoneInfo((plain_calendars.get(calendar.id) or rating.Calendar(tz="UTC")).tz)
                day = row.start.replace(tzinfo=UTC).astimezone(zone).date()
                key = (row.company_id, row.site_id or row.customer_id, day, row.rate_id)
                if key not in governing:
                    governing[key] = contracts[row.company_id]._halo_governing_contract(
                        sites.browse(row.site_id or row.customer_id), day, row.rate_id
                    )
                contract = governing[key]
            scope = (
                contract.rounding_scope
                or customer.halo_rounding_scope
                or company.halo_rounding_scope
                or "action"
            )
            groups[(row.customer_id, calendar.id, scope, row.company_id, contract.id)].append(row)

        currency_rows = {}
        for (customer_id, calendar_id, scope, company_id, contract_id), members in groups.items():
            currency = (
                customer_of[customer_id]._halo_billing_currency(company_of[company_id])
                if customer_id in customer_of
                else company_of[company_id].currency_id
            )
            for row in members:
                currency_rows[row.id] = currency.id
            symbol = currency.symbol or ""
            partner_versions = self._halo_contract_versions(
                versions[company_id].get(customer_id, {}),
                contract_of,
                self.env["halo.contract"].browse(contract_id),
            )
            calendar = plain_calendars.get(calendar_id) or rating.Calendar(tz="UTC")
            zone = ZoneInfo(calendar.tz)
            actions = []
            for row in members:
                local_day = row.start.replace(tzinfo=UTC).astimezone(zone).date()
                if not rating.select_version(partner_versions.get(row.rate_id, []), local_day):
                    results[row.id] = rating.RatingError(
                        self.env._(
                            "Not rated: %(rate)s has no price in force on %(date)s.",
                            rate=rate_names.get(row.rate_id, ""),
                            date=local_day,
                        )
                    )
                    continue
                actions.append(
                    rating.Action(
                        key=row.id,
                        start=row.start,
                        end=row.end,
                        ticket_key=(row.ticket_id, row.kind),
                        rate_id=row.rate_id,
                    )
                )
            try:
                rated = rating.rate_actions(actions, partner_versions, calendar, scope, symbol)
            except rating.RatingError as err:
                for action in actions:
                    results[action.key] = err
                continue
            for item in rated:
                results[item.key] = item
        rows = [
            row._replace(
                currency_id=currency_rows.get(row.id),
                fx=fx.get((row.customer_id, results[row.id].version.version_id))
                if isinstance(results.get(row.id), rating.RatedAction)
                else None,
            )
            for row in rows
        ]
        return rows, results

    @api.model
    def _halo_timesheet_values(self, row, result):
        """(hours, amount, explanation, segments, version_id) to store for one line."""
        if isinstance(result, Exception):
            return 0.0, 0.0, str(result), None, 0
        amount = result.amount
        explanation = result.explanation
        if row.fx:
            explanation = self.env._(
                "%(why)s (converted from %(price)s %(from_currency)s/h at %(rate)s %(from_currency)s→%(target)s, "
                "rate of %(date)s)",
                why=explanation,
                price=row.fx["price"],
                from_currency=row.fx["from"],
                target=row.fx["to"],
                rate=row.fx["rate"],
                date=row.fx["date"],
            )
        if row.billable == "no_charge":
            explanation = self.env._("No charge (would be %(rated)s): %(why)s", rated=amount, why=explanation)
            amount = Decimal(0)
        segments = [
            {
                "kind": seg.kind,
                "seconds": seg.seconds,
                "multiplier": str(seg.multiplier),
                "quantity": str(seg.quantity),
                "unit_price": str(seg.unit_price),
                "amount": str(seg.amount),
            }
            for seg in result.segments
        ]
        data = {
            "segments": segments,
            "surcharge": str(result.surcharge),
            "actual_seconds": result.actual_seconds,
            "currency_id": row.currency_id,
        }
        if row.fx:
            data["fx"] = row.fx
        return (result.billable_seconds / 3600.0, float(amount), explanation, data, result.version.version_id)

    @api.model
    def _halo_store_timesheet_ratings(self, rows, results, claim=None, known=None, rerate=False):
        """Store the results on the lines in one UPDATE. ``claim`` is ``(run_id, line_ids)``:
        those lines are put in billing run ``run_id`` by the same UPDATE (a second pass over
        100,000 freshly updated rows cost a billing run preview seconds). A line rated for the
        first time (or explicitly re-rated) records the versions known (``known``, else the
        newest version's id), so a version added later does not re-price it implicitly."""
        run_id, claimed = claim or (False, ())
        claimed = set(claimed)
        ids, hours, amounts, texts, datas, version_ids, claims = [], [], [], [], [], [], []
        for row in rows:
            if row.id not in results:
                continue
            h, a, t, d, v = self._halo_timesheet_values(row, results[row.id])
            ids.append(row.id)
            hours.append(h)
            amounts.append(a)
            texts.append(t)
            datas.append(json.dumps(d) if d is not None else None)
            version_ids.append(v)
            claims.append(row.id in claimed)
        if not ids:
            return
        Line = self.env["account.analytic.line"]
        Line.flush_model()
        if not known:
            self.env["halo.charge.rate.version"].flush_model()
            self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM halo_charge_rate_version")
            known = self.env.cr.fetchone()[0]
        self.env.cr.execute(
            SQL(
                """UPDATE account_analytic_line AS l
                  SET halo_versions_known = CASE WHEN %s OR l.halo_versions_known IS NULL
                                                 THEN %s ELSE l.halo_versions_known END,
                      halo_billable_hours = v.hours,
                      halo_rated_amount = v.amount,
                      halo_rating_explanation = v.expl,
                      halo_rating_data = v.data::jsonb,
                      halo_rate_version_id = NULLIF(v.version_id, 0)%s
                 FROM unnest(%s::int[], %s::float8[], %s::numeric[], %s::text[], %s::text[], %s::int[], %s::bool[])
                      AS v(id, hours, amount, expl, data, version_id, claimed)
                WHERE l.id = v.id""",
                bool(rerate),
                known,
                # the claim by the billing state's writer, in the same pass over the lines
                SQL(", %s", Line._halo_claim_assignments(run_id, SQL("v.claimed"), alias="l"))
                if claimed
                else SQL(""),
                ids,
                hours,
                amounts,
                texts,
                datas,
                version_ids,
                claims,
            )
        )
        Line.invalidate_model(
            [
                "halo_versions_known",
                "halo_billable_hours",
                "halo_rated_amount",
                "halo_rating_explanation",
                "halo_rating_data",
                "halo_rate_version_id",
            ]
        )
        if claimed:
            Line._halo_invalidate_billing_state()

    @api.model
    def _halo_mileage_price(self, trip):
        """The mileage price of a trip: ``(price per unit, unit, surcharge per trip, currency)``.

        The price fixed when the trip was recorded (``halo_price_*`` on the trip), else the
        settings now: the customer's price (in its billing currency, per its mileage unit),
        else the company's price for the trip's unit (in the company's currency)."""
        trip = trip.sudo()
        if trip.halo_price_currency_id:
            return (
                Decimal(str(trip.halo_price_unit)),
                trip.halo_price_per,
                Decimal(str(trip.halo_price_surcharge)),
                trip.halo_price_currency_id,
            )
        return self._halo_mileage_settings(trip.partner_id, trip.company_id, trip.unit)

    @api.model
    def _halo_mileage_settings(self, customer, company, unit):
        """Current mileage settings, see :meth:`_halo_mileage_price`."""
        company = company.sudo()
        # the customer's settings of the trip's company (company-dependent fields)
        customer = customer.sudo().commercial_partner_id.with_company(company)
        if customer.halo_mileage_price:
            currency = customer._halo_billing_currency(company)
            price, per = customer.halo_mileage_price, customer.halo_mileage_unit or "km"
        else:
            currency = company.currency_id
            per = unit
            price = company.halo_mileage_price_km if unit == "km" else company.halo_mileage_price_mi
        if customer.halo_mileage_surcharge:
            surcharge = (
                customer._halo_billing_currency(company)._convert(
                    customer.halo_mileage_surcharge,
                    currency,
                    company,
                    fields.Date.context_today(self),
                    round=False,
                )
                if customer._halo_billing_currency(company) != currency
                else customer.halo_mileage_surcharge
            )
        else:
            surcharge = (
                company.currency_id._convert(
                    company.halo_mileage_surcharge,
                    currency,
                    company,
                    fields.Date.context_today(self),
                    round=False,
                )
                if company.currency_id != currency
                else company.halo_mileage_surcharge
            )
        return Decimal(str(price)), per, Decimal(str(surcharge)), currency

    @api.model
    def _halo_convert_distance(self, distance, unit, per):
        """``(distance in unit per, explanation)``: 20 km in mi = 12.427 mi (3 decimals)."""
        distance = Decimal(str(distance))
        if unit == per:
            return distance, ""
        if unit == "km":
            converted = (distance / KM_PER_MILE).quantize(_Q3, ROUND_HALF_UP)
        else:
            converted = (distance * KM_PER_MILE).quantize(_Q3, ROUND_HALF_UP)
        return converted, self.env._(
            "%(distance)s %(unit)s = %(converted)s %(per)s; ",
            distance=f"{distance.normalize():f}",
            unit=unit,
            converted=f"{converted.normalize():f}",
            per=per,
        )

    @api.model
    def _rate_mileage(self, trips, fx_date=None):
        """``{trip_id: RatedCharge | RatingError}``, priced in the customer's billing currency
        (a price in another currency is converted at the rate of ``fx_date``, default today).
        The trip's distance is converted to the unit its price is set per."""
        results = {}
        fx_date = fx_date or fields.Date.context_today(self)
        for trip in trips.sudo():
            price, per, surcharge, source = self._halo_mileage_price(trip)
            target = (
                trip.partner_id._halo_billing_currency(trip.company_id)
                if trip.partner_id
                else trip.company_id.currency_id
            )
            note = ""
            if source != target:
                rate = self._halo_fx_rate(source, target, trip.company_id, fx_date)
                note = self.env._(
                    " (converted from %(price)s %(from_currency)s/%(per)s at %(rate)s %(from_currency)s→%(target)s, rate of %(date)s)",
                    price=_price_text(price),
                    from_currency=source.name,
                    per=per,
                    rate=rate,
                    target=target.name,
                    date=fx_date,
                )
                price = (price * rate).quantize(Decimal("0.0001"), ROUND_HALF_UP)
                surcharge = self._halo_fx_amount(surcharge, rate, target)
            distance, unit_note = self._halo_convert_distance(trip.distance, trip.unit, per)
            try:
                result = rating.rate_mileage(
                    distance,
                    per,
                    trip.round_trip,
                    price,
                    surcharge,
                    target.symbol or "",
                )
            except rating.RatingError as err:
                results[trip.id] = err
                continue
            results[trip.id] = dataclasses.replace(result, explanation=unit_note + result.explanation + note)
        return results

    @api.model
    def _halo_expense_net(self, expense):
        """``(cost without the reclaimable taxes, tax amount)`` in the expense's currency: the
        "Taxes Paid" are included in the amount paid and are reclaimed, so not billed again."""
        expense = expense.sudo()
        if not expense.tax_ids:
            return Decimal(str(expense.amount)), Decimal(0)
        taxes = expense.tax_ids.with_context(force_price_include=True).compute_all(
            expense.amount,
            currency=expense.currency_id,
            quantity=1.0,
        )
        net = Decimal(str(taxes["total_excluded"]))
        return net, Decimal(str(expense.amount)) - net

    @api.model
    def _halo_expense_price(self, expense):
        """``(markup %, surcharge, surcharge currency)`` of an expense: fixed when it was
        recorded, else the customer's or company's markup and the type's surcharge now."""
        expense = expense.sudo()
        if expense.halo_price_fixed:
            return (
                Decimal(str(expense.halo_markup)),
                Decimal(str(expense.halo_type_surcharge)),
                expense.company_id.currency_id,
            )
        markup, surcharge = self._halo_expense_settings(
            expense.partner_id, expense.company_id, expense.type_id
        )
        return markup, surcharge, expense.company_id.currency_id

    @api.model
    def _halo_expense_settings(self, customer, company, expense_type):
        """``(markup %, type surcharge in the company's currency)`` as set now."""
        company = company.sudo()
        # the customer's settings are per company (company-dependent fields)
        customer = customer.sudo().commercial_partner_id.with_company(company)
        markup = (
            customer.halo_expense_markup
            if customer.halo_expense_markup_custom
            else company.halo_expense_markup
        )
        expense_type = expense_type.sudo()
        surcharge = expense_type.surcharge or 0.0
        if surcharge and expense_type.currency_id and expense_type.currency_id != company.currency_id:
            surcharge = expense_type.currency_id._convert(
                surcharge, company.currency_id, company, fields.Date.context_today(self), round=False
            )
        return Decimal(str(markup or 0)), Decimal(str(surcharge))

    @api.model
    def _rate_expenses(self, expenses, fx_date=None):
        """``{expense_id: RatedCharge | RatingError}`` in the customer's billing currency: the
        cost net of its reclaimable taxes, converted at the rate of the day it was paid, plus
        the markup; the type's surcharge converted at the rate of ``fx_date`` (default today)."""
        results = {}
        fx_date = fx_date or fields.Date.context_today(self)
        for expense in expenses.sudo():
            company = expense.company_id
            target = (
                expense.partner_id._halo_billing_currency(company)
                if expense.partner_id
                else company.currency_id
            )
            net, tax = self._halo_expense_net(expense)
            cost = net
            if expense.currency_id != target:
                cost = self._halo_fx_amount(
                    net,
                    self._halo_fx_rate(expense.currency_id, target, company, expense.date or fx_date),
                    target,
                )
            markup, surcharge, surcharge_currency = self._halo_expense_price(expense)
            if surcharge and surcharge_currency != target:
                surcharge = self._halo_fx_amount(
                    surcharge, self._halo_fx_rate(surcharge_currency, target, company, fx_date), target
                )
            try:
                result = rating.rate_expense(cost, markup, surcharge, target.symbol or "")
            except rating.RatingError as err:
                results[expense.id] = err
                continue
            notes = []
            if tax:
                notes.append(
                    self.env._(
                        "%(gross)s paid less %(tax)s reclaimable tax = %(net)s",
                        gross=expense.currency_id.format(expense.amount),
                        tax=expense.currency_id.format(float(tax)),
                        net=expense.currency_id.format(float(net)),
                    )
                )
            if expense.currency_id != target:
                notes.append(
                    self.env._(
                        "converted from %(currency)s at the rate of %(date)s",
                        currency=expense.currency_id.name,
                        date=expense.date,
                    )
                )
            if notes:
                result = dataclasses.replace(result, explanation="; ".join(notes) + "; " + result.explanation)
            results[expense.id] = result
        return results

    @api.model
    def _halo_rate_recorded(self, records):
        """Price unbilled mileage or expenses as they are recorded (the billing analysis shows
        them at this value until a billing run prices them again): one UPDATE."""
        records = records.sudo().filtered(lambda r: r.halo_billing_state in RERATABLE_STATES)
        if not records:
            return
        results = (
            self._rate_mileage(records) if records._name == "halo.mileage" else self._rate_expenses(records)
        )
        self._halo_store_work_ratings(records, results)

    @api.model
    def _halo_store_work_ratings(self, records, results):
        """Store ``(amount, explanation, currency)`` of rated mileage or expenses in one UPDATE
        (an error stores no amount and the error as explanation)."""
        if not records:
            return

        ids, amounts, texts, currencies = [], [], [], []
        for record in records:
            result = results[record.id]
            target = (
                record.partner_id._halo_billing_currency(record.company_id)
                if record.partner_id
                else record.company_id.currency_id
            )
            ids.append(record.id)
            if isinstance(result, Exception):
                amounts.append(None)
                texts.append(str(result))
            else:
                amounts.append(float(result.amount))
                texts.append(result.explanation)
            currencies.append(target.id)
        records.flush_model(["halo_amount", "halo_explanation", "halo_amount_currency_id"])
        self.env.cr.execute(
            SQL(
                """UPDATE %s AS w SET halo_amount = v.amount, halo_explanation = v.explanation,
                                  halo_amount_currency_id = v.currency
                 FROM unnest(%s::int[], %s::numeric[], %s::text[], %s::int[]) AS v(id, amount, explanation, currency)
                WHERE w.id = v.id""",
                SQL.identifier(WORK_TABLES[records._name]),
                ids,
                amounts,
                texts,
                currencies,
            )
        )
        records.invalidate_recordset(["halo_amount", "halo_explanation", "halo_amount_currency_id"])
        if records._name == "halo.expense":
            costs = [
                record.currency_id._convert(
                    float(self._halo_expense_net(record)[0]),
                    record.company_id.currency_id,
                    record.company_id,
                    record.date or fields.Date.context_today(self),
                )
                for record in records
            ]
            records.flush_model(["halo_cost"])
            self.env.cr.execute(
                SQL(
                    "UPDATE halo_expense AS w SET halo_cost = v.cost FROM unnest(%s::int[], %s::numeric[]) AS v(id, cost) "
                    "WHERE w.id = v.id",
                    ids,
                    costs,
                )
            )
            records.invalidate_recordset(["halo_cost"])

    @api.model
    def _halo_rerate(self, lines, reason):
        """Explicit re-rating with an audit trail: rate again with the rules in force now and
        record every line whose amount, billable time or version changed."""
        lines = lines.sudo().filtered(lambda line: line.halo_billing_state == "unbilled")
        before = {
            line.id: (
                line.halo_rated_amount,
                line.halo_billable_hours,
                line.halo_rate_version_id.id,
                line.halo_rating_explanation,
            )
            for line in lines
        }
        self._rate_timesheets(lines, rerate=True)
        audits = []
        for line in lines:
            old = before[line.id]
            new = (
                line.halo_rated_amount,
                line.halo_billable_hours,
                line.halo_rate_version_id.id,
                line.halo_rating_explanation,
            )
            if old[:3] != new[:3]:
                audits.append(
                    {
                        "line_id": line.id,
                        "reason": reason,
                        "old_amount": old[0],
                        "new_amount": new[0],
                        "old_hours": old[1],
                        "new_hours": new[1],
                        "old_version_id": old[2] or False,
                        "new_version_id": new[2] or False,
                        "old_explanation": old[3],
                        "new_explanation": new[3],
                    }
                )
        return self.env["halo.rating.audit"].sudo().create(audits)
