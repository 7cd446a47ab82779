"""Fixtures: one sandbox per test session, reset before every test; SDK clients wired to it."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from xero_sandbox.seed import NZ_TENANT_ID, UK_TENANT_ID
from xero_sandbox.testing import SandboxControl, SdkClients, running_sandbox, sdk_token_urls, token_dict

UK = UK_TENANT_ID
NZ = NZ_TENANT_ID


@pytest.fixture(scope="session")
def server():
    with running_sandbox(limits_enabled=False) as srv:
        yield srv


@pytest.fixture
def sandbox(server):
    ctl = SandboxControl(server.url)
    ctl.reset()
    ctl.limits(
        enabled=False,
        concurrent=5,
        minute=60,
        day=5000,
        app_minute=10000,
        use_sandbox_clock=False,
        reset_counters=True,
    )
    yield server
    server.state.clock.offset = 0.0


@pytest.fixture
def ctl(sandbox):
    return SandboxControl(sandbox.url)


@pytest.fixture
def token_urls(sandbox):
    """xero-python's TokenApi URLs patched to the sandbox (process-wide), restored afterwards."""
    with sdk_token_urls(sandbox.url):
        yield


@pytest.fixture
def sdk(sandbox, ctl, token_urls):
    """SDK clients holding a token for both demo organisations."""
    return SdkClients(sandbox.url, token_dict(ctl.grant()))


def http(method, url, data=None, headers=None, form=None):
    """Raw HTTP for what the SDK cannot do. Returns ``(status, headers, body bytes)``; never follows redirects."""
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    elif isinstance(data, (dict, list)):
        data = json.dumps(data).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()
