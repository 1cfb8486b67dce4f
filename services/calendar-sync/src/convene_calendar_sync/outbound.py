"""Meetings into the host's primary calendar (R15, R21, R27).

MeetingScheduled / Updated / Rescheduled / Canceled -> the provider event is created,
changed or deleted in the host's primary calendar only, addressed by an id derived from the
meeting (Google: a client-supplied event id; CalDAV: a resource named after the UID), so a
redelivered event, or a crash between the provider call and the commit, writes the same
event again and never makes a second one. The newest version written is kept per meeting:
an older version arriving late never overwrites a newer one.

CalendarEventLinked tells meetings the provider event (and the Meet link) the first time,
or when either changed; a claim per (meeting, version) carries it in its outbox, so it is
published exactly once even if the process dies right after the provider call.

A provider that is down does not hold the partition: the write waits in the meeting's link
document and a durable timer (kind ``outbound_retry``) tries again with backoff. The same
timer kind retries every write calendar-sync makes to a provider: each timer names its
``subject`` (``meeting``, and the task sync's ``task`` and ``task_calendar``), and
:class:`OutboundRetry` hands it to that subject's retry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from convene_kit.outbox import outbox_entries
from convene_schemas.events.calendar_sync import CalendarEventLinked
from convene_schemas.events.meetings import (
    ATTENDEE_VISIBLE_FIELDS,
    MeetingCanceled,
    MeetingChange,
    MeetingSnapshot,
)

from convene_calendar_sync import access, sync_timers
from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain.calendar_events import Attendee, OutboundEvent, WrittenEvent
from convene_calendar_sync.domain.connection import Connection
from convene_calendar_sync.providers.base import AccessDenied, CalendarGone, ProviderUnavailable

logger = logging.getLogger(__name__)

OUTBOUND_RETRY = "outbound_retry"
MAX_RETRY_DELAY_S = 3600.0
MEETING = "meeting"
RETRY_LEASE = timedelta(minutes=2)

RetrySubject = Callable[[Deps, dict[str, Any]], Awaitable[None]]
"""Retries one subject's write from its timer document (which it deletes or moves)."""


def retry_delay(deps: Deps, attempts: int, retry_after_s: float | None = None) -> float:
    """Backoff of the ``attempts``-th retry: ``sync_retry_s`` doubled per attempt up to an
    hour, never sooner than the provider's Retry-After."""
    return max(retry_after_s or 0.0,
               min(MAX_RETRY_DELAY_S, deps.settings.sync_retry_s * 2 ** (attempts - 1)))


async def retry_in(deps: Deps, timer_id: str, subject: str, delay_s: float, *,
                   account_id: str, **fields: Any) -> None:
    """Plan (or move) the retry timer ``timer_id`` of ``subject`` ``delay_s`` from now."""
    await deps.timers.schedule(timer_id, OUTBOUND_RETRY,
                               deps.clock() + timedelta(seconds=delay_s),
                               subject=subject, account_id=account_id, **fields)


def outbound_event(meeting: MeetingSnapshot, connection: Connection) -> OutboundEvent:
    """The provider event a meeting is written as (R21: title, times, description,
    location and attendees all reach it)."""
    location = meeting.location
    where: str | None = None
    want_meet = False
    if location is not None:
        if location.kind == "video":
            where = location.join_url or None
            want_meet = (location.video_provider == "google_meet"
                         and connection.provider == "google")
        else:
            where = location.value
    return OutboundEvent(
        meeting_id=meeting.meeting_id, ical_uid=meeting.ical_uid, sequence=meeting.version,
        title=meeting.title, description=meeting.attendee_description or None,
        location=where, start=meeting.start, end=meeting.end, time_zone=meeting.time_zone,
        organizer_email=meeting.host_email or connection.account_email,
        organizer_name=meeting.host_name,
        attendees=tuple(Attendee(email=a.email, name=a.name)
                        for a in meeting.attendees if a.email),
        want_google_meet=want_meet)


