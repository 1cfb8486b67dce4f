"""Companies, deals, tickets and tasks (R3, R4, R7): CRM records beside contacts.

Each kind keeps its properties as the catalogue's ``...Upserted`` event defines them, so the
event model is the one validation of a kind's properties (a deal's amount needs a currency).
A record is soft deleted: it is kept, flagged ``deleted`` and announced by ``RecordDeleted``;
reads treat it as gone.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from convene_schemas.events.records import (
    CompanyUpserted,
    DealUpserted,
    RecordDeleted,
    RecordsEvent,
    TaskUpserted,
    TicketUpserted,
)
from pydantic import ValidationError

from convene_records.domain.versions import FIRST_VERSION, next_version

CrmKind = Literal["company", "deal", "ticket", "task"]

UPSERT_EVENTS: dict[str, tuple[type[RecordsEvent], str]] = {
    "company": (CompanyUpserted, "company_id"),
    "deal": (DealUpserted, "deal_id"),
    "ticket": (TicketUpserted, "ticket_id"),
    "task": (TaskUpserted, "task_id"),
}
"""Per kind, the event that carries its state and the event's id field."""

ID_PREFIXES: dict[str, str] = {"company": "co_", "deal": "deal_", "ticket": "tkt_",
                               "task": "task_"}
"""Id prefixes: ids stay unique across kinds (the records topic is compacted by key)."""


NAME_PROPERTIES: dict[str, str] = {"company": "name", "deal": "name", "ticket": "subject",
                                   "task": "title"}
"""The property each kind is searched by."""


def record_name_key(record: CrmRecord) -> str:
    """The searchable form of the record's name (lower-cased, single-spaced)."""
    return " ".join(str(record.properties.get(NAME_PROPERTIES[record.kind], "")).lower().split())


class InvalidProperties(ValueError):
    """The properties break a rule of the kind (the message says which)."""


@dataclass(frozen=True)
class CrmRecord:
    """One company, deal, ticket or task; ``properties`` are the kind's fields (JSON)."""

    kind: CrmKind
    id: str
    account_id: str
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int = FIRST_VERSION
    deleted: bool = False

    @property
    def owner_user_id(self) -> str | None:
        """The user who owns the record, if any."""
        owner = self.properties.get("owner_user_id")
        return owner if isinstance(owner, str) else None


def _json_value(value: Any) -> str:
    """JSON for the Python values a Create body holds (datetimes, decimals)."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def new_record_id(kind: CrmKind) -> str:
    """A fresh id of ``kind`` (``co_`` / ``deal_`` / ``tkt_`` / ``task_`` + 32 hex)."""
    return ID_PREFIXES[kind] + uuid.uuid4().hex


def upserted(record: CrmRecord) -> RecordsEvent:
    """The event carrying ``record`` as it is now; :class:`InvalidProperties` if the
    properties break the kind's rules."""
    event_class, id_field = UPSERT_EVENTS[record.kind]
    payload = {"account_id": record.account_id, "version": record.version,
               "occurred_at": record.updated_at, id_field: record.id, **record.properties}
    try:
        # Through JSON: stored properties are JSON values (a deal's amount is a string),
        # which the catalogue's strict types accept only in their JSON form.
        return event_class.model_validate_json(json.dumps(payload, default=_json_value))
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise InvalidProperties(problems) from exc


def new_record(kind: CrmKind, record_id: str, account_id: str, properties: dict[str, Any],
               *, now: datetime) -> tuple[CrmRecord, RecordsEvent]:
    """A new record and its ``...Upserted`` event; properties are normalised by the event
    model (an amount of ``1500`` is kept as ``"1500"``)."""
    record = CrmRecord(kind=kind, id=record_id, account_id=account_id,
                       properties=dict(properties), created_at=now, updated_at=now)
    event = upserted(record)
    stored = event.model_dump(mode="json", include=set(properties))
    return replace(record, properties=stored), event


def soft_delete(record: CrmRecord, *, now: datetime) -> tuple[CrmRecord, RecordDeleted]:
    """The record flagged deleted at the next version, and its ``RecordDeleted``."""
    deleted = replace(record, deleted=True, version=next_version(record.version),
                      updated_at=now)
    event = RecordDeleted(account_id=record.account_id, version=deleted.version,
                          occurred_at=now, record_kind=record.kind, record_id=record.id,
                          permanent=False)
    return deleted, event


class NotDeleted(ValueError):
    """Only a soft-deleted record can be restored."""


def restore(record: CrmRecord, *, now: datetime) -> tuple[CrmRecord, RecordsEvent]:
    """The soft-deleted record live again at the next version, and its ``...Upserted``;
    :class:`NotDeleted` if it is live."""
    if not record.deleted:
        raise NotDeleted(f"The {record.kind} is not deleted.")
    restored = replace(record, deleted=False, version=next_version(record.version),
                       updated_at=now)
    return restored, upserted(restored)


def change_record(record: CrmRecord, changes: dict[str, Any], *,
                  now: datetime) -> tuple[CrmRecord, RecordsEvent | None]:
    """The record with ``changes`` applied (a None value clears an optional property) at
    the next version, and its ``...Upserted``; no event when nothing changes.
    :class:`InvalidProperties` when the result breaks the kind's rules."""
    merged = {k: v for k, v in {**record.properties, **changes}.items() if v is not None}
    candidate = replace(record, properties=merged)
    normalised = upserted(candidate).model_dump(mode="json", include=set(merged))
    if normalised == record.properties:
        return record, None
    changed = replace(record, properties=normalised, version=next_version(record.version),
                      updated_at=now)
    return changed, upserted(changed)
