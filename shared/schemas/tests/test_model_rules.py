"""The rules the models enforce, each tied to the requirement it protects."""

from __future__ import annotations

from typing import Any

import pytest
from convene_schemas.events.calendar_sync import CalendarEventChanged, CalendarEventLinked
from convene_schemas.events.common import Location, ReminderOffset
from convene_schemas.events.meetings import (
    ATTENDEE_VISIBLE_FIELDS,
    MeetingField,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingUpdated,
    ical_uid_for,
)
from convene_schemas.events.notifications import InvitationSent, reminder_id_for
from convene_schemas.events.records import PAID_SEATS, AccountSettingsChanged, ContactUpserted, Seat
from convene_schemas.registry import load_registry
from pydantic import ValidationError

pytestmark = pytest.mark.contract


def example(event_name: str, index: int = 0) -> dict[str, Any]:
    for _, event in load_registry().events():
        if event.name == event_name:
            return dict(event.examples[index].data)
    raise KeyError(event_name)


def scheduled(**changes: Any) -> MeetingScheduled:
    return MeetingScheduled.model_validate({**example("MeetingScheduled"), **changes}, strict=False)


def test_a_fourth_reminder_is_refused_r10() -> None:
    four = [{"amount": n, "unit": "hours"} for n in (1, 2, 3, 4)]
    with pytest.raises(ValidationError, match="at most 3"):
        scheduled(reminders=four)
    with pytest.raises(ValidationError, match="at most 3"):
        AccountSettingsChanged.model_validate(
            {**example("AccountSettingsChanged"), "default_reminders": four}, strict=False
        )
    assert len(scheduled(reminders=four[:3]).reminders) == 3


def test_reminder_offsets_in_minutes() -> None:
    assert ReminderOffset(amount=2, unit="weeks").minutes() == 2 * 7 * 24 * 60
    assert ReminderOffset(amount=15, unit="minutes").minutes() == 15


def test_an_invited_attendee_needs_an_email_r13() -> None:
    attendees = example("MeetingScheduled")["attendees"]
    no_email = [{**attendees[0], "email": None}]
    with pytest.raises(ValidationError, match="invited attendee"):
        scheduled(attendees=no_email)
    uninvited = [
        {**attendees[0], "email": None, "invite": False, "no_invite_reason": "email_missing"}
    ]
    assert scheduled(attendees=uninvited).attendees[0].invite is False


def test_no_invitations_without_calendar_sync_r28() -> None:
    with pytest.raises(ValidationError, match="no_invitations_reason"):
        scheduled(send_invitations=False)
    with pytest.raises(ValidationError, match="no attendee is invited"):
        scheduled(send_invitations=False, no_invitations_reason="calendar_sync_off")


def test_duration_and_times_agree() -> None:
    with pytest.raises(ValidationError, match="duration_minutes"):
        scheduled(duration_minutes=45)
    with pytest.raises(ValidationError, match="after start"):
        scheduled(end="2026-03-10T13:00:00Z")


def test_on_behalf_means_organizer_and_host_differ_r17() -> None:
    with pytest.raises(ValidationError, match="on_behalf"):
        scheduled(on_behalf=False)
    assert scheduled(on_behalf=False, organizer_user_id="usr_alice").on_behalf is False


def test_a_video_location_names_its_provider_r9() -> None:
    with pytest.raises(ValidationError, match="video_provider"):
        Location(kind="video")
    with pytest.raises(ValidationError, match="needs a value"):
        Location(kind="phone")
    with pytest.raises(ValidationError, match="video locations only"):
        Location(kind="custom", value="Lobby", join_url="https://meet.example/x")
    with pytest.raises(ValidationError, match="pattern"):
        Location(kind="video", video_provider="zoom", join_url="http://zoom.example/j/1")


def test_a_move_is_a_reschedule_not_an_update() -> None:
    updated = example("MeetingUpdated")
    with pytest.raises(ValidationError, match="MeetingRescheduled"):
        MeetingUpdated.model_validate({**updated, "changed_fields": ["start"]}, strict=False)
    moved = example("MeetingRescheduled")
    with pytest.raises(ValidationError, match="changes start or end"):
        MeetingRescheduled.model_validate(
            {**moved, "previous_start": moved["start"], "previous_end": moved["end"]}, strict=False
        )


def test_meeting_field_names_are_snapshot_fields() -> None:
    fields = set(MeetingScheduled.model_fields) | {"location.join_url"}
    assert set(MeetingField.__args__) <= fields  # type: ignore[attr-defined]
    assert set(MeetingField.__args__) >= ATTENDEE_VISIBLE_FIELDS  # type: ignore[attr-defined]
    assert "outcome" not in ATTENDEE_VISIBLE_FIELDS


def test_ical_uid_is_derived_from_the_meeting_id() -> None:
    assert ical_uid_for("mtg_01j8zq4") == "mtg_01j8zq4@meetings.convene"
    assert example("MeetingScheduled")["ical_uid"] == ical_uid_for(
        example("MeetingScheduled")["meeting_id"]
    )


def test_a_cancellation_is_method_cancel_r42() -> None:
    sent = example("InvitationSent")
    with pytest.raises(ValidationError, match="METHOD:CANCEL"):
        InvitationSent.model_validate({**sent, "kind": "cancellation"}, strict=False)
    with pytest.raises(ValidationError, match="METHOD:CANCEL"):
        InvitationSent.model_validate({**sent, "method": "CANCEL"}, strict=False)


def test_reminder_ids_are_stable_across_reschedules_r43() -> None:
    due = example("ReminderDue")
    assert due["reminder_id"] == reminder_id_for("mtg_01j8zq4", "contact", "ct_01hzx3", 24 * 60)


def test_contact_email_validity_is_explained_r13() -> None:
    contact = example("ContactUpserted")
    with pytest.raises(ValidationError, match="email_invalid_reason"):
        ContactUpserted.model_validate({**contact, "email_valid": False}, strict=False)
    with pytest.raises(ValidationError, match="valid email"):
        ContactUpserted.model_validate({**contact, "email": None}, strict=False)


def test_paid_seats_are_every_seat_but_none_r17() -> None:
    assert set(Seat.__args__) - {"none"} == PAID_SEATS  # type: ignore[attr-defined]


def test_unknown_time_zones_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        scheduled(time_zone="Mars/Olympus_Mons")


def test_conference_status_matches_the_link_r9() -> None:
    linked = example("CalendarEventLinked")
    with pytest.raises(ValidationError, match="exactly when created"):
        CalendarEventLinked.model_validate({**linked, "join_url": None}, strict=False)
    refused = example("CalendarEventLinked", 1)
    with pytest.raises(ValidationError, match="exactly when unavailable"):
        CalendarEventLinked.model_validate(
            {**refused, "conference_unavailable_reason": None}, strict=False
        )


def test_events_convene_wrote_are_marked_as_integration_events_r27() -> None:
    ours = example("CalendarEventChanged", 2)
    with pytest.raises(ValidationError, match="created_by_integration"):
        CalendarEventChanged.model_validate({**ours, "created_by_integration": False}, strict=False)