async def write_meeting(deps: Deps, meeting: MeetingSnapshot) -> None:
    """Bring the host's calendar to this version of the meeting (idempotent)."""
    if meeting.awaiting_calendar or meeting.source == "calendar_sync":
        return  # R35: not in a calendar yet; R26: already in the user's calendar
    account_id = meeting.account_id
    stored = await deps.links.get(account_id, meeting.meeting_id)
    if stored is not None and stored.get("written_version", -1) >= meeting.version:
        return  # this version or a newer one is written already
    link = stored if stored is not None and stored.get("calendar_id") else None  # written
    connection = await _host_connection(deps, meeting, link)
    canceled = isinstance(meeting, MeetingCanceled)
    if connection is None:
        if stored is not None:  # written before, the connection is gone: nothing to follow
            await deps.links.record(account_id, meeting.meeting_id, meeting.version, {}, [],
                                    deps.clock())
        return
    calendar_id = link["calendar_id"] if link else connection.primary_calendar_id
    if calendar_id in connection.inactive_calendar_ids:
        logger.info("not writing meeting %s yet: calendar access is lost", meeting.meeting_id)
        await _await_access(deps, meeting, connection, stored)
        return
    if link is not None and not canceled and _nothing_to_write(meeting, link):
        await deps.links.record(account_id, meeting.meeting_id, meeting.version, {}, [],
                                deps.clock())
        return
    if canceled and link is None:
        return  # never written: nothing to delete
    event = outbound_event(meeting, connection)
    try:
        adapter = deps.adapters.for_connection(
            connection, await deps.credentials.get(account_id, connection.connection_id))
    except AccessDenied as exc:
        await access.lost(deps, connection, connection.calendar_ids, exc.reason)
        await _await_access(deps, meeting, connection, stored)
        return
    try:
        if canceled:
            await adapter.delete_event(calendar_id, event)
            written: WrittenEvent | None = None
        else:
            written = await adapter.upsert_event(calendar_id, event)
    except ProviderUnavailable as exc:
        await _retry_later(deps, meeting, exc.retry_after_s)
        return
    except AccessDenied as exc:
        await access.lost(deps, connection, connection.calendar_ids, exc.reason)
        await _await_access(deps, meeting, connection, stored)
        return
    except CalendarGone:
        await access.lost(deps, connection, [calendar_id], "calendar_removed")
        await _await_access(deps, meeting, connection, stored)
        return
    finally:
        await adapter.close()
    events = [] if written is None else _link_events(meeting, connection, calendar_id, written)
    state: dict[str, Any] = {"connection_id": connection.connection_id,
                             "calendar_id": calendar_id, "provider": connection.provider,
                             "pending": None}
    if written is not None:
        state["provider_event_id"] = written.provider_event_id
        state["join_url"] = written.join_url
    claim = await deps.links.record(account_id, meeting.meeting_id, meeting.version, state,
                                    outbox_entries(events), deps.clock())
    if claim is not None and events:
        await deps.aggregates.outbox.publish_pending(deps.links.link_events, claim)
    await deps.timers.delete(_retry_timer_id(meeting.meeting_id))
    # the calendar changed: its sync (the busy mirror's only writer) reads it back now
    await sync_timers.sync_now(deps, connection.connection_id, calendar_id, account_id)


def _nothing_to_write(meeting: MeetingSnapshot, link: dict[str, Any]) -> bool:
    """R21: only changes attendees see reach the provider event. A change of none of them
    (internal note, reminders, outcome, the link itself) writes nothing, nor does the Meet
    link Google made coming back from meetings."""
    if not isinstance(meeting, MeetingChange):
        return False
    visible = set(meeting.changed_fields) & ATTENDEE_VISIBLE_FIELDS
    if not visible:
        return True
    location = meeting.location
    echoed = location is not None and bool(link.get("join_url")) and (
        location.join_url == link.get("join_url"))
    return visible == {"location.join_url"} and echoed


def _link_events(meeting: MeetingSnapshot, connection: Connection, calendar_id: str,
                 written: WrittenEvent) -> list[CalendarEventLinked]:
    """CalendarEventLinked when meetings does not know the provider event yet, or a video
    link is awaited (the video-link contract); nothing otherwise (no echo loop)."""
    known = meeting.calendar_event
    location = meeting.location
    awaiting_link = location is not None and location.kind == "video" and location.join_url_pending
    if (known is not None and known.provider_event_id == written.provider_event_id
            and known.connection_id == connection.connection_id and not awaiting_link):
        return []
    conference: dict[str, Any] = {"conference_status": "not_requested"}
    if location is not None and location.kind == "video":
        if written.join_url and written.join_url.startswith("https://"):
            conference = {"conference_status": "created", "conference_provider": "google_meet",
                          "join_url": written.join_url}
        elif location.join_url:
            conference = {"conference_status": "not_requested"}
        else:
            reason = ("provider_error" if location.video_provider == "google_meet"
                      and connection.provider == "google" else "video_account_not_connected")
            conference = {"conference_status": "unavailable",
                          "conference_unavailable_reason": reason}
    return [CalendarEventLinked(
        account_id=meeting.account_id, version=meeting.version, occurred_at=meeting.occurred_at,
        meeting_id=meeting.meeting_id, meeting_version=meeting.version,
        connection_id=connection.connection_id, provider=connection.provider,
        calendar_id=calendar_id, provider_event_id=written.provider_event_id, **conference)]


async def _host_connection(deps: Deps, meeting: MeetingSnapshot,
                           link: dict[str, Any] | None) -> Connection | None:
    """The connection to write to: the one the meeting was written to before (its event
    lives there), else the host's active connection with calendar sync on (R15, R28)."""
    connection_id = (link or {}).get("connection_id") or await deps.slots.holder(
        meeting.account_id, meeting.host_user_id)
    if not connection_id:
        return None
    connection = await deps.aggregates.load(deps.connections, meeting.account_id, connection_id)
    if connection is None or not connection.active or not connection.sync_enabled:
        return None
    if link is None and connection.user_id != meeting.host_user_id:
        return None
    return connection


