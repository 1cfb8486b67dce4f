"""The one test kit of notifications' unit and contract tests (no servers).

* :func:`build` (and conftest's ``service`` fixture): the service as ``bootstrap`` wires
  it, over the kit's in-memory MongoDB (:class:`convene_kit.testing.FakeStore`), a mail
  server that records (:class:`FakeMailer`) and a :class:`ManualClock` (fixed at
  :data:`NOW` until the test moves it); the events it raises are kept by the kit's
  :class:`convene_kit.testing.RecordingPublisher` (unit tests) or published on its own
  broker (contract tests through ``TestKafkaBroker``). Tests reach the parts through
  ``service.deps``, ``service.scheduler``, ``service.retries`` and ``service.mail_log``;
  two builds over one store are two replicas.
* :func:`publish` / :func:`consume`: events through FastStream's ``TestKafkaBroker``;
  :func:`unchecked` builds what the contract refuses (a line break in a title, NUL, a year
  out of range), as a foreign or older producer might still send it.
* builders of the events notifications consumes: meetings' (:func:`meeting`,
  :func:`updated`, ...), records' (:func:`user_upserted`, :func:`settings_changed`),
  booking-pages' (:func:`booking_requested`, :func:`attempt_blocked`) and its own
  ``ReminderDue`` (:func:`due_for`).

A uniquely named module, so that test sessions spanning several services never import
another service's helpers by mistake.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, TypeVar

from convene_kit.auth import JwtVerifier
from convene_kit.kafka import EventPublisher
from convene_kit.testing import FakeStore, RecordingPublisher
from convene_notifications.bootstrap import Notifications, bootstrap
from convene_notifications.service_layer.email_jobs import SendResult
from convene_notifications.settings import NotificationsSettings
from convene_schemas.base import Event
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.events.booking_pages import (
    BookingAttemptBlocked,
    BookingRequested,
    FormAnswer,
    Visitor,
)
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import (
    Attendee,
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingUpdated,
    ical_uid_for,
)
from convene_schemas.events.notifications import ReminderDue
from convene_schemas.events.records import AccountSettingsChanged, UserUpserted
from faststream.kafka import KafkaBroker, TestKafkaBroker
from pydantic import BaseModel

NOW = datetime(2026, 3, 6, 9, 0, tzinfo=timezone.utc)
START = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
"""When :func:`meeting` starts unless told otherwise."""

SENDER = Address("Convene", "meetings", "convene.test")
"""The From mailbox of every email (``NotificationsSettings.mail_from``'s default)."""

TOPIC_PREFIX = "ut."

E = TypeVar("E", bound=Event)
M = TypeVar("M", bound=BaseModel)


# ---------------------------------------------------------------------------------------
# The service on fakes


class ManualClock:
    """The service's clock: ``now`` until the test moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def settings_for(**overrides: Any) -> NotificationsSettings:
    """Settings of a test service: topics under :data:`TOPIC_PREFIX`, quick consumer
    retries, ``overrides`` on top."""
    values: dict[str, Any] = {"topic_prefix": TOPIC_PREFIX, "consumer_retry_initial_s": 0.001,
                              "consumer_retry_max_s": 0.002}
    return NotificationsSettings(**{**values, **overrides})


def build(settings: NotificationsSettings | None = None, *, store: FakeStore | None = None,
          mailer: FakeMailer | None = None, publisher: EventPublisher | None = None,
          clock: ManualClock | None = None, verifier: JwtVerifier | None = None
          ) -> Notifications:
    """notifications as ``bootstrap`` wires it, on fakes: a fresh store, mail server and
    clock unless given (pass the same ones to two builds for two replicas). Without a
    ``publisher`` (a :class:`RecordingPublisher` for unit tests), bootstrap's own publishes
    on the service's broker, where FastStream's ``TestKafkaBroker`` delivers its events to
    the subscribers (a ``ReminderDue`` to the reminder emails)."""
    return bootstrap(settings or settings_for(), broker=KafkaBroker(),
                     store=store if store is not None else FakeStore(),  # type: ignore[arg-type]
                     mailer=mailer if mailer is not None else FakeMailer(), publisher=publisher,
                     verifier=verifier, clock=clock if clock is not None else ManualClock())


async def publish(broker: KafkaBroker, event: Event, event_id: str | None = None) -> None:
    """Deliver ``event`` (under a new event id unless given) to a ``TestKafkaBroker``."""
    record = to_kafka_message(event, event_id=event_id or new_event_id())
    await broker.publish(record.value, TOPIC_PREFIX + record.topic, key=record.key,
                         headers={k: v.decode() for k, v in record.headers})


async def consume(service: Notifications, *events: Event) -> None:
    """Deliver ``events`` in order to the service's subscribers (each a new event id)."""
    async with TestKafkaBroker(service.runtime.broker) as broker:
        for event in events:
            await publish(broker, event)


def unchecked(model: M, **fields: Any) -> M:
    """``model`` with ``fields`` replaced and *not* validated: text or times the contract
    refuses, for the composers' defence-in-depth tests and for bad events on the wire."""
    return model.model_copy(update=fields)


def raised(publisher: RecordingPublisher, cls: type[E]) -> list[E]:
    """The published events of type ``cls``, in order."""
    return [envelope.event for envelope in publisher.events()
            if isinstance(envelope.event, cls)]


def sent_now(result: SendResult | None) -> bool:
    """True when a planner's call handed the email to the server and it was accepted."""
    return result is not None and result.sent_now


# ---------------------------------------------------------------------------------------
# The mail server

_CRLF = policy.default.clone(linesep="\r\n", refold_source="none")  # round-trips exactly


class FakeMailer:
    """Records every message; ``failures`` are raised, one per send, before succeeding."""

    def __init__(self, failures: Sequence[Exception] = ()) -> None:
        self.sent: list[tuple[EmailMessage, str, list[str]]] = []
        self.failures = list(failures)
        self.attempts = 0
        self.raw: list[bytes] = []  # every attempt's bytes, failed ones too

    async def send(self, message: EmailMessage | bytes, *, sender: str,
                   recipients: Sequence[str]) -> None:
        self.attempts += 1
        if isinstance(message, bytes):  # the exact bytes: read back for the assertions
            self.raw.append(message)
            message = BytesParser(policy=_CRLF).parsebytes(message)  # type: ignore[assignment]
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((message, sender, list(recipients)))  # type: ignore[arg-type]

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m, _, rcpts in self.sent if address in rcpts]


