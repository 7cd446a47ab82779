"""Hand-computed cases for the plain rating engine (no Odoo needed).

Run: .cache/venv/bin/pytest halo_helpdesk_billing/services/tests -q -p no:odoo

The module is loaded by file path so the test works whether or not the
addon packages (which import odoo) are importable.

Calendar used unless stated: Europe/London, Mon-Fri 09:00-17:00.
January is GMT (local = UTC), July is BST (local = UTC+1); the helper
``L()`` converts local wall-clock time to the naive UTC datetimes the engine
expects, so every case below is written in local time.
2026-01-05 is a Monday, 2026-07-06 a Monday, 2026-12-26 a Saturday,
2026-03-29 and 2026-10-25 are the DST Sundays.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from _loader import load_service

rating = load_service("rating")
RatingError = rating.RatingError

LONDON = ZoneInfo("Europe/London")


def L(y, mo, d, h=0, mi=0, s=0):
    """Local London wall-clock -> naive UTC."""
    local = datetime(y, mo, d, h, mi, s, tzinfo=LONDON)
    return local.astimezone(UTC).replace(tzinfo=None)


OFFICE = tuple((d, 9.0, 17.0) for d in range(5))
CAL = rating.Calendar("Europe/London", OFFICE)
# Christmas Day (Fri) and Boxing Day (Sat) 2026, whole local days (GMT, so = UTC)
XMAS = ((datetime(2026, 12, 25), datetime(2026, 12, 27)),)
CAL_XMAS = rating.Calendar("Europe/London", OFFICE, XMAS)


def version(
    price="60",
    min_minutes=60,
    inc=15,
    rounding="up",
    ooh="1.5",
    hol="2",
    surcharge="0",
    level="global",
    date_from=date(2026, 1, 1),
    rate_id=1,
    name="On-site",
    version_id=0,
):
    return rating.RateVersion(
        rate_id,
        name,
        level,
        date_from,
        D(price),
        min_minutes,
        inc,
        rounding,
        D(ooh),
        D(hol),
        D(surcharge),
        version_id,
    )


def act(start, minutes=0, seconds=0, key="a", ticket=None, rate_id=1):
    return rating.Action(key, start, start + timedelta(minutes=minutes, seconds=seconds), ticket, rate_id)


def rate_one(action, v, calendar=CAL):
    return rating.rate_actions([action], {action.rate_id: [v]}, calendar)[0]


def kinds(rated):
    return [(s.kind, s.seconds) for s in rated.segments]


# ---------------------------------------------------------------- rounding
# Monday 2026-01-05 10:00, all within office hours, price 60/h -> £1 per minute.
MON10 = L(2026, 1, 5, 10)
ROUNDING_CASES = [
    # (id, minutes, seconds, min, inc, mode, billable minutes, amount)
    ("exactly the minimum", 60, 0, 60, 15, "up", 60, "60.00"),
    ("below minimum", 20, 0, 60, 15, "up", 60, "60.00"),
    ("minimum + one increment", 75, 0, 60, 15, "up", 75, "75.00"),
    ("one second over", 60, 1, 60, 15, "up", 75, "75.00"),  # 3601 s -> ceil to 4500 s
    ("exactly one increment", 15, 0, 0, 15, "up", 15, "15.00"),
    ("one second, no minimum", 0, 1, 0, 15, "up", 15, "15.00"),
    ("zero duration, no minimum", 0, 0, 0, 15, "up", 0, "0.00"),
    ("zero duration, minimum", 0, 0, 30, 15, "up", 30, "30.00"),
    # nearest, half up: half-way point between 60 and 75 is 67:30
    ("nearest below half", 67, 29, 0, 15, "nearest", 60, "60.00"),
    ("nearest at half", 67, 30, 0, 15, "nearest", 75, "75.00"),
    ("nearest, 7:29 -> 0", 7, 29, 0, 15, "nearest", 0, "0.00"),
    ("nearest below minimum", 40, 0, 65, 30, "nearest", 90, "90.00"),  # 65 -> 60 < 65 -> ceil(65/30)*30 = 90
    ("down", 74, 59, 0, 15, "down", 60, "60.00"),
    ("down with minimum", 50, 0, 60, 15, "down", 60, "60.00"),
    ("down never below minimum", 40, 0, 50, 15, "down", 60, "60.00"),  # 50 -> 45 < 50 -> ceil(50/15)*15 = 60
    ("minimum not multiple, up", 10, 0, 50, 15, "up", 60, "60.00"),  # 50 -> up 60
    ("no increment", 37, 13, 0, 0, "up", None, "37.22"),  # 2233 s; 0.6203 h x 60 = 37.218 -> 37.22
]


@pytest.mark.parametrize("case", ROUNDING_CASES, ids=[c[0] for c in ROUNDING_CASES])
def test_rounding_table(case):
    _, minutes, seconds, min_minutes, inc, mode, billable_min, amount = case
    rated = rate_one(act(MON10, minutes, seconds), version(min_minutes=min_minutes, inc=inc, rounding=mode))
    assert rated.actual_seconds == minutes * 60 + seconds
    expected = billable_min * 60 if billable_min is not None else minutes * 60 + seconds
    assert rated.billable_seconds == expected
    assert rated.amount == D(amount)
    assert sum(s.seconds for s in rated.segments) == expected


def test_no_increment_quantity_and_unit_price():
    rated = rate_one(act(MON10, 37, 13), version(min_minutes=0, inc=0))
    (seg,) = rated.segments
    # 2233 / 3600 = 0.620277... -> 0.6203 h; 0.6203 x 60.0000 = 37.218 -> 37.22
    assert (seg.kind, seg.quantity, seg.unit_price, seg.amount) == (
        "normal",
        D("0.6203"),
        D("60.0000"),
        D("37.22"),
    )


# ---------------------------------------------------------------- calendar split
def test_split_1630_1830():
    # 16:30-18:30 with office until 17:00 -> 30 min normal + 90 min out of hours
    assert rating.split_interval(L(2026, 1, 5, 16, 30), L(2026, 1, 5, 18, 30), CAL) == [
        ("normal", 1800),
        ("ooh", 5400),
    ]
    rated = rate_one(act(L(2026, 1, 5, 16, 30), 120), version(price="90"))
    # normal 0.5 h x 90 = 45.00; ooh 1.5 h x 135 (90 x 1.5) = 202.50; total 247.50
    assert [(s.kind, s.seconds, s.quantity, s.unit_price, s.amount) for s in rated.segments] == [
        ("normal", 1800, D("0.5000"), D("90.0000"), D("45.00")),
        ("ooh", 5400, D("1.5000"), D("135.0000"), D("202.50")),
    ]
    assert rated.amount == D("247.50")


def test_split_in_summer_time():
    # same wall-clock case in July (BST): the boundary is 17:00 local = 16:00 UTC
    assert rating.split_interval(L(2026, 7, 6, 16, 30), L(2026, 7, 6, 18, 30), CAL) == [
        ("normal", 1800),
        ("ooh", 5400),
    ]


def test_minimum_is_placed_on_the_clock():
    # 16:40-17:00 (20 min) with a 60 min minimum is billed 16:40-17:40:
    # 20 min normal + 40 min out of hours.
    # normal: 1200 s = 0.3333 h x 90 = 29.997 -> 30.00
    # ooh:    2400 s = 0.6667 h x 135 = 90.0045 -> 90.00
    rated = rate_one(act(L(2026, 1, 5, 16, 40), 20), version(price="90"))
    assert kinds(rated) == [("normal", 1200), ("ooh", 2400)]
    assert [s.amount for s in rated.segments] == [D("30.00"), D("90.00")]
    assert rated.amount == D("120.00")


def test_more_work_never_costs_less_at_the_start_of_the_day():
    # hours from 09:00, minimum 1 h: 08:58-09:00 and 08:58-09:01 are both billed 08:58-09:58
    # = 2 min ooh + 58 min normal (pro-rating the actual split would bill the first as 1 h ooh).
    # ooh 120 s = 0.0333 h x 135 = 4.4955 -> 4.50; normal 3480 s = 0.9667 h x 90 = 87.003 -> 87.00
    for minutes in (2, 3):
        rated = rate_one(act(L(2026, 1, 5, 8, 58), minutes), version(price="90"))
        assert kinds(rated) == [("ooh", 120), ("normal", 3480)]
        assert rated.amount == D("91.50")


def test_unhashable_calendar_is_accepted():
    cal = rating.Calendar("Europe/London", [list(x) for x in OFFICE], [])
    assert rating.split_interval(L(2026, 1, 5, 16, 30), L(2026, 1, 5, 18, 30), cal) == [
        ("normal", 1800),
        ("ooh", 5400),
    ]


def test_midnight_crossing():
    # Sun 23:00 -> Mon 10:00: 10 h out of hours (merged across midnight) then 1 h normal
    assert rating.split_interval(L(2026, 1, 4, 23), L(2026, 1, 5, 10), CAL) == [
        ("ooh", 36000),
        ("normal", 3600),
    ]
    # night-shift calendar: Mon 09-17 and Tue 00-08; Mon 23:00 -> Tue 01:00 = 1 h ooh + 1 h normal
    night = rating.Calendar("Europe/London", ((0, 9.0, 17.0), (1, 0.0, 8.0)))
    assert rating.split_interval(L(2026, 1, 5, 23), L(2026, 1, 6, 1), night) == [
        ("ooh", 3600),
        ("normal", 3600),
    ]
    # hour_to 24:00 reaches the next local midnight
    full = rating.Calendar("Europe/London", ((0, 20.0, 24.0), (1, 0.0, 2.0)))
    assert rating.split_interval(L(2026, 1, 5, 19), L(2026, 1, 6, 3), full) == [
        ("ooh", 3600),
        ("normal", 6 * 3600),
        ("ooh", 3600),
    ]


@pytest.mark.parametrize(
    "day, real_seconds, amount",
    [
        # 2026-03-29: 00:30 GMT (00:30 UTC) -> 03:30 BST (02:30 UTC) = 2 h real; Sunday: ooh 2 h x 135 = 270.00
        (date(2026, 3, 29), 7200, "270.00"),
        # 2026-10-25: 00:30 BST (23:30 UTC on the 24th) -> 03:30 GMT (03:30 UTC) = 4 h real; 4 h x 135 = 540.00
        (date(2026, 10, 25), 14400, "540.00"),
    ],
)
def test_dst_nights(day, real_seconds, amount):
    start, end = L(day.year, day.month, day.day, 0, 30), L(day.year, day.month, day.day, 3, 30)
    assert (end - start).total_seconds() == real_seconds
    rated = rating.rate_actions([rating.Action("n", start, end, None, 1)], {1: [version(price="90")]}, CAL)[0]
    assert rated.actual_seconds == rated.billable_seconds == real_seconds
    assert kinds(rated) == [("ooh", real_seconds)]
    assert rated.amount == D(amount)


def test_dst_day_boundaries_are_local_wall_clock():
    sunday = rating.Calendar("Europe/London", ((6, 9.0, 17.0),))
    # 2026-03-29 09:00 BST = 08:00 UTC: 07:30-08:30 UTC = 30 min ooh + 30 min normal
    assert rating.split_interval(datetime(2026, 3, 29, 7, 30), datetime(2026, 3, 29, 8, 30), sunday) == [
        ("ooh", 1800),
        ("normal", 1800),
    ]
    # 2026-01-04 (GMT) 09:00 = 09:00 UTC: the same UTC interval is all ooh
    assert rating.split_interval(datetime(2026, 1, 4, 7, 30), datetime(2026, 1, 4, 8, 30), sunday) == [
        ("ooh", 3600)
    ]
    # 2026-10-25 17:00 GMT = 17:00 UTC (the day before it was 16:00 UTC)
    assert rating.split_interval(datetime(2026, 10, 25, 16, 30), datetime(2026, 10, 25, 17, 30), sunday) == [
        ("normal", 1800),
        ("ooh", 1800),
    ]


def test_boundary_skipped_by_dst_counts_from_the_change():
    # New York 2026-03-08: clocks jump 02:00 EST -> 03:00 EDT at 07:00 UTC, so 02:30 never shows;
    # hours 02:30-04:00 start at the change (07:00 UTC) and end at 04:00 EDT = 08:00 UTC.
    ny = rating.Calendar("America/New_York", ((6, 2.5, 4.0),))
    assert rating.split_interval(datetime(2026, 3, 8, 6), datetime(2026, 3, 8, 9), ny) == [
        ("ooh", 3600),
        ("normal", 3600),
        ("ooh", 3600),
    ]
    # London 2026-03-29: 01:00 GMT -> 02:00 BST at 01:00 UTC; hours 01:30-03:00 = 01:00-02:00 UTC
    london = rating.Calendar("Europe/London", ((6, 1.5, 3.0),))
    assert rating.split_interval(datetime(2026, 3, 29, 0), datetime(2026, 3, 29, 3), london) == [
        ("ooh", 3600),
        ("normal", 3600),
        ("ooh", 3600),
    ]
    # London 2026-10-25: 01:30 happens twice (BST at 00:30 UTC, GMT at 01:30 UTC): the first counts,
    # hours 01:30-03:00 = 00:30 UTC - 03:00 UTC (2 h 30 min real)
    assert rating.split_interval(datetime(2026, 10, 25, 0), datetime(2026, 10, 25, 4), london) == [
        ("ooh", 1800),
        ("normal", 9000),
        ("ooh", 3600),
    ]


def test_dst_local_date_selects_version():
    # 2026-10-24 23:30 UTC is 2026-10-25 00:30 BST -> the version from the 25th applies
    v1 = version(price="60", min_minutes=0, inc=0, version_id=1)
    v2 = version(price="120", min_minutes=0, inc=0, date_from=date(2026, 10, 25), version_id=2)
    rated = rating.rate_actions([act(datetime(2026, 10, 24, 23, 30), 30)], {1: [v1, v2]}, CAL)[0]
    assert rated.version is v2
    # Saturday night in BST: 30 min ooh x 180 (120 x 1.5) = 90.00
    assert rated.amount == D("90.00")


def test_holiday_on_a_weekend():
    # Boxing Day 2026 is a Saturday: 10:00-11:00 is holiday, not ooh; 1 h x 120 (60 x 2) = 120.00
    rated = rate_one(act(L(2026, 12, 26, 10), 60), version(), CAL_XMAS)
    assert kinds(rated) == [("holiday", 3600)]
    assert rated.segments[0].unit_price == D("120.0000")
    assert rated.amount == D("120.00")


def test_holiday_beats_ooh():
    # Christmas Day (Friday) 16:30-18:30: all 2 h holiday (no normal, no ooh split); 2 h x 180 = 360.00
    rated = rate_one(act(L(2026, 12, 25, 16, 30), 120), version(price="90"), CAL_XMAS)
    assert kinds(rated) == [("holiday", 7200)]
    assert rated.amount == D("360.00")
    # Thu 24th 23:00 -> Fri 25th 01:00: 1 h ooh then 1 h holiday
    assert rating.split_interval(L(2026, 12, 24, 23), L(2026, 12, 25, 1), CAL_XMAS) == [
        ("ooh", 3600),
        ("holiday", 3600),
    ]


def test_partial_holiday_inside_working_day():
    # holiday 12:00-14:00 UTC on Mon 2026-01-05: 11:00-15:00 = 1 h normal, 2 h holiday, 1 h normal
    cal = rating.Calendar("Europe/London", OFFICE, ((datetime(2026, 1, 5, 12), datetime(2026, 1, 5, 14)),))
    assert rating.split_interval(L(2026, 1, 5, 11), L(2026, 1, 5, 15), cal) == [
        ("normal", 3600),
        ("holiday", 7200),
        ("normal", 3600),
    ]
    rated = rate_one(act(L(2026, 1, 5, 11), 240), version(), cal)
    # segments are one per kind: normal 2 h x 60 = 120.00; holiday 2 h x 120 = 240.00
    assert kinds(rated) == [("normal", 7200), ("holiday", 7200)]
    assert rated.amount == D("360.00")


# ---------------------------------------------------------------- versions
def test_rate_change_mid_month():
    v1 = version(price="60", min_minutes=0, inc=0, version_id=1)
    v2 = version(price="80", min_minutes=0, inc=0, date_from=date(2026, 7, 15), version_id=2)
    actions = [
        act(L(2026, 7, 14, 10), 60, key="14th"),  # 60.00 (old price)
        act(L(2026, 7, 15, 10), 60, key="15th"),  # 80.00 (new price)
        act(
            L(2026, 7, 14, 23, 30), 15, key="14th late"
        ),  # 22:30 UTC on the 14th; local 14th -> 15 min x 90 = 22.50
        act(
            L(2026, 7, 15, 0, 30), 15, key="15th early"
        ),  # 23:30 UTC on the 14th; local 15th -> 15 min x 120 = 30.00
    ]
    rated = rating.rate_actions(actions, {1: [v2, v1]}, CAL)
    assert [r.version.version_id for r in rated] == [1, 2, 1, 2]
    assert [r.amount for r in rated] == [D("60.00"), D("80.00"), D("22.50"), D("30.00")]


def test_customer_and_contract_overrides():
    g1 = version(price="60", level="global", date_from=date(2026, 1, 1), version_id=1)
    g2 = version(price="65", level="global", date_from=date(2026, 6, 1), version_id=2)
    cu = version(price="70", level="customer", date_from=date(2026, 3, 1), version_id=3)
    co = version(price="75", level="contract", date_from=date(2026, 5, 1), version_id=4)
    sel = rating.select_version
    assert sel([g1, g2, cu, co], date(2026, 2, 1)) is g1  # customer not yet in force -> global
    assert sel([g1, g2, cu], date(2026, 4, 1)) is cu  # customer beats global
    assert sel([g1, g2, cu], date(2026, 7, 1)) is cu  # ... even when the global version is newer
    assert sel([g1, g2, cu, co], date(2026, 7, 1)) is co  # contract beats customer
    assert sel([g1, g2, cu, co], date(2026, 4, 30)) is cu  # contract starts 1 May
    assert sel([g1, g2], date(2025, 12, 31)) is None
    # 1 h on Mon 2026-07-06 with all four: contract 75.00; without contract: customer 70.00
    a = act(L(2026, 7, 6, 10), 60)
    assert rating.rate_actions([a], {1: [g1, g2, cu, co]}, CAL)[0].amount == D("75.00")
    assert rating.rate_actions([a], {1: [g1, g2, cu]}, CAL)[0].amount == D("70.00")
    assert rating.rate_actions([a], {1: [g1, g2]}, CAL)[0].amount == D("65.00")


def test_versions_per_rate_id():
    remote = version(price="60", rate_id=1, name="Remote")
    travel = version(price="40", rate_id=2, name="Travel", min_minutes=0, inc=0)
    rated = rating.rate_actions(
        [act(MON10, 30, rate_id=1, key="r"), act(MON10, 30, rate_id=2, key="t")],
        {1: [remote], 2: [travel]},
        CAL,
    )
    # remote: minimum 60 min -> 60.00; travel: 0.5 h x 40 = 20.00
    assert [r.amount for r in rated] == [D("60.00"), D("20.00")]


# ---------------------------------------------------------------- scopes
def three_actions(ticket="T"):
    # Mon 2026-01-05 10:00, 11:00, 12:00, 20 min each, same ticket
    return [act(L(2026, 1, 5, 10 + i), 20, key=i, ticket=ticket) for i in range(3)]


def totals(rated):
    return sum(r.billable_seconds for r in rated) // 60, sum(r.amount for r in rated)


def test_scope_action():
    # each 20 min -> minimum 60: 3 x 60 = 180 min, 180.00
    assert totals(rating.rate_actions(three_actions(), {1: [version()]}, CAL)) == (180, D("180.00"))


def test_scope_ticket_day():
    rated = rating.rate_actions(three_actions(), {1: [version()]}, CAL, scope="ticket_day")
    # group 60 min = minimum -> 60 min; each action billed 20 min: 0.3333 h x 60 = 19.998 -> 20.00
    assert totals(rated) == (60, D("60.00"))
    assert [r.billable_seconds for r in rated] == [1200, 1200, 1200]
    assert "rounded per ticket per day with 2 other actions" in rated[0].explanation


def test_scope_ticket_day_pennies_on_the_last_action():
    # 3 x 20 min in a 1 h group at 95.00/h: 0.3333 h x 95 = 31.66 each (94.98); the group is
    # 1.0000 h x 95 = 95.00, so the last action carries the 0.02: 31.66 + 31.66 + 31.68
    rated = rating.rate_actions(three_actions(), {1: [version(price="95")]}, CAL, scope="ticket_day")
    assert [r.amount for r in rated] == [D("31.66"), D("31.66"), D("31.68")]
    assert sum(r.amount for r in rated) == D("95.00")
    assert [s.amount for s in rated[2].segments] == [D("31.68")]
    assert "£0.02 rounding remainder of the group placed on this action" in rated[2].explanation
    assert "remainder" not in rated[0].explanation


def test_scope_ticket_day_extends_last_action():
    # two actions of 20 min: group 40 -> 60; the chronologically last one (11:00) is billed 40 min
    actions = three_actions()[:2][::-1]  # input order reversed on purpose
    rated = rating.rate_actions(actions, {1: [version()]}, CAL, scope="ticket_day")
    assert [r.key for r in rated] == [1, 0]  # same order as the input
    assert [r.billable_seconds for r in rated] == [2400, 1200]
    assert "this action 20 min billed as 40 min" in rated[0].explanation


def test_scope_over_two_days():
    actions = [
        act(L(2026, 1, 5, 10), 20, key=1, ticket="T"),
        act(L(2026, 1, 5, 11), 20, key=2, ticket="T"),
        act(L(2026, 1, 6, 10), 20, key=3, ticket="T"),
    ]
    vs = {1: [version()]}
    # per ticket per day: Mon 40 -> 60, Tue 20 -> 60 = 120 min; per ticket: 60 -> 60
    assert totals(rating.rate_actions(actions, vs, CAL, scope="ticket_day")) == (120, D("120.00"))
    assert totals(rating.rate_actions(actions, vs, CAL, scope="ticket")) == (60, D("60.00"))
    # per action: 3 x 60
    assert totals(rating.rate_actions(actions, vs, CAL, scope="action")) == (180, D("180.00"))


def test_scope_groups_separate_tickets_rates_and_no_ticket():
    actions = (
        three_actions("A")[:1]
        + three_actions("B")[1:2]
        + [act(MON10, 20, key="x", rate_id=2, ticket="A"), act(MON10, 20, key="none")]
    )
    vs = {1: [version()], 2: [version(rate_id=2, name="Remote")]}
    rated = rating.rate_actions(actions, vs, CAL, scope="ticket")
    # four groups of one 20 min action -> 4 x 60
    assert [r.billable_seconds for r in rated] == [3600] * 4


def test_scope_trim_with_rounding_down():
    # ticket scope, down, 15-min steps, no minimum: 3 x 8 min = 24 min -> 15 min.
    # 9 min are trimmed from the end: the last action (8 min) -> 0, the middle one 8 -> 7 min.
    actions = [act(L(2026, 1, 5, 10 + i), 8, key=i, ticket="T") for i in range(3)]
    rated = rating.rate_actions(actions, {1: [version(min_minutes=0, rounding="down")]}, CAL, scope="ticket")
    assert [r.billable_seconds for r in rated] == [480, 420, 0]
    assert rated[2].segments == () and rated[2].amount == D("0.00")
    # 0.1333 h x 60 = 7.998 -> 8.00; 0.1167 x 60 = 7.002 -> 7.00
    assert [r.amount for r in rated] == [D("8.00"), D("7.00"), D("0.00")]


def test_group_uses_version_of_first_action():
    v1 = version(price="60", version_id=1)
    v2 = version(price="80", date_from=date(2026, 1, 6), version_id=2)
    actions = [
        act(L(2026, 1, 6, 10), 30, key="tue", ticket="T"),
        act(L(2026, 1, 5, 10), 30, key="mon", ticket="T"),
    ]
    rated = rating.rate_actions(actions, {1: [v1, v2]}, CAL, scope="ticket")
    assert [r.version.version_id for r in rated] == [1, 1]  # Monday's version for the whole ticket
    assert sum(r.amount for r in rated) == D("60.00")


def test_surcharge_once_per_action():
    v = version(surcharge="12.5")
    rated = rating.rate_actions(three_actions(), {1: [v]}, CAL, scope="ticket_day")
    # 3 x 20.00 + 3 x 12.50 = 97.50
    assert [r.surcharge for r in rated] == [D("12.50")] * 3
    assert sum(r.amount for r in rated) == D("97.50")


# ---------------------------------------------------------------- explanations
def test_explanation_example():
    v = version(price="95", level="customer", date_from=date(2026, 7, 1), name="On-site")
    # Mon 2026-07-06 16:00-17:22 = 1 h 22 min -> up to 1 h 30 -> billed 16:00-17:30: 1 h normal + 30 min ooh
    # 1 h x 95 = 95.00; 0.5 h x 142.50 = 71.25; total 166.25
    rated = rate_one(act(L(2026, 7, 6, 16), 82), v)
    assert rated.explanation == (
        "On-site, customer rate from 2026-07-01: 1 h 22 min → rounded up to 1 h 30 min "
        "(15-min steps); 30 min out of hours ×1.5; £95.00/h"
    )
    assert rated.amount == D("166.25")


def test_explanation_minimum_holiday_surcharge():
    v = version(price="60", hol="2", surcharge="5")
    rated = rate_one(act(L(2026, 12, 26, 10), 20), v, CAL_XMAS)
    assert rated.explanation == (
        "On-site, global rate from 2026-01-01: 20 min → minimum 1 h; "
        "1 h holiday ×2; £60.00/h; surcharge £5.00"
    )
    assert rated.amount == D("125.00")  # 1 h x 120 + 5


def test_explanation_plain_and_currency():
    rated = rating.rate_actions([act(MON10, 90)], {1: [version()]}, CAL, currency_symbol="€")[0]
    assert rated.explanation == "On-site, global rate from 2026-01-01: 1 h 30 min; €60.00/h"


def test_explanation_down_not_below_minimum():
    rated = rate_one(act(MON10, 40), version(min_minutes=50, rounding="down"))
    assert (
        "40 min → minimum 50 min → rounded down to 1 h (15-min steps, not below the minimum)"
        in rated.explanation
    )


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0 min"),
        (45 * 60, "45 min"),
        (7200, "2 h"),
        (5400, "1 h 30 min"),
        (4920, "1 h 22 min"),
        (3601, "1 h 1 s"),
    ],
)
def test_format_duration(seconds, text):
    assert rating.format_duration(seconds) == text


# ---------------------------------------------------------------- mileage & expenses
def test_mileage_round_trip_miles():
    # 12.5 mi x 2 = 25 mi x 0.45 = 11.25 + 5.00 per trip = 16.25
    charge = rating.rate_mileage(D("12.5"), "mi", True, D("0.45"), D("5"))
    assert (charge.quantity, charge.unit_price, charge.amount) == (D("25.0000"), D("0.4500"), D("16.25"))
    assert (
        charge.explanation == "12.5 mi × 2 (round trip) = 25 mi × £0.45/mi = £11.25; surcharge per trip £5.00"
    )


def test_mileage_one_way_km():
    # 10.3 km x 0.30 = 3.09
    charge = rating.rate_mileage(D("10.3"), "km", False, D("0.30"), D("0"))
    assert (charge.quantity, charge.amount) == (D("10.3000"), D("3.09"))
    # 7 km x 0.125 = 0.875 -> 0.88 (half up)
    assert rating.rate_mileage(7, "km", False, D("0.125"), 0).amount == D("0.88")


@pytest.mark.parametrize(
    "cost, markup, surcharge, unit_price, amount",
    [
        ("12.34", "10", "0", "13.57", "13.57"),  # 12.34 x 1.10 = 13.574 -> 13.57
        ("12.34", "10", "2.5", "13.57", "16.07"),  # + 2.50 surcharge
        ("12.34", "0", "0", "12.34", "12.34"),  # at cost
        ("0.15", "10", "0", "0.17", "0.17"),  # 0.165 -> 0.17 (half up, not banker's 0.16)
    ],
)
def test_expenses(cost, markup, surcharge, unit_price, amount):
    charge = rating.rate_expense(D(cost), D(markup), D(surcharge))
    assert (charge.quantity, charge.unit_price, charge.amount) == (D(1), D(unit_price), D(amount))


def test_expense_explanation():
    assert (
        rating.rate_expense(D("12.34"), D("10"), D("2")).explanation
        == "£12.34 at cost + 10% markup = £13.57; surcharge £2.00"
    )
    assert rating.rate_expense(D("12.34")).explanation == "£12.34 at cost"


# ---------------------------------------------------------------- errors
def test_error_end_before_start():
    bad = rating.Action("bad", MON10, MON10 - timedelta(seconds=1), None, 1)
    with pytest.raises(RatingError, match="ends before it starts"):
        rating.rate_actions([bad], {1: [version()]}, CAL)
    with pytest.raises(RatingError):
        rating.rate_actions([bad], {1: [version()]}, CAL, scope="ticket")
    with pytest.raises(RatingError):
        rating.split_interval(MON10, MON10 - timedelta(1), CAL)


def test_error_no_version():
    with pytest.raises(RatingError, match=r"'On-site'.*2025-12-31"):
        rating.rate_actions([act(L(2025, 12, 31, 10), 30)], {1: [version()]}, CAL)
    with pytest.raises(RatingError, match=r"rate id 7.*2026-01-05"):
        rating.rate_actions([act(MON10, 30, rate_id=7)], {1: [version()]}, CAL)
    assert issubclass(RatingError, ValueError)


@pytest.mark.parametrize(
    "call",
    [
        lambda: rating.rate_actions([act(MON10, 30)], {1: [version()]}, CAL, scope="month"),
        lambda: rating.rate_actions([act(MON10, 30)], {1: [version(rounding="ceiling")]}, CAL),
        lambda: rating.select_version([version(level="partner")], date(2026, 1, 1)),
        lambda: rating.rate_mileage(D("-1"), "km", False, D("0.3"), D(0)),
        lambda: rating.rate_mileage(D("1"), "furlong", False, D("0.3"), D(0)),
        lambda: rating.rate_expense(D("-0.01")),
        lambda: rating.rate_actions(
            [act(MON10, 30)], {1: [version()]}, rating.Calendar("Mars/Olympus", OFFICE)
        ),
        lambda: rating.rate_actions(
            [act(MON10, 30)], {1: [version()]}, rating.Calendar("UTC", ((7, 9.0, 17.0),))
        ),
    ],
    ids=["scope", "rounding", "level", "distance", "unit", "cost", "tz", "weekday"],
)
def test_errors(call):
    with pytest.raises(RatingError):
        call()


def test_empty_input():
    assert rating.rate_actions([], {}, CAL) == []
    assert rating.rate_actions([], {}, CAL, scope="ticket") == []


def test_aware_datetimes_are_accepted():
    start = datetime(2026, 1, 5, 10, tzinfo=UTC)
    rated = rating.rate_actions(
        [rating.Action("a", start, start + timedelta(hours=1), None, 1)], {1: [version()]}, CAL
    )
    assert rated[0].amount == D("60.00")
