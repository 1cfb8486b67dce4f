"""/contacts: CRM contacts (R3) and their timelines (R5, R6)."""

from __future__ import annotations

from typing import Annotated

from convene_kit.auth import CurrentPrincipal
from convene_kit.openapi import error_responses
from convene_schemas.events.common import RecordRef
from fastapi import APIRouter, Query, Response

from convene_records.api.crm_models import AssociationList, AssociationRead
from convene_records.api.deps import Deps
from convene_records.api.models import (
    ContactCreate,
    ContactPageRead,
    ContactRead,
    ContactUpdate,
    TimelineEntryRead,
    TimelinePageRead,
)
from convene_records.service_layer import associations, people, search, timelines

router = APIRouter(prefix="/contacts", tags=["contacts"])

_NOT_FOUND = {404: "contact_not_found (also another account's, or deleted)"}
_RACE = {409: "concurrent_change: changed by others right now; try again."}
_CURSOR = {400: "invalid_cursor: not a cursor this API gave."}


@router.post("", status_code=201, response_model=ContactRead,
             responses=error_responses({404: "account_not_found: the account is not open yet."}))
async def create_contact(body: ContactCreate, principal: CurrentPrincipal,
                         deps: Deps) -> ContactRead:
    """Add a contact; a missing or malformed email is kept and flagged (R3, R13)."""
    contact = await people.create_contact(
        deps, principal.account_id, email=body.email, first_name=body.first_name or "",
        last_name=body.last_name or "", time_zone=body.time_zone, language=body.language)
    return ContactRead.of(contact)


@router.get("", response_model=ContactPageRead, responses=error_responses({
    **_CURSOR, 422: "invalid_search (email and name, or blank), validation_error, "
                    "disallowed_character."}))
async def search_contacts(
    principal: CurrentPrincipal,
    deps: Deps,
    email: Annotated[str | None, Query(max_length=320)] = None,
    name: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> ContactPageRead:
    """Contacts by ``email`` (exact, case-insensitive) or by ``name`` (prefix of "first
    last", case-insensitive), ordered by that key, or with neither every live contact by
    name then id; ``next_cursor`` for the next page."""
    page = await search.search_contacts(deps, principal.account_id, email=email, name=name,
                                        limit=limit, cursor=cursor)
    return ContactPageRead(items=[ContactRead.of(c) for c in page.items],
                           next_cursor=page.next_cursor)


@router.get("/{contact_id}", response_model=ContactRead, responses=error_responses(_NOT_FOUND))
async def get_contact(contact_id: str, principal: CurrentPrincipal, deps: Deps) -> ContactRead:
    """A contact of the caller's account; 404 ``contact_not_found`` otherwise."""
    return ContactRead.of(await people.get_contact(deps, principal.account_id, contact_id))


@router.patch("/{contact_id}", response_model=ContactRead, responses=error_responses({
    **_NOT_FOUND, **_RACE, 422: "unknown_owner, validation_error, disallowed_character."}))
async def update_contact(contact_id: str, body: ContactUpdate, principal: CurrentPrincipal,
                         deps: Deps) -> ContactRead:
    """Change a contact; a new email is flagged, never refused (R3, R13)."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("first_name", "last_name"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    return ContactRead.of(await people.update_contact(deps, principal.account_id, contact_id,
                                                      changes))


@router.delete("/{contact_id}", status_code=204,
               responses=error_responses({**_NOT_FOUND, **_RACE}))
async def delete_contact(contact_id: str, principal: CurrentPrincipal, deps: Deps) -> Response:
    """Soft delete a contact; publishes ``RecordDeleted``. Reads answer 404 afterwards."""
    await people.remove_contact(deps, principal.account_id, contact_id)
    return Response(status_code=204)


@router.post("/{contact_id}/restore", response_model=ContactRead, responses=error_responses({
    **_NOT_FOUND, 409: "not_deleted (it is live), or concurrent_change"}))
async def restore_contact(contact_id: str, principal: CurrentPrincipal,
                          deps: Deps) -> ContactRead:
    """Bring a soft-deleted contact back (``ContactUpserted``, version + 1); 409
    ``not_deleted`` if it is live."""
    return ContactRead.of(await people.restore_contact(deps, principal.account_id, contact_id))


@router.get("/{contact_id}/timeline", response_model=TimelinePageRead,
            responses=error_responses({**_NOT_FOUND, **_CURSOR}))
async def get_contact_timeline(
    contact_id: str,
    principal: CurrentPrincipal,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> TimelinePageRead:
    """The contact's meetings, newest start first, ``limit`` per page (at most 200)."""
    page = await timelines.contact_timeline(deps, principal.account_id, contact_id,
                                            limit=limit, cursor=cursor)
    return TimelinePageRead(items=[TimelineEntryRead.of(e) for e in page.items],
                            next_cursor=page.next_cursor)


@router.get("/{contact_id}/associations", response_model=AssociationList,
            responses=error_responses({404: "record_not_found"}))
async def get_contact_associations(
    contact_id: str,
    principal: CurrentPrincipal,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> AssociationList:
    """The contact's current associations (R4); 404 ``record_not_found`` otherwise."""
    found = await associations.record_associations(
        deps, principal.account_id, RecordRef(kind="contact", id=contact_id), limit=limit)
    return AssociationList(items=[AssociationRead.of(a) for a in found])