# ---------------------------------------------------------------------------------------
# meetings' events


def contact(email: str | None = "dana.lee@globex.example", *, name: str = "Dana Lee",
            invite: bool = True, **overrides: Any) -> Attendee:
    values: dict[str, Any] = {
        "kind": "contact", "id": f"ct_{uuid.uuid4().hex[:8]}", "email": email, "name": name,
        "language": "en", "time_zone": "America/New_York", "invite": invite,
        "no_invite_reason": None if invite else ("email_missing" if not email else "email_invalid"),
    }
    values.update(overrides)
    return Attendee(**values)


def meeting(**overrides: Any) -> MeetingScheduled:
    """A scheduled meeting in Europe/Rome with one invited contact (random ids)."""
    meeting_id = overrides.pop("meeting_id", f"mtg_{uuid.uuid4().hex[:10]}")
    start = overrides.pop("start", START)
    minutes = overrides.pop("duration_minutes", 30)
    values: dict[str, Any] = {
        "account_id": "acc_1", "version": 0, "occurred_at": NOW,
        "meeting_id": meeting_id, "ical_uid": ical_uid_for(meeting_id),
        "title": "Quarterly review", "start": start, "end": start + timedelta(minutes=minutes),
        "time_zone": "Europe/Rome", "duration_minutes": minutes,
        "host_user_id": "usr_host", "host_email": "marco.rossi@convene.example",
        "host_name": "Marco Rossi", "organizer_user_id": "usr_host", "on_behalf": False,
        "attendees": [contact()], "attendee_description": "<p>Agenda: <b>numbers</b></p>",
        "source": "crm", "send_invitations": True,
    }
    values.update(overrides)
    return MeetingScheduled(**values)


def updated(base: MeetingScheduled, *, version: int = 1, changed_fields: Sequence[str] = ("title",),
            removed: Sequence[Attendee] = (), **overrides: Any) -> MeetingUpdated:
    """A MeetingUpdated of ``base`` (its snapshot with ``overrides``)."""
    values = {**base.model_dump(), "version": version, **overrides,
              "changed_fields": list(changed_fields),
              "removed_attendees": [a.model_dump() for a in removed]}
    return MeetingUpdated.model_validate(values, strict=False)


def rescheduled(base: MeetingScheduled, *, version: int = 1,
                minutes_later: int = 60) -> MeetingRescheduled:
    """A MeetingRescheduled of ``base``, moved ``minutes_later``."""
    shift = timedelta(minutes=minutes_later)
    values = {**base.model_dump(), "version": version, "start": base.start + shift,
              "end": base.end + shift, "previous_start": base.start, "previous_end": base.end,
              "changed_fields": ["start", "end"]}
    return MeetingRescheduled.model_validate(values, strict=False)


