"""Rating engine for helpdesk work (plain Python, no Odoo imports).

Turns timesheet-like *actions* into priced, explained invoice amounts.  It
only uses the standard library (datetime, zoneinfo, decimal, dataclasses) so
it can be tested and benchmarked without an Odoo database; the Odoo models
read their records into the frozen dataclasses below and call
:func:`rate_actions`, :func:`rate_mileage` and :func:`rate_expense`.

Conventions
-----------
* Datetimes are naive UTC, as Odoo stores them (an aware datetime is
  converted to UTC first).  Sub-second parts are ignored.
* Durations are real elapsed seconds (``end - start`` in UTC), so a
  daylight-saving night is 1 h shorter or longer on the wall clock.
* Working hours are local wall-clock intervals per weekday; every local day
  is converted once (cached per calendar and local date) into UTC intervals
  with :mod:`zoneinfo`.  A boundary is the first instant the local clock
  shows at least that time: an ambiguous time (clocks going back) counts at
  its first occurrence, a skipped time (clocks going forward) at the change.
* Holidays are ``[start, end)`` UTC intervals (``resource.calendar.leaves``).
* Money is :class:`~decimal.Decimal`; hours are quantized to 4 dp, unit
  prices to 4 dp, amounts to 2 dp, always ``ROUND_HALF_UP`` (computed in a
  private decimal context, independent of the caller's).
* Speed: the per-day calendar cache (module level, keyed by the frozen
  :class:`Calendar`, at most 64 calendars) means no zoneinfo conversion per
  action; versions, segments and explanations are cached per call.

Order of operations (labour and travel time, :func:`rate_actions`)
------------------------------------------------------------------
1. **Version.**  For each action the rate version in force on the action's
   *local* start date (calendar time zone): the most specific level
   (contract > customer > global) that has a version with
   ``date_from <= date``; within that level the latest ``date_from``
   (ties: highest ``version_id``).  None -> :class:`RatingError` naming the
   rate and the date.
2. **Group** the actions by the rounding scope: ``'action'`` (each alone),
   ``'ticket_day'`` (same charge rate, same ticket, same local start date) or
   ``'ticket'`` (same charge rate, same ticket).  Actions without a ticket
   are always rated alone.  A group uses the version of its chronologically
   first action (rates within a group normally agree; a ``'ticket'`` group
   spanning a price change keeps the price of its first action).
3. **Actual** seconds of the group = sum of ``end - start`` of its actions.
4. **Minimum:** ``billable = max(actual, min_minutes * 60)``.
5. **Increment:** billable is rounded to a multiple of
   ``increment_minutes * 60`` -- ``up``, ``nearest`` (half up) or ``down``;
   increment 0 means no rounding.  If rounding went below the minimum the
   minimum is re-applied, itself rounded *up* to an increment.
6. **Placing billable time on the clock** ("billed as if the work lasted the
   billable time"): every action keeps its own interval; the difference
   ``billable - actual`` is added to the end of the group's chronologically
   last action, or, when negative (rounding down), trimmed from the end of
   the last action(s), going backwards while an action is used up.  Each
   action's *billed* interval is then split by the calendar into normal /
   out-of-hours / holiday time; a holiday beats out of hours.
   "Chronological" order is (start, end, input position).
   Why the billed interval and not the actual one: the split parts then sum
   exactly to the billable time (no pro-rating, no rounding residue), and
   the amount is monotonic in duration -- more work never costs less.
   Pro-rating the actual split would not be: under a 1 h minimum with
   hours from 09:00, 08:58-09:00 would bill 1 h out of hours but 08:58-09:01
   only 40 min out of hours + 20 min normal.  Here both bill 08:58-09:58
   (2 min out of hours + 58 min normal); 16:40-17:00 bills 16:40-17:40
   (20 min normal + 40 min out of hours).
7. **Amount** per segment = hours x hourly price x multiplier (normal 1,
   out-of-hours multiplier, holiday multiplier).  The version's surcharge
   is added once per action (also to each action of a group).
8. **Money:** one :class:`Segment` per kind present (normal, ooh, holiday,
   in order of first appearance), ready to become an invoice line:
   ``quantity`` = segment seconds / 3600 quantized to 4 dp, ``unit_price`` =
   price x multiplier quantized to 4 dp, ``amount`` =
   ``round(quantity * unit_price, 2)`` -- so "quantity x unit price =
   amount" holds on every line.  ``RatedAction.amount`` = sum of segment
   amounts + surcharge.
9. **Group remainder:** the actions of a group add up to the group's price:
   per kind, the group's amount is ``round(quantity of the group's seconds
   * unit_price, 2)``; the pennies the actions' own roundings lose or gain
   go on the chronologically last action having that kind (its explanation
   says so).  Three 20-min actions of a 1 h group at 95.00/h: 31.66 +
   31.66 + 31.68 = 95.00.

Mileage and expenses (:func:`rate_mileage`, :func:`rate_expense`) follow
the same line rule: ``amount = round(quantity * unit_price, 2) + surcharge``
(the surcharge is reported inside ``amount`` and the explanation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Action",
    "Calendar",
    "RateVersion",
    "RatedAction",
    "RatedCharge",
    "RatingError",
    "Segment",
    "format_duration",
    "rate_actions",
    "rate_expense",
    "rate_mileage",
    "select_version",
    "split_interval",
]

LEVELS = ("global", "customer", "contract")
ROUNDINGS = ("up", "nearest", "down")
SCOPES = ("action", "ticket_day", "ticket")
KINDS = ("normal", "ooh", "holiday")
UNITS = ("km", "mi")

_LEVEL_RANK = {"global": 0, "customer": 1, "contract": 2}
_CTX = Context(prec=50, rounding=ROUND_HALF_UP)
_Q2 = Decimal("0.01")
_Q4 = Decimal("0.0001")
_D0 = Decimal(0)
_D1 = Decimal(1)
_D100 = Decimal(100)
_D3600 = Decimal(3600)
_EPOCH = datetime(1970, 1, 1)
_ONE_DAY = timedelta(days=1)


class RatingError(ValueError):
    """Bad input to the rating engine (the message is meant for users)."""


# --------------------------------------------------------------------------
# Input / output records
# --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RateVersion:
    rate_id: int
    rate_name: str
    level: str  # 'global' | 'customer' | 'contract'
    date_from: date
    hourly_price: Decimal
    min_minutes: int = 0
    increment_minutes: int = 0
    rounding: str = "up"  # 'up' | 'nearest' | 'down'
    ooh_multiplier: Decimal = Decimal(1)
    holiday_multiplier: Decimal = Decimal(1)
    surcharge: Decimal = Decimal(0)
    version_id: int = 0


@dataclass(frozen=True, slots=True)
class Calendar:
    tz: str
    # (weekday 0=Monday, hour_from, hour_to) in local wall-clock hours
    attendance: tuple = ()
    # ((start, end), ...) naive UTC datetimes, [start, end)
    holidays: tuple = ()


@dataclass(frozen=True, slots=True)
class Action:
    key: object
    start: datetime  # naive UTC
    end: datetime  # naive UTC
    ticket_key: object = None
    rate_id: int = 0


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str  # 'normal' | 'ooh' | 'holiday'
    seconds: int
    multiplier: Decimal
    quantity: Decimal  # hours, 4 dp
    unit_price: Decimal  # hourly price x multiplier, 4 dp
    amount: Decimal  # round(quantity * unit_price, 2)


@dataclass(frozen=True, slots=True)
class RatedAction:
    key: object
    version: RateVersion
    actual_seconds: int
    billable_seconds: int
    segments: tuple
    surcharge: Decimal
    amount: Decimal  # sum of segment amounts + surcharge
    explanation: str


@dataclass(frozen=True, slots=True)
class RatedCharge:
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # round(quantity * unit_price, 2) + surcharge
    explanation: str


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------
def format_duration(seconds):
    """``5400 -> '1 h 30 min'``, ``2700 -> '45 min'``, ``7200 -> '2 h'``,
    ``3601 -> '1 h 1 s'``, ``0 -> '0 min'``."""
    seconds = int(seconds)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if secs:
        parts.append(f"{secs} s")
    return " ".join(parts) or "0 min"


def _ts(dt):
    """Naive UTC datetime -> integer epoch seconds (sub-seconds dropped)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    delta = dt - _EPOCH
    return delta.days * 86400 + delta.seconds


