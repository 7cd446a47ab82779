# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Real JSON-RPC over HTTP, as a hostile client would call the server.

A test logs a user in through ``/web/session/authenticate`` on its own HTTP session and then
calls any public method through ``/web/dataset/call_kw`` with whatever context it likes. The
answer is either the method's result or the server's error (name and message), so a test can
assert that a forged call is refused, whatever the client sends.
"""

import json
from itertools import count

import requests

from odoo.tests import HttpCase
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME

_ids = count(1)


class RpcError(Exception):
    """The server answered a JSON-RPC call with an error."""

    def __init__(self, error):
        self.error = error
        data = error.get("data") or {}
        self.name = data.get("name") or ""
        self.message = data.get("message") or error.get("message") or ""
        super().__init__(f"{self.name}: {self.message}")


class RpcClient:
    """One logged-in browser-less client."""

    def __init__(self, case, login, password=None):
        self.case = case
        self.session = requests.Session()
        self.login = login
        result = self._post(
            "/web/session/authenticate",
            {
                "db": case.env.cr.dbname,
                "login": login,
                "password": password or login,
            },
        )
        self.uid = result["uid"]

    def _request(self, method, path, **kwargs):
        """One HTTP request on the test's cursor (what ``HttpCase.url_open`` does for its own
        opener): the test's pending changes are flushed first, its cache is cleared before and
        after, and the request carries the test cookie the server requires during tests."""
        self.case.cr.flush()
        self.case.cr.clear()
        try:
            with self.case.allow_requests():
                self.session.cookies.set(TEST_CURSOR_COOKIE_NAME, self.case.http_request_key)
                return self.session.request(method, self.case.base_url() + path, timeout=60, **kwargs)
        finally:
            self.case.cr.clear()

    def get(self, path):
        """GET ``path`` (e.g. a ``/web/content/...`` download) in this user's session."""
        return self._request("GET", path)

    def _post(self, path, params):
        payload = {"jsonrpc": "2.0", "method": "call", "id": next(_ids), "params": params}
        response = self._request(
            "POST",
            path,
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        response.raise_for_status()
        body = response.json()
        if "error" in body:
            raise RpcError(body["error"])
        return body["result"]

    def call(self, model, method, *args, context=None, **kwargs):
        """``model.method(*args, **kwargs)`` with the given (forged) context."""
        if context is not None:
            kwargs["context"] = context
        return self._post(
            "/web/dataset/call_kw",
            {
                "model": model,
                "method": method,
                "args": list(args),
                "kwargs": kwargs,
            },
        )


class HaloRpcCase(HttpCase):
    """Mix into any fixture layer (see common.py): ``self.rpc(user)`` gives a client logged in as
    that user (the layers' users have their login as password)."""

    def rpc(self, user):
        return RpcClient(self, user.login)

    def assertRpcRefused(
        self,
        client,
        model,
        method,
        *args,
        names=("AccessError", "UserError", "ValidationError", "MissingError"),
        **kwargs,
    ):
        """The call is refused with one of Odoo's user-facing errors; returns the error."""
        with self.assertRaises(RpcError) as caught:
            client.call(model, method, *args, **kwargs)
        self.assertTrue(
            any(caught.exception.name.endswith(name) for name in names),
            f"{model}.{method} refused with {caught.exception.name}: {caught.exception.message}",
        )
        return caught.exception
