"""Connecting a Google account: OAuth 2.0 authorization code with PKCE (S256) through
google-auth-oauthlib's ``Flow``, the refresh-token credentials every adapter call uses, and
revocation on disconnect.

The service fills a :class:`GoogleConfig` from its settings; the defaults are Google's
production endpoints, :meth:`GoogleConfig.at` points everything at one base URL (the Google
Calendar emulator in ``infra/emulators/google_calendar``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient

from convene_calendar_sync.providers.base import ProviderError, ProviderUnavailable

log = logging.getLogger(__name__)

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
USERINFO_EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
# Full scope URIs: Google answers "email" with the userinfo.email URI, which oauthlib would
# report as a changed scope.
DEFAULT_SCOPES = (CALENDAR_SCOPE, "openid", USERINFO_EMAIL_SCOPE)
_EMAIL_SCOPES = (USERINFO_EMAIL_SCOPE, "email")
_HTTP_TIMEOUT_S = 30


@dataclass(frozen=True)
class GoogleConfig:
    """The OAuth client and the endpoints calendar-sync talks to."""

    client_id: str
    client_secret: str
    redirect_uri: str
    auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    token_uri: str = "https://oauth2.googleapis.com/token"
    revoke_uri: str = "https://oauth2.googleapis.com/revoke"
    userinfo_uri: str = "https://www.googleapis.com/oauth2/v3/userinfo"
    api_endpoint: str = "https://www.googleapis.com/calendar/v3/"  # keep the trailing slash
    scopes: tuple[str, ...] = DEFAULT_SCOPES

    @classmethod
    def at(cls, base_url: str, *, client_id: str, client_secret: str, redirect_uri: str,
           scopes: tuple[str, ...] = DEFAULT_SCOPES) -> GoogleConfig:
        """Every endpoint under one base URL, with the paths the emulator serves."""
        base = base_url.rstrip("/")
        return cls(client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri,
                   auth_uri=f"{base}/o/oauth2/v2/auth", token_uri=f"{base}/token",
                   revoke_uri=f"{base}/revoke", userinfo_uri=f"{base}/oauth2/v3/userinfo",
                   api_endpoint=f"{base}/calendar/v3/", scopes=scopes)

    @property
    def calendar_scopes(self) -> tuple[str, ...]:
        """The configured Calendar API scopes: a grant without one of them is refused."""
        return tuple(s for s in self.scopes if s.startswith(CALENDAR_SCOPE))


@dataclass(frozen=True)
class GoogleGrant:
    """What connecting an account yields; ``refresh_token`` is the credential to store
    (encrypted)."""

    refresh_token: str
    scopes: tuple[str, ...]
    account_email: str

    def __repr__(self) -> str:  # a grant may end up in a log line: never its token
        return f"GoogleGrant(account_email={self.account_email!r}, scopes={self.scopes!r})"


class OAuthExchangeFailed(ProviderError):
    """Google refused the authorization code (expired, used, wrong PKCE verifier, ...)."""

    code = "oauth_exchange_failed"

    def __init__(self, message: str, *, error: str = "unknown") -> None:
        super().__init__(message)
        self.error = error  # the OAuth error code, e.g. "invalid_grant"


class NoRefreshToken(OAuthExchangeFailed):
    """The grant came without a refresh token (no offline access): nothing to sync with."""

    code = "oauth_no_refresh_token"


class CalendarScopeNotGranted(OAuthExchangeFailed):
    """The user unticked the calendar permission on Google's consent screen."""

    code = "oauth_calendar_scope_missing"


def new_code_verifier() -> str:
    """A PKCE code verifier (86 unreserved characters, RFC 7636 allows 43-128)."""
    return secrets.token_urlsafe(64)


def authorization_url(config: GoogleConfig, state: str, code_verifier: str, *,
                      login_hint: str | None = None) -> str:
    """Where to send the user's browser: Google's consent screen asking for offline access
    (a refresh token) with a PKCE S256 challenge of ``code_verifier``."""
    extra = {"login_hint": login_hint} if login_hint else {}
    url, _ = _flow(config, code_verifier).authorization_url(
        state=state, access_type="offline", prompt="consent", include_granted_scopes="true",
        **extra)
    return url


async def exchange_code(config: GoogleConfig, code: str, code_verifier: str) -> GoogleGrant:
    """Trade the code from the consent redirect for a refresh token, check the grant and find
    the account's email address."""
    return await asyncio.to_thread(_exchange_code, config, code, code_verifier)


async def revoke(config: GoogleConfig, refresh_token: str) -> None:
    """Revoke the grant (disconnecting). Best effort: a failure is logged, never raised."""
    await asyncio.to_thread(_revoke, config, refresh_token)


