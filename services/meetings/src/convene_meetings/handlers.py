"""Every Kafka subscriber of meetings, in one place.

meetings keeps read models of records' users, contacts and account settings
(records.events.v1). Each handler is idempotent by construction (version-guarded writes);
the consumer also drops event ids it has processed.
"""

from __future__ import annotations

from convene_kit.consumer import Handler
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope
from convene_schemas.events.records import (
    AccountSettingsChanged,
    ContactUpserted,
    RecordDeleted,
    RecordsEvent,
    UserUpserted,
)

from convene_meetings import read_models
from convene_meetings.deps import Deps

TOPICS: list[str] = [RecordsEvent.TOPIC]


def build_handlers(deps: Deps) -> dict[type[Event], Handler]:
    """The event handlers, keyed by the event class they consume."""
    repo = deps.read_models

    async def on_user_upserted(envelope: Envelope) -> None:
        await read_models.record_user(repo, envelope.event)  # type: ignore[arg-type]

    async def on_contact_upserted(envelope: Envelope) -> None:
        await read_models.record_contact(repo, envelope.event)  # type: ignore[arg-type]

    async def on_account_settings_changed(envelope: Envelope) -> None:
        await read_models.record_account_settings(repo, envelope.event)  # type: ignore[arg-type]

    async def on_record_deleted(envelope: Envelope) -> None:
        await read_models.record_deletion(repo, envelope.event)  # type: ignore[arg-type]

    return {
        UserUpserted: on_user_upserted,
        ContactUpserted: on_contact_upserted,
        AccountSettingsChanged: on_account_settings_changed,
        RecordDeleted: on_record_deleted,
    }
