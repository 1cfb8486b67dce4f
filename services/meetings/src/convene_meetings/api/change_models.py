"""Request bodies of the meeting changes (PATCH, reschedule, outcome)."""

from __future__ import annotations

from convene_kit.boundary import RequestModel
from convene_schemas.base import SupportedDatetime, TimeZoneName
from convene_schemas.events.common import RecordRef, ReminderOffset
from convene_schemas.text import MultilineText
from pydantic import Field

from convene_meetings.api.models import (
    MAX_DURATION_MINUTES,
    AssociationRef,
    AttendeeRef,
    LocationIn,
    ReminderIn,
    Title,
)
from convene_meetings.domain.editing import MeetingEdit
from convene_meetings.domain.scheduling import LocationChoice, PartyRef


class MeetingPatch(RequestModel):
    """PATCH /meetings/{id}: the fields to change; absent or null ones stay as they are."""

    title: Title | None = None
    attendees: list[AttendeeRef] | None = Field(default=None, max_length=200)
    associations: list[AssociationRef] | None = Field(default=None, max_length=200)
    attendee_description: MultilineText | None = Field(default=None, max_length=100_000)
    internal_note: MultilineText | None = Field(default=None, max_length=20_000)
    location: LocationIn | None = None
    reminders: list[ReminderIn] | None = Field(default=None, max_length=50)
    reminders_include_description: bool | None = None
    meeting_type: str | None = Field(default=None, max_length=100)
    send_invitations: bool | None = Field(
        default=None, description="The invitation switch: false logs without inviting "
        "(disabled_by_user); true invites again (only with calendar sync on, R28).")

    def to_command(self) -> MeetingEdit:
        """The domain's edit."""
        loc = self.location
        return MeetingEdit(
            title=self.title,
            attendees=None if self.attendees is None
            else [PartyRef(kind=a.kind, id=a.id) for a in self.attendees],
            location=LocationChoice(kind=loc.kind, value=loc.value,
                                    video_provider=loc.video_provider) if loc else None,
            reminders=None if self.reminders is None
            else [ReminderOffset(amount=r.amount, unit=r.unit) for r in self.reminders],
            reminders_include_description=self.reminders_include_description,
            attendee_description=self.attendee_description,
            internal_note=self.internal_note,
            associations=None if self.associations is None
            else [RecordRef(kind=r.kind, id=r.id) for r in self.associations],
            meeting_type=self.meeting_type,
            send_invitations=self.send_invitations,
        )


class RescheduleIn(RequestModel):
    """POST /meetings/{id}/reschedule: the new start (as in POST /meetings) and duration."""

    start: SupportedDatetime = Field(
        description="As in POST /meetings: a wall time in time_zone or an instant; start "
        "and end in 1900-01-01T00:00:00Z .. 9000-01-01T00:00:00Z (exclusive).")
    time_zone: TimeZoneName
    duration_minutes: int = Field(gt=0, le=MAX_DURATION_MINUTES)


class OutcomeIn(RequestModel):
    """POST /meetings/{id}/outcome: one of the account's outcomes (R19)."""

    outcome: str = Field(min_length=1, max_length=100)
