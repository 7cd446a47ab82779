"""The ``where``/``order``/paging subset of Xero's list endpoints, evaluated on rendered records."""

import re
from decimal import Decimal, InvalidOperation

from .xero_dates import ms_from_date

_SPLIT_OR = re.compile(r"\s*\|\|\s*|\s+OR\s+", re.I)
_SPLIT_AND = re.compile(r"\s*&&\s*|\s+AND\s+", re.I)
_COMPARE = re.compile(r"^\s*([A-Za-z][\w.]*)\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$")
_METHOD = re.compile(r'^\s*([A-Za-z][\w.]*)\.(Contains|StartsWith|EndsWith)\(\s*"(.*)"\s*\)\s*$', re.I)
_GUID = re.compile(r'^guid\(\s*"(.*)"\s*\)$', re.I)
_DATETIME = re.compile(r"^DateTime\(\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$", re.I)
_MSDATE = re.compile(r"^/Date\((-?\d+)")


class QueryError(ValueError):
    """An unsupported or malformed ``where``/``order`` expression (Xero: QueryParseException)."""


def field(record: dict, path: str):
    """Dotted, case-insensitive field lookup (``Contact.ContactID``)."""
    value = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        key = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(key) if key else None
    return value


def _literal(text: str):
    m = _GUID.match(text)
    if m:
        return m.group(1).lower()
    m = _DATETIME.match(text)
    if m:
        return ("date", ms_from_date("%s-%02d-%02d" % (m.group(1), int(m.group(2)), int(m.group(3)))))
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "null":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise QueryError("Unsupported where value: %s" % text) from None


def _normalise(actual, expected):
    """Bring the record value into the comparable form of the literal."""
    if isinstance(expected, tuple):
        m = _MSDATE.match(str(actual or ""))
        return (int(m.group(1)) if m else None), expected[1]
    if isinstance(expected, bool):
        return actual, expected
    if isinstance(expected, Decimal):
        try:
            return Decimal(str(actual)), expected
        except (InvalidOperation, TypeError):
            return None, expected
    if expected is None:
        return actual, None
    return (None if actual is None else str(actual).lower()), expected.lower()


def compile_where(where: str):
    """Return a predicate for a ``where`` expression (``&&``/``AND``, ``||``/``OR``)."""
    groups = []
    for alternative in _SPLIT_OR.split(where.strip()):
        clauses = []
        for clause in _SPLIT_AND.split(alternative.strip()):
            m = _METHOD.match(clause)
            if m:
                clauses.append(("method", m.group(1), m.group(2).lower(), m.group(3).lower()))
                continue
            m = _COMPARE.match(clause)
            if not m:
                raise QueryError("Unsupported where clause: %s" % clause)
            clauses.append(("cmp", m.group(1), m.group(2), _literal(m.group(3))))
        groups.append(clauses)

    def test(record) -> bool:
        return any(all(_check(record, c) for c in clauses) for clauses in groups)

    return test


def _check(record, clause) -> bool:
    kind, path, op, expected = clause
    actual = field(record, path)
    if kind == "method":
        text = str(actual or "").lower()
        return {
            "contains": expected in text,
            "startswith": text.startswith(expected),
            "endswith": text.endswith(expected),
        }[op]
    actual, expected = _normalise(actual, expected)
    if op == "==":
        return actual == expected
    if op == "!=":
        return actual != expected
    if actual is None or expected is None:
        return False
    return {
        ">": actual > expected,
        "<": actual < expected,
        ">=": actual >= expected,
        "<=": actual <= expected,
    }[op]


def apply_order(records: list, order: str | None) -> list:
    """``order=Name ASC, Total DESC``."""
    if not order:
        return records
    for part in reversed([p.strip() for p in order.split(",") if p.strip()]):
        bits = part.split()
        if len(bits) > 2 or (len(bits) == 2 and bits[1].upper() not in ("ASC", "DESC")):
            raise QueryError("Unsupported order: %s" % order)
        desc = len(bits) == 2 and bits[1].upper() == "DESC"

        def key(rec, path=bits[0]):
            value = field(rec, path)
            return (value is None, str(value).lower() if isinstance(value, str) else value or 0)

        records = sorted(records, key=key, reverse=desc)
    return records


def paginate(records: list, page: int, page_size: int):
    """Slice one page; returns ``(records, pagination)`` like Xero's lower-case ``pagination``."""
    page_size = max(1, min(1000, page_size))
    page = max(1, page)
    count = len(records)
    start = (page - 1) * page_size
    pagination = {
        "page": page,
        "pageSize": page_size,
        "pageCount": (count + page_size - 1) // page_size,
        "itemCount": count,
    }
    return records[start : start + page_size], pagination
