"""Xero's date formats: ``/Date(ms+0000)/`` (MS-JSON), ISO twins and input parsing."""

import datetime as dt
import re

UTC = dt.UTC
_MS_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def ms_from_date(value: str) -> int:
    """Milliseconds since the epoch of an ISO ``YYYY-MM-DD`` date at UTC midnight."""
    d = dt.date.fromisoformat(value)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def ms_date(ms: int, offset: bool = True) -> str:
    """``/Date(ms+0000)/`` as Xero emits in entities (``offset=False``: ``/Date(ms)/``)."""
    return "/Date(%d%s)/" % (ms, "+0000" if offset else "")


def date_out(iso_date: str | None) -> str | None:
    """An ISO date (``YYYY-MM-DD``) rendered as Xero's ``/Date(ms+0000)/``."""
    return ms_date(ms_from_date(iso_date)) if iso_date else None


def date_string(iso_date: str | None) -> str | None:
    """The ``DateString`` twin: ``2024-03-01T00:00:00``."""
    return iso_date + "T00:00:00" if iso_date else None


def iso_datetime(ts: float, digits: int = 7) -> str:
    """Identity-style ISO timestamp without zone, e.g. ``2024-03-01T10:11:12.1234567``."""
    d = dt.datetime.fromtimestamp(ts, tz=UTC)
    frac = ("%06d" % d.microsecond + "0")[:digits]
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if digits else "")


def parse_date_in(value) -> str:
    """Parse a request date (``/Date(ms)/``, ``/Date(ms+hhmm)/``, ``YYYY-MM-DD[THH:MM:SS]``).

    Returns an ISO date string; raises ValueError with Xero's AllXsd wording when malformed.
    """
    text = str(value).strip()
    m = _MS_RE.match(text)
    if m:
        return dt.datetime.fromtimestamp(int(m.group(1)) / 1000, tz=UTC).date().isoformat()
    try:
        if "T" in text:
            return dt.datetime.fromisoformat(text.rstrip("Z")).date().isoformat()
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError("The string '%s' is not a valid AllXsd value." % text) from None


def parse_if_modified_since(value: str) -> float | None:
    """Parse the If-Modified-Since header (ISO, naive = UTC, or HTTP date) to epoch seconds."""
    if not value:
        return None
    text = value.strip()
    try:
        d = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            d = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.timestamp()


def utc_date_of(ts: float) -> str:
    """ISO date (UTC) of an epoch timestamp."""
    return dt.datetime.fromtimestamp(ts, tz=UTC).date().isoformat()
