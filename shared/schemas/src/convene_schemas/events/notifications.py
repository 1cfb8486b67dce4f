"""Events of the notifications service (topic ``notifications.events.v1``).

Reminders are durable timers: when one fires, notifications publishes ``ReminderDue`` and
its own consumer sends the email, so a crash between "due" and "sent" is retried from
the log, and the deterministic ``reminder_id`` keeps the email from going out twice (R43).
Each email has an id of its own; its events are keyed by it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from convene_schemas.base import EntityId, Event, TimeZoneName, UtcInstant
from convene_schemas.events.common import EmailAddress, LanguageTag, ReminderOffset, ValueObject
from convene_schemas.text import MultilineText

EmailKind = Literal[
    "invitation",
    "update",
    "cancellation",
    "reminder",
    "offline_booking_request",
    "booking_attempt_blocked",
]
"""What an outgoing email is for (R14, R42, R43, R44)."""


def reminder_id_for(
    meeting_id: str, recipient_kind: str, recipient_id: str, offset_minutes: int
) -> str:
    """The deterministic id of one reminder of one meeting for one recipient.

    A rescheduled meeting keeps its reminder ids (the timer moves, R43); the id, not the
    due time, is the idempotency key of the email.
    """
    return f"{meeting_id}:{recipient_kind}:{recipient_id}:{offset_minutes}m"


class NotificationsEvent(Event):
    """Base of every event the notifications service publishes."""

    SERVICE: ClassVar[str] = "notifications"
    TOPIC: ClassVar[str] = "notifications.events.v1"


class Recipient(ValueObject):
    """Who an email goes to."""

    kind: Literal["contact", "user", "visitor"] = Field(description="The kind of recipient.")
    id: EntityId | None = Field(
        default=None, description="The contact's or user's id; null for a visitor."
    )
    email: EmailAddress = Field(description="The address the email goes to.")
    time_zone: TimeZoneName | None = Field(
        default=None, description="Times in the email are shown in this zone (R43)."
    )
    language: LanguageTag | None = Field(default=None, description="The email's language.")

    @model_validator(mode="after")
    def _id_for_known_people(self) -> Recipient:
        if (self.kind == "visitor") != (self.id is None):
            raise ValueError("contacts and users have an id, visitors have none")
        return self


class ReminderDue(NotificationsEvent):
    """A reminder's timer fired: the reminder email should go out now (R43)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.notifications.ReminderDue"
    AGGREGATE_ID_FIELD: ClassVar[str] = "reminder_id"

    reminder_id: EntityId = Field(
        description="Deterministic: meeting, recipient and offset (the message key)."
    )
    meeting_id: EntityId = Field(description="The meeting the reminder is for.")
    meeting_version: int = Field(
        ge=0, description="The meeting version the timer was set from. The sender checks the "
        "reminder against the meeting as it is when the email goes out (same start, the offset "
        "still chosen, the recipient still invited); a later edit that keeps those does not "
        "make it stale."
    )
    recipient: Recipient = Field(description="Who the reminder goes to.")
    offset: ReminderOffset = Field(description="The reminder's offset before the start.")
    due_at: UtcInstant = Field(description="When the reminder was due (UTC).")
    meeting_start: UtcInstant = Field(description="The meeting's start (UTC).")


class InvitationSent(NotificationsEvent):
    """An invitation, update or cancellation email with an .ics part was handed to the
    mail server (R14, R42)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.notifications.InvitationSent"
    AGGREGATE_ID_FIELD: ClassVar[str] = "email_id"

    email_id: EntityId = Field(description="The outgoing email's id (the message key).")
    meeting_id: EntityId = Field(description="The meeting.")
    ical_uid: str = Field(min_length=1, max_length=1024, description="The .ics UID.")
    kind: Literal["invitation", "update", "cancellation"] = Field(
        description="What the email tells the attendee."
    )
    method: Literal["REQUEST", "CANCEL"] = Field(description="The iCalendar METHOD.")
    sequence: int = Field(ge=0, description="The .ics SEQUENCE: the meeting's version.")
    recipient: Recipient = Field(description="Who it went to.")
    message_id: str = Field(
        min_length=3, max_length=998, description="The RFC 5322 Message-ID header."
    )

    @model_validator(mode="after")
    def _method_matches_kind(self) -> InvitationSent:
        if (self.kind == "cancellation") != (self.method == "CANCEL"):
            raise ValueError("a cancellation is METHOD:CANCEL, anything else METHOD:REQUEST")
        return self


class ReminderSent(NotificationsEvent):
    """A reminder email was handed to the mail server (R43)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.notifications.ReminderSent"
    AGGREGATE_ID_FIELD: ClassVar[str] = "email_id"

    email_id: EntityId = Field(description="The outgoing email's id (the message key).")
    reminder_id: EntityId = Field(description="The reminder this email fulfils.")
    meeting_id: EntityId = Field(description="The meeting.")
    meeting_version: int = Field(ge=0, description="The meeting version the email shows.")
    recipient: Recipient = Field(description="Who it went to.")
    due_at: UtcInstant = Field(description="When it was due; occurred_at - due_at is lateness.")
    message_id: str = Field(
        min_length=3, max_length=998, description="The RFC 5322 Message-ID header."
    )


class EmailDeliveryFailed(NotificationsEvent):
    """An email could not be delivered, temporarily (it will be retried) or permanently."""

    EVENT_TYPE: ClassVar[str] = "com.convene.notifications.EmailDeliveryFailed"
    AGGREGATE_ID_FIELD: ClassVar[str] = "email_id"

    email_id: EntityId = Field(description="The outgoing email's id (the message key).")
    kind: EmailKind = Field(description="What the email was for.")
    recipient_email: EmailAddress = Field(description="The address that failed.")
    meeting_id: EntityId | None = Field(default=None, description="The meeting, if any.")
    smtp_code: int | None = Field(
        default=None, ge=200, le=599, description="The SMTP reply code, when there was one."
    )
    enhanced_status: str | None = Field(
        default=None, pattern=r"^[245]\.\d{1,3}\.\d{1,3}$", description="RFC 3463 status."
    )
    permanent: bool = Field(description="True when it will not be retried (5xx, bad address).")
    attempts: int = Field(ge=1, description="Delivery attempts so far.")
    reason: MultilineText = Field(
        max_length=1000, description="The server's reply (may span lines) or the local error."
    )
