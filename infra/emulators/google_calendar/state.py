"""The emulator's whole world, in memory: users and their calendars, events with a per-calendar
change number (what sync tokens are made of), OAuth clients, grants and tokens, push channels,
injected faults, an adjustable clock and logs of requests and notifications for tests.

Everything runs on one event loop, so nothing here needs a lock.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import secrets
import string
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from infra.emulators.google_calendar import errors

BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
ROLES = ("freeBusyReader", "reader", "writer", "owner")  # ascending


def role_at_least(role: str | None, minimum: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(minimum)


def new_event_id() -> str:
    """A server-made event id: 26 base32hex characters, like Google's."""
    return "".join(secrets.choice(BASE32HEX) for _ in range(26))


def new_meet_code() -> str:
    """A Meet meeting code, three groups of lowercase letters: aaa-bbbb-ccc."""
    letters = string.ascii_lowercase
    return "-".join("".join(secrets.choice(letters) for _ in range(n)) for n in (3, 4, 3))


@dataclass
class EmulatorConfig:
    """What a test or the operator may tune (POST /_admin/config changes it at run time)."""

    access_token_ttl: int = 3599  # seconds, as Google's expires_in
    code_ttl: int = 600  # seconds an authorization code may be exchanged
    default_channel_ttl: int = 604800  # params.ttl default (providers.md §2.6)
    max_channel_ttl: int = 2592000  # cap on a channel's lifetime (not verified: assumed 30 days)
    require_https_push: bool = False  # Google refuses http addresses; local receivers use http
    push_to_any_host: bool = False  # by default notifications go to loopback addresses only
    push_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)  # after a 5xx or no answer
    push_timeout: float = 5.0
    max_instances: int = 730  # instances of one series expanded when no timeMax bounds it


class Clock:
    """Real UTC time plus an offset that tests advance to expire tokens and channels."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, seconds: float) -> datetime:
        self.offset += timedelta(seconds=seconds)
        return self.now()


@dataclass
class User:
    email: str
    name: str
    time_zone: str
    calendar_ids: list[str] = field(default_factory=list)  # its calendar list, primary first


@dataclass
class StoredEvent:
    resource: dict[str, Any]  # the Event resource as events.get returns it
    seq: int  # the calendar's change number of its last change
    order: int  # creation order, the list's stable default order


@dataclass
class Calendar:
    id: str
    owner: str
    summary: str
    time_zone: str
    description: str = ""
    events: dict[str, StoredEvent] = field(default_factory=dict)
    change_seq: int = 0
    sync_generation: int = 0  # bumped to invalidate every sync token of the calendar
    acl: dict[str, str] = field(default_factory=dict)  # email -> role, the owner included
    resource_id: str = field(default_factory=lambda: secrets.token_urlsafe(20))
    created_count: int = 0

    def next_change(self) -> int:
        self.change_seq += 1
        return self.change_seq

    def role_of(self, email: str) -> str | None:
        return self.acl.get(email)


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class Grant:
    """One consent of one user to one client: its refresh token and scopes."""

    id: str
    user: str
    client_id: str
    scopes: frozenset[str]
    refresh_token: str | None
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    grant_id: str
    scopes: frozenset[str]
    expires_at: datetime


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    user: str
    scopes: frozenset[str]
    code_challenge: str | None
    code_challenge_method: str | None
    offline: bool
    force_consent: bool
    expires_at: datetime
    used: bool = False


@dataclass
class Consent:
    """What the emulated user answers on the next consent screen."""

    email: str
    approve: bool = True
    scopes: list[str] | None = None  # grant only these (granular consent); None: all asked


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    user: str
    address: str
    token: str | None
    expiration: datetime
    message_number: int = 0
    stopped: bool = False


@dataclass
class SyncCursor:
    calendar_id: str
    seq: int
    generation: int


@dataclass
class PageCursor:
    calendar_id: str
    remaining: list[dict[str, Any]]
    sync_cursor: SyncCursor


@dataclass
class Fault:
    operation: str  # an operation name or a pattern: "events.list", "events.*", "*", "oauth.token"
    kind: str
    remaining: int
    status: int | None = None  # kind "custom"
    reason: str | None = None
    message: str | None = None
    domain: str = "global"

    def api_error(self) -> errors.ApiError:
        kind = self.kind
        if kind == "rateLimitExceeded":
            return errors.rate_limit_exceeded(403)
        if kind == "userRateLimitExceeded":
            return errors.user_rate_limit_exceeded()
        if kind in ("429", "tooManyRequests"):
            return errors.rate_limit_exceeded(429)
        if kind in ("500", "503", "backendError"):
            return errors.backend_error(500 if kind == "backendError" else int(kind))
        if kind in ("401", "authError"):
            return errors.auth_error()
        if kind == "fullSyncRequired":
            return errors.full_sync_required()
        if kind == "custom":
            return errors.ApiError(self.status or 400, self.reason or "badRequest",
                                   self.message or "Bad Request", domain=self.domain)
        raise ValueError(f"unknown fault kind {kind!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "kind": self.kind, "remaining": self.remaining}


FAULT_KINDS = ("rateLimitExceeded", "userRateLimitExceeded", "429", "tooManyRequests", "500",
               "503", "backendError", "401", "authError", "fullSyncRequired", "emptyPage",
               "custom", "invalid_grant")


class Faults:
    """Faults for the next N calls of an operation, taken in the order they were added."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; known: {', '.join(FAULT_KINDS)}")
        self.pending.append(fault)

    def take(self, operation: str, kinds: tuple[str, ...] | None = None,
             exclude: tuple[str, ...] = ()) -> Fault | None:
        for fault in self.pending:
            if not fnmatch.fnmatchcase(operation, fault.operation):
                continue
            if (kinds is not None and fault.kind not in kinds) or fault.kind in exclude:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.pending.remove(fault)
            return fault
        return None


