"""Keeping meetings' read models: records' users, contacts and account settings, and
calendar-sync's calendar connections.

records publishes full state per aggregate (records.events.v1 is compacted), so each event
simply replaces what is stored, provided its version is newer: a redelivered event or an
older one arriving after a newer one changes nothing. meetings never calls records.
"""

from __future__ import annotations

import logging
from typing import Any

from convene_schemas.base import Event
from convene_schemas.events.calendar_sync import (
    CalendarAccessLost,
    CalendarAccessRestored,
    CalendarConnected,
    CalendarConnectionUpdated,
    CalendarDisconnected,
)
from convene_schemas.events.records import (
    AccountSettingsChanged,
    ContactUpserted,
    RecordDeleted,
    UserUpserted,
)

from convene_meetings.store import CalendarConnectionRepository, ReadModelRepository

logger = logging.getLogger(__name__)

_ENVELOPE_FIELDS = {"account_id", "version", "occurred_at"}


def _state(event: Event, *aggregate_id_fields: str) -> dict[str, Any]:
    """The event's state fields, with ``updated_at`` = when the change happened."""
    state = event.model_dump(mode="python", exclude=_ENVELOPE_FIELDS | set(aggregate_id_fields))
    state["updated_at"] = event.occurred_at
    return state


async def record_user(read_models: ReadModelRepository, event: UserUpserted) -> bool:
    """Store a user's state (UserUpserted); True if it was newer than what was stored."""
    return await read_models.put_user(
        event.account_id, event.user_id, event.version, _state(event, "user_id")
    )


async def record_contact(read_models: ReadModelRepository, event: ContactUpserted) -> bool:
    """Store a contact's state (ContactUpserted); a newer one undoes a soft delete."""
    return await read_models.put_contact(
        event.account_id, event.contact_id, event.version, _state(event, "contact_id")
    )


async def record_account_settings(
    read_models: ReadModelRepository, event: AccountSettingsChanged
) -> bool:
    """Store the account's meeting settings (AccountSettingsChanged)."""
    return await read_models.put_account_settings(
        event.account_id, event.version, _state(event)
    )


async def record_deletion(read_models: ReadModelRepository, event: RecordDeleted) -> bool:
    """Forget a deleted contact (a tombstone keeps its version); other kinds have no read
    model here."""
    if event.record_kind != "contact":
        logger.debug("ignoring deletion of %s %s", event.record_kind, event.record_id)
        return False
    return await read_models.delete_contact(
        event.account_id, event.record_id, event.version, permanent=event.permanent
    )


# --- calendar-sync's connections (R16, R17, R28) -------------------------------------------
# Every event of one connection shares its version sequence and partition (key =
# connection id), so a read-then-write here never races another event of the connection.


async def record_connection_state(
    connections: CalendarConnectionRepository,
    event: CalendarConnected | CalendarConnectionUpdated,
) -> bool:
    """CalendarConnected / CalendarConnectionUpdated: the connection's full state."""
    return await connections.put(event.account_id, event.connection_id, event.version, {
        "user_id": event.user_id, "provider": event.provider, "connected": True,
        "sync_enabled": event.sync_enabled, "primary_calendar_id": event.primary_calendar_id,
        "account_email": event.account_email,
        "lost_calendar_ids": sorted(c.calendar_id for c in event.calendars if not c.active),
        "updated_at": event.occurred_at,
    })


async def record_disconnection(
    connections: CalendarConnectionRepository, event: CalendarDisconnected
) -> bool:
    """CalendarDisconnected: the connection no longer counts (R32)."""
    return await connections.put(event.account_id, event.connection_id, event.version, {
        "user_id": event.user_id, "provider": event.provider, "connected": False,
        "updated_at": event.occurred_at,
    })


async def record_access_change(
    connections: CalendarConnectionRepository,
    event: CalendarAccessLost | CalendarAccessRestored,
) -> bool:
    """CalendarAccessLost / CalendarAccessRestored: which calendars are inaccessible (R30)."""
    stored = await connections.get(event.account_id, event.connection_id) or {}
    lost = set(stored.get("lost_calendar_ids", []))
    if isinstance(event, CalendarAccessLost):
        lost |= set(event.affected_calendar_ids)
    else:
        lost -= set(event.restored_calendar_ids)
    return await connections.put(event.account_id, event.connection_id, event.version, {
        "user_id": event.user_id, "provider": event.provider,
        "lost_calendar_ids": sorted(lost), "updated_at": event.occurred_at,
    })
