# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Plain date helpers shared by contracts and their recurring lines (no ORM)."""

from datetime import timedelta

from dateutil.relativedelta import relativedelta

PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
PERIODS = [("monthly", "Monthly"), ("quarterly", "Quarterly"), ("yearly", "Yearly")]


def period_bounds(anchor, months, day):
    """First and last day of the period of ``months`` months, aligned on ``anchor``,
    that contains ``day``. Periods are computed from the anchor each time (never
    chained), so a 31st anchor gives Jan 31, Feb 28, Mar 31..."""
    diff = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    index = diff // months
    while anchor + relativedelta(months=index * months) > day:
        index -= 1
    while anchor + relativedelta(months=(index + 1) * months) <= day:
        index += 1
    start = anchor + relativedelta(months=index * months)
    end = anchor + relativedelta(months=(index + 1) * months) - timedelta(days=1)
    return start, end


def invoice_date_of(timing, period_start, period_end):
    """In advance: the first day of the period; in arrears: the day after it ends."""
    return period_start if timing == "advance" else period_end + timedelta(days=1)


def day_count(date_from, date_to):
    return (date_to - date_from).days + 1
