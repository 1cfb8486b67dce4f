"""OAuth 2.0 of the Google emulator through google-auth-oauthlib's Flow (authorization code +
PKCE) and google-auth's Credentials (refresh, revocation). Only the browser's part, following
the consent screen's redirect, is plain HTTP."""

from __future__ import annotations

import types
from urllib.parse import parse_qs, urlsplit

import google.auth._exponential_backoff as google_backoff
import google_auth_httplib2
import httpx
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from tests.emulators.google_support import (
    ALICE,
    BOB,
    CALENDAR,
    CALENDAR_READONLY,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    calendar_service,
    credentials_for,
)


@pytest.fixture(autouse=True)
def local_http_token_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http:// token URLs unless told the transport is a local one.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def new_flow(base_url: str, scopes: list[str] | None = None) -> Flow:
    return Flow.from_client_config(
        {"web": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                 "auth_uri": f"{base_url}/o/oauth2/v2/auth", "token_uri": f"{base_url}/token",
                 "redirect_uris": [REDIRECT_URI]}},
        scopes=scopes or [CALENDAR], redirect_uri=REDIRECT_URI)


def consent(url: str) -> dict[str, str]:
    """The browser: open the consent screen, read where it redirects to."""
    response = httpx.get(url, follow_redirects=False, trust_env=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_authorization_code_with_pkce_connects_and_calls_the_api(emulator, admin):
    flow = new_flow(emulator.base_url)
    url, state = flow.authorization_url(access_type="offline", prompt="consent",
                                        login_hint=ALICE)
    assert "code_challenge_method=S256" in url
    callback = consent(url)
    assert callback["state"] == state and callback["scope"] == CALENDAR

    flow.fetch_token(code=callback["code"])
    credentials = flow.credentials
    assert credentials.refresh_token and credentials.token

    calendars = calendar_service(emulator, credentials).calendarList().list().execute()
    primary = [c for c in calendars["items"] if c.get("primary")]
    assert [(c["id"], c["accessRole"]) for c in primary] == [(ALICE, "owner")]

    with pytest.raises(InvalidGrantError):  # an authorization code is single use
        new_flow(emulator.base_url).fetch_token(code=callback["code"],
                                                code_verifier=flow.code_verifier)


def test_a_wrong_or_missing_pkce_verifier_is_refused(emulator, admin):
    flow = new_flow(emulator.base_url)
    url, _ = flow.authorization_url(access_type="offline", login_hint=ALICE)
    code = consent(url)["code"]
    flow.code_verifier = "x" * 64
    with pytest.raises(InvalidGrantError, match="Invalid code verifier"):
        flow.fetch_token(code=code)

    flow = new_flow(emulator.base_url)
    url, _ = flow.authorization_url(access_type="offline", login_hint=ALICE)
    code = consent(url)["code"]
    flow.code_verifier = None
    with pytest.raises(InvalidGrantError, match="Missing code verifier"):
        flow.fetch_token(code=code)


def test_consent_screen_refusals(emulator, admin):
    flow = new_flow(emulator.base_url)
    url, state = flow.authorization_url(access_type="offline")
    admin.consent(ALICE, approve=False)
    assert consent(url) == {"error": "access_denied", "state": state}

    wrong_redirect = url.replace("127.0.0.1%3A8103", "evil.example")
    page = httpx.get(wrong_redirect, follow_redirects=False, trust_env=False)
    assert page.status_code == 400 and "redirect_uri_mismatch" in page.text


def test_granular_consent_grants_fewer_scopes(emulator, admin, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")  # else oauthlib raises on fewer scopes
    flow = new_flow(emulator.base_url, [CALENDAR, CALENDAR_READONLY])
    url, _ = flow.authorization_url(access_type="offline")
    admin.consent(BOB, scopes=[CALENDAR_READONLY])
    callback = consent(url)
    assert callback["scope"] == CALENDAR_READONLY
    token = flow.fetch_token(code=callback["code"])
    assert token["scope"] == [CALENDAR_READONLY]

    service = calendar_service(emulator, flow.credentials)
    service.events().list(calendarId="primary").execute()
    with pytest.raises(HttpError) as caught:
        service.events().insert(calendarId="primary", body={
            "start": {"dateTime": "2030-01-07T10:00:00Z"},
            "end": {"dateTime": "2030-01-07T11:00:00Z"}}).execute()
    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "insufficientPermissions"


def test_a_returning_user_gets_no_new_refresh_token_without_prompt_consent(emulator, admin):
    first = new_flow(emulator.base_url)
    first.fetch_token(code=consent(first.authorization_url(access_type="offline",
                                                           login_hint=ALICE)[0])["code"])
    assert first.credentials.refresh_token

    again = new_flow(emulator.base_url)
    token = again.fetch_token(code=consent(again.authorization_url(
        access_type="offline", login_hint=ALICE)[0])["code"])
    assert "refresh_token" not in token

    forced = new_flow(emulator.base_url)
    token = forced.fetch_token(code=consent(forced.authorization_url(
        access_type="offline", prompt="consent", login_hint=ALICE)[0])["code"])
    assert token["refresh_token"] != first.credentials.refresh_token


def test_refresh_after_revocation_raises_invalid_grant(emulator, admin):
    credentials = credentials_for(emulator, admin, ALICE)
    service = calendar_service(emulator, credentials)
    service.calendarList().list().execute()  # refreshed before the first call
    access_token = credentials.token

    revoked = httpx.post(f"{emulator.base_url}/revoke", data={"token": credentials.refresh_token},
                         trust_env=False)
    assert revoked.status_code == 200

    with pytest.raises(RefreshError, match="invalid_grant"):
        credentials.refresh(Request())
    # The access token died with the grant: the API answers 401, the client refreshes, fails.
    stale = Credentials(token=access_token, refresh_token=credentials.refresh_token,
                        token_uri=credentials.token_uri, client_id=CLIENT_ID,
                        client_secret=CLIENT_SECRET)
    with pytest.raises(RefreshError, match="invalid_grant"):
        calendar_service(emulator, stale).calendarList().list().execute()
    again = httpx.post(f"{emulator.base_url}/revoke", data={"token": credentials.refresh_token},
                       trust_env=False)
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"


def test_the_user_removing_access_makes_refresh_fail(emulator, admin):
    credentials = credentials_for(emulator, admin, ALICE)
    calendar_service(emulator, credentials).calendarList().list().execute()
    assert admin.revoke_user(ALICE) == 1
    with pytest.raises(RefreshError, match="invalid_grant"):
        credentials.refresh(Request())


def test_an_expired_access_token_is_refreshed_on_401(emulator, admin):
    credentials = credentials_for(emulator, admin, ALICE)
    service = calendar_service(emulator, credentials)
    service.calendarList().list().execute()
    first_token = credentials.token
    admin.advance_clock(3600)  # the emulator's clock: google-auth still thinks it is valid

    service.calendarList().list().execute()
    calls = admin.requests("calendarList.list")
    assert [c["status"] for c in calls] == [200, 401, 200]
    assert credentials.token != first_token


def test_an_unknown_access_token_is_401_auth_error(emulator, admin):
    credentials = credentials_for(emulator, admin, ALICE)
    credentials.token = "ya29.not-a-token"
    never_refresh = google_auth_httplib2.AuthorizedHttp(credentials, refresh_status_codes=())
    service = build("calendar", "v3", http=never_refresh, static_discovery=True,
                    client_options={"api_endpoint": f"{emulator.base_url}/calendar/v3/"})
    with pytest.raises(HttpError) as caught:
        service.events().list(calendarId="primary").execute()
    assert caught.value.status_code == 401
    assert caught.value.error_details[0]["reason"] == "authError"
    assert caught.value.resp["www-authenticate"].startswith("Bearer")


def test_token_endpoint_faults(emulator, admin, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(google_backoff, "time", types.SimpleNamespace(sleep=sleeps.append))
    credentials = credentials_for(emulator, admin, ALICE)
    admin.add_fault("oauth.token", "503")
    credentials.refresh(Request())  # google-auth retries a 503 from the token endpoint
    assert credentials.valid and len(sleeps) == 1

    admin.add_fault("oauth.token", "invalid_grant")
    with pytest.raises(RefreshError, match="invalid_grant"):
        credentials.refresh(Request())


def test_the_admin_lists_grants_with_their_refresh_tokens(emulator, admin) -> None:
    issued = admin.grant(ALICE, CLIENT_ID, [CALENDAR])
    [grant] = admin.grants(ALICE)
    assert grant["refreshToken"] == issued["refresh_token"] and not grant["revoked"]
    assert admin.grants(BOB) == []
    admin.revoke_user(ALICE)
    assert admin.grants(ALICE)[0]["revoked"] is True
