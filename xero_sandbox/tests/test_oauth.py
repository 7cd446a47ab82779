"""OAuth2: consent page, code exchange (with/without PKCE), refresh rotation, revocation, connections."""

import base64
import hashlib
import json
import re
import time
import urllib.parse

import pytest
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import AccountingBadRequestException, HTTPStatusException, OAuth2InvalidGrantError

from xero_sandbox.testing import SdkClients, token_dict

from .conftest import NZ, UK, http

REDIRECT = "http://localhost:8069/halo_xero/oauth/callback"  # registered for the demo app
BASIC = "Basic " + base64.b64encode(b"HALO-DEMO-CLIENT:halo-demo-secret").decode()


def consent(base, choose=(UK, NZ), action="allow", **extra):
    """Drive the HTML pages like a browser; returns the redirect's query parameters."""
    params = {
        "response_type": "code",
        "client_id": "HALO-DEMO-CLIENT",
        "redirect_uri": REDIRECT,
        "scope": "openid profile email offline_access accounting.invoices",
        "state": "st-123",
        **extra,
    }
    url = base + "/identity/connect/authorize?" + urllib.parse.urlencode(params)
    status, _, page = http("GET", url)
    assert status == 200 and b"name='password'" in page
    status, _, page = http(
        "POST", url, form={**params, "step": "login", "email": "demo@halo.example", "password": "wrong"}
    )
    assert b"incorrect" in page
    status, _, page = http(
        "POST", url, form={**params, "step": "login", "email": "demo@halo.example", "password": "demo"}
    )
    assert b"type='checkbox'" in page and b"Halo Demo NZ Limited" in page
    ticket = re.search(rb"name='ticket' value='([^']+)'", page).group(1).decode()
    status, headers, _ = http(
        "POST",
        url,
        form={**params, "step": "consent", "ticket": ticket, "tenant": list(choose), "action": action},
    )
    assert status == 302
    location = headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def exchange(base, code, **form):
    status, _, body = http(
        "POST",
        base + "/connect/token",
        headers=form.pop("headers", {"Authorization": BASIC}),
        form={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **form},
    )
    return status, body


def test_consent_page_code_exchange_and_connections(sandbox, token_urls):
    back = consent(sandbox.url)
    assert back["state"] == "st-123" and back["code"]
    status, body = exchange(sandbox.url, back["code"])
    assert status == 200
    token = json.loads(body)
    assert token["expires_in"] == 1800 and token["token_type"] == "Bearer" and token["refresh_token"]
    claims = json.loads(base64.urlsafe_b64decode(token["id_token"].split(".")[1] + "=="))
    assert claims["email"] == "demo@halo.example"
    # single use
    assert exchange(sandbox.url, back["code"]) == (400, b'{"error":"invalid_grant"}')
    clients = SdkClients(sandbox.url, token_dict(token))
    conns = clients.identity.get_connections()  # SDK calls /Connections (capital C)
    assert {c.tenant_id for c in conns} == {UK, NZ}
    assert conns[0].created_date_utc.tzinfo is not None and conns[0].tenant_type == "ORGANISATION"
    event = json.loads(base64.urlsafe_b64decode(token["access_token"].split(".")[1] + "=="))
    assert clients.identity.get_connections(auth_event_id=event["authentication_event_id"])


def test_consent_cancel_and_bad_client(sandbox):
    back = consent(sandbox.url, action="cancel")
    assert back == {"error": "access_denied", "state": "st-123"}
    status, _, page = http(
        "GET",
        sandbox.url + "/identity/connect/authorize?response_type=code&client_id=NOPE"
        "&redirect_uri=" + REDIRECT,
    )
    assert status == 400 and b"unauthorized_client" in page
    status, _, body = http(
        "POST",
        sandbox.url + "/connect/token",
        form={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": "HALO-DEMO-CLIENT",
            "client_secret": "wrong",
        },
    )
    assert (status, body) == (400, b'{"error":"invalid_client"}')


def test_code_expires_after_five_minutes(sandbox, ctl):
    back = consent(sandbox.url, choose=[UK])
    ctl.advance(301)
    assert exchange(sandbox.url, back["code"]) == (400, b'{"error":"invalid_grant"}')


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_pkce_without_secret(sandbox, method):
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if method == "S256"
        else verifier
    )
    back = consent(sandbox.url, choose=[UK], code_challenge=challenge, code_challenge_method=method)
    public = {"headers": {}, "client_id": "HALO-DEMO-CLIENT"}
    assert exchange(sandbox.url, back["code"], code_verifier="wrong", **dict(public))[0] == 400
    back = consent(sandbox.url, choose=[UK], code_challenge=challenge, code_challenge_method=method)
    status, body = exchange(sandbox.url, back["code"], code_verifier=verifier, **dict(public))
    assert status == 200 and json.loads(body)["refresh_token"]
    # a PKCE refresh token can be used without a secret
    status, body = http(
        "POST",
        sandbox.url + "/connect/token",
        form={
            "grant_type": "refresh_token",
            "refresh_token": json.loads(body)["refresh_token"],
            "client_id": "HALO-DEMO-CLIENT",
        },
    )[::2]
    assert status == 200


