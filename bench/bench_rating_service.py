"""Throughput of the plain rating service (no Odoo needed).

Run from the repository root:

    .cache/venv/bin/python bench/bench_rating_service.py [N]

Rates N (default 200,000) actions with scope 'action' on a Europe/London
calendar (Mon-Fri 09:00-17:00, 2026 bank holidays) with a realistic mix:
most work in office hours, ~15 % crossing 17:00, ~8 % at weekends, some on
bank holidays, some at night; global, customer and contract versions with a
mid-year price change.  Prints actions/s (first run = cold calendar cache,
then the best of the following runs) and a correctness checksum.
"""

import importlib.util
import random
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
RATING_PATH = ROOT / "halo_helpdesk_billing" / "services" / "rating.py"


def load_rating():
    spec = importlib.util.spec_from_file_location("halo_rating_bench", RATING_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def build(rating, n, seed=2026):
    rnd = random.Random(seed)
    london = ZoneInfo("Europe/London")
    utc = ZoneInfo("UTC")
    bank_holidays = [
        date(2026, 1, 1),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 4),
        date(2026, 5, 25),
        date(2026, 8, 31),
        date(2026, 12, 25),
        date(2026, 12, 28),
    ]

    def to_utc(local):
        return local.replace(tzinfo=london).astimezone(utc).replace(tzinfo=None)

    holidays = tuple(
        (
            to_utc(datetime.combine(d, datetime.min.time())),
            to_utc(datetime.combine(d + timedelta(1), datetime.min.time())),
        )
        for d in bank_holidays
    )
    calendar = rating.Calendar("Europe/London", tuple((d, 9.0, 17.0) for d in range(5)), holidays)
    D = Decimal
    versions = {
        1: [  # Remote support
            rating.RateVersion(
                1,
                "Remote support",
                "global",
                date(2025, 1, 1),
                D("75"),
                15,
                15,
                "up",
                D("1.5"),
                D("2"),
                version_id=1,
            ),
            rating.RateVersion(
                1,
                "Remote support",
                "global",
                date(2026, 6, 15),
                D("80"),
                15,
                15,
                "up",
                D("1.5"),
                D("2"),
                version_id=2,
            ),
            rating.RateVersion(
                1,
                "Remote support",
                "customer",
                date(2026, 3, 1),
                D("70"),
                15,
                6,
                "up",
                D("1.5"),
                D("2"),
                version_id=3,
            ),
        ],
        2: [  # On-site
            rating.RateVersion(
                2,
                "On-site",
                "global",
                date(2025, 1, 1),
                D("95"),
                60,
                30,
                "up",
                D("1.5"),
                D("2"),
                D("10"),
                version_id=4,
            ),
            rating.RateVersion(
                2,
                "On-site",
                "contract",
                date(2026, 7, 1),
                D("90"),
                60,
                15,
                "nearest",
                D("1.25"),
                D("2"),
                version_id=5,
            ),
        ],
        3: [  # Emergency
            rating.RateVersion(
                3,
                "Emergency",
                "global",
                date(2025, 1, 1),
                D("150"),
                60,
                15,
                "up",
                D("1.5"),
                D("2.5"),
                D("25"),
                version_id=6,
            ),
        ],
    }
    year_start = date(2026, 1, 1)
    actions = []
    for i in range(n):
        r = rnd.random()
        day = year_start + timedelta(days=rnd.randrange(365))
        if day.weekday() >= 5:  # working-day categories: move to the Monday
            day += timedelta(days=7 - day.weekday())
        if r < 0.08:  # weekend
            day += timedelta(days=5 - day.weekday() + rnd.randrange(2))
            start_min = rnd.randrange(8 * 60, 20 * 60)
        elif r < 0.11:  # bank holiday
            day = rnd.choice(bank_holidays)
            start_min = rnd.randrange(8 * 60, 18 * 60)
        elif r < 0.26:  # crossing 17:00
            start_min = rnd.randrange(15 * 60, 17 * 60)
        elif r < 0.30:  # night / early morning
            start_min = rnd.randrange(0, 24 * 60)
        else:  # office hours
            start_min = rnd.randrange(9 * 60, 16 * 60 + 30)
        duration = rnd.choice((5, 10, 12, 15, 20, 25, 30, 45, 60, 75, 90, 120, 180)) * 60 + rnd.choice(
            (0, 0, 0, rnd.randrange(3600))
        )
        local = datetime.combine(day, datetime.min.time()) + timedelta(minutes=start_min)
        start = to_utc(local)
        rate_id = 1 if r % 0.1 < 0.07 else (2 if r % 0.1 < 0.095 else 3)
        actions.append(
            rating.Action(i, start, start + timedelta(seconds=duration), ticket_key=i // 3, rate_id=rate_id)
        )
    return actions, versions, calendar


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rating = load_rating()
    actions, versions, calendar = build(rating, n)
    timings = []
    for _ in range(4):
        rating._CALENDARS.clear()  # include the calendar cache fill in every run
        t0 = time.perf_counter()
        rated = rating.rate_actions(actions, versions, calendar, scope="action")
        timings.append(time.perf_counter() - t0)
    total = sum(r.amount for r in rated)
    kinds = {}
    for r in rated:
        for seg in r.segments:
            kinds[seg.kind] = kinds.get(seg.kind, 0) + seg.seconds
    print(f"actions: {n:,}  total: {total}  seconds by kind: {kinds}")
    print(f"first run: {n / timings[0]:,.0f} actions/s ({timings[0]:.3f} s)")
    best = min(timings[1:])
    print(f"best of next {len(timings) - 1}: {n / best:,.0f} actions/s ({best:.3f} s)")
    for scope in ("ticket_day", "ticket"):
        t0 = time.perf_counter()
        rating.rate_actions(actions, versions, calendar, scope=scope)
        dt = time.perf_counter() - t0
        print(f"scope {scope}: {n / dt:,.0f} actions/s")


if __name__ == "__main__":
    main()