def _retry_timer_id(meeting_id: str) -> str:
    return f"outbound:{meeting_id}"


def _pending(meeting: MeetingSnapshot, attempts: int, **extra: Any) -> dict[str, Any]:
    return {"version": meeting.version, "attempts": attempts,
            "event": meeting.model_dump(mode="json"), "type": meeting.EVENT_TYPE, **extra}


async def _await_access(deps: Deps, meeting: MeetingSnapshot, connection: Connection,
                        stored: dict[str, Any] | None) -> None:
    """The write cannot be made while the calendar's access is lost (R30): the meeting's
    newest version waits in its link document, marked with the connection, and is written
    when access comes back (:func:`replay_awaiting_access`: a reconnect, or a sync that
    succeeds again). Without it, a change made meanwhile would never reach the calendar
    (a silent gap until the meeting's next change)."""
    pending = (stored or {}).get("pending") or {}
    if pending.get("version", -1) > meeting.version:
        return  # a newer version waits already
    await deps.links.links.update_one(
        {"_id": meeting.meeting_id},
        {"$set": {"account_id": meeting.account_id,
                  "pending": _pending(meeting, 0, awaiting_access=connection.connection_id)}},
        upsert=True)
    await deps.timers.delete(_retry_timer_id(meeting.meeting_id))


async def replay_awaiting_access(deps: Deps, connection: Connection) -> int:
    """Plan the write of every meeting that waited for ``connection``'s access (through
    the outbound retry timer, one replica per meeting); the number planned."""
    waiting = await deps.links.awaiting_access(connection.account_id, connection.connection_id)
    for meeting_id in waiting:
        await retry_in(deps, _retry_timer_id(meeting_id), MEETING, 0.0,
                       account_id=connection.account_id, meeting_id=meeting_id)
    if waiting:
        logger.info("access to %s is back: writing %s meeting(s) that waited for it",
                    connection.connection_id, len(waiting))
    return len(waiting)


async def _retry_later(deps: Deps, meeting: MeetingSnapshot, retry_after_s: float | None) -> None:
    link = await deps.links.get(meeting.account_id, meeting.meeting_id) or {}
    attempts = int((link.get("pending") or {}).get("attempts", 0)) + 1
    delay = retry_delay(deps, attempts, retry_after_s)
    await deps.links.links.update_one(
        {"_id": meeting.meeting_id},
        {"$set": {"account_id": meeting.account_id, "pending": _pending(meeting, attempts)}},
        upsert=True)
    await retry_in(deps, _retry_timer_id(meeting.meeting_id), MEETING, delay,
                   account_id=meeting.account_id, meeting_id=meeting.meeting_id)
    logger.info("provider unavailable for meeting %s; retrying in %.0f s (attempt %s)",
                meeting.meeting_id, delay, attempts)


class OutboundRetry:
    """The durable timer kind that retries a write the provider refused for a while: one
    replica at a time per timer (a lease, given back when done), then the timer's
    ``subject`` (``meeting`` when none: timers planned before subjects existed)."""

    def __init__(self, deps: Deps, subjects: Mapping[str, RetrySubject] | None = None) -> None:
        self.deps = deps
        self.subjects: dict[str, RetrySubject] = {MEETING: _retry_meeting, **(subjects or {})}

    async def fire(self, timer: dict[str, Any]) -> bool:
        deps = self.deps
        lease = await deps.leases.lease(f"lease:{timer['_id']}", RETRY_LEASE, now=deps.clock())
        if lease is None:
            return False
        try:
            retry = self.subjects.get(timer.get("subject") or MEETING)
            if retry is None:
                logger.error("no retry for subject %r: dropping timer %s",
                             timer.get("subject"), timer["_id"])
                await deps.timers.delete(timer["_id"])
            else:
                await retry(deps, timer)
        finally:  # a retry planned soon need not wait for the lease window to end
            await deps.leases.release_claim(lease.claim_id)
        return True


async def _retry_meeting(deps: Deps, timer: dict[str, Any]) -> None:
    link = await deps.links.get(timer["account_id"], timer["meeting_id"]) or {}
    pending = link.get("pending")
    if not pending or pending["version"] <= link.get("written_version", -1):
        await deps.timers.delete(timer["_id"])
        return
    from convene_schemas.base import EVENT_CLASSES  # the contract's registry

    event_class = next(c for (t, _), c in EVENT_CLASSES.items() if t == pending["type"])
    meeting = event_class.parse_data(pending["event"])
    assert isinstance(meeting, MeetingSnapshot)
    await write_meeting(deps, meeting)
