"""Edits, reschedules, cancellations and outcomes (R18-R20) as pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from convene_meetings.domain.editing import (
    MeetingEdit,
    cancel_meeting,
    edit_meeting,
    record_outcome,
    reschedule_meeting,
)
from convene_meetings.domain.errors import RuleViolation
from convene_meetings.domain.scheduling import LocationChoice, PartyRef, schedule_meeting
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingOutcomeRecorded,
    MeetingRescheduled,
    MeetingUpdated,
)

from services.meetings.tests.test_domain_scheduling import COMMAND, DIRECTORY, NOW

LATER = NOW + timedelta(hours=1)
MEETING = schedule_meeting(COMMAND, account_id="acc_1", organizer_user_id="usr_alice",
                           directory=DIRECTORY, now=NOW, meeting_id="mtg_1")


def edit(**fields):
    return edit_meeting(MEETING, MeetingEdit(**fields), directory=DIRECTORY, now=LATER,
                        user_id="usr_alice")


def test_an_edit_raises_the_version_and_names_what_changed() -> None:
    new, event = edit(title="Renewal", attendees=[PartyRef("contact", "ct_dana"),
                                                   PartyRef("user", "usr_bob")])
    assert isinstance(event, MeetingUpdated)
    assert (new.version, event.version, new.title) == (1, 1, "Renewal")
    assert event.changed_fields == ["title", "attendees"]
    assert event.changed_by_user_id == "usr_alice" and new.updated_at == LATER


def test_an_edit_that_changes_nothing_is_a_no_op() -> None:
    assert edit(title=MEETING.title) is None
    assert edit() is None


def test_removed_attendees_are_listed() -> None:
    _, event = edit(attendees=[PartyRef("user", "usr_bob")])
    assert [a.id for a in event.removed_attendees] == ["ct_dana"]


def test_a_note_only_change_raises_the_version_without_an_event() -> None:
    new, event = edit(internal_note="secret plan")
    assert event is None and new.version == 1 and new.internal_note == "secret plan"
    _, with_title = edit(internal_note="secret plan", title="X")
    assert "secret plan" not in with_title.model_dump_json()


def test_location_and_reminders_follow_the_scheduling_rules() -> None:
    new, event = edit(location=LocationChoice(kind="video", video_provider="zoom"))
    assert new.location.join_url_pending and event.changed_fields == ["location"]
    with pytest.raises(RuleViolation) as caught:
        edit(reminders=[ReminderOffset(amount=1, unit="minutes")] * 2
             + [ReminderOffset(amount=1, unit="hours"), ReminderOffset(amount=2, unit="hours")])
    assert caught.value.code == "too_many_reminders"
    with pytest.raises(RuleViolation) as caught:
        edit(reminders=[ReminderOffset(amount=4, unit="weeks")])
    assert caught.value.code == "reminder_in_past"


def test_a_reschedule_carries_the_previous_times() -> None:
    new, event = reschedule_meeting(MEETING, start=datetime(2026, 3, 11, 16, 0),
                                    time_zone="Europe/Rome", duration_minutes=60, now=LATER,
                                    user_id="usr_alice")
    assert isinstance(event, MeetingRescheduled) and new.version == 1
    assert (event.previous_start, event.previous_end) == (MEETING.start, MEETING.end)
    assert event.end - event.start == timedelta(minutes=60)
    assert set(event.changed_fields) == {"start", "end", "duration_minutes"}
    same = reschedule_meeting(MEETING, start=MEETING.start, time_zone=MEETING.time_zone,
                              duration_minutes=MEETING.duration_minutes, now=LATER, user_id="u")
    assert same is None
    with pytest.raises(RuleViolation) as caught:
        reschedule_meeting(MEETING, start=NOW - timedelta(days=1), time_zone="UTC",
                           duration_minutes=30, now=LATER, user_id="u")
    assert caught.value.code == "start_in_past"


def test_cancel_once_then_edits_are_refused() -> None:
    new, event = cancel_meeting(MEETING, now=LATER, user_id="usr_alice")
    assert isinstance(event, MeetingCanceled) and new.status == "canceled" and new.version == 1
    assert cancel_meeting(new, now=LATER, user_id="usr_alice") is None
    with pytest.raises(RuleViolation) as caught:
        edit_meeting(new, MeetingEdit(title="x"), directory=DIRECTORY, now=LATER, user_id="u")
    assert caught.value.code == "meeting_canceled"


def test_outcome_from_the_accounts_list() -> None:
    new, event = record_outcome(MEETING, "completed", directory=DIRECTORY, now=LATER,
                                user_id="usr_alice")
    assert isinstance(event, MeetingOutcomeRecorded)
    assert (event.previous_outcome, new.outcome, new.version) == ("scheduled", "completed", 1)
    assert record_outcome(new, "completed", directory=DIRECTORY, now=LATER, user_id="u") is None
    with pytest.raises(RuleViolation):
        record_outcome(MEETING, "won", directory=DIRECTORY, now=LATER, user_id="u")


def test_sequences_increase_with_each_change() -> None:
    m1, _ = edit(title="A")
    m2, e2 = edit_meeting(m1, MeetingEdit(title="B"), directory=DIRECTORY, now=LATER,
                          user_id="u")
    assert (m1.version, m2.version, e2.version) == (1, 2, 2)
