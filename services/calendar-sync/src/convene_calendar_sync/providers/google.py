"""Google Calendar v3 through google-api-python-client (synchronous: every call runs in a
worker thread, one at a time per adapter, since httplib2 connections are not thread-safe).

* Writes address the meeting's event by an id derived from the meeting id
  (:func:`google_event_id`), never send Google's invitations (``sendUpdates=none``: Convene
  sends its own) and mark the event ``extendedProperties.private.conveneMeetingId``.
* Sync is ``events.list`` with ``singleEvents`` (Google expands series into instances) and
  ``showDeleted``; the cursor is explained at :func:`_encode_cursor`.
* Errors are mapped to :mod:`.base`'s (:func:`_provider_error`); no message holds a token.

OAuth (connecting, revoking) lives in :mod:`.google_oauth`.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Protocol

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from convene_calendar_sync.domain.calendar_events import (
    ChangePage,
    OutboundEvent,
    ProviderCalendar,
    WrittenEvent,
)
from convene_calendar_sync.domain.tasks import TaskEvent
from convene_calendar_sync.providers.base import (
    AccessDenied,
    CalendarGone,
    CursorExpired,
    ProviderError,
    ProviderUnavailable,
)
from convene_calendar_sync.providers.google_oauth import (
    GoogleConfig,
    GoogleGrant,
    authorization_url,
    calendar_service,
    credentials,
    exchange_code,
    new_code_verifier,
    revoke,
)
from convene_calendar_sync.providers.google_wire import (
    TASK_CALENDAR_MARKER,
    calendar_of,
    event_body,
    is_task_calendar,
    join_url,
    new_conference,
    remote_event,
    rfc3339,
    task_body,
    task_calendar_body,
    zone_of,
)

__all__ = ["GoogleCalendarAdapter", "GoogleConfig", "GoogleGrant", "GooglePushChannels",
           "EventConflict", "GoogleRequestRejected", "authorization_url", "exchange_code",
           "google_event_id", "google_task_event_id", "new_code_verifier", "revoke"]

RATE_LIMIT_REASONS = ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded",
                      "dailyLimitExceeded")
UTC = timezone.utc


class GoogleRequestRejected(ProviderError):
    """Google refused a request for a reason that retrying will not fix (a 400)."""

    code = "request_rejected"

    def __init__(self, message: str, *, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class EventConflict(ProviderError):
    """The meeting's iCalUID belongs to another event of the calendar (not ours)."""

    code = "event_conflict"


class GooglePushChannels(Protocol):
    """Push notifications of a calendar's changes (Google only; Graph has subscriptions)."""

    async def watch(self, calendar_id: str, channel_id: str, address: str, token: str,
                    ttl_s: int) -> tuple[str, datetime]:
        """Open a channel; returns Google's resource id and the channel's expiration."""
        ...

    async def stop_channel(self, channel_id: str, resource_id: str) -> None:
        """Close a channel; one already stopped or expired is fine."""
        ...


def google_task_event_id(task_id: str) -> str:
    """A task's event id in its tasks calendar, like :func:`google_event_id` (another
    namespace: a task never shares an id with a meeting)."""
    digest = hashlib.sha256(f"convene-task:{task_id}".encode()).digest()[:20]
    return base64.b32hexencode(digest).decode("ascii").lower()


def google_event_id(meeting_id: str) -> str:
    """The meeting's event id in every Google calendar: base32hex (``0-9a-v``, as Google
    allows) of a SHA-256 prefix of the meeting id, 32 characters, stable."""
    digest = hashlib.sha256(f"convene-meeting:{meeting_id}".encode()).digest()[:20]
    return base64.b32hexencode(digest).decode("ascii").lower()