def test_sdk_auto_refresh_rotation_and_grace(sdk, sandbox, ctl):
    first_rt = sdk.token["refresh_token"]
    sdk.token["expires_at"] = time.time() - 1  # the SDK refreshes before the call
    sdk.accounting.get_contacts(UK, page=1)
    assert len(sdk.saved) == 1 and sdk.token["refresh_token"] != first_rt
    assert isinstance(sdk.token["scope"], list)
    # the previous refresh token still works during the 30-minute grace ...
    form = {
        "grant_type": "refresh_token",
        "refresh_token": first_rt,
        "client_id": "HALO-DEMO-CLIENT",
        "client_secret": "halo-demo-secret",
    }
    assert http("POST", sandbox.url + "/connect/token", form=form)[0] == 200
    # ... and not after it
    ctl.advance(1801)
    status, _, body = http("POST", sandbox.url + "/connect/token", form=form)
    assert (status, body) == (400, b'{"error":"invalid_grant"}')
    # the newest one still works (Basic auth this time)
    status, _, _ = http(
        "POST",
        sandbox.url + "/connect/token",
        headers={"Authorization": BASIC},
        form={"grant_type": "refresh_token", "refresh_token": sdk.token["refresh_token"]},
    )
    assert status == 200


def test_invalid_grant_is_typed_by_identity_api_only(sdk, ctl):
    sdk.token.update(refresh_token="not-a-token", expires_at=time.time() - 1)
    with pytest.raises(OAuth2InvalidGrantError) as err:
        sdk.identity.get_connections()
    assert err.value.reason == "Invalid Grant"
    with pytest.raises(AccountingBadRequestException) as err:
        sdk.accounting.get_contacts(UK)
    assert err.value.status == 400


def test_expired_token_missing_and_unknown_tenant(sdk, ctl):
    with pytest.raises(HTTPStatusException) as err:
        sdk.accounting.get_contacts("")
    assert err.value.status == 403
    assert json.loads(err.value.body)["Detail"] == "AuthenticationUnsuccessful"
    with pytest.raises(HTTPStatusException) as err:
        sdk.accounting.get_contacts("00000000-0000-0000-0000-000000000001")
    assert err.value.status == 403 and json.loads(err.value.body)["Title"] == "Forbidden"
    ctl.expire_tokens()
    with pytest.raises(HTTPStatusException) as err:
        sdk.accounting.get_contacts(UK)
    assert err.value.status == 401 and json.loads(err.value.body)["Detail"].startswith("TokenExpired")


def test_clock_expires_access_token_after_1800s(sdk, ctl):
    sdk.accounting.get_items(UK)
    ctl.advance(1801)
    with pytest.raises(HTTPStatusException) as err:
        sdk.accounting.get_items(UK)
    assert err.value.status == 401


def test_delete_connection_and_revocation(sdk, sandbox):
    conns = {c.tenant_id: c.id for c in sdk.identity.get_connections()}
    sdk.identity.delete_connection(conns[NZ])
    assert [c.tenant_id for c in sdk.identity.get_connections()] == [UK]
    with pytest.raises(HTTPStatusException) as err:
        sdk.accounting.get_items(NZ)
    assert err.value.status == 403
    access = sdk.token["access_token"]
    sdk.api_client.revoke_oauth2_token()  # POST /connect/revocation token=<refresh token>
    status, _, _ = http("GET", sandbox.url + "/connections", headers={"Authorization": "Bearer " + access})
    assert status == 401
    assert sandbox.state.counts()["connections"] == 0


def test_client_credentials_custom_connection(sandbox, token_urls):
    clients = SdkClients(sandbox.url, {})
    clients.api_client.get_client_credentials_token()
    assert "refresh_token" not in clients.token and clients.token["access_token"]
    org = clients.accounting.get_organisations("").organisations[0]  # no tenant header needed
    assert org.organisation_id == UK and org.name == "Halo Demo UK Ltd"
    assert [c.tenant_id for c in clients.identity.get_connections()] == [UK]
    with pytest.raises(HTTPStatusException):
        clients.accounting.get_items(NZ)


def test_configuration_singleton_workaround(sandbox, ctl, token_urls):
    """Configuration(...) ignores its arguments after the first call; assigning afterwards works."""
    other = Configuration(oauth2_token=OAuth2Token(client_id="SOMEONE-ELSE"))
    assert getattr(other.oauth2_token, "client_id", None) != "SOMEONE-ELSE"
    good = SdkClients(sandbox.url, token_dict(ctl.grant()))
    bad = SdkClients(sandbox.url, token_dict(ctl.grant()), client_secret="wrong-secret")
    for clients in (good, bad):
        clients.token["expires_at"] = time.time() - 1
    good.accounting.get_items(UK)
    assert good.saved
    with pytest.raises(AccountingBadRequestException):
        bad.accounting.get_items(UK)  # its own (wrong) secret was used: invalid_client
