"""Settings of the calendar-sync service: CONVENE_* environment variables (see convene_kit),
and the one environment switch a library needs (:func:`allow_plain_http_oauth_to_loopback`)."""

import os
from urllib.parse import urlsplit

from convene_kit.settings import ServiceSettings
from pydantic import Field, SecretStr


class CalendarSyncSettings(ServiceSettings):
    """calendar-sync's settings; everything else comes from the shared base."""

    service_name: str = "calendar-sync"
    http_port: int = 8103

    # Credentials at rest (AES-256-GCM, convene_kit.secret_box): "id:key,id:key", the first
    # is current; older ones still decrypt. Empty: a key made for this process only, so
    # stored credentials do not survive a restart (make run and tests set one).
    credentials_encryption_key: SecretStr = Field(
        default=SecretStr(""),
        description="Keyring for credentials at rest: 'kid:base64url-32-bytes,...', the "
        "first encrypts; `convene-calendar-sync keys generate` makes one.")

    # Egress to user-supplied URLs (CalDAV): private, loopback, link-local, metadata
    # addresses are refused unless this is on (local development and tests only).
    allow_private_urls: bool = False
    provider_timeout_s: float = 15.0

    # Google Calendar (an OAuth client of the operator's Google Cloud project).
    google_client_id: str = ""
    google_client_secret: SecretStr = SecretStr("")
    google_redirect_uri: str = "http://127.0.0.1:8103/connections/google/callback"
    google_auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    google_revoke_uri: str = "https://oauth2.googleapis.com/revoke"
    google_userinfo_uri: str = "https://openidconnect.googleapis.com/v1/userinfo"
    google_api_endpoint: str = "https://www.googleapis.com/calendar/v3/"
    # Where Google POSTs push notifications (events.watch); empty: no push channels, the
    # poll alone keeps calendars in sync.
    google_push_address: str = ""
    google_channel_ttl_s: int = 7 * 24 * 3600
    google_channel_renew_before_s: int = 24 * 3600

    oauth_state_ttl_s: int = 600
    sync_interval_s: float = Field(
        default=300.0, description="How often each calendar is polled (the safety net "
        "beside push channels; CalDAV has only this).")
    sync_retry_s: float = 60.0
    sync_lease_s: float = 120.0
    sync_window_past_days: int = 7
    sync_window_future_days: int = 185
    timer_interval_s: float = 1.0
    availability_max_days: int = 92

    # Services allowed to read availability without a user's token (booking-pages for
    # public pages): "name:token,..." (convene_kit.service_tokens). Empty: the internal
    # availability route refuses every call.
    internal_api_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Service tokens accepted by /internal/...: 'name:token,...'.")


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def allow_plain_http_oauth_to_loopback(*uris: str) -> bool:
    """Let oauthlib talk OAuth over plain http to a loopback host (the Google emulator of
    the tests and `make run`); True if it was allowed.

    oauthlib refuses http:// endpoints unless OAUTHLIB_INSECURE_TRANSPORT is set, and reads
    that variable on every call (it has no per-client switch). It is set only when one of
    ``uris`` is plain http on a loopback host, and never unset: a set-then-restore pair
    would race between worker threads, and a process configured with loopback endpoints
    talks OAuth to nothing else. A plain-http endpoint anywhere else stays refused."""
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
            os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
            return True
    return False
