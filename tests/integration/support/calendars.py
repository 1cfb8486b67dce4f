"""Publishing calendar-sync's connection events as the real calendar-sync will (the service
does not exist yet): meetings needs a host with an active connected calendar (R16)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from convene_schemas.base import Event
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.events.calendar_sync import (
    Calendar,
    CalendarConnected,
    CalendarConnectionUpdated,
    CalendarSyncEvent,
)

from support.services import Stack
from support.skeleton import publish


def _account_id(account: Any) -> str:
    return account if isinstance(account, str) else account.id


async def publish_calendar_event(stack: Stack, event: CalendarSyncEvent | Event) -> None:
    """Publish any calendar-sync event as calendar-sync would (CloudEvents, keyed)."""
    record = to_kafka_message(event, event_id=new_event_id())
    await publish(stack, record.topic, record.key, record.value, record.headers)


async def connect_calendar(stack: Stack, account: Any, user_id: str,
                           sync_enabled: bool = True) -> CalendarConnected:
    """Publish a valid CalendarConnected (version 1, one primary Google calendar) for
    ``user_id`` of ``account`` (an Account or an account id) on the stack's prefixed
    calendar-sync topic; returns the event (its ``connection_id`` names the connection)."""
    event = CalendarConnected(
        account_id=_account_id(account), version=1, occurred_at=datetime.now(timezone.utc),
        connection_id=f"conn_{uuid.uuid4().hex[:16]}", user_id=user_id, provider="google",
        account_email=f"{user_id.replace('_', '-')}@calendar.example",
        calendars=[Calendar(calendar_id="primary", name="Work", primary=True, access="owner",
                            active=True)],
        primary_calendar_id="primary", sync_enabled=sync_enabled, purpose="all",
    )
    await publish_calendar_event(stack, event)
    return event


async def switch_sync(stack: Stack, connected: CalendarConnected, sync_enabled: bool,
                      version: int = 2) -> CalendarConnectionUpdated:
    """Publish a CalendarConnectionUpdated turning calendar sync on or off (R26, R28)."""
    state = connected.model_dump(exclude={"reconnected", "version", "occurred_at",
                                          "sync_enabled"})
    event = CalendarConnectionUpdated(**state, version=version, sync_enabled=sync_enabled,
                                      occurred_at=datetime.now(timezone.utc),
                                      changed_fields=["sync_enabled"])
    await publish_calendar_event(stack, event)
    return event
