"""Associating two records of any kinds, and removing the association (R4)."""

from __future__ import annotations

from convene_kit.http import ApiError
from convene_kit.outbox import utcnow
from convene_schemas.events.common import RecordRef

from convene_records.crm_store import StaleRecord
from convene_records.domain.associations import (
    Association,
    SelfAssociation,
    associate,
    association_changed,
    association_id,
    dissociate,
)
from convene_records.service_layer.crm import record_exists
from convene_records.service_layer.deps import RecordsDeps

RACE = ApiError(409, "concurrent_change", "The association changed meanwhile; try again.")


async def create_association(deps: RecordsDeps, account_id: str, one: RecordRef,
                             other: RecordRef, label: str | None) -> Association:
    """Associate two records of the account and publish ``AssociationChanged``. 404
    ``record_not_found`` if an end is not a record of the account; 409
    ``association_exists`` if they are associated already."""
    for end in (one, other):
        if not await record_exists(deps, account_id, end.kind, end.id):
            raise ApiError(404, "record_not_found", f"No such {end.kind}.",
                           {"kind": end.kind, "id": end.id})
    previous = await deps.associations.get(account_id, association_id(account_id, one, other))
    if previous is not None and previous.associated:
        raise ApiError(409, "association_exists", "These records are associated already.",
                       {"id": previous.id})
    try:
        association = associate(account_id, one, other, label, now=utcnow(), previous=previous)
    except SelfAssociation as exc:
        raise ApiError(422, "self_association", str(exc)) from exc
    try:
        written = await deps.associations.save(association, [association_changed(association)],
                                               previous)
    except StaleRecord as exc:
        raise RACE from exc
    await deps.publish(deps.associations.collection, written)
    return association


async def get_association(deps: RecordsDeps, account_id: str, assoc_id: str) -> Association:
    """A current association of the account; 404 ``association_not_found`` otherwise."""
    association = await deps.associations.get(account_id, assoc_id)
    if association is None or not association.associated:
        raise ApiError(404, "association_not_found", "No such association.")
    return association


async def delete_association(deps: RecordsDeps, account_id: str, assoc_id: str) -> None:
    """Remove an association and publish ``AssociationChanged`` (associated false)."""
    current = await get_association(deps, account_id, assoc_id)
    removed = dissociate(current, now=utcnow())
    try:
        written = await deps.associations.save(removed, [association_changed(removed)], current)
    except StaleRecord as exc:
        raise RACE from exc
    await deps.publish(deps.associations.collection, written)


async def record_associations(deps: RecordsDeps, account_id: str, record: RecordRef,
                              *, limit: int) -> list[Association]:
    """The current associations of a record; 404 ``record_not_found`` if it is not there."""
    if not await record_exists(deps, account_id, record.kind, record.id):
        raise ApiError(404, "record_not_found", f"No such {record.kind}.")
    return await deps.associations.of_record(account_id, record, limit=limit)