def credentials(config: GoogleConfig, refresh_token: str, access_token: str | None = None
                ) -> Credentials:
    """Refresh-token credentials: google-auth fetches an access token before the first call
    and again when it expires or the API answers 401. No ``scopes``: a refresh then gets
    whatever the user granted (asking for a scope they unticked would fail)."""
    return Credentials(token=access_token, refresh_token=refresh_token,
                       token_uri=config.token_uri, client_id=config.client_id,
                       client_secret=config.client_secret)


def calendar_service(config: GoogleConfig, creds: Credentials) -> Any:
    """The Calendar v3 client from the discovery document packaged with the library (no
    network), pointed at ``config.api_endpoint``."""
    return build("calendar", "v3", credentials=creds, static_discovery=True,
                 cache_discovery=False, client_options={"api_endpoint": config.api_endpoint})


# --- the blocking halves (worker threads) ----------------------------------------------------


def _flow(config: GoogleConfig, code_verifier: str) -> Flow:
    client = {"web": {"client_id": config.client_id, "client_secret": config.client_secret,
                      "auth_uri": config.auth_uri, "token_uri": config.token_uri,
                      "redirect_uris": [config.redirect_uri]}}
    return Flow.from_client_config(client, scopes=list(config.scopes),
                                   redirect_uri=config.redirect_uri, code_verifier=code_verifier,
                                   autogenerate_code_verifier=False)


def _exchange_code(config: GoogleConfig, code: str, code_verifier: str) -> GoogleGrant:
    flow = _flow(config, code_verifier)
    try:
        token: dict[str, Any] = dict(flow.fetch_token(code=code, timeout=_HTTP_TIMEOUT_S))
    except Warning as changed:
        # oauthlib raises the token as a Warning when the granted scopes differ from the asked
        # ones (granular consent, include_granted_scopes); the scopes are checked below.
        token = dict(changed.token)  # type: ignore[attr-defined]
    except OAuth2Error as exc:
        raise OAuthExchangeFailed(f"Google refused the authorization code ({exc.error})",
                                  error=exc.error) from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"Google's token endpoint is unreachable "
                                  f"({type(exc).__name__})") from None
    scope = token.get("scope") or []
    scopes = tuple(scope.split() if isinstance(scope, str) else scope)
    missing = [s for s in config.calendar_scopes if s not in scopes]
    if missing:
        raise CalendarScopeNotGranted("The calendar permission was not granted",
                                      error="calendar_scope_missing")
    refresh_token = token.get("refresh_token")
    if not refresh_token:
        raise NoRefreshToken("Google granted no refresh token (no offline access)",
                             error="no_refresh_token")
    creds = credentials(config, refresh_token, token.get("access_token"))
    return GoogleGrant(refresh_token=refresh_token, scopes=scopes,
                       account_email=_account_email(config, creds, scopes))


def _account_email(config: GoogleConfig, creds: Credentials, scopes: tuple[str, ...]) -> str:
    """From the userinfo endpoint when the email scope was granted, else the primary
    calendar's id (which is the account's address)."""
    try:
        if any(s in scopes for s in _EMAIL_SCOPES):
            response = AuthorizedSession(creds).get(config.userinfo_uri, timeout=_HTTP_TIMEOUT_S)
            if response.status_code == 200 and response.json().get("email"):
                return str(response.json()["email"]).lower()
            log.warning("Google userinfo answered %s; using the primary calendar's id",
                        response.status_code)
        service = calendar_service(config, creds)
        try:
            primary = service.calendars().get(calendarId="primary").execute(num_retries=2)
        finally:
            service.close()
        return str(primary["id"]).lower()
    except Exception as exc:  # any failure here leaves the grant unusable: say so, tokenless
        raise OAuthExchangeFailed(f"Could not read the account's email address "
                                  f"({type(exc).__name__})", error="account_email") from None


def _revoke(config: GoogleConfig, refresh_token: str) -> None:
    try:
        url, headers, body = WebApplicationClient(config.client_id).prepare_token_revocation_request(
            config.revoke_uri, refresh_token, token_type_hint="refresh_token")
        response = requests.post(url, data=body, headers=headers, timeout=_HTTP_TIMEOUT_S)
    except Exception as exc:  # best effort; the message names the failure, not the token
        log.warning("Revoking a Google grant failed: %s", type(exc).__name__)
        return
    if response.status_code != 200:
        try:
            error = response.json().get("error", "")
        except ValueError:
            error = ""
        log.warning("Google refused to revoke a grant: %s %s", response.status_code, error)