def canceled(base: MeetingScheduled, *, version: int = 1) -> MeetingCanceled:
    """A MeetingCanceled of ``base``."""
    values = {**base.model_dump(), "version": version, "reason": "canceled_in_crm"}
    return MeetingCanceled.model_validate(values, strict=False)


def offsets(*spec: tuple[int, str]) -> list[ReminderOffset]:
    """Reminder offsets: ``offsets((1, "hours"), (30, "minutes"))``."""
    return [ReminderOffset(amount=amount, unit=unit) for amount, unit in spec]  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# notifications' own ReminderDue


def due_for(event: Any, *, version: int = 0, **recipient: Any) -> ReminderDue:
    """The ReminderDue of ``event``'s first attendee, one hour before the start."""
    attendee = event.attendees[0]
    return ReminderDue(
        account_id=event.account_id, version=0, occurred_at=NOW,
        reminder_id=f"{event.meeting_id}:contact:{attendee.id}:60m",
        meeting_id=event.meeting_id, meeting_version=version,
        recipient={"kind": "contact", "id": attendee.id, "email": attendee.email,
                   "time_zone": attendee.time_zone, "language": attendee.language,
                   **recipient},
        offset={"amount": 1, "unit": "hours"}, due_at=event.start - timedelta(hours=1),
        meeting_start=event.start)


# ---------------------------------------------------------------------------------------
# records' events


def user_upserted(account_id: str = "acc_1", user_id: str | None = None, *, version: int = 0,
                  language: str = "en", time_zone: str = "Europe/Rome",
                  email: str | None = None, name: str = "Olga Owner") -> UserUpserted:
    user_id = user_id or f"usr_{uuid.uuid4().hex[:8]}"
    return UserUpserted(account_id=account_id, version=version, occurred_at=NOW,
                        user_id=user_id, email=email or f"{user_id}@acme.example", name=name,
                        time_zone=time_zone, language=language, seat="none",
                        personal_email_access=False, active=True)


def settings_changed(account_id: str = "acc_1", *, version: int = 0,
                     language: str = "it", time_zone: str = "Europe/Rome") -> AccountSettingsChanged:
    return AccountSettingsChanged(
        account_id=account_id, version=version, occurred_at=NOW,
        account_created_at=NOW - timedelta(days=400), is_sandbox=False,
        hub_tier="professional", default_time_zone=time_zone, default_language=language,
        reminders_enabled_by_default=False, default_reminders=[],
        custom_meeting_types_enabled=False)


# ---------------------------------------------------------------------------------------
# booking-pages' events

BOOKING_START = datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc)


def booking_requested(owner_user_id: str, *, account_id: str = "acc_1", offline: bool = True,
                      visitor_name: str = "Priya Shah", **overrides: Any) -> BookingRequested:
    values: dict[str, Any] = {
        "account_id": account_id, "version": 0, "occurred_at": NOW,
        "booking_id": f"bk_{uuid.uuid4().hex[:8]}", "page_id": "pg_intro", "slug": "olga-intro",
        "owner_user_id": owner_user_id,
        "visitor": Visitor(name=visitor_name, email="priya@hooli.example",
                           time_zone="Europe/London", language="en"),
        "title": "Intro call with Priya Shah", "start": BOOKING_START,
        "end": BOOKING_START + timedelta(minutes=30), "time_zone": "Europe/Rome",
        "page_offline": offline,
        "form_answers": [FormAnswer(field="topic", label="What would you like to discuss?",
                                    value="Pricing for <40> seats")],
    }
    values.update(overrides)
    return BookingRequested(**values)


def attempt_blocked(owner_user_id: str, *, account_id: str = "acc_1",
                    reason: str = "calendar_access_lost", **overrides: Any) -> BookingAttemptBlocked:
    values: dict[str, Any] = {
        "account_id": account_id, "version": 0, "occurred_at": NOW,
        "attempt_id": f"ba_{uuid.uuid4().hex[:8]}", "page_id": "pg_intro", "slug": "olga-intro",
        "owner_user_id": owner_user_id, "reason": reason,
        "inactive_calendar_ids": (["team-sales@group.calendar.google.com"]
                                  if reason == "calendar_access_lost" else []),
        "attempted_start": BOOKING_START, "attempted_end": BOOKING_START + timedelta(minutes=30),
        "time_zone": "Europe/Berlin", "visitor_email": "jian@example.org",
    }
    values.update(overrides)
    return BookingAttemptBlocked(**values)
