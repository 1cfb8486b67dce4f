"""The host's Google calendar misbehaving while meetings are scheduled and events are made in
Google: first a throttling storm (403 rateLimitExceeded and userRateLimitExceeded, 429, 503
on every events call, topped up whenever the emulator has used them), then the grant revoked
(the host reconnects after an observation window). Everything converges: one Google event
per meeting under its own id, one CRM meeting per Google event, nothing looping back,
nothing duplicated, no invitation or timeline entry lost.

The storm and revocation lengths are observation windows (bounded sleeps on purpose)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from chaos.load import meetings_titled, new_run, outcome, post_meetings
from chaos.providers import HostCalendar, connection_of
from chaos.services import Supervised, wait_ready
from support import wait_for
from support.calendar_sync import add_throttling_storm, connect_google_account, failed_calls
from support.services import PACKAGES

from infra.emulators.google_calendar.client import EmulatorAdmin


async def storm(google: EmulatorAdmin, seconds: float) -> int:
    """Keep events calls failing for ``seconds``: a round of every kind whenever the last
    round is used up (calls get through in between); the failing calls queued."""
    queued = 0
    until = time.monotonic() + seconds
    try:
        while time.monotonic() < until:
            if not await asyncio.to_thread(google.faults):
                queued += await asyncio.to_thread(add_throttling_storm, google, 1)
            await asyncio.sleep(1.0)
    finally:
        await asyncio.to_thread(google.clear_faults)
    return queued


async def make_google_events(calendar: HostCalendar, tag: str, attendee: str, count: int,
                             over_s: float) -> list[dict]:
    """``count`` events the host makes in Google Calendar, spread over ``over_s``, with a
    CRM contact invited (so each becomes a CRM meeting)."""
    made = []
    day = (datetime.now(timezone.utc) + timedelta(days=3)).replace(hour=7, minute=0, second=0,
                                                                     microsecond=0)
    for n in range(count):
        start = day + timedelta(minutes=20 * n)
        made.append(await asyncio.to_thread(calendar.google.insert_event, calendar.email, {
            "summary": f"{tag}-{n:04d}", "organizer": {"email": calendar.email},
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=15)).isoformat()},
            "attendees": [{"email": attendee}]}))
        await asyncio.sleep(over_s / count)
    return made


@pytest.mark.timeout(1800)
async def test_a_throttling_storm_and_a_revoked_grant_converge_without_duplicates(
    supervised: Supervised, account, host_calendar: HostCalendar, google: EmulatorAdmin,
    profile, rng: random.Random, figures
) -> None:
    stack = supervised.stack
    await wait_ready(stack, list(PACKAGES), timeout=120)
    email = host_calendar.email
    run = new_run(stack, account, "providers", rng)
    inbound_tag = f"{run.tag}in"  # not matched by the run's titles (``<tag>-<n>``)
    span_s = profile.storm_s + profile.revoked_s
    failed_before = len(await asyncio.to_thread(failed_calls, google, email))

    started = time.monotonic()
    posting = asyncio.create_task(post_meetings(
        stack, account, run, profile.provider_meetings, profile.provider_meetings / span_s, rng,
        retry_for_s=span_s + 240))
    inbound = asyncio.create_task(make_google_events(
        host_calendar, inbound_tag, run.contact["email"], profile.provider_inbound, span_s))

    queued = await storm(google, profile.storm_s)
    failed = (await asyncio.to_thread(failed_calls, google, email))[failed_before:]

    # the grant revoked: calendar-sync notices at its next call, the host is not bookable
    # and meetings refuses new meetings of theirs (no_connected_calendar, retried by the load)
    revoked_at = time.monotonic()
    await asyncio.to_thread(google.revoke_user, email)

    async def access_lost() -> dict | None:
        connection = await connection_of(stack, account, host_calendar)
        return None if connection["bookable"] else connection

    lost = await wait_for(access_lost, "calendar-sync to notice the revoked grant", timeout=60,
                          interval=0.5)
    noticed_s = time.monotonic() - revoked_at
    await asyncio.sleep(max(0.0, profile.revoked_s - noticed_s))
    again = await connect_google_account(stack, account.host_token, google, email)
    reconnected_at = time.monotonic()
    restored = await connection_of(stack, account, host_calendar)

    await asyncio.wait_for(posting, timeout=span_s + 300)
    made = await asyncio.wait_for(inbound, timeout=60)
    posted_s = time.monotonic() - started
    result = await outcome(stack, account, run, cap_s=profile.drain_cap_s,
                           calendar=host_calendar)

    inbound_titles = {event["summary"] for event in made}

    async def every_google_event_a_meeting() -> list[dict] | None:
        found = await meetings_titled(stack, f"{inbound_tag}-")
        return found if {m["title"] for m in found} >= inbound_titles else None

    synced = await wait_for(every_google_event_a_meeting, "a CRM meeting per Google event",
                            timeout=profile.drain_cap_s, interval=1.0)
    await asyncio.sleep(5)  # a second meeting for an event would come now
    synced = await meetings_titled(stack, f"{inbound_tag}-")
    in_google = Counter(event["summary"] for event in await host_calendar.stored_events()
                        if event["summary"].startswith(f"{inbound_tag}-"))
    ours = await meetings_titled(stack, f"{run.tag}-")
    figures["providers"] = {
        "meetings_posted": profile.provider_meetings, "accepted": run.accepted,
        "gave_up": run.gave_up, "answers": dict(run.statuses), "post_s": round(posted_s, 1),
        "storm_s": profile.storm_s, "storm_failures_queued": queued,
        "storm_failed_calls": len(failed),
        "storm_answers": dict(Counter(f"{r['status']} {r['reason']}" for r in failed)),
        "storm_operations": dict(Counter(r["operation"] for r in failed)),
        "revoked_s": round(reconnected_at - revoked_at, 1),
        "access_lost_noticed_s": round(noticed_s, 1),
        "google_events_made": len(made),
        "crm_meetings_of_google_events": len(synced),
        "duplicated_crm_meetings_of_google_events": len(synced) - len({m["title"] for m in synced}),
        "google_copies_of_google_events": sum(in_google.values()),
        **result.figures()}

    # the storm hit the host's calls, of several kinds, writes included
    assert len(failed) >= 10, failed
    assert len({(r["status"], r["reason"]) for r in failed}) >= 2, failed
    assert "events.insert" in {r["operation"] for r in failed}, failed
    # the revocation was noticed as such, and the reconnect restored the same connection
    assert lost["access_lost_reason"] == "token_revoked", lost
    assert again["connection_id"] == host_calendar.connection_id
    assert restored["bookable"] is True and restored["access_lost_reason"] is None, restored
    # the CRM's meetings: every one stored has its invitation, timeline entry and one event
    assert run.gave_up == 0, run.statuses
    assert result.meetings == profile.provider_meetings, result.figures()  # one per POST (its key)
    assert result.lost_invitations == 0, result.figures()
    assert result.lost_timeline == 0, result.figures()
    assert result.lost_provider_events == 0, result.figures()
    assert result.extra_provider_events == 0, result.figures()
    assert result.extra_invitations == 0, result.figures()
    assert {m.get("source") for m in ours} == {"crm"}  # none came back from Google as new
    # Google's events: one CRM meeting each, none written back to Google as a second event
    assert sorted(m["title"] for m in synced) == sorted(inbound_titles)
    assert {m.get("source") for m in synced} == {"calendar_sync"}
    assert in_google == Counter(inbound_titles)
