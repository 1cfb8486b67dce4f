"""/contacts: CRM contacts (R3) and their timelines (R5, R6)."""

from __future__ import annotations

from typing import Annotated

from convene_kit.auth import CurrentPrincipal
from fastapi import APIRouter, Query

from convene_records.api.deps import Deps
from convene_records.api.models import (
    ContactCreate,
    ContactRead,
    TimelineEntryRead,
    TimelinePageRead,
)
from convene_records.service_layer import people, timelines

router = APIRouter(prefix="/contacts", tags=["contacts"])


@router.post("", status_code=201, response_model=ContactRead)
async def create_contact(body: ContactCreate, principal: CurrentPrincipal,
                         deps: Deps) -> ContactRead:
    """Add a contact; a missing or malformed email is kept and flagged (R3, R13)."""
    contact = await people.create_contact(
        deps, principal.account_id, email=body.email, first_name=body.first_name or "",
        last_name=body.last_name or "", time_zone=body.time_zone, language=body.language)
    return ContactRead.of(contact)


@router.get("/{contact_id}", response_model=ContactRead)
async def get_contact(contact_id: str, principal: CurrentPrincipal, deps: Deps) -> ContactRead:
    """A contact of the caller's account; 404 ``contact_not_found`` otherwise."""
    return ContactRead.of(await people.get_contact(deps, principal.account_id, contact_id))


@router.get("/{contact_id}/timeline", response_model=TimelinePageRead)
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
