"""/companies, /deals, /tickets, /tasks: create, read, list, search, update, soft delete,
restore, timeline, associations.

The three kinds share one shape, so one router factory builds them (no
``from __future__ import annotations`` here: FastAPI reads the closures' annotations).
"""

from typing import Annotated, Literal

from convene_kit.auth import CurrentPrincipal
from convene_kit.openapi import error_responses
from convene_schemas.events.common import RecordRef
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from pydantic import create_model as pydantic_model

from convene_records.api.crm_models import (
    AssociationList,
    AssociationRead,
    CompanyCreate,
    CompanyRead,
    CompanyUpdate,
    DealCreate,
    DealRead,
    DealUpdate,
    RecordRead,
    TaskCreate,
    TaskRead,
    TaskUpdate,
    TicketCreate,
    TicketRead,
    TicketUpdate,
)
from convene_records.api.deps import Deps
from convene_records.api.models import TimelineEntryRead, TimelinePageRead
from convene_records.domain.crm import CrmKind
from convene_records.domain.timeline import TimelineRecord
from convene_records.service_layer import associations, crm, search, timelines

Limit = Annotated[int, Query(ge=1, le=200)]
Name = Annotated[str | None, Query(min_length=1, max_length=500)]
TaskStatus = Literal["not_started", "in_progress", "waiting", "completed", "deferred"]
Cursor = Annotated[str | None, Query(max_length=1000)]

_RACE = "concurrent_change: changed by others right now; try again."
_CURSOR = {400: "invalid_cursor: not a cursor this API gave."}
_PROPERTIES = ("unknown_owner, invalid_properties (a rule of the kind, a time out of range), "
               "unknown_record and self_association (a task's associations), "
               "validation_error, disallowed_character, date_out_of_range.")