class EmulatorState:
    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.initial_config = config or EmulatorConfig()
        self.clock = Clock()
        self.reset()

    def reset(self) -> None:
        """Back to an empty world with the configuration the emulator started with."""
        self.config = dataclasses.replace(self.initial_config)
        self.clock.offset = timedelta()
        self.users: dict[str, User] = {}
        self.calendars: dict[str, Calendar] = {}
        self.clients: dict[str, OAuthClient] = {}
        self.grants: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> grant id
        self.access_tokens: dict[str, AccessToken] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.consents: deque[Consent] = deque()
        self.channels: dict[str, Channel] = {}
        self.sync_tokens: dict[str, SyncCursor] = {}
        self.page_tokens: dict[str, PageCursor] = {}
        self.faults = Faults()
        self.requests: deque[dict[str, Any]] = deque(maxlen=10000)
        self.notifications: list[dict[str, Any]] = []
        self._etag = 0

    def now(self) -> datetime:
        return self.clock.now()

    def new_etag(self) -> str:
        """A quoted, strictly increasing etag like Google's ("3181161784712000")."""
        micros = int(self.now().timestamp() * 1_000_000)
        self._etag = max(self._etag + 1, micros)
        return f'"{self._etag}"'

    # --- users and calendars -------------------------------------------------------------

    def add_user(self, email: str, name: str = "", time_zone: str = "UTC") -> User:
        if email in self.users:
            raise ValueError(f"user {email} exists")
        user = User(email=email, name=name or email.split("@")[0], time_zone=time_zone)
        self.users[email] = user
        # Google's primary calendar id is the account's email address.
        self.add_calendar(email, summary=email, time_zone=time_zone, calendar_id=email)
        return user

    def add_calendar(self, owner: str, summary: str, time_zone: str | None = None,
                     calendar_id: str | None = None, description: str = "") -> Calendar:
        user = self.users[owner]
        calendar_id = calendar_id or f"{secrets.token_hex(16)}@group.calendar.google.com"
        if calendar_id in self.calendars:
            raise ValueError(f"calendar {calendar_id} exists")
        calendar = Calendar(id=calendar_id, owner=owner, summary=summary,
                            time_zone=time_zone or user.time_zone, description=description,
                            acl={owner: "owner"})
        self.calendars[calendar_id] = calendar
        user.calendar_ids.append(calendar_id)
        return calendar

    def share_calendar(self, calendar_id: str, email: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        calendar = self.calendars[calendar_id]
        calendar.acl[email] = role
        user = self.users[email]
        if calendar_id not in user.calendar_ids:
            user.calendar_ids.append(calendar_id)

    def remove_calendar(self, calendar_id: str) -> Calendar:
        calendar = self.calendars.pop(calendar_id)
        for user in self.users.values():
            if calendar_id in user.calendar_ids:
                user.calendar_ids.remove(calendar_id)
        return calendar

    def primary_of(self, email: str) -> Calendar:
        return self.calendars[email]

    # --- OAuth -----------------------------------------------------------------------------

    def issue_grant(self, user: str, client_id: str, scopes: frozenset[str],
                    offline: bool) -> Grant:
        grant = Grant(id=secrets.token_hex(8), user=user, client_id=client_id, scopes=scopes,
                      refresh_token=f"1//emu-{secrets.token_urlsafe(32)}" if offline else None)
        self.grants[grant.id] = grant
        if grant.refresh_token:
            self.refresh_tokens[grant.refresh_token] = grant.id
        return grant

    def issue_access_token(self, grant: Grant, scopes: frozenset[str] | None = None) -> AccessToken:
        token = AccessToken(token=f"ya29.emu-{secrets.token_urlsafe(32)}", grant_id=grant.id,
                            scopes=scopes or grant.scopes,
                            expires_at=self.now() + timedelta(seconds=self.config.access_token_ttl))
        self.access_tokens[token.token] = token
        return token

    def live_grant(self, grant_id: str) -> Grant | None:
        grant = self.grants.get(grant_id)
        return grant if grant is not None and not grant.revoked else None

    def revoke(self, user: str, client_id: str | None = None) -> int:
        """Revoke every grant of `user` (to `client_id` only, if given), as when the user removes
        the app's access; their refresh and access tokens stop working at once."""
        revoked = 0
        for grant in self.grants.values():
            if grant.user == user and not grant.revoked and client_id in (None, grant.client_id):
                grant.revoked = True
                revoked += 1
        return revoked
