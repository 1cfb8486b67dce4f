"""Bookings (R34, R35, R41): what a visitor asked for, the times it reserves, and the events
that tell meetings and notifications.

A booking is a versioned aggregate whose first version carries BookingRequested in its
outbox (one write), so a booking that was answered 201 is never lost. Two visitors can never
hold overlapping times with one host because each booking first inserts one *reservation
cell* per :data:`CELL` of its time for its host, ``_id`` = host + cell start: the store's
unique ``_id`` lets exactly one of two overlapping bookings insert a shared cell (FerretDB
1.x and MongoDB alike, no conditional update involved). A booking of a team page in mode
``all`` reserves the cells of every member (its host and its co-hosts). Buffers are not reserved, only
checked against busy time: a buffer is a preference, the meeting's own time is the promise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from convene_schemas.events.booking_pages import (
    BookingAttemptBlocked,
    BookingRequested,
    FormAnswer,
    Visitor,
)
from pydantic import BaseModel, ConfigDict, Field

from convene_booking_pages.domain.errors import RuleViolation
from convene_booking_pages.domain.page import Page

CELL = timedelta(minutes=5)
"""The reservation grain: every offered start and duration is a multiple of five minutes
(the schedule's rules), so cells cover a booking exactly."""


class VisitorRequest(BaseModel):
    """What a visitor sent to book (already a valid shape: the API model checked it)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    duration_minutes: int
    name: str
    email: str
    time_zone: str
    answers: dict[str, str]


class Booking(BaseModel):
    """A booking as stored."""

    booking_id: str
    account_id: str
    version: int = 0
    page_id: str
    slug: str
    host_user_id: str
    co_host_user_ids: list[str] = Field(default_factory=list, description="The team members "
                                        "who attend too (a page in team_mode all).")
    start: datetime
    end: datetime
    visitor_name: str
    visitor_email: str
    visitor_time_zone: str
    offline: bool
    state: Literal["booked", "canceled", "moved"] = "booked"
    created_at: datetime
    updated_at: datetime


def check_duration(page: Page, minutes: int) -> None:
    """:class:`RuleViolation` ``duration_not_offered`` for a length the page does not offer."""
    if minutes not in page.durations:
        raise RuleViolation("duration_not_offered", "This page does not offer that length.",
                            {"offered": page.durations})


def check_request(page: Page, request: VisitorRequest) -> list[FormAnswer]:
    """The form's answers in form order, or :class:`RuleViolation` for a duration the page
    does not offer, a required answer missing, a choice not offered or an unknown key."""
    check_duration(page, request.duration_minutes)
    known = {field.key: field for field in page.form_fields}
    unknown = sorted(set(request.answers) - set(known))
    if unknown:
        raise RuleViolation("answer_unknown", "The form has no such question.",
                            {"fields": unknown})
    answers = []
    for field in page.form_fields:
        value = request.answers.get(field.key, "").strip()
        if field.required and not value:
            raise RuleViolation("answer_required", f"Please answer: {field.label}",
                                {"field": field.key})
        if value and field.kind == "select" and value not in field.options:
            raise RuleViolation("answer_invalid", f"Please choose one of the options for: "
                                f"{field.label}", {"field": field.key})
        if value and field.kind != "textarea" and ("\n" in value or "\t" in value):
            raise RuleViolation("answer_invalid", f"One line only for: {field.label}",
                                {"field": field.key})
        if value:
            answers.append(FormAnswer(field=field.key, label=field.label, value=value))
    return answers


def cells(start: datetime, end: datetime) -> list[datetime]:
    """The reservation cells of ``[start, end)``, in UTC."""
    first = start.astimezone(UTC)
    count = int((end - start) / CELL)
    return [first + i * CELL for i in range(count)]


def cell_id(account_id: str, user_id: str, at: datetime) -> str:
    return f"{account_id}:{user_id}:{at.astimezone(UTC):%Y%m%dT%H%M}"


def attempt_id(page_id: str, start: datetime, visitor_email: str | None, reason: str) -> str:
    """One blocked attempt per page, slot, visitor and reason: a visitor pressing "book"
    again does not email the owner again."""
    key = f"{page_id}|{start.astimezone(UTC).isoformat()}|{(visitor_email or '').lower()}|{reason}"
    return "att_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def new_booking(page: Page, request: VisitorRequest, *, booking_id: str, host_user_id: str,
                offline: bool, now: datetime, co_host_user_ids: Sequence[str] = ()) -> Booking:
    start = request.start.astimezone(UTC)
    return Booking(booking_id=booking_id, account_id=page.account_id, page_id=page.page_id,
                   slug=page.slug, host_user_id=host_user_id,
                   co_host_user_ids=list(co_host_user_ids), start=start,
                   end=start + timedelta(minutes=request.duration_minutes),
                   visitor_name=request.name, visitor_email=request.email,
                   visitor_time_zone=request.time_zone, offline=offline, created_at=now,
                   updated_at=now)


def booking_requested(booking: Booking, page: Page, answers: Sequence[FormAnswer],
                      now: datetime) -> BookingRequested:
    """The event meetings turns into the host's meeting (or a request, offline: R35); the
    co-hosts (team_mode all) attend it."""
    return BookingRequested(
        account_id=booking.account_id, version=0, occurred_at=now,
        booking_id=booking.booking_id, page_id=page.page_id, slug=page.slug,
        owner_user_id=booking.host_user_id, co_host_user_ids=list(booking.co_host_user_ids),
        visitor=Visitor(name=booking.visitor_name, email=booking.visitor_email,
                        time_zone=booking.visitor_time_zone, language=page.language),
        title=f"{page.title}: {booking.visitor_name}"[:500], start=booking.start,
        end=booking.end, time_zone=page.time_zone, page_offline=booking.offline,
        form_answers=list(answers))


def attempt_blocked(page: Page, request: VisitorRequest, *, host_user_id: str,
                    reason: Literal["calendar_access_lost", "pages_turned_off"],
                    inactive_calendar_ids: Iterable[str], now: datetime
                    ) -> BookingAttemptBlocked:
    """The event that emails the host someone tried to book (R30, R36)."""
    start = request.start.astimezone(UTC)
    return BookingAttemptBlocked(
        account_id=page.account_id, version=0, occurred_at=now,
        attempt_id=attempt_id(page.page_id, start, request.email, reason),
        page_id=page.page_id, slug=page.slug, owner_user_id=host_user_id, reason=reason,
        inactive_calendar_ids=list(inactive_calendar_ids), attempted_start=start,
        attempted_end=start + timedelta(minutes=request.duration_minutes),
        time_zone=request.time_zone, visitor_email=request.email, visitor_name=request.name,
        page_title=page.title)


def ended(booking: Booking, state: Literal["canceled", "moved"], now: datetime) -> Booking | None:
    """The booking after its meeting was canceled or moved (its cells are released)."""
    if booking.state == state:
        return None
    return booking.model_copy(update={"state": state, "version": booking.version + 1,
                                      "updated_at": now})