def record_router(kind: CrmKind, prefix: str, create_model: type[BaseModel],
                  update_model: type[BaseModel], read_model: type[RecordRead], *,
                  with_timeline: bool = True) -> APIRouter:
    """The endpoints of one record kind (tasks have no timeline: meetings are not
    associated with tasks)."""
    router = APIRouter(prefix=prefix, tags=[prefix.strip("/")])
    missing = {404: f"{kind}_not_found (also another account's, or deleted)"}

    @router.post("", status_code=201, response_model=read_model, name=f"create_{kind}",
                 responses=error_responses({
                     404: "account_not_found: the account is not open yet.",
                     422: _PROPERTIES}))
    async def create(body: create_model, principal: CurrentPrincipal,  # type: ignore[valid-type]
                     deps: Deps) -> RecordRead:
        """Add a record; 422 ``unknown_owner`` / ``invalid_properties``."""
        properties = body.model_dump(exclude_none=True)  # type: ignore[attr-defined]
        record = await crm.create_record(deps, principal.account_id, kind, properties)
        return read_model.of(record)

    page_model = pydantic_model(f"{read_model.__name__}Page",
                                items=(list[read_model], ...),  # type: ignore[valid-type]
                                next_cursor=(str | None, ...))

    async def find(principal: CurrentPrincipal, deps: Deps, name: Name = None,
                   limit: Limit = 50, cursor: Cursor = None) -> BaseModel:
        """Records whose name starts with ``name`` (case-insensitive), or without ``name``
        every live one; by name then id."""
        page = await search.search_records(deps, principal.account_id, kind, name=name,
                                           limit=limit, cursor=cursor)
        return page_model(items=[read_model.of(r) for r in page.items],
                          next_cursor=page.next_cursor)

    async def find_tasks(principal: CurrentPrincipal, deps: Deps, name: Name = None,
                         owner_user_id: Annotated[str | None, Query(max_length=200)] = None,
                         due_after: Annotated[str | None, Query(max_length=64)] = None,
                         due_before: Annotated[str | None, Query(max_length=64)] = None,
                         status: TaskStatus | None = None,
                         limit: Limit = 50, cursor: Cursor = None) -> BaseModel:
        """Tasks by title (``name``) as for every kind, or by any combination of
        ``owner_user_id``, due range ``[due_after, due_before)`` and ``status``, ordered by
        due time then id (R7)."""
        page = await search.find_tasks(deps, principal.account_id, name=name,
                                       owner_user_id=owner_user_id, due_after=due_after,
                                       due_before=due_before, status=status, limit=limit,
                                       cursor=cursor)
        return page_model(items=[read_model.of(r) for r in page.items],
                          next_cursor=page.next_cursor)

    searching = "invalid_search (blank, or name with other filters), validation_error, " + (
        "invalid_due_bound, date_out_of_range, " if kind == "task" else "") + (
        "disallowed_character.")
    router.get("", response_model=page_model, name=f"search_{kind}",
               responses=error_responses({**_CURSOR, 422: searching}))(
        find_tasks if kind == "task" else find)

    @router.get("/{record_id}", response_model=read_model, name=f"get_{kind}",
                responses=error_responses(missing))
    async def read(record_id: str, principal: CurrentPrincipal, deps: Deps) -> RecordRead:
        """A live record of the caller's account; 404 otherwise."""
        return read_model.of(await crm.get_record(deps, principal.account_id, kind, record_id))

    @router.patch("/{record_id}", response_model=read_model, name=f"update_{kind}",
                  responses=error_responses({**missing, 409: _RACE, 422: _PROPERTIES}))
    async def update(record_id: str, body: update_model,  # type: ignore[valid-type]
                     principal: CurrentPrincipal, deps: Deps) -> RecordRead:
        """Change the fields sent (null clears an optional one); publishes the new state."""
        changes = body.model_dump(exclude_unset=True, mode="json")  # type: ignore[attr-defined]
        record = await crm.update_record(deps, principal.account_id, kind, record_id, changes)
        return read_model.of(record)

    @router.delete("/{record_id}", status_code=204, name=f"delete_{kind}",
                   responses=error_responses({**missing, 409: _RACE}))
    async def delete(record_id: str, principal: CurrentPrincipal, deps: Deps) -> Response:
        """Soft delete; publishes ``RecordDeleted``. Reads answer 404 afterwards."""
        await crm.delete_record(deps, principal.account_id, kind, record_id)
        return Response(status_code=204)

    @router.post("/{record_id}/restore", response_model=read_model, name=f"restore_{kind}",
                 responses=error_responses({
                     **missing, 409: "not_deleted (it is live), or concurrent_change"}))
    async def undelete(record_id: str, principal: CurrentPrincipal, deps: Deps) -> RecordRead:
        """Bring a soft-deleted record back (``...Upserted``, version + 1); 409
        ``not_deleted`` if it is live."""
        return read_model.of(await crm.restore_record(deps, principal.account_id, kind,
                                                      record_id))

    async def timeline(record_id: str, principal: CurrentPrincipal, deps: Deps,
                       limit: Limit = 50, cursor: Cursor = None) -> TimelinePageRead:
        """The record's meetings, newest start first (R5, R6)."""
        page = await timelines.record_timeline(deps, principal.account_id,
                                               TimelineRecord(kind, record_id),
                                               limit=limit, cursor=cursor)
        return TimelinePageRead(items=[TimelineEntryRead.of(e) for e in page.items],
                                next_cursor=page.next_cursor)

    if with_timeline:
        router.get("/{record_id}/timeline", response_model=TimelinePageRead,
                   name=f"{kind}_timeline",
                   responses=error_responses({**missing, **_CURSOR}))(timeline)

    @router.get("/{record_id}/associations", response_model=AssociationList,
                name=f"{kind}_associations",
                responses=error_responses({404: "record_not_found"}))
    async def linked(record_id: str, principal: CurrentPrincipal, deps: Deps,
                     limit: Limit = 100) -> AssociationList:
        """The record's current associations (R4)."""
        found = await associations.record_associations(
            deps, principal.account_id, RecordRef(kind=kind, id=record_id), limit=limit)
        return AssociationList(items=[AssociationRead.of(a) for a in found])

    return router


ROUTERS = [
    record_router("company", "/companies", CompanyCreate, CompanyUpdate, CompanyRead),
    record_router("deal", "/deals", DealCreate, DealUpdate, DealRead),
    record_router("ticket", "/tickets", TicketCreate, TicketUpdate, TicketRead),
    record_router("task", "/tasks", TaskCreate, TaskUpdate, TaskRead, with_timeline=False),
]
