"""Building a provider adapter for a connection: the one place that opens sealed
credentials (and only to hand them to the adapter, never to a log or an answer).

Tests replace :class:`AdapterFactory` with one returning fakes (``bootstrap(adapters=...)``).
"""

from __future__ import annotations

import logging
from typing import Any

from convene_kit.egress import EgressPolicy, Resolver
from convene_kit.secret_box import SecretBox, SecretBoxError

from convene_calendar_sync.domain.connection import Connection
from convene_calendar_sync.providers import google
from convene_calendar_sync.providers.base import AccessDenied, CalendarAdapter
from convene_calendar_sync.providers.google import GoogleCalendarAdapter, GoogleConfig
from convene_calendar_sync.providers.metered import MeteredAdapter
from convene_calendar_sync.settings import CalendarSyncSettings

logger = logging.getLogger(__name__)


def credential_context(account_id: str, connection_id: str) -> str:
    """The associated data a connection's sealed credential is bound to: a ciphertext
    copied into another document does not open there."""
    return f"calendar-sync:credential:{account_id}:{connection_id}"


def google_config(settings: CalendarSyncSettings) -> GoogleConfig:
    """The Google OAuth client and endpoints from settings."""
    return GoogleConfig(
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret.get_secret_value(),
        redirect_uri=settings.google_redirect_uri, auth_uri=settings.google_auth_uri,
        token_uri=settings.google_token_uri, revoke_uri=settings.google_revoke_uri,
        userinfo_uri=settings.google_userinfo_uri, api_endpoint=settings.google_api_endpoint)


class AdapterFactory:
    """Adapters for new connections (credentials as typed) and stored ones (sealed)."""

    def __init__(self, settings: CalendarSyncSettings, box: SecretBox) -> None:
        self.settings = settings
        self.box = box
        self.policy = EgressPolicy(allow_private=settings.allow_private_urls)
        self.resolver: Resolver | None = None  # the system's (tests resolve their own names)
        self.google = google_config(settings)

    def google_authorization_url(self, state: str, code_verifier: str) -> str:
        """Where the user's browser goes to grant access (authorization code + PKCE)."""
        return google.authorization_url(self.google, state, code_verifier)

    async def exchange_google_code(self, code: str, code_verifier: str) -> google.GoogleGrant:
        """The refresh token and account of an authorization code (ProviderError else)."""
        return await google.exchange_code(self.google, code, code_verifier)

    async def revoke_google(self, refresh_token: str) -> None:
        """Revoke a Google grant (best effort: a failure is logged, never raised)."""
        await google.revoke(self.google, refresh_token)

    def caldav(self, url: str, username: str, password: str) -> CalendarAdapter:
        from convene_calendar_sync.providers.caldav import CalDavAdapter  # the caldav library

        return MeteredAdapter(CalDavAdapter(
            url, username, password, policy=self.policy,
            timeout_s=self.settings.provider_timeout_s, resolver=self.resolver))

    def google_adapter(self, refresh_token: str, account_email: str | None = None
                       ) -> CalendarAdapter:
        return MeteredAdapter(GoogleCalendarAdapter(
            self.google, refresh_token, account_email=account_email))

    def for_connection(self, connection: Connection,
                       credential: dict[str, Any] | None) -> CalendarAdapter:
        """The adapter of a stored connection; AccessDenied when its credential is gone."""
        if credential is None:
            raise AccessDenied("the connection has no stored credential",
                               reason="token_revoked")
        try:
            secret = self.box.open(credential["sealed"],
                                   context=credential_context(connection.account_id,
                                                              connection.connection_id))
        except SecretBoxError as exc:  # a key removed from the keyring too early, say
            logger.error("the credential of %s cannot be opened (%s): the user must reconnect",
                         connection.connection_id, type(exc).__name__)
            raise AccessDenied("the stored credential cannot be opened", reason=(
                "token_revoked" if connection.provider == "google" else "password_changed"
            )) from exc
        if connection.provider == "google":
            return self.google_adapter(secret, connection.account_email)
        return self.caldav(connection.server_url or "", credential.get("login") or "", secret)
