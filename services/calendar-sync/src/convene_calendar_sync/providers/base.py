"""The interface every provider adapter implements, and the errors adapters raise.

An adapter is built per connection with that connection's (decrypted) credentials; it holds
no state the service relies on between calls. All methods are coroutines; an adapter whose
client library is synchronous runs it in a worker thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from convene_calendar_sync.domain.calendar_events import (
    ChangePage,
    OutboundEvent,
    ProviderCalendar,
    WrittenEvent,
)
from convene_calendar_sync.domain.tasks import TaskEvent


class ProviderError(Exception):
    """Base of adapter errors. ``code`` is machine-readable; the message never holds a
    credential."""

    code = "provider_error"


class AccessDenied(ProviderError):
    """The credentials no longer work: revoked or expired refresh token (Google
    ``invalid_grant``), 401/403 on a call, a changed CalDAV password (R30)."""

    code = "access_denied"

    def __init__(self, message: str, *, reason: str = "token_revoked") -> None:
        super().__init__(message)
        self.reason = reason  # an AccessLossReason of the contract


class NotACalendarServer(ProviderError):
    """The URL answers, but not as a CalDAV server (connect time)."""

    code = "not_caldav"


class UrlRefused(ProviderError):
    """The URL points at an address the egress policy refuses (SSRF guard)."""

    code = "url_refused"


class CalendarGone(ProviderError):
    """The calendar was deleted or is no longer shared with the account."""

    code = "calendar_gone"


class CursorExpired(ProviderError):
    """The provider dropped the sync cursor (Google 410 Gone, CalDAV invalid sync-token):
    the caller starts a full listing."""

    code = "cursor_expired"


class ProviderUnavailable(ProviderError):
    """A temporary failure (5xx, 429, rate limit, timeout, connection refused): retry later;
    never a reason to mark the calendar inactive."""

    code = "provider_unavailable"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CalendarAdapter(Protocol):
    """What calendar-sync needs from a provider (part 2 adds Microsoft 365, EWS)."""

    provider: str  # a CalendarProvider of the contract: "google", "caldav", ...

    async def account_email(self) -> str:
        """The connected account's email address."""
        ...

    async def list_calendars(self) -> list[ProviderCalendar]:
        """Every calendar the account can see, the primary first."""
        ...

    async def upsert_event(self, calendar_id: str, event: OutboundEvent) -> WrittenEvent:
        """Create or replace the meeting's event (addressed by a name derived from the
        meeting, see :class:`OutboundEvent`), never sending provider invitations.
        Idempotent: repeating it leaves one event. Ordering is the caller's: it writes a
        meeting version only when it is newer than the one it last wrote."""
        ...

    async def delete_event(self, calendar_id: str, event: OutboundEvent) -> None:
        """Delete the meeting's event; an event already gone is fine."""
        ...

    async def ensure_task_calendar(self, key: str, name: str) -> str:
        """The sub-calendar for the connection's tasks (R33), made if it does not exist;
        ``key`` (stable per connection) finds one made before, so a crash between making it
        and remembering its id never makes a second. It is never in
        :meth:`list_calendars`."""
        ...

    async def delete_calendar(self, calendar_id: str) -> None:
        """Delete a sub-calendar Convene made, with its events; one already gone is fine."""
        ...

    async def upsert_task_event(self, calendar_id: str, event: TaskEvent) -> str:
        """Create or replace a task's event (addressed by a name derived from the task id,
        idempotent like :meth:`upsert_event`); returns the provider event id."""
        ...

    async def delete_task_event(self, calendar_id: str, task_id: str) -> None:
        """Delete a task's event; one already gone is fine."""
        ...

    async def changes(self, calendar_id: str, cursor: str | None, *,
                      window_start: datetime, window_end: datetime) -> ChangePage:
        """One page of changes since ``cursor`` (None: a full listing). Occurrences are
        expanded within the window. Raises CursorExpired when the cursor is no longer
        valid."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
