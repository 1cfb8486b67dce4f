"""Associating two records of any kinds, and removing the association (R4).

The association documents are the one source of truth; a task's ``associations`` property
mirrors them. Order of writes: the association first (``AssociationChanged``), then each
task end is brought in step (``TaskUpserted``, version + 1) by :func:`sync_task`, which
derives the property from the association documents read inside its change rule. Syncing
is idempotent (a task already in step is a no-op), so a repeated or concurrent sync changes
nothing more; a crash between the two writes leaves the task behind until the next
association change of that task (or PATCH of its associations) syncs it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convene_kit.aggregates import KeyTaken
from convene_kit.http import ApiError
from convene_schemas.events.common import RecordRef

from convene_records.domain.associations import (
    Association,
    SelfAssociation,
    associate,
    association_changed,
    association_id,
    dissociate,
)
from convene_records.domain.crm import CrmRecord, InvalidProperties, change_record
from convene_records.service_layer.deps import RecordsDeps
from convene_records.service_layer.lookups import record_exists

MAX_TASK_ASSOCIATIONS = 200
"""How many associations of one task are mirrored (the API accepts up to 100 per request)."""

NOT_FOUND = ApiError(404, "association_not_found", "No such association.")


def _exists(association: Association) -> ApiError:
    return ApiError(409, "association_exists", "These records are associated already.",
                    {"id": association.id})


async def create_association(deps: RecordsDeps, account_id: str, one: RecordRef,
                             other: RecordRef, label: str | None) -> Association:
    """Associate two records of the account and publish ``AssociationChanged``. 404
    ``record_not_found`` if an end is not a record of the account; 409
    ``association_exists`` if they are associated already; 422 ``self_association``."""
    for end in (one, other):
        if not await record_exists(deps, account_id, end.kind, end.id):
            raise ApiError(404, "record_not_found", f"No such {end.kind}.",
                           {"kind": end.kind, "id": end.id})
    return await link(deps, account_id, one, other, label)


async def link(deps: RecordsDeps, account_id: str, one: RecordRef, other: RecordRef,
               label: str | None = None, *, synced: RecordRef | None = None) -> Association:
    """Store the association (new, or again after a removal) and sync its task ends other
    than ``synced`` (a task that lists it already)."""
    if one == other:
        raise ApiError(422, "self_association", "A record cannot be associated with itself.")
    assoc_id = association_id(account_id, one, other)
    previous = await deps.aggregates.load(deps.associations, account_id, assoc_id)
    if previous is None:
        try:
            association = associate(account_id, one, other, label, now=deps.clock())
        except SelfAssociation as exc:
            raise ApiError(422, "self_association", str(exc)) from exc
        try:
            await deps.aggregates.create(deps.associations, association,
                                         [association_changed(association)])
        except KeyTaken as exc:  # a concurrent request associated them first
            raise _exists(association) from exc
    else:
        async def again(current: Association, now: datetime) -> tuple[Association, list[Any]]:
            if current.associated:
                raise _exists(current)
            restored = associate(account_id, one, other, label, now=now,
                                 previous=current)
            return restored, [association_changed(restored)]

        association = await deps.aggregates.change(deps.associations, account_id, assoc_id,
                                                   again, missing=NOT_FOUND)
    await _sync_ends(deps, account_id, association, synced)
    return association


async def get_association(deps: RecordsDeps, account_id: str, assoc_id: str) -> Association:
    """A current association of the account; 404 ``association_not_found`` otherwise."""
    association = await deps.aggregates.load(deps.associations, account_id, assoc_id)
    if association is None or not association.associated:
        raise NOT_FOUND
    return association


async def delete_association(deps: RecordsDeps, account_id: str, assoc_id: str, *,
                             synced: RecordRef | None = None) -> None:
    """Remove an association, publish ``AssociationChanged`` (associated false) and sync
    its task ends other than ``synced``; 404 ``association_not_found`` if it is not there
    (any more)."""
    async def remove(current: Association, now: datetime) -> tuple[Association, list[Any]]:
        if not current.associated:
            raise NOT_FOUND
        removed = dissociate(current, now=now)
        return removed, [association_changed(removed)]

    removed = await deps.aggregates.change(deps.associations, account_id, assoc_id, remove,
                                           missing=NOT_FOUND)
    await _sync_ends(deps, account_id, removed, synced)


async def record_associations(deps: RecordsDeps, account_id: str, record: RecordRef,
                              *, limit: int) -> list[Association]:
    """The current associations of a record; 404 ``record_not_found`` if it is not there."""
    if not await record_exists(deps, account_id, record.kind, record.id):
        raise ApiError(404, "record_not_found", f"No such {record.kind}.")
    return await deps.associations.of_record(account_id, record, limit=limit)


def _other_end(association: Association, record: RecordRef) -> RecordRef:
    ends = (association.from_record, association.to_record)
    return ends[1] if ends[0] == record else ends[0]


async def relink(deps: RecordsDeps, account_id: str, task: RecordRef,
                 wanted: list[RecordRef]) -> None:
    """Make the task's association documents name exactly ``wanted`` (whose records were
    checked): associate the missing ones, remove the others. The task is synced after."""
    current = await deps.associations.of_record(account_id, task, limit=MAX_TASK_ASSOCIATIONS)
    linked = {_other_end(a, task): a for a in current}
    for ref in dict.fromkeys(wanted):
        if ref not in linked:
            try:
                await link(deps, account_id, task, ref, synced=task)
            except ApiError as exc:
                if exc.code != "association_exists":
                    raise
    for ref, association in linked.items():
        if ref not in wanted:
            try:
                await delete_association(deps, account_id, association.id, synced=task)
            except ApiError as exc:
                if exc.code != "association_not_found":
                    raise


async def _sync_ends(deps: RecordsDeps, account_id: str, association: Association,
                     synced: RecordRef | None) -> None:
    for end in (association.from_record, association.to_record):
        if end.kind == "task" and end != synced:
            await sync_task(deps, account_id, end.id)


async def sync_task(deps: RecordsDeps, account_id: str, task_id: str,
                    changes: dict[str, Any] | None = None) -> CrmRecord:
    """Bring the task's ``associations`` property in step with its association documents,
    together with ``changes`` to its other properties, as one new version (``TaskUpserted``);
    a no-op when nothing differs. The property keeps its order; new ends are appended.
    A deleted task is left alone (or 404 ``task_not_found`` when ``changes`` were asked)."""
    task_ref = RecordRef(kind="task", id=task_id)
    missing = ApiError(404, "task_not_found", "No such task.")

    async def rule(task: CrmRecord, now: datetime) -> tuple[CrmRecord, list[Any]] | None:
        if task.deleted:
            if changes:
                raise missing
            return None
        links = await deps.associations.of_record(account_id, task_ref,
                                                  limit=MAX_TASK_ASSOCIATIONS)
        derived = [_other_end(a, task_ref) for a in links]
        listed = [RecordRef.model_validate(r) for r in task.properties.get("associations", [])]
        ordered = [r for r in listed if r in derived] + [r for r in derived if r not in listed]
        try:
            changed, event = change_record(
                task, {**(changes or {}), "associations": [r.model_dump() for r in ordered]},
                now=now)
        except InvalidProperties as exc:
            raise ApiError(422, "invalid_properties", str(exc)) from exc
        return None if event is None else (changed, [event])

    return await deps.aggregates.change(deps.crm["task"], account_id, task_id, rule,
                                        missing=missing)
