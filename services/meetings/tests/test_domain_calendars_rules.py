"""R16, R17, R28 (calendar connections) and R2, R8, R10 (account rules), as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from convene_meetings.domain.calendars import CalendarConnection, host_invitation_policy
from convene_meetings.domain.directory import AccountDefaults, Directory, UserProfile
from convene_meetings.domain.errors import RuleViolation
from convene_meetings.domain.rules import (
    ensure_meeting_type,
    ensure_on_behalf_allowed,
    ensure_outcome,
    ensure_reminders_fire_in_time,
    ensure_sandbox_attendees,
)
from convene_schemas.events.common import ReminderOffset

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ON = CalendarConnection("conn_1", "usr_a", connected=True, sync_enabled=True,
                        primary_calendar_id="primary")
PRO = UserProfile("usr_a", "a@x.example", "A", "UTC", "en", seat="sales_professional")


def code(fn, *args, **kw) -> str:
    with pytest.raises(RuleViolation) as caught:
        fn(*args, **kw)
    return caught.value.code


def test_an_active_connection_with_sync_on_sends_invitations() -> None:
    policy = host_invitation_policy([ON], on_behalf=False)
    assert (policy.send, policy.reason) == (True, None)


@pytest.mark.parametrize("connections", [
    [], [replace(ON, connected=False)],
    [replace(ON, lost_calendar_ids=frozenset({"primary"}))],  # access lost (R30)
])
def test_no_active_connected_calendar_is_refused(connections) -> None:
    assert code(host_invitation_policy, connections, on_behalf=False) == "no_connected_calendar"


def test_sync_off_logs_the_meeting_without_invitations() -> None:
    policy = host_invitation_policy([replace(ON, sync_enabled=False)], on_behalf=False)
    assert (policy.send, policy.reason) == (False, "calendar_sync_off")


def test_on_behalf_needs_the_hosts_sync_on() -> None:
    off = [replace(ON, sync_enabled=False)]
    assert code(host_invitation_policy, off, on_behalf=True) == "host_calendar_sync_off"
    assert host_invitation_policy(off + [replace(ON, connection_id="c2")], on_behalf=True).send


def test_on_behalf_needs_paid_seats_on_both_sides() -> None:
    free = replace(PRO, seat="none")
    assert code(ensure_on_behalf_allowed, free, PRO) == "organizer_seat_required"
    assert code(ensure_on_behalf_allowed, None, PRO) == "organizer_seat_required"
    assert code(ensure_on_behalf_allowed, PRO, free) == "host_seat_required"
    ensure_on_behalf_allowed(PRO, replace(PRO, seat="service_enterprise"))


def test_a_sandbox_account_books_only_its_users() -> None:
    sandbox = Directory(users={"usr_a": PRO}, account=AccountDefaults(is_sandbox=True))
    ensure_sandbox_attendees([("user", "usr_a")], sandbox)
    assert code(ensure_sandbox_attendees, [("contact", "ct_1")], sandbox) == (
        "sandbox_attendee_not_user")
    assert code(ensure_sandbox_attendees, [("user", "usr_other")], sandbox) == (
        "sandbox_attendee_not_user")
    ensure_sandbox_attendees([("contact", "ct_1")], replace(sandbox, account=AccountDefaults()))


def test_meeting_types_only_when_enabled_and_listed() -> None:
    enabled = Directory(account=AccountDefaults(custom_meeting_types_enabled=True,
                                                meeting_types=("Demo",)))
    ensure_meeting_type("Demo", enabled)
    ensure_meeting_type(None, Directory())
    assert code(ensure_meeting_type, "Lunch", enabled) == "unknown_meeting_type"
    assert code(ensure_meeting_type, "Demo", Directory(account=AccountDefaults())) == (
        "meeting_types_disabled")


def test_reminders_fire_after_now() -> None:
    start = NOW + timedelta(hours=2)
    ensure_reminders_fire_in_time([ReminderOffset(amount=1, unit="hours")], start, NOW)
    assert code(ensure_reminders_fire_in_time, [ReminderOffset(amount=1, unit="days")],
                start, NOW) == "reminder_in_past"


def test_outcomes_come_from_the_accounts_list() -> None:
    ensure_outcome("completed", Directory())
    custom = Directory(account=AccountDefaults(meeting_outcomes=("won",)))
    ensure_outcome("won", custom)
    assert code(ensure_outcome, "completed", custom) == "unknown_outcome"
