"""Companies, deals, tickets and tasks: create, read, soft delete (R3, R7)."""

from __future__ import annotations

from typing import Any

from convene_kit.http import ApiError
from convene_kit.outbox import utcnow

from convene_records.crm_store import StaleRecord
from convene_records.domain.crm import (
    CrmKind,
    CrmRecord,
    InvalidProperties,
    change_record,
    new_record,
    new_record_id,
    soft_delete,
)
from convene_records.service_layer.accounts import get_account
from convene_records.service_layer.deps import RecordsDeps


def not_found(kind: str) -> ApiError:
    """404 ``<kind>_not_found``: the same answer for a missing, deleted or foreign record."""
    return ApiError(404, f"{kind}_not_found", f"No such {kind}.")


async def create_record(deps: RecordsDeps, account_id: str, kind: CrmKind,
                        properties: dict[str, Any]) -> CrmRecord:
    """Add a company, deal, ticket or task and publish its ``...Upserted``. 404
    ``account_not_found`` before the account exists; 422 ``unknown_owner`` for an owner who
    is not a user of the account, ``unknown_record`` for a task's associated record that is
    not there, ``invalid_properties`` for a rule of the kind."""
    await get_account(deps, account_id)
    await _check_references(deps, account_id, properties)
    try:
        record, event = new_record(kind, new_record_id(kind), account_id, properties,
                                   now=utcnow())
    except InvalidProperties as exc:
        raise ApiError(422, "invalid_properties", str(exc)) from exc
    repository = deps.crm[kind]
    written = await repository.add(record, [event])
    await deps.publish(repository.collection, written)
    return record


async def _check_references(deps: RecordsDeps, account_id: str,
                            properties: dict[str, Any]) -> None:
    """422 ``unknown_owner`` / ``unknown_record`` for an owner or an associated record
    that is not in the account."""
    owner = properties.get("owner_user_id")
    if owner is not None and await deps.users.get(account_id, owner) is None:
        raise ApiError(422, "unknown_owner", "The owner is not a user of this account.",
                       {"owner_user_id": owner})
    for ref in properties.get("associations") or []:
        if not await record_exists(deps, account_id, ref["kind"], ref["id"]):
            raise ApiError(422, "unknown_record", f"No such {ref['kind']} to associate.",
                           {"kind": ref["kind"], "id": ref["id"]})


async def get_record(deps: RecordsDeps, account_id: str, kind: CrmKind,
                     record_id: str) -> CrmRecord:
    """A live record of the account; 404 ``<kind>_not_found`` otherwise."""
    record = await deps.crm[kind].get(account_id, record_id)
    if record is None or record.deleted:
        raise not_found(kind)
    return record


async def update_record(deps: RecordsDeps, account_id: str, kind: CrmKind, record_id: str,
                        changes: dict[str, Any]) -> CrmRecord:
    """Change some properties and publish the new full state; a change to nothing is a
    no-op. 404, 422 as for creating, 409 ``concurrent_change`` on a race."""
    record = await get_record(deps, account_id, kind, record_id)
    await _check_references(deps, account_id, changes)
    try:
        changed, event = change_record(record, changes, now=utcnow())
    except InvalidProperties as exc:
        raise ApiError(422, "invalid_properties", str(exc)) from exc
    if event is None:
        return record
    repository = deps.crm[kind]
    try:
        await repository.replace(record, changed, [event])
    except StaleRecord as exc:
        raise ApiError(409, "concurrent_change",
                       f"The {kind} changed meanwhile; read it again.") from exc
    await deps.publish(repository.collection, {"_id": record.id})
    return changed


async def delete_record(deps: RecordsDeps, account_id: str, kind: CrmKind,
                        record_id: str) -> None:
    """Soft delete the record and publish ``RecordDeleted``; 404 if it is not there
    (deleting twice is a 404 the second time); 409 ``concurrent_change`` on a race."""
    record = await get_record(deps, account_id, kind, record_id)
    deleted, event = soft_delete(record, now=utcnow())
    repository = deps.crm[kind]
    try:
        await repository.replace(record, deleted, [event])
    except StaleRecord as exc:
        raise ApiError(409, "concurrent_change",
                       f"The {kind} changed meanwhile; read it again.") from exc
    await deps.publish(repository.collection, {"_id": record.id})


async def record_exists(deps: RecordsDeps, account_id: str, kind: str, record_id: str) -> bool:
    """True if a live record of ``kind`` (contact, company, deal, ticket, task) exists."""
    if kind == "contact":
        contact = await deps.contacts.get(account_id, record_id)
        return contact is not None and not contact.deleted
    if kind in deps.crm:
        found = await deps.crm[kind].get(account_id, record_id)
        return found is not None and not found.deleted
    return False