class GoogleCalendarAdapter:
    """One connected Google account (:class:`~.base.CalendarAdapter` and
    :class:`GooglePushChannels`)."""

    provider = "google"

    def __init__(self, config: GoogleConfig, refresh_token: str, *,
                 account_email: str | None = None, num_retries: int = 2,
                 page_size: int = 250) -> None:
        self._config = config
        self._credentials = credentials(config, refresh_token)
        self._account_email = account_email
        self._num_retries = num_retries  # googleapiclient's own retries of 5xx, 429, rate limits
        self._page_size = page_size
        self._service: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GoogleCalendarAdapter(account_email={self._account_email!r})"

    # --- calling Google ------------------------------------------------------------------

    async def _call(self, request: Callable[[Any], Any]) -> Any:
        """Build a request from the service and execute it in a worker thread."""
        return await asyncio.to_thread(self._execute, request)

    def _execute(self, request: Callable[[Any], Any]) -> Any:
        with self._lock:
            if self._service is None:
                self._service = calendar_service(self._config, self._credentials)
            return request(self._service).execute(num_retries=self._num_retries)

    async def close(self) -> None:
        def close() -> None:
            with self._lock:
                if self._service is not None:
                    self._service.close()
                    self._service = None

        await asyncio.to_thread(close)

    # --- the account -----------------------------------------------------------------------

    async def account_email(self) -> str:
        if self._account_email is None:
            with _provider_errors():
                primary = await self._call(lambda s: s.calendars().get(calendarId="primary"))
            self._account_email = str(primary["id"]).lower()
        return self._account_email

    async def list_calendars(self) -> list[ProviderCalendar]:
        """Every calendar the account lists but the tasks sub-calendars Convene made."""
        calendars = [calendar_of(entry) for entry in await self._calendar_entries()
                     if not is_task_calendar(entry)]
        return sorted(calendars, key=lambda c: not c.primary)  # stable: Google's order otherwise

    async def _calendar_entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        page_token: str | None = None
        with _provider_errors():
            while True:
                answer = await self._call(functools.partial(
                    _calendar_list_page, page_token=page_token, size=min(self._page_size, 250)))
                entries.extend(answer.get("items", []))
                page_token = answer.get("nextPageToken")
                if not page_token:
                    break
        return entries

    # --- tasks (R33) -------------------------------------------------------------------------

    async def ensure_task_calendar(self, key: str, name: str) -> str:
        """calendars.insert makes a secondary calendar with an id of Google's choosing, so a
        calendar made before (a crash before its id was remembered) is found by the key in
        its description first."""
        marker = f"{TASK_CALENDAR_MARKER}{key}"
        for entry in await self._calendar_entries():
            if marker in str(entry.get("description") or "") and entry.get(
                    "accessRole") == "owner":
                return str(entry["id"])
        with _provider_errors():
            made = await self._call(lambda s: s.calendars().insert(
                body=task_calendar_body(key, name)))
        return str(made["id"])

    async def delete_calendar(self, calendar_id: str) -> None:
        with _provider_errors():
            try:
                await self._call(lambda s: s.calendars().delete(calendarId=calendar_id))
            except HttpError as exc:
                if exc.status_code not in (404, 410):  # gone already
                    raise

    async def upsert_task_event(self, calendar_id: str, event: TaskEvent) -> str:
        event_id = google_task_event_id(event.task_id)
        body = task_body(event)
        with _provider_errors():
            try:
                await self._call(lambda s: s.events().insert(
                    calendarId=calendar_id, sendUpdates="none", body={**body, "id": event_id}))
            except HttpError as exc:
                if exc.status_code != 409:
                    raise
                # written before (a later version, a retry, or deleted by the user): replace
                # it; an update also restores a deleted event
                await self._call(lambda s: s.events().update(
                    calendarId=calendar_id, eventId=event_id, sendUpdates="none", body=body))
        return event_id

    async def delete_task_event(self, calendar_id: str, task_id: str) -> None:
        with _provider_errors():
            try:
                await self._call(lambda s: s.events().delete(
                    calendarId=calendar_id, eventId=google_task_event_id(task_id),
                    sendUpdates="none"))
            except HttpError as exc:
                if exc.status_code not in (404, 410):
                    raise

    # --- writing meetings ------------------------------------------------------------------

    async def upsert_event(self, calendar_id: str, event: OutboundEvent) -> WrittenEvent:
        event_id = google_event_id(event.meeting_id)
        body = event_body(event)
        with _provider_errors():
            try:
                written = await self._call(lambda s: s.events().insert(
                    calendarId=calendar_id, sendUpdates="none", conferenceDataVersion=1,
                    body={**body, "id": event_id, "iCalUID": event.ical_uid,
                          **new_conference(event, event_id)}))
            except HttpError as exc:
                if exc.status_code != 409:
                    raise
                written = await self._replace(calendar_id, event_id, event, body)
        return WrittenEvent(provider_event_id=event_id, join_url=join_url(written))

    async def _replace(self, calendar_id: str, event_id: str, event: OutboundEvent,
                       body: dict[str, Any]) -> dict[str, Any]:
        """The event exists (a later version, a retry, or deleted in Google Calendar): replace
        it; an update also restores a deleted (cancelled) event."""
        try:
            existing = await self._call(lambda s: s.events().get(calendarId=calendar_id,
                                                                 eventId=event_id))
        except HttpError as exc:
            if exc.status_code != 404:
                raise
            raise EventConflict("Another event of the calendar has the meeting's iCalUID") from None
        body = dict(body)
        # Google refuses a sequence below the event's, which its own edits may have raised.
        body["sequence"] = max(event.sequence, int(existing.get("sequence", 0)))
        conference = existing.get("conferenceData") or {}
        if event.want_google_meet and conference.get("conferenceSolution", {}).get(
                "key", {}).get("type") == "hangoutsMeet":
            body["conferenceData"] = conference  # keep the Meet link invitations already carry
        else:
            body.update(new_conference(event, event_id))
        return await self._call(lambda s: s.events().update(
            calendarId=calendar_id, eventId=event_id, sendUpdates="none",
            conferenceDataVersion=1, body=body))

    async def delete_event(self, calendar_id: str, event: OutboundEvent) -> None:
        event_id = google_event_id(event.meeting_id)
        with _provider_errors():
            try:
                await self._call(lambda s: s.events().delete(
                    calendarId=calendar_id, eventId=event_id, sendUpdates="none"))
            except HttpError as exc:
                if exc.status_code not in (404, 410):  # 410: deleted already
                    raise

    # --- reading changes ---------------------------------------------------------------------

    async def changes(self, calendar_id: str, cursor: str | None, *,
                      window_start: datetime, window_end: datetime) -> ChangePage:
        """Full listing (``cursor`` None): events ending after ``window_start`` (Google's
        ``timeMin``; a series' instances from there on), so "not listed" means gone only for
        those. Incremental (a sync cursor): every change since, anywhere in time."""
        state = _decode_cursor(cursor) if cursor is not None else {"full": True}
        full = bool(state.get("full"))
        params: dict[str, Any] = {"calendarId": calendar_id, "singleEvents": True,
                                  "showDeleted": True, "maxResults": self._page_size}
        if "page" in state:
            params["pageToken"] = state["page"]
        elif "sync" in state:
            params["syncToken"] = state["sync"]
        if full:
            params["timeMin"] = state.get("from") or rfc3339(window_start)
        with _provider_errors():
            try:
                answer = await self._call(lambda s: s.events().list(**params))
            except HttpError as exc:
                # 410: the sync token expired; 400 on a page token: it is no longer honoured.
                if exc.status_code == 410 or (exc.status_code == 400 and "pageToken" in params):
                    raise CursorExpired(f"Google dropped the sync cursor ({_reason(exc)})") from None
                raise
        zone = zone_of(answer.get("timeZone"))
        events = tuple(remote_event(item, zone, window_start, window_end)
                       for item in answer.get("items", []))
        if answer.get("nextPageToken"):
            next_state: dict[str, Any] = {"page": answer["nextPageToken"], "full": full}
            if full:
                next_state["from"] = params["timeMin"]
            return ChangePage(events=events, cursor=_encode_cursor(next_state), full=full,
                              done=False)
        return ChangePage(events=events, cursor=_encode_cursor({"sync": answer["nextSyncToken"]}),
                          full=full, done=True)

    # --- push channels -----------------------------------------------------------------------

    async def watch(self, calendar_id: str, channel_id: str, address: str, token: str,
                    ttl_s: int) -> tuple[str, datetime]:
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token,
                "params": {"ttl": str(ttl_s)}}
        with _provider_errors():
            channel = await self._call(lambda s: s.events().watch(calendarId=calendar_id,
                                                                  body=body))
        expiration = datetime.fromtimestamp(int(channel["expiration"]) / 1000, UTC)
        return channel["resourceId"], expiration

    async def stop_channel(self, channel_id: str, resource_id: str) -> None:
        with _provider_errors():
            try:
                await self._call(lambda s: s.channels().stop(
                    body={"id": channel_id, "resourceId": resource_id}))
            except HttpError as exc:
                if exc.status_code != 404:  # stopped or expired already
                    raise


