"""R26/R27: events of the users' calendars become meetings (once), follow their changes and
deletion; events Convene or an integration created never become a second meeting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from convene_schemas.events.calendar_sync import CalendarEventChanged
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
)


async def setup(harness, records) -> dict[str, str]:
    acc, host, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.settings(acc))
    await harness.deliver(records.user(acc, host, email="alice@acme.example"))
    await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    conn = records.calendar(acc, host, account_email="alice.work@gmail.example")
    await harness.deliver(conn)
    return {"acc": acc, "host": host, "ct": ct, "conn": conn.connection_id}


def changed(ids: dict[str, str], records, version: int = 0, **fields: Any) -> CalendarEventChanged:
    start = records.now + timedelta(days=2)
    values: dict[str, Any] = {
        "change": "created", "title": "Coffee with Dana", "start": start,
        "end": start + timedelta(minutes=30), "time_zone": "Europe/Rome",
        "organizer_email": "Alice@acme.example",
        "attendee_emails": ["alice@acme.example", "dana@globex.example"],
    }
    values.update(fields)
    return CalendarEventChanged(
        account_id=ids["acc"], version=version, occurred_at=records.now,
        calendar_event_id="cev_1", connection_id=ids["conn"], user_id=ids["host"],
        provider="google", calendar_id="primary", provider_event_id="g_1",
        ical_uid="g_1@google.com", **values)


async def test_a_users_event_with_a_contact_becomes_one_meeting_and_follows_it(
        harness, records) -> None:
    ids = await setup(harness, records)
    created = changed(ids, records)
    await harness.deliver(created)
    await harness.deliver(created)  # redelivered under another id: still one meeting
    moved_start = created.start + timedelta(hours=1)
    await harness.deliver(changed(ids, records, 1, change="updated", start=moved_start,
                                  end=moved_start + timedelta(minutes=45)))
    await harness.deliver(changed(ids, records, 2, change="deleted", start=None, end=None))
    events = [e.event for e in harness.publisher.events()]
    assert [type(e) for e in events] == [MeetingScheduled, MeetingRescheduled, MeetingCanceled]
    scheduled = events[0]
    assert (scheduled.source, scheduled.send_invitations, scheduled.no_invitations_reason) == (
        "calendar_sync", False, "synced_from_calendar")
    assert scheduled.ical_uid == "g_1@google.com" and scheduled.host_user_id == ids["host"]
    assert [(a.id, a.invite) for a in scheduled.attendees] == [(ids["ct"], False)]
    assert [e.version for e in events] == [0, 1, 2]
    assert events[1].duration_minutes == 45 and events[2].reason == "deleted_in_calendar"
    assert len({e.meeting_id for e in events}) == 1


async def test_events_we_or_integrations_made_never_become_meetings(harness, records) -> None:
    ids = await setup(harness, records)
    await harness.deliver(changed(ids, records, created_by_integration=True,
                                  created_by_convene_meeting_id="mtg_ours"))
    await harness.deliver(changed(ids, records, created_by_integration=True))
    assert harness.publisher.events() == []


async def test_only_the_users_own_events_with_contacts_become_meetings(harness, records) -> None:
    ids = await setup(harness, records)
    await harness.deliver(changed(ids, records, organizer_email="someone@else.example"))
    await harness.deliver(changed(ids, records, attendee_emails=["stranger@x.example"]))
    await harness.deliver(changed(ids, records, all_day=True))
    assert harness.publisher.events() == []
    # the connection's provider address counts as the user's own
    await harness.deliver(changed(ids, records, organizer_email="alice.work@gmail.example"))
    assert len(harness.publisher.events()) == 1
