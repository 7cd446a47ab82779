"""Small response helpers shared by the handlers."""

import json
import uuid

from werkzeug.wrappers import Response

ZERO_GUID = "00000000-0000-0000-0000-000000000000"


def json_response(data, status=200, headers=None, compact=False) -> Response:
    """JSON body; ``compact=True`` gives separators without spaces (needed for invalid_grant)."""
    text = json.dumps(data, separators=(",", ":")) if compact else json.dumps(data)
    return Response(text, status=status, headers=headers, content_type="application/json; charset=utf-8")


def problem(status: int, title: str, detail: str, headers=None) -> Response:
    """Xero's problem JSON for 401/403/429."""
    return json_response(
        {
            "Type": None,
            "Title": title,
            "Status": status,
            "Detail": detail,
            "Instance": str(uuid.uuid4()),
            "Extensions": {},
        },
        status=status,
        headers=headers,
    )


def html_response(html: str, status=200) -> Response:
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def parse_bool(value, default=False) -> bool:
    """Query booleans as the SDK sends them (``True``/``False``), case-insensitively."""
    if value is None or value == "":
        return default
    return str(value).strip().lower() in ("true", "1", "yes")