# --- errors ----------------------------------------------------------------------------------


@contextmanager
def _provider_errors() -> Iterator[None]:
    """Google's and the transport's exceptions as :mod:`.base`'s errors."""
    try:
        yield
    except HttpError as exc:
        raise _provider_error(exc) from exc
    except RefreshError as exc:
        details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        if details.get("error") == "invalid_grant":
            raise AccessDenied("Google refused the refresh token (invalid_grant)",
                               reason="token_revoked") from exc
        # Anything else (5xx, 429, our client misconfigured) is not the user's doing.
        raise ProviderUnavailable(f"Google's token endpoint failed "
                                  f"({details.get('error') or 'no answer'})") from exc
    except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
        raise ProviderUnavailable(f"Google is unreachable ({type(exc).__name__})") from exc


def _provider_error(exc: HttpError) -> ProviderError:
    status, reason = exc.status_code, _reason(exc)
    if status == 401:  # still 401 after google-auth refreshed the token
        return AccessDenied("Google refused the credentials (401)", reason="token_revoked")
    if status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMIT_REASONS):
        return ProviderUnavailable(f"Google is unavailable ({status} {reason})",
                                   retry_after_s=_retry_after(exc))
    if status == 403:
        return AccessDenied(f"Google refused access ({reason})", reason="permission_denied")
    if status == 404:
        return CalendarGone(f"Google has no such calendar for this account ({reason})")
    return GoogleRequestRejected(f"Google rejected the request ({status} {reason})",
                                 status=status, reason=reason)


def _reason(exc: HttpError) -> str:
    details = exc.error_details
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return str(details[0].get("reason", ""))
    return ""


def _retry_after(exc: HttpError) -> float | None:
    try:
        return float(exc.resp.get("retry-after"))
    except (TypeError, ValueError):
        return None


# --- the wire format -------------------------------------------------------------------------


def _encode_cursor(state: dict[str, Any]) -> str:
    """A cursor is JSON: ``{"sync": token}`` after a listing's last page (incremental sync
    next), ``{"page": token, "full": bool, "from": timeMin}`` between pages, so a crash mid
    listing resumes at the next page with the first page's parameters."""
    return json.dumps({"v": 1, **state}, separators=(",", ":"))


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        state = json.loads(cursor)
    except ValueError:
        state = None
    if not isinstance(state, dict) or state.get("v") != 1 or not (
            isinstance(state.get("sync"), str) or isinstance(state.get("page"), str)):
        raise CursorExpired("Not a Google sync cursor of this version")
    return state


def _calendar_list_page(service: Any, *, page_token: str | None, size: int) -> Any:
    return service.calendarList().list(pageToken=page_token, maxResults=size)


