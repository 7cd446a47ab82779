"""Rate limits (minute, day, app minute, concurrent), their headers, and injected faults.

Note: urllib3 (under xero-python) silently retries GET/PUT answered 429/503 *with* a Retry-After header,
sleeping Retry-After seconds, up to 3 times. Limit breaches are therefore asserted with POST calls,
which urllib3 never retries; test_urllib3_retries_get_after_429 shows the GET behaviour.
"""

import threading
import time

import pytest
from xero_python.accounting import Contacts
from xero_python.exceptions import HTTPStatusException, RateLimitException

from .conftest import NZ, UK


def test_limit_headers_on_every_response(sdk):
    _, status, headers = sdk.accounting.get_items(UK, _return_http_data_only=False)
    assert status == 200
    assert int(headers["X-DayLimit-Remaining"]) == 4999 and int(headers["X-MinLimit-Remaining"]) == 59
    assert int(headers["X-AppMinLimit-Remaining"]) == 9999


def post(sdk, tenant=UK):
    """A cheap POST (never retried by urllib3)."""
    return sdk.accounting.update_or_create_contacts(tenant, Contacts(contacts=[]))


def test_minute_limit_per_tenant(sdk, ctl):
    ctl.limits(enabled=True, minute=3)
    for _ in range(3):
        post(sdk)
    with pytest.raises(RateLimitException) as err:
        post(sdk)
    assert err.value.rate_limit == "minute" and 1 <= int(err.value.headers["Retry-After"]) <= 60
    assert err.value.headers["X-MinLimit-Remaining"] == "0"
    post(sdk, NZ)  # the other organisation has its own budget


def test_day_and_app_minute_limits(sdk, ctl):
    ctl.limits(enabled=True, day=2)
    post(sdk)
    post(sdk)
    with pytest.raises(RateLimitException) as err:
        post(sdk)
    assert err.value.rate_limit == "day" and int(err.value.headers["Retry-After"]) > 0
    ctl.limits(day=5000, app_minute=3, reset_counters=True)
    post(sdk)
    post(sdk, NZ)
    post(sdk, NZ)
    with pytest.raises(RateLimitException) as err:
        post(sdk)
    assert err.value.rate_limit == "appminute"


def test_minute_window_on_sandbox_clock(sdk, ctl):
    ctl.limits(enabled=True, minute=1, use_sandbox_clock=True)
    post(sdk)
    with pytest.raises(RateLimitException):
        post(sdk)
    ctl.advance(61)
    sdk.token["expires_at"] = 0
    post(sdk)


def test_concurrent_limit(sdk, sandbox, ctl):
    ctl.limits(enabled=True, concurrent=1)
    ctl.fault("delay", seconds=0.6, path="/Items", count=1)
    slow = threading.Thread(target=sdk.accounting.get_items, args=(UK,))
    slow.start()
    time.sleep(0.2)
    from xero_sandbox.testing import SdkClients

    other = SdkClients(sandbox.url, dict(sdk.token))
    with pytest.raises(RateLimitException) as err:
        post(other)
    slow.join()
    assert err.value.rate_limit == "concurrent"


def test_urllib3_retries_get_after_429(sdk, ctl):
    ctl.fault("status", status=429, retry_after=1, problem="minute", path="/Invoices", count=1)
    started = time.time()
    assert sdk.accounting.get_invoices(UK).invoices == []  # no exception: urllib3 waited and re-sent
    assert time.time() - started >= 1
    assert [r["status"] for r in ctl.requests()] == [429, 200]


def test_injected_429_500_503_then_recovery(sdk, ctl):
    ctl.fault("status", status=429, retry_after=1, problem="minute", path="/Contacts", count=1)
    with pytest.raises(RateLimitException) as err:
        post(sdk)
    assert err.value.headers["Retry-After"] == "1" and err.value.rate_limit == "minute"
    ctl.fault("status", status=503, count=2)
    for _ in range(2):
        with pytest.raises(HTTPStatusException) as err:
            sdk.accounting.get_items(UK)
        assert err.value.status == 503
    ctl.fault("status", status=500, method="GET", path="/Contacts")
    sdk.accounting.get_items(UK)  # not matched
    with pytest.raises(HTTPStatusException):
        sdk.accounting.get_contacts(UK)
    assert sdk.accounting.get_contacts(UK).contacts


def test_limits_switch_off(sdk, ctl):
    ctl.limits(enabled=True, minute=1)
    sdk.accounting.get_items(UK)
    ctl.limits(enabled=False)
    for _ in range(3):
        sdk.accounting.get_items(UK)