def _dec(value, what):
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        try:
            result = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise RatingError(f"{what} is not a number: {value!r}") from None
    if not result.is_finite():
        raise RatingError(f"{what} is not a number: {value!r}")
    return result


def _num(value):
    """Decimal for display without trailing zeros: 1.50 -> '1.5', 10 -> '10'."""
    text = f"{value.normalize(_CTX):f}"
    return text


def _money(value, symbol):
    if value == value.quantize(_Q2, ROUND_HALF_UP, _CTX):
        return f"{symbol}{value.quantize(_Q2, ROUND_HALF_UP, _CTX):,}"
    return f"{symbol}{_num(value)}"


def _merge(intervals):
    out = []
    for a, b in sorted(intervals):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1][1] = b
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


# --------------------------------------------------------------------------
# Calendar: local days converted once to UTC epoch intervals
# --------------------------------------------------------------------------
class _Day:
    __slots__ = ("ordinal", "date", "start", "end", "segs")

    def __init__(self, ordinal, day, start, end, segs):
        self.ordinal = ordinal
        self.date = day
        self.start = start  # epoch seconds of local midnight
        self.end = end  # epoch seconds of the next local midnight
        self.segs = segs  # ((start, end, kind), ...) partitioning [start, end)


class _CalendarCache:
    __slots__ = ("tz", "attendance", "holidays", "days", "utc_days")

    def __init__(self, calendar):
        try:
            self.tz = ZoneInfo(calendar.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise RatingError(f"Unknown time zone {calendar.tz!r}") from None
        attendance = {weekday: [] for weekday in range(7)}
        for item in calendar.attendance:
            try:
                weekday, hour_from, hour_to = item
                weekday = int(weekday)
                start = round(float(hour_from) * 60) * 60
                end = round(float(hour_to) * 60) * 60
            except (TypeError, ValueError):
                raise RatingError(f"Bad working-hours entry {item!r}") from None
            if not (0 <= weekday <= 6 and 0 <= start <= end <= 86400):
                raise RatingError(f"Bad working-hours entry {item!r}")
            attendance[weekday].append((start, end))
        self.attendance = {w: tuple(_merge(v)) for w, v in attendance.items()}
        holidays = []
        for item in calendar.holidays:
            try:
                start, end = item
                start, end = _ts(start), _ts(end)
            except (TypeError, ValueError, AttributeError):
                raise RatingError(f"Bad holiday entry {item!r}") from None
            if end < start:
                raise RatingError(f"Holiday ends before it starts: {item!r}")
            holidays.append((start, end))
        self.holidays = tuple(_merge(holidays))
        self.days = {}  # date ordinal -> _Day
        self.utc_days = {}  # epoch day number -> (_Day, ...) overlapping it

    def _wall(self, day, seconds):
        """Local wall-clock time ``day + seconds`` -> epoch seconds.

        The first instant at which the local clock shows at least that time:
        an ambiguous time (clocks going back) is its first occurrence, a time
        skipped by the clocks going forward is the instant of the change.
        """
        naive = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
        aware = naive.replace(tzinfo=self.tz)
        before = aware.utcoffset()
        delta = naive - before - _EPOCH
        result = delta.days * 86400 + delta.seconds
        after = aware.replace(fold=1).utcoffset()
        if after > before:  # in a gap: the change lies in (naive - after, naive - before]
            delta = naive - after - _EPOCH
            lo = delta.days * 86400 + delta.seconds  # still on the old offset
            hi = result  # already on the new offset
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if datetime.fromtimestamp(mid, self.tz).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            result = hi
        return result

    def day(self, ordinal):
        found = self.days.get(ordinal)
        if found is not None:
            return found
        day = date.fromordinal(ordinal)
        start = self._wall(day, 0)
        end = self._wall(day + _ONE_DAY, 0)
        work = []
        for a, b in self.attendance[day.weekday()]:
            a = max(self._wall(day, a), start)
            b = end if b >= 86400 else min(self._wall(day, b), end)
            work.append((a, b))
        work = _merge(work)
        holidays = [(max(a, start), min(b, end)) for a, b in self.holidays if a < end and b > start]
        points = sorted({start, end, *(p for iv in work for p in iv), *(p for iv in holidays for p in iv)})
        segs = []
        for a, b in zip(points, points[1:], strict=False):
            if any(h0 <= a < h1 for h0, h1 in holidays):
                kind = "holiday"
            elif any(w0 <= a < w1 for w0, w1 in work):
                kind = "normal"
            else:
                kind = "ooh"
            if segs and segs[-1][2] == kind:
                segs[-1] = (segs[-1][0], b, kind)
            else:
                segs.append((a, b, kind))
        found = _Day(ordinal, day, start, end, tuple(segs))
        if len(self.days) > 100_000:  # pragma: no cover - runaway protection
            self.days.clear()
            self.utc_days.clear()
        self.days[ordinal] = found
        return found

    def day_at(self, t):
        """The local day containing epoch second ``t``."""
        candidates = self.utc_days.get(t // 86400)
        if candidates is None:
            candidates = self._fill(t // 86400)
        for day in candidates:
            if day.start <= t < day.end:
                return day
        raise AssertionError("calendar days do not cover the time line")  # pragma: no cover

    def _fill(self, number):
        lo, hi = number * 86400, number * 86400 + 86400
        first = datetime.fromtimestamp(lo, self.tz).toordinal()
        last = datetime.fromtimestamp(hi - 1, self.tz).toordinal()
        days = tuple(
            d for d in (self.day(o) for o in range(first - 1, last + 2)) if d.start < hi and d.end > lo
        )
        self.utc_days[number] = days
        return days

    def split(self, start, end, day=None):
        """[(kind, seconds)] for epoch interval [start, end), merged, in order."""
        out = []
        if end <= start:
            return out
        if day is None:
            day = self.day_at(start)
        while True:
            for a, b, kind in day.segs:
                if b <= start:
                    continue
                if a >= end:
                    break
                seconds = (b if b < end else end) - (a if a > start else start)
                if out and out[-1][0] == kind:
                    out[-1] = (kind, out[-1][1] + seconds)
                else:
                    out.append((kind, seconds))
            if end <= day.end:
                return out
            day = self.day(day.ordinal + 1)


_CALENDARS = {}


def _calendar_cache(calendar):
    try:
        cache = _CALENDARS.get(calendar)
    except TypeError:  # lists instead of tuples inside the Calendar: not cacheable
        return _CalendarCache(calendar)
    if cache is None:
        cache = _CalendarCache(calendar)
        if len(_CALENDARS) >= 64:
            _CALENDARS.clear()
        _CALENDARS[calendar] = cache
    return cache


def split_interval(start, end, calendar):
    """Split ``[start, end)`` (naive UTC) into ``[(kind, seconds), ...]``.

    ``kind`` is ``'normal'``, ``'ooh'`` or ``'holiday'``; consecutive parts
    of the same kind are merged; chronological order.
    """
    s, e = _ts(start), _ts(end)
    if e < s:
        raise RatingError(f"Interval ends before it starts ({start} > {end})")
    return _calendar_cache(calendar).split(s, e)


# --------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------
def select_version(versions, on):
    """The version in force on local date ``on`` (see step 1) or None."""
    if isinstance(on, datetime):
        on = on.date()
    best = None
    best_key = None
    for version in versions:
        rank = _LEVEL_RANK.get(version.level)
        if rank is None:
            raise RatingError(
                f"Unknown level {version.level!r} on a version of charge rate {version.rate_name!r}"
            )
        if version.date_from <= on:
            key = (rank, version.date_from, version.version_id)
            if best is None or key > best_key:
                best, best_key = version, key
    return best


class _V:
    """A version prepared for rating (validated, prices precomputed)."""

    __slots__ = (
        "version",
        "idx",
        "min_s",
        "inc",
        "rounding",
        "mult",
        "unit",
        "surcharge",
        "label",
        "price_text",
        "surcharge_text",
    )

    def __init__(self, version, idx, symbol):
        self.version = version
        self.idx = idx
        if version.rounding not in ROUNDINGS:
            raise RatingError(
                f"Unknown rounding {version.rounding!r} on charge rate {version.rate_name!r} "
                f"(expected one of {', '.join(ROUNDINGS)})"
            )
        if version.min_minutes < 0 or version.increment_minutes < 0:
            raise RatingError(f"Negative minimum or increment on charge rate {version.rate_name!r}")
        self.min_s = int(version.min_minutes) * 60
        self.inc = int(version.increment_minutes) * 60
        self.rounding = version.rounding
        price = _dec(version.hourly_price, "Hourly price")
        self.mult = {
            "normal": _D1,
            "ooh": _dec(version.ooh_multiplier, "Out-of-hours multiplier"),
            "holiday": _dec(version.holiday_multiplier, "Holiday multiplier"),
        }
        self.unit = {
            kind: _CTX.multiply(price, m).quantize(_Q4, ROUND_HALF_UP, _CTX) for kind, m in self.mult.items()
        }
        self.surcharge = _dec(version.surcharge, "Surcharge").quantize(_Q2, ROUND_HALF_UP, _CTX)
        self.label = f"{version.rate_name}, {version.level} rate from {version.date_from.isoformat()}"
        self.price_text = f"{_money(price, symbol)}/h"
        self.surcharge_text = f"surcharge {_money(self.surcharge, symbol)}" if self.surcharge else ""


def _round(seconds, inc, rounding):
    if rounding == "up":
        return -(-seconds // inc) * inc
    if rounding == "down":
        return seconds // inc * inc
    return (2 * seconds + inc) // (2 * inc) * inc  # nearest, half up


def _billable(actual, v):
    billable = actual if actual > v.min_s else v.min_s
    if v.inc:
        rounded = _round(billable, v.inc, v.rounding)
        if rounded < v.min_s:
            rounded = -(-v.min_s // v.inc) * v.inc
        billable = rounded
    return billable


_ROUND_WORDS = {"up": "rounded up to", "nearest": "rounded to", "down": "rounded down to"}


def _chain(actual, billable, v):
    """'1 h 22 min → minimum 1 h → rounded up to 1 h 30 min (15-min steps)'."""
    text = format_duration(actual)
    after_min = actual if actual > v.min_s else v.min_s
    if actual < v.min_s:
        text += " → minimum " + format_duration(v.min_s)
    if billable != after_min:
        steps = f"{v.inc // 60}-min steps"
        if v.rounding == "nearest":
            steps = "nearest " + steps[:-1]
        if _round(after_min, v.inc, v.rounding) < v.min_s:
            steps += ", not below the minimum"
        text += f" → {_ROUND_WORDS[v.rounding]} {format_duration(billable)} ({steps})"
    return text


_KIND_WORDS = {"ooh": "out of hours", "holiday": "holiday"}


def _tail(v, segments):
    parts = []
    for seg in segments:
        if seg.kind != "normal":
            parts.append(f"{format_duration(seg.seconds)} {_KIND_WORDS[seg.kind]} ×{_num(seg.multiplier)}")
    parts.append(v.price_text)
    if v.surcharge_text:
        parts.append(v.surcharge_text)
    return "; ".join(parts)


_SCOPE_WORDS = {"ticket_day": "per ticket per day", "ticket": "per ticket"}


# --------------------------------------------------------------------------
# Labour / travel time
# --------------------------------------------------------------------------
class _Rater:
    """State of one :func:`rate_actions` call (caches live for the call only)."""

    def __init__(self, actions, versions_by_rate, calendar, scope, symbol):
        self.actions = actions
        self.versions_by_rate = versions_by_rate
        self.scope = scope
        self.symbol = symbol
        self.cal = _calendar_cache(calendar)
        self.version_cache = {}  # (rate_id, date ordinal) -> _V
        self.prepared = {}  # id(RateVersion) -> _V (the versions outlive the call)
        self.seg_cache = {}  # (version idx, kind, seconds) -> Segment
        self.text_cache = {}  # (version idx, actual, billable, runs) -> explanation

    def version_for(self, rate_id, day):
        """Step 1, cached per (rate, local date)."""
        key = (rate_id, day.ordinal)
        v = self.version_cache.get(key)
        if v is None:
            versions = self.versions_by_rate.get(rate_id) or ()
            version = select_version(versions, day.date)
            if version is None:
                name = next((x.rate_name for x in versions), None)
                what = f"charge rate {name!r}" if name else f"charge rate id {rate_id}"
                raise RatingError(f"No version of {what} is in force on {day.date.isoformat()}")
            v = self.prepared.get(id(version))
            if v is None:
                v = self.prepared[id(version)] = _V(version, len(self.prepared), self.symbol)
            self.version_cache[key] = v
        return v

    def segments(self, v, runs):
        """Steps 7-8: one Segment per kind; returns (segments, amount incl. surcharge)."""
        if len(runs) > 1:
            totals = {}
            for kind, seconds in runs:
                totals[kind] = totals.get(kind, 0) + seconds
            runs = totals.items()
        seg_cache = self.seg_cache
        segments = []
        total = _D0
        for kind, seconds in runs:
            key = (v.idx, kind, seconds)
            seg = seg_cache.get(key)
            if seg is None:
                unit_price = v.unit[kind]
                quantity = _CTX.divide(Decimal(seconds), _D3600).quantize(_Q4, ROUND_HALF_UP, _CTX)
                amount = _CTX.multiply(quantity, unit_price).quantize(_Q2, ROUND_HALF_UP, _CTX)
                seg = Segment(kind, seconds, v.mult[kind], quantity, unit_price, amount)
                if len(seg_cache) > 200_000:
                    seg_cache.clear()
                seg_cache[key] = seg
            segments.append(seg)
            total += seg.amount
        return tuple(segments), total + v.surcharge

    @staticmethod
    def bounds(action):
        s, e = _ts(action.start), _ts(action.end)
        if e < s:
            raise RatingError(f"Action {action.key!r} ends before it starts ({action.start} > {action.end})")
        return s, e

    def rate_each(self):
        """Scope 'action': every action is its own group (the fast path)."""
        day_at, split, bounds = self.cal.day_at, self.cal.split, self.bounds
        version_for, segments_for, text_cache = self.version_for, self.segments, self.text_cache
        result = []
        for action in self.actions:
            s, e = bounds(action)
            day = day_at(s)
            v = version_for(action.rate_id, day)
            actual = e - s
            billable = _billable(actual, v)
            runs = split(s, s + billable, day)
            segments, amount = segments_for(v, runs)
            key = (v.idx, actual, billable, tuple(runs))
            text = text_cache.get(key)
            if text is None:
                text = f"{v.label}: {_chain(actual, billable, v)}; {_tail(v, segments)}"
                if len(text_cache) > 100_000:
                    text_cache.clear()
                text_cache[key] = text
            result.append(
                RatedAction(action.key, v.version, actual, billable, segments, v.surcharge, amount, text)
            )
        return result

    def rate_groups(self):
        """Scopes 'ticket_day' and 'ticket' (step 2)."""
        items = []
        groups = {}
        for index, action in enumerate(self.actions):
            s, e = self.bounds(action)
            day = self.cal.day_at(s)
            if action.ticket_key is None:
                gkey = ("alone", index)
            elif self.scope == "ticket_day":
                gkey = ("ticket", action.rate_id, action.ticket_key, day.ordinal)
            else:
                gkey = ("ticket", action.rate_id, action.ticket_key)
            items.append((s, e, index, day))
            groups.setdefault(gkey, []).append(index)
        result = [None] * len(items)
        for indexes in groups.values():
            members = sorted((items[i] for i in indexes), key=lambda it: (it[0], it[1], it[2]))
            for index, rated in self.rate_group(members):
                result[index] = rated
        return result

    def rate_group(self, members):
        """Steps 3-8 for one group (members sorted chronologically)."""
        _, _, first, day = members[0]
        v = self.version_for(self.actions[first].rate_id, day)
        actual = sum(e - s for s, e, _, _ in members)
        billable = _billable(actual, v)
        ends = _place_on_clock(members, billable - actual)
        others = len(members) - 1
        if others:
            head = (
                f"{v.label}: rounded {_SCOPE_WORDS[self.scope]} with {others} other "
                f"action{'s' if others > 1 else ''}: {_chain(actual, billable, v)} in total"
            )
        else:
            head = f"{v.label}: {_chain(actual, billable, v)}"
        rated = []
        for (s, e, index, day), billed_end in zip(members, ends, strict=True):
            segments, amount = self.segments(v, self.cal.split(s, billed_end, day))
            rated.append([index, s, e, billed_end, list(segments), amount, ""])
        if others:
            self.place_remainder(v, rated)
        for index, s, e, billed_end, segments, amount, remainder in rated:
            text = head
            if others:
                text += f"; this action {format_duration(e - s)}"
                if billed_end != e:
                    text += f" billed as {format_duration(billed_end - s)}"
            text += "; " + _tail(v, segments) + remainder
            yield (
                index,
                RatedAction(
                    self.actions[index].key,
                    v.version,
                    e - s,
                    billed_end - s,
                    tuple(segments),
                    v.surcharge,
                    amount,
                    text,
                ),
            )

    def place_remainder(self, v, rated):
        """Step 9: per kind, the pennies between the group's amount and the sum of its
        actions' amounts go on the last action having that kind (``rated`` is updated)."""
        seconds, amounts, last = {}, {}, {}
        for position, item in enumerate(rated):
            for seg in item[4]:
                seconds[seg.kind] = seconds.get(seg.kind, 0) + seg.seconds
                amounts[seg.kind] = amounts.get(seg.kind, _D0) + seg.amount
                last[seg.kind] = position
        for kind, total_seconds in seconds.items():
            quantity = _CTX.divide(Decimal(total_seconds), _D3600).quantize(_Q4, ROUND_HALF_UP, _CTX)
            group_amount = _CTX.multiply(quantity, v.unit[kind]).quantize(_Q2, ROUND_HALF_UP, _CTX)
            diff = group_amount - amounts[kind]
            if not diff:
                continue
            item = rated[last[kind]]
            item[4] = [
                Segment(
                    seg.kind, seg.seconds, seg.multiplier, seg.quantity, seg.unit_price, seg.amount + diff
                )
                if seg.kind == kind
                else seg
                for seg in item[4]
            ]
            item[5] += diff
            item[6] += (
                f"; {_money(diff, self.symbol) if diff > 0 else '-' + _money(-diff, self.symbol)} "
                f"rounding remainder of the group placed on this action"
            )


def _place_on_clock(members, diff):
    """Step 6: billed end of each member; ``diff`` (billable - actual) goes to
    the end of the last member, or is trimmed from the last member(s)."""
    ends = [e for _, e, _, _ in members]
    if diff > 0:
        ends[-1] += diff
    elif diff < 0:
        trim = -diff
        for pos in range(len(members) - 1, -1, -1):
            take = min(trim, ends[pos] - members[pos][0])
            ends[pos] -= take
            trim -= take
            if not trim:
                break
    return ends


def rate_actions(actions, versions_by_rate, calendar, scope="action", currency_symbol="£"):
    """Rate ``actions``; returns one :class:`RatedAction` per action, same order.

    ``versions_by_rate[rate_id]`` holds every version (all levels) that
    applies to this customer/contract.  See the module docstring for the
    order of operations.
    """
    if scope not in SCOPES:
        raise RatingError(f"Unknown rounding scope {scope!r} (expected one of {', '.join(SCOPES)})")
    rater = _Rater(actions, versions_by_rate, calendar, scope, currency_symbol)
    return rater.rate_each() if scope == "action" else rater.rate_groups()


# --------------------------------------------------------------------------
# Mileage and expenses
# --------------------------------------------------------------------------
def rate_mileage(distance, unit, round_trip, price_per_unit, surcharge_per_trip, currency_symbol="£"):
    """Mileage: quantity = distance (x2 for a round trip) in ``unit``.

    ``amount = round(quantity * price_per_unit, 2) + surcharge_per_trip``.
    A customer-specific price is simply a different ``price_per_unit``.
    """
    distance = _dec(distance, "Distance")
    price = _dec(price_per_unit, "Price per distance unit")
    surcharge = _dec(surcharge_per_trip, "Surcharge per trip").quantize(_Q2, ROUND_HALF_UP, _CTX)
    if unit not in UNITS:
        raise RatingError(f"Unknown distance unit {unit!r} (expected km or mi)")
    if distance < 0:
        raise RatingError(f"Distance cannot be negative ({distance})")
    if price < 0 or surcharge < 0:
        raise RatingError("Mileage price and surcharge cannot be negative")
    quantity = _CTX.multiply(distance, Decimal(2) if round_trip else _D1).quantize(_Q4, ROUND_HALF_UP, _CTX)
    unit_price = price.quantize(_Q4, ROUND_HALF_UP, _CTX)
    line = _CTX.multiply(quantity, unit_price).quantize(_Q2, ROUND_HALF_UP, _CTX)
    amount = line + surcharge
    text = f"{_num(distance)} {unit}"
    if round_trip:
        text += f" × 2 (round trip) = {_num(quantity)} {unit}"
    text += f" × {_money(unit_price, currency_symbol)}/{unit} = {_money(line, currency_symbol)}"
    if surcharge:
        text += f"; surcharge per trip {_money(surcharge, currency_symbol)}"
    return RatedCharge(quantity, unit_price, amount, text)


def rate_expense(cost, markup_percent=_D0, surcharge=_D0, currency_symbol="£"):
    """Expense at cost or cost plus markup %, plus a per-type surcharge.

    quantity 1; ``unit_price = round(cost * (1 + markup/100), 2)``;
    ``amount = unit_price + surcharge``.
    """
    cost = _dec(cost, "Cost")
    markup = _dec(markup_percent, "Markup %")
    surcharge = _dec(surcharge, "Surcharge").quantize(_Q2, ROUND_HALF_UP, _CTX)
    if cost < 0:
        raise RatingError(f"Expense cost cannot be negative ({cost})")
    if markup < 0 or surcharge < 0:
        raise RatingError("Expense markup and surcharge cannot be negative")
    factor = _CTX.add(_D1, _CTX.divide(markup, _D100))
    unit_price = _CTX.multiply(cost, factor).quantize(_Q2, ROUND_HALF_UP, _CTX)
    if markup:
        text = f"{_money(cost, currency_symbol)} at cost + {_num(markup)}% markup = {_money(unit_price, currency_symbol)}"
    else:
        text = f"{_money(unit_price, currency_symbol)} at cost"
    if surcharge:
        text += f"; surcharge {_money(surcharge, currency_symbol)}"
    return RatedCharge(_D1, unit_price, unit_price + surcharge, text)
