"""Companies, deals, tickets and tasks: create, read, change, soft delete, restore (R3, R7).

Changes go through the revision log (:meth:`convene_kit.aggregates.Aggregates.change`).
A task's ``associations`` property mirrors its association documents, which are the one
source of truth (:mod:`convene_records.service_layer.associations`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convene_kit.http import ApiError
from convene_schemas.events.common import RecordRef

from convene_records.domain.crm import (
    CrmKind,
    CrmRecord,
    InvalidProperties,
    NotDeleted,
    change_record,
    new_record,
    new_record_id,
    restore,
    soft_delete,
)
from convene_records.service_layer import associations
from convene_records.service_layer.accounts import get_account
from convene_records.service_layer.deps import RecordsDeps
from convene_records.service_layer.lookups import record_exists

__all__ = ["create_record", "delete_record", "get_record", "record_exists", "restore_record",
           "update_record"]


def not_found(kind: str) -> ApiError:
    """404 ``<kind>_not_found``: the same answer for a missing, deleted or foreign record."""
    return ApiError(404, f"{kind}_not_found", f"No such {kind}.")


def _refs(properties: dict[str, Any]) -> list[RecordRef]:
    return [RecordRef.model_validate(ref) for ref in properties.get("associations") or []]


async def create_record(deps: RecordsDeps, account_id: str, kind: CrmKind,
                        properties: dict[str, Any]) -> CrmRecord:
    """Add a company, deal, ticket or task and publish its ``...Upserted``. 404
    ``account_not_found`` before the account exists; 422 ``unknown_owner`` for an owner who
    is not a user of the account, ``unknown_record`` for a task's associated record that is
    not there, ``invalid_properties`` for a rule of the kind.

    A task's associations are then stored as association documents (``AssociationChanged``
    each), after the task itself: an association needs both ends to exist."""
    await get_account(deps, account_id)
    await _check_references(deps, account_id, properties)
    if "associations" in properties:
        properties = {**properties, "associations": [
            ref.model_dump() for ref in dict.fromkeys(_refs(properties))]}
    try:
        record, event = new_record(kind, new_record_id(kind), account_id, properties,
                                   now=deps.clock())
    except InvalidProperties as exc:
        raise ApiError(422, "invalid_properties", str(exc)) from exc
    await deps.aggregates.create(deps.crm[kind], record, [event])
    task = RecordRef(kind=kind, id=record.id)
    for ref in _refs(record.properties):
        await associations.link(deps, account_id, task, ref, synced=task)
    return record


async def _check_references(deps: RecordsDeps, account_id: str,
                            properties: dict[str, Any]) -> None:
    """422 ``unknown_owner`` / ``unknown_record`` for an owner or an associated record
    that is not in the account."""
    owner = properties.get("owner_user_id")
    if owner is not None and await deps.users.get(account_id, owner) is None:
        raise ApiError(422, "unknown_owner", "The owner is not a user of this account.",
                       {"owner_user_id": owner})
    for ref in _refs(properties):
        if not await record_exists(deps, account_id, ref.kind, ref.id):
            raise ApiError(422, "unknown_record", f"No such {ref.kind} to associate.",
                           {"kind": ref.kind, "id": ref.id})


async def get_record(deps: RecordsDeps, account_id: str, kind: CrmKind,
                     record_id: str) -> CrmRecord:
    """A live record of the account (at its latest revision); 404 ``<kind>_not_found``
    otherwise."""
    record = await deps.aggregates.load(deps.crm[kind], account_id, record_id)
    if record is None or record.deleted:
        raise not_found(kind)
    return record


async def update_record(deps: RecordsDeps, account_id: str, kind: CrmKind, record_id: str,
                        changes: dict[str, Any]) -> CrmRecord:
    """Change some properties and publish the new full state; a change to nothing is a
    no-op. 404, 422 as for creating; 409 ``concurrent_change`` only if the change lost
    the race for a version many times in a row.

    A task's new ``associations`` are written to the association documents first (added
    ones associated, missing ones removed), then the task mirrors them."""
    await get_record(deps, account_id, kind, record_id)
    await _check_references(deps, account_id, changes)
    if kind == "task" and changes.get("associations") is not None:
        task = RecordRef(kind="task", id=record_id)
        if task in _refs(changes):
            raise ApiError(422, "self_association", "A task cannot be associated with itself.")
        await associations.relink(deps, account_id, task, _refs(changes))
        changes = {k: v for k, v in changes.items() if k != "associations"}
        return await associations.sync_task(deps, account_id, record_id, changes)
    changes.pop("associations", None)

    async def rule(record: CrmRecord, now: datetime) -> tuple[CrmRecord, list[Any]] | None:
        if record.deleted:
            raise not_found(kind)
        try:
            changed, event = change_record(record, changes, now=now)
        except InvalidProperties as exc:
            raise ApiError(422, "invalid_properties", str(exc)) from exc
        return None if event is None else (changed, [event])

    return await deps.aggregates.change(deps.crm[kind], account_id, record_id, rule,
                                        missing=not_found(kind))


async def delete_record(deps: RecordsDeps, account_id: str, kind: CrmKind,
                        record_id: str) -> None:
    """Soft delete the record and publish ``RecordDeleted``; 404 if it is not there
    (deleting twice is a 404 the second time)."""
    async def rule(record: CrmRecord, now: datetime) -> tuple[CrmRecord, list[Any]]:
        if record.deleted:
            raise not_found(kind)
        deleted, event = soft_delete(record, now=now)
        return deleted, [event]

    await deps.aggregates.change(deps.crm[kind], account_id, record_id, rule,
                                 missing=not_found(kind))


async def restore_record(deps: RecordsDeps, account_id: str, kind: CrmKind,
                         record_id: str) -> CrmRecord:
    """Bring a soft-deleted record back and publish its ``...Upserted``; 404 if it never
    existed (or is of another account), 409 ``not_deleted`` if it is live."""
    async def rule(record: CrmRecord, now: datetime) -> tuple[CrmRecord, list[Any]]:
        try:
            restored, event = restore(record, now=now)
        except NotDeleted as exc:
            raise ApiError(409, "not_deleted", str(exc)) from exc
        return restored, [event]

    return await deps.aggregates.change(deps.crm[kind], account_id, record_id, rule,
                                        missing=not_found(kind))
