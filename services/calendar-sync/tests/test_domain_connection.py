"""The connection rules that the API tests do not reach: a failure seen with credentials
older than the connection's is stale (the user reconnected meanwhile) and loses nothing."""

from __future__ import annotations

from datetime import timedelta

from calendar_sync_support import ACCOUNT, NOW
from convene_calendar_sync.domain import connection as rules
from convene_calendar_sync.domain.calendar_events import ProviderCalendar
from convene_schemas.events.calendar_sync import CalendarAccessLost, CalendarAccessRestored

LISTED = [ProviderCalendar(calendar_id="cal-1", name="Work", primary=True, access="owner")]


def test_a_failure_with_older_credentials_than_the_connections_changes_nothing() -> None:
    connection, _ = rules.new_connection(account_id=ACCOUNT, user_id="u1", provider="caldav",
                                         account_email="u1@x.example", listed=LISTED, now=NOW)
    seen_by_the_failing_call = connection
    later = NOW + timedelta(minutes=5)
    reconnected, events = rules.reconnect(connection, listed=LISTED, now=later)
    assert events == [] and reconnected.credentials_at == later
    assert rules.lose_access(reconnected, calendar_ids=["cal-1"], reason="password_changed",
                             now=later,
                             credentials_at=seen_by_the_failing_call.credentials_at) is None
    lost = rules.lose_access(reconnected, calendar_ids=["cal-1"], reason="password_changed",
                             now=later, credentials_at=reconnected.credentials_at)
    assert lost is not None and isinstance(lost[1][0], CalendarAccessLost)
    assert not lost[0].bookable
    restored, events = rules.reconnect(lost[0], listed=LISTED, now=later + timedelta(minutes=1))
    assert restored.bookable and isinstance(events[0], CalendarAccessRestored)
