"""Property-based tests (hypothesis) for the plain rating engine.

Run: .cache/venv/bin/pytest halo_helpdesk_billing/services/tests -q -p no:odoo
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from _loader import load_service
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

rating = load_service("rating")

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ATTENDANCE = (
    (0, 9.0, 17.0),
    (1, 0.0, 8.0),
    (1, 9.0, 12.5),
    (1, 13.5, 17.0),
    (2, 9.0, 17.0),
    (3, 9.0, 17.0),
    (4, 9.0, 16.0),
    (5, 10.0, 14.0),
    # Sundays (all DST changes here are on Sundays): 02:30 is skipped in New York on
    # 2026-03-08; no boundary falls in a repeated hour (the oracle reads wall clocks).
    (6, 2.5, 4.0),
    (6, 8.0, 18.0),
)
HOLIDAYS = (
    (datetime(2026, 3, 28, 12), datetime(2026, 3, 30, 6)),  # over the spring DST Sunday (a weekend)
    (datetime(2026, 10, 26, 10, 15), datetime(2026, 10, 26, 11, 45)),  # part of a Monday
    (datetime(2026, 12, 25), datetime(2026, 12, 27)),  # Friday + Saturday
)
TIME_ZONES = ("Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
CALENDARS = {tz: rating.Calendar(tz, ATTENDANCE, HOLIDAYS) for tz in TIME_ZONES}
LONDON = CALENDARS["Europe/London"]

# starts around the interesting dates (both DST changes in both hemispheres, Christmas)
ANCHORS = [
    datetime(2026, 1, 5),
    datetime(2026, 3, 8),
    datetime(2026, 3, 27),
    datetime(2026, 4, 3),
    datetime(2026, 10, 1),
    datetime(2026, 10, 23),
    datetime(2026, 10, 30),
    datetime(2026, 12, 24),
]

starts = st.builds(
    lambda a, minutes: a + timedelta(minutes=minutes), st.sampled_from(ANCHORS), st.integers(0, 4 * 24 * 60)
)


@st.composite
def versions(draw):
    return rating.RateVersion(
        1,
        "Remote",
        draw(st.sampled_from(rating.LEVELS)),
        date(2025, 1, 1),
        draw(st.decimals(min_value=0, max_value=500, places=2)),
        min_minutes=draw(st.sampled_from([0, 1, 15, 30, 50, 60, 65, 120])),
        increment_minutes=draw(st.sampled_from([0, 1, 5, 6, 15, 30, 45, 60])),
        rounding=draw(st.sampled_from(rating.ROUNDINGS)),
        ooh_multiplier=draw(st.decimals(min_value=0, max_value=3, places=2)),
        holiday_multiplier=draw(st.decimals(min_value=0, max_value=4, places=3)),
        surcharge=draw(st.decimals(min_value=0, max_value=50, places=2)),
    )


def rate(v, start, seconds, calendar=LONDON, scope="action"):
    action = rating.Action("a", start, start + timedelta(seconds=seconds), "T", 1)
    return rating.rate_actions([action], {1: [v]}, calendar, scope=scope)[0]


def check_consistency(r, lines=True):
    """``lines``: quantity x unit price = amount on every segment (not for the action of a
    group that carries the group's rounding remainder)."""
    assert sum(s.seconds for s in r.segments) == r.billable_seconds
    assert sum(s.amount for s in r.segments) == r.amount - r.surcharge
    for s in r.segments:
        assert s.quantity == (D(s.seconds) / 3600).quantize(D("0.0001"), "ROUND_HALF_UP")
        if lines:
            assert s.amount == (s.quantity * s.unit_price).quantize(D("0.01"), "ROUND_HALF_UP")
    assert len({s.kind for s in r.segments}) == len(r.segments)


@SETTINGS
@given(versions(), starts, st.integers(0, 3 * 86400))
def test_billable_bounds_and_consistency(v, start, seconds):
    r = rate(v, start, seconds)
    assert r.actual_seconds == seconds
    assert r.billable_seconds >= v.min_minutes * 60
    if v.rounding == "up":
        assert r.billable_seconds >= r.actual_seconds
    if v.increment_minutes:
        assert r.billable_seconds % (v.increment_minutes * 60) == 0
        assert (
            abs(r.billable_seconds - max(seconds, v.min_minutes * 60))
            < v.increment_minutes * 60 + v.min_minutes * 60
        )
    else:
        assert r.billable_seconds == max(seconds, v.min_minutes * 60)
    check_consistency(r)


@SETTINGS
@given(versions(), starts, st.integers(0, 2 * 86400), st.integers(0, 2 * 86400))
def test_monotonic_in_duration(v, start, a, b):
    short, long_ = sorted((a, b))
    r1, r2 = rate(v, start, short), rate(v, start, long_)
    assert r1.billable_seconds <= r2.billable_seconds
    assert r1.amount <= r2.amount
    # per kind too: the billed interval of the shorter action is a prefix of the longer one
    by_kind = {s.kind: s.seconds for s in r2.segments}
    for s in r1.segments:
        assert s.seconds <= by_kind[s.kind]


def oracle_split(start, end, calendar):
    """Minute by minute with zoneinfo: holiday (UTC) > working hours (local wall clock) > ooh."""
    tz = ZoneInfo(calendar.tz)
    att = {}
    for wd, h0, h1 in calendar.attendance:
        att.setdefault(wd, []).append((round(h0 * 60), round(h1 * 60)))
    out = []
    t = start
    while t < end:
        if any(h0 <= t < h1 for h0, h1 in calendar.holidays):
            kind = "holiday"
        else:
            local = t.replace(tzinfo=UTC).astimezone(tz)
            minute = local.hour * 60 + local.minute
            kind = "normal" if any(a <= minute < b for a, b in att.get(local.weekday(), ())) else "ooh"
        if out and out[-1][0] == kind:
            out[-1][1] += 60
        else:
            out.append([kind, 60])
        t += timedelta(minutes=1)
    return [tuple(x) for x in out]


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(TIME_ZONES), starts, st.integers(0, 36 * 60))
def test_split_matches_minute_oracle(tz, start, minutes):
    calendar = CALENDARS[tz]
    end = start + timedelta(minutes=minutes)
    assert rating.split_interval(start, end, calendar) == oracle_split(start, end, calendar)


