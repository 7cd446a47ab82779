# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""ORM side of rating: gather inputs in batches, call ``services.rating``, write back in bulk.

The number of SQL queries of :meth:`HaloRating._rate_timesheets` does not grow with the
number of lines: one read of the lines, one of their customers, one of the versions, one
of the public holidays, and one ``UPDATE ... FROM unnest(...)`` for all results.
"""

import json
from collections import defaultdict, namedtuple
from datetime import UTC, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from odoo import api, models
from odoo.tools import SQL

from ..services import rating

TimesheetInput = namedtuple(
    "TimesheetInput", "id start end ticket_id rate_id customer_id company_id billable kind site_id"
)


class HaloRating(models.AbstractModel):
    _name = "halo.rating"
    _description = "Helpdesk Rating Engine"

    # ------------------------------------------------------------------ inputs
    @api.model
    def _halo_plain_calendars(self, calendars, date_from, date_to):
        """``{calendar_id: rating.Calendar}`` with public holidays between the dates."""
        calendars = calendars.sudo()
        leaves = self.env["resource.calendar.leaves"].sudo().search_fetch(
            [
                ("resource_id", "=", False),
                ("date_to", ">=", date_from),
                ("date_from", "<=", date_to),
                "|", ("calendar_id", "in", calendars.ids), ("calendar_id", "=", False),
            ],
            ["calendar_id", "company_id", "date_from", "date_to"],
        )
        result = {}
        for calendar in calendars:
            attendance = tuple(
                (int(att.dayofweek), att.hour_from, att.hour_to)
                for att in calendar.attendance_ids
                if att.day_period != "lunch" and att.hour_to > att.hour_from
            )
            holidays = tuple(sorted(
                (leave.date_from, leave.date_to)
                for leave in leaves
                if leave.calendar_id == calendar
                or (not leave.calendar_id and leave.company_id in (calendar.company_id, self.env["res.company"]))
            ))
            result[calendar.id] = rating.Calendar(
                tz=calendar.tz or "UTC", attendance=attendance, holidays=holidays
            )
        return result

    @api.model
    def _halo_versions_by_partner(self, rate_ids, partners, company=None, known=None):
        """``{partner_id: {rate_id: [RateVersion]}}`` (global + the customer's own + its contracts')
        that may price work of ``company`` (default: the current one): versions of rates shared
        by all companies or of that company, and contract versions of its own contracts only.
        ``known``: only the versions that existed when work was first rated (ids up to it)."""
        return self._halo_versions_and_contracts(rate_ids, partners, company, known=known)[0]

    @api.model
    def _halo_versions_and_contracts(self, rate_ids, partners, company=None, known=None):
        """``(_halo_versions_by_partner(...), {version_id: contract_id})`` for the contract
        versions: rating keeps a contract's versions for the work that contract governs."""
        company = company or self.env.company
        Version = self.env["halo.charge.rate.version"].sudo()
        domain = [("rate_id", "in", list(rate_ids)),
                  ("company_id", "in", [False, company.id]),
                  "|", ("contract_id", "=", False), ("contract_id.company_id", "=", company.id),
                  "|", ("partner_id", "=", False), ("partner_id", "in", partners.ids)]
        if known:
            domain.append(("id", "<=", known))
        versions = Version.search_fetch(
            domain,
            ["rate_id", "partner_id", "contract_id", "level", "date_from", "hourly_price",
             "min_minutes", "increment_minutes", "rounding", "ooh_multiplier", "holiday_multiplier",
             "surcharge"],
        )
        contract_of = {version.id: version.contract_id.id for version in versions if version.contract_id}
        plain = {version.id: version._to_rating() for version in versions}
        common = defaultdict(list)
        own = defaultdict(lambda: defaultdict(list))
        for version in versions:
            if version.partner_id:
                own[version.partner_id.id][version.rate_id.id].append(plain[version.id])
            else:
                common[version.rate_id.id].append(plain[version.id])
        result = {}
        for partner in partners:
            result[partner.id] = {
                rate_id: common.get(rate_id, []) + own[partner.id].get(rate_id, [])
                for rate_id in rate_ids
            }
        return result, contract_of

    @api.model
    def _halo_contract_versions(self, partner_versions, contract_of, contract):
        """``partner_versions`` ({rate_id: [RateVersion]}) without the contract versions of
        other contracts than ``contract`` (the contract governing the work, or none)."""
        return {
            rate_id: [v for v in versions
                      if v.level != "contract" or contract_of.get(v.version_id) == contract.id]
            for rate_id, versions in partner_versions.items()
        }

    # ------------------------------------------------------------------ rating
    @api.model
    def _halo_read_timesheets(self, lines):
        """The inputs of rating, for all lines in one query (the ORM would read them in chunks)."""
        self.env["account.analytic.line"].flush_model()
        self.env["helpdesk.ticket"].flush_model(["commercial_partner_id", "partner_id"])
        self.env.cr.execute(SQL(
            """SELECT l.id, l.halo_start, l.halo_end, l.halo_ticket_id, l.halo_charge_rate_id,
                      COALESCE(t.commercial_partner_id, t.partner_id, l.partner_id), l.company_id,
                      l.halo_billable, COALESCE(l.halo_kind, 'labour'), t.partner_id
                 FROM account_analytic_line l JOIN helpdesk_ticket t ON t.id = l.halo_ticket_id
                WHERE l.id = ANY(%s)
             ORDER BY l.id""",
            lines.ids,
        ))
        return [TimesheetInput(*row) for row in self.env.cr.fetchall()]

    @api.model
    def _rate_timesheets(self, lines, write=True, known=None, rerate=False):
        """Rate ticket actions and travel time; returns ``{line_id: RatedAction | RatingError}``.

        Lines without an end (running), without a charge rate or not billable get no price.
        With ``write``, results are stored on the lines in one bulk UPDATE. ``known`` limits
        the versions to those that existed when the work was first rated (see
        ``halo_versions_known``); ``rerate`` (an explicit re-rate) moves that mark to now.
        """
        rows, results = self._halo_rate_timesheet_rows(lines, known=known)
        if write and rows:
            self._halo_store_timesheet_ratings(rows, results, known=known, rerate=rerate)
        return results

    @api.model
    def _halo_rate_timesheet_rows(self, lines, known=None):
        """Rate without storing: ``(rows read, {line_id: RatedAction | RatingError})``."""
        rows = self._halo_read_timesheets(lines.sudo()) if lines else []
        if not rows:
            return [], {}
        customers = self.env["res.partner"].sudo().browse({row.customer_id for row in rows if row.customer_id})
        companies = self.env["res.company"].sudo().browse({row.company_id for row in rows})
        rates = self.env["halo.charge.rate"].sudo().browse({row.rate_id for row in rows if row.rate_id})
        calendars = companies.resource_calendar_id
        for company in companies:
            calendars |= customers.with_company(company).halo_calendar_id
        starts = [row.start for row in rows if row.start]
        plain_calendars = self._halo_plain_calendars(
            calendars, min(starts) - timedelta(days=2), max(starts) + timedelta(days=3)
        ) if starts else {}
        versions, contract_of, contracts = {}, {}, {}
        for company in companies:
            versions[company.id], company_contract_of = self._halo_versions_and_contracts(
                set(rates.ids), customers, company, known=known)
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
                        sites.browse(row.site_id or row.customer_id), day, row.rate_id)
                contract = governing[key]
            scope = (contract.rounding_scope or customer.halo_rounding_scope
                     or company.halo_rounding_scope or "action")
            groups[(row.customer_id, calendar.id, scope, row.company_id, contract.id)].append(row)

        for (customer_id, calendar_id, scope, company_id, contract_id), members in groups.items():
            symbol = company_of[company_id].currency_id.symbol or ""
            partner_versions = self._halo_contract_versions(
                versions[company_id].get(customer_id, {}), contract_of,
                self.env["halo.contract"].browse(contract_id))
            calendar = plain_calendars.get(calendar_id) or rating.Calendar(tz="UTC")
            zone = ZoneInfo(calendar.tz)
            actions = []
            for row in members:
                local_day = row.start.replace(tzinfo=UTC).astimezone(zone).date()
                if not rating.select_version(partner_versions.get(row.rate_id, []), local_day):
                    results[row.id] = rating.RatingError(self.env._(
                        "Not rated: %(rate)s has no price in force on %(date)s.",
                        rate=rate_names.get(row.rate_id, ""), date=local_day,
                    ))
                    continue
                actions.append(rating.Action(
                    key=row.id, start=row.start, end=row.end,
                    ticket_key=(row.ticket_id, row.kind), rate_id=row.rate_id,
                ))
            try:
                rated = rating.rate_actions(actions, partner_versions, calendar, scope, symbol)
            except rating.RatingError as err:
                for action in actions:
                    results[action.key] = err
                continue
            for item in rated:
                results[item.key] = item
        return rows, results

    @api.model
    def _halo_timesheet_values(self, row, result):
        """(hours, amount, explanation, segments, version_id) to store for one line."""
        if isinstance(result, Exception):
            return 0.0, 0.0, str(result), None, 0
        amount = result.amount
        explanation = result.explanation
        if row.billable == "no_charge":
            explanation = self.env._("No charge (would be %(rated)s): %(why)s",
                                     rated=amount, why=explanation)
            amount = Decimal(0)
        segments = [
            {"kind": seg.kind, "seconds": seg.seconds, "multiplier": str(seg.multiplier),
             "quantity": str(seg.quantity), "unit_price": str(seg.unit_price), "amount": str(seg.amount)}
            for seg in result.segments
        ]
        data = {"segments": segments, "surcharge": str(result.surcharge),
                "actual_seconds": result.actual_seconds}
        return (result.billable_seconds / 3600.0, float(amount), explanation, data,
                result.version.version_id)

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
        self.env.cr.execute(SQL(
            """UPDATE account_analytic_line AS l
                  SET halo_versions_known = CASE WHEN %s OR l.halo_versions_known IS NULL
                                                 THEN %s ELSE l.halo_versions_known END,
                      halo_billable_hours = v.hours,
                      halo_rated_amount = v.amount,
                      halo_rating_explanation = v.expl,
                      halo_rating_data = v.data::jsonb,
                      halo_rate_version_id = NULLIF(v.version_id, 0),
                      halo_run_id = CASE WHEN v.claimed AND l.halo_invoice_number IS NULL
                                         THEN %s ELSE l.halo_run_id END,
                      halo_billing_state = CASE WHEN v.claimed AND l.halo_invoice_number IS NULL
                                                THEN 'in_run' ELSE l.halo_billing_state END
                 FROM unnest(%s::int[], %s::float8[], %s::numeric[], %s::text[], %s::text[], %s::int[], %s::bool[])
                      AS v(id, hours, amount, expl, data, version_id, claimed)
                WHERE l.id = v.id""",
            bool(rerate), known, run_id or None, ids, hours, amounts, texts, datas, version_ids, claims,
        ))
        fnames = ["halo_versions_known", "halo_billable_hours", "halo_rated_amount", "halo_rating_explanation",
                  "halo_rating_data", "halo_rate_version_id"]
        Line.invalidate_model(fnames + (["halo_run_id", "halo_billing_state"] if claimed else []))

    @api.model
    def _halo_mileage_price(self, trip):
        """(price per unit, surcharge per trip) for a mileage line: customer, else company."""
        customer = trip.partner_id.sudo()
        company = trip.company_id.sudo()
        default = company.halo_mileage_price_km if trip.unit == "km" else company.halo_mileage_price_mi
        price = customer.halo_mileage_price or default
        surcharge = customer.halo_mileage_surcharge or company.halo_mileage_surcharge
        return Decimal(str(price)), Decimal(str(surcharge))

    @api.model
    def _rate_mileage(self, trips):
        results = {}
        for trip in trips.sudo():
            price, surcharge = self._halo_mileage_price(trip)
            try:
                results[trip.id] = rating.rate_mileage(
                    Decimal(str(trip.distance)), trip.unit, trip.round_trip, price, surcharge,
                    trip.company_id.currency_id.symbol or "",
                )
            except rating.RatingError as err:
                results[trip.id] = err
        return results

    @api.model
    def _rate_expenses(self, expenses):
        results = {}
        for expense in expenses.sudo():
            company = expense.company_id
            customer = expense.partner_id.with_company(company)
            markup = customer.halo_expense_markup if customer.halo_expense_markup_custom else company.halo_expense_markup
            cost = expense.currency_id._convert(
                expense.amount, company.currency_id, company, expense.date
            )
            try:
                results[expense.id] = rating.rate_expense(
                    Decimal(str(cost)), Decimal(str(markup or 0)),
                    Decimal(str(expense.type_id.surcharge or 0)), company.currency_id.symbol or "",
                )
            except rating.RatingError as err:
                results[expense.id] = err
        return results

    @api.model
    def _halo_rerate(self, lines, reason):
        """Explicit re-rating with an audit trail: rate again with the rules in force now and
        record every line whose amount, billable time or version changed."""
        lines = lines.sudo().filtered(lambda line: line.halo_billing_state == "unbilled")
        before = {
            line.id: (line.halo_rated_amount, line.halo_billable_hours, line.halo_rate_version_id.id,
                      line.halo_rating_explanation)
            for line in lines
        }
        self._rate_timesheets(lines, rerate=True)
        audits = []
        for line in lines:
            old = before[line.id]
            new = (line.halo_rated_amount, line.halo_billable_hours, line.halo_rate_version_id.id,
                   line.halo_rating_explanation)
            if old[:3] != new[:3]:
                audits.append({
                    "line_id": line.id, "reason": reason,
                    "old_amount": old[0], "new_amount": new[0],
                    "old_hours": old[1], "new_hours": new[1],
                    "old_version_id": old[2] or False, "new_version_id": new[2] or False,
                    "old_explanation": old[3], "new_explanation": new[3],
                })
        return self.env["halo.rating.audit"].sudo().create(audits)
