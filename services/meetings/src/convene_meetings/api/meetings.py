"""/meetings: schedule a meeting, read one, list them. Thin views over
:mod:`convene_meetings.service`."""

from __future__ import annotations

from typing import Annotated

from convene_kit.auth import CurrentPrincipal
from convene_kit.idempotent_requests import REPLAYED_HEADER, IdempotencyKeyHeader
from convene_kit.openapi import error_responses
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from convene_meetings import service
from convene_meetings.api.models import (
    MeetingCreate,
    MeetingPage,
    MeetingRead,
    ScheduleResponse,
    meeting_body,
    schedule_body,
)
from convene_meetings.deps import Deps
from convene_meetings.domain.listing import MAX_PAGE_SIZE, MeetingFilter
from convene_meetings.domain.meeting import sees_internal_notes

router = APIRouter(prefix="/meetings", tags=["meetings"])



def _deps(request: Request) -> Deps:
    return request.app.state.deps


MeetingsDeps = Annotated[Deps, Depends(_deps)]


@router.post(
    "",
    status_code=201,
    response_model=ScheduleResponse,
    summary="Schedule a meeting from a CRM record",
    responses=error_responses({
        422: "A rule refused it: start_in_past, nonexistent_local_time, date_out_of_range, "
             "unknown_attendee, unknown_host, too_many_reminders, no_connected_calendar, ... "
             "idempotency_key_reused (the Idempotency-Key came before with another request) "
             "or validation_error, disallowed_character."}),
)
async def create_meeting(
    body: MeetingCreate, principal: CurrentPrincipal, deps: MeetingsDeps,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """With an `Idempotency-Key`, a retry of the same request answers 201 with the meeting
    the first one scheduled (as it is now; header `Idempotent-Replayed: true`) and schedules
    and sends nothing again."""
    keyed = None if idempotency_key is None else service.Keyed(
        idempotency_key, body.model_dump(mode="json"))
    meeting, replayed = await service.schedule(deps, account_id=principal.account_id,
                                               organizer_user_id=principal.user_id,
                                               command=body.to_command(), keyed=keyed)
    content = schedule_body(meeting, with_internal_note=sees_internal_notes(principal.roles))
    headers = {"Location": f"/meetings/{meeting.meeting_id}"}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return JSONResponse(content, status_code=201, headers=headers)


@router.get(
    "/{meeting_id}",
    response_model=MeetingRead,
    summary="Read a meeting",
    responses=error_responses({404: "meeting_not_found (also another account's)"}),
)
async def read_meeting(
    meeting_id: str, principal: CurrentPrincipal, deps: MeetingsDeps
) -> JSONResponse:
    meeting = await service.get_meeting(deps, account_id=principal.account_id,
                                        meeting_id=meeting_id)
    with_note = sees_internal_notes(principal.roles)
    return JSONResponse(meeting_body(meeting, with_internal_note=with_note))


@router.get(
    "",
    response_model=MeetingPage,
    summary="List the account's meetings (e.g. a host's requests awaiting a calendar)",
    responses=error_responses({
        422: "invalid_cursor, validation_error or disallowed_character"}),
)
async def list_meetings(
    principal: CurrentPrincipal,
    deps: MeetingsDeps,
    host_user_id: str | None = None,
    awaiting_calendar: bool | None = Query(
        default=None, description="true: open requests from offline scheduling pages (R35)."),
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=MAX_PAGE_SIZE),
) -> JSONResponse:
    wanted = MeetingFilter(host_user_id=host_user_id, awaiting_calendar=awaiting_calendar)
    meetings, next_cursor = await service.list_meetings(
        deps, account_id=principal.account_id, wanted=wanted, cursor=cursor, limit=limit)
    with_note = sees_internal_notes(principal.roles)
    return JSONResponse({"items": [meeting_body(m, with_internal_note=with_note)
                                   for m in meetings], "next_cursor": next_cursor})