@SETTINGS
@given(starts, st.integers(0, 5 * 86400))
def test_split_sums_to_duration(start, seconds):
    parts = rating.split_interval(start, start + timedelta(seconds=seconds), LONDON)
    assert sum(s for _, s in parts) == seconds
    assert all(s > 0 for _, s in parts)
    assert all(a[0] != b[0] for a, b in zip(parts, parts[1:], strict=False))


@SETTINGS
@given(
    versions(),
    st.sampled_from(["ticket_day", "ticket"]),
    st.lists(
        st.tuples(starts, st.integers(0, 4 * 3600), st.sampled_from(["A", "B", None])), min_size=1, max_size=8
    ),
)
def test_group_scopes(v, scope, rows):
    actions = [rating.Action(i, s, s + timedelta(seconds=d), t, 1) for i, (s, d, t) in enumerate(rows)]
    rated = rating.rate_actions(actions, {1: [v]}, LONDON, scope=scope)
    assert [r.key for r in rated] == list(range(len(actions)))
    # rebuild the groups and check each one against the single-action rules
    groups = {}
    for a, r in zip(actions, rated, strict=True):
        local = a.start.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/London")).date()
        key = (
            ("alone", a.key)
            if a.ticket_key is None
            else (a.ticket_key, local if scope == "ticket_day" else None)
        )
        groups.setdefault(key, []).append(r)
    for members in groups.values():
        actual = sum(r.actual_seconds for r in members)
        billable = sum(r.billable_seconds for r in members)
        assert billable >= v.min_minutes * 60
        if v.rounding == "up":
            assert billable >= actual
        alone = rate(v, datetime(2026, 1, 5, 10), actual)  # same rules on a single action
        assert billable == alone.billable_seconds
        kinds = {}
        for r in members:
            check_consistency(r, lines=len(members) == 1)
            assert r.billable_seconds >= 0
            for seg in r.segments:
                seconds, amount, _price = kinds.get(seg.kind, (0, D(0), seg.unit_price))
                kinds[seg.kind] = (seconds + seg.seconds, amount + seg.amount, seg.unit_price)
        # the actions add up to the group's price, kind by kind (step 9)
        for seconds, amount, price in kinds.values():
            quantity = (D(seconds) / 3600).quantize(D("0.0001"), "ROUND_HALF_UP")
            assert amount == (quantity * price).quantize(D("0.01"), "ROUND_HALF_UP")


@SETTINGS
@given(
    st.decimals(min_value=0, max_value=10000, places=3),
    st.sampled_from(["km", "mi"]),
    st.booleans(),
    st.decimals(min_value=0, max_value=5, places=4),
    st.decimals(min_value=0, max_value=50, places=2),
)
def test_mileage_line_rule(distance, unit, round_trip, price, surcharge):
    c = rating.rate_mileage(distance, unit, round_trip, price, surcharge)
    assert c.quantity == distance * (2 if round_trip else 1)
    assert c.amount == (c.quantity * c.unit_price).quantize(D("0.01"), "ROUND_HALF_UP") + surcharge


@SETTINGS
@given(
    st.decimals(min_value=0, max_value=100000, places=2),
    st.decimals(min_value=0, max_value=200, places=2),
    st.decimals(min_value=0, max_value=50, places=2),
)
def test_expense_line_rule(cost, markup, surcharge):
    c = rating.rate_expense(cost, markup, surcharge)
    assert c.unit_price == (cost * (1 + markup / 100)).quantize(D("0.01"), "ROUND_HALF_UP")
    assert c.amount == c.unit_price + surcharge >= cost
