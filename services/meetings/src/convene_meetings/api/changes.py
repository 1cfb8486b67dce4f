"""Changing a meeting: PATCH /meetings/{id}, POST .../reschedule, .../cancel, .../outcome,
.../confirm.

Each answers 200 with the meeting after the change (unchanged for a no-op). Thin views over
:mod:`convene_meetings.changes`.
"""

from __future__ import annotations

from collections.abc import Iterable

from convene_kit.auth import CurrentPrincipal
from convene_kit.openapi import error_responses
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from convene_meetings import changes
from convene_meetings.api.change_models import (
    MeetingPatch,
    OutcomeIn,
    RescheduleIn,
)
from convene_meetings.api.meetings import MeetingsDeps
from convene_meetings.api.models import MeetingRead, meeting_body
from convene_meetings.domain.meeting import Meeting, sees_internal_notes

router = APIRouter(prefix="/meetings", tags=["meetings"])

_CHANGE = {
    404: "meeting_not_found (also another account's)",
    409: "version_conflict: concurrent changes kept winning; reload and retry.",
}
_RESPONSES = error_responses({
    **_CHANGE,
    422: "A rule refused it (meeting_canceled, start_in_past, date_out_of_range, "
         "reminder_in_past, unknown_attendee, unknown_outcome, no_connected_calendar, ...), "
         "or validation_error, disallowed_character."})
_CONFIRM = error_responses({
    403: "confirm_not_allowed: only the host or the team confirm.", **_CHANGE,
    422: "not_awaiting_calendar, meeting_canceled, no_connected_calendar, ... or "
         "disallowed_character (the path)."})


def _answer(meeting: Meeting, roles: Iterable[str]) -> JSONResponse:
    return JSONResponse(meeting_body(meeting, with_internal_note=sees_internal_notes(roles)))


@router.patch("/{meeting_id}", response_model=MeetingRead, responses=_RESPONSES,
              summary="Edit a meeting (only the fields given)")
async def patch_meeting(meeting_id: str, body: MeetingPatch, principal: CurrentPrincipal,
                        deps: MeetingsDeps) -> JSONResponse:
    meeting = await changes.edit(deps, account_id=principal.account_id,
                                 user_id=principal.user_id, meeting_id=meeting_id,
                                 command=body.to_command())
    return _answer(meeting, principal.roles)


@router.post("/{meeting_id}/reschedule", response_model=MeetingRead, responses=_RESPONSES,
             summary="Move a meeting")
async def reschedule_meeting(meeting_id: str, body: RescheduleIn, principal: CurrentPrincipal,
                             deps: MeetingsDeps) -> JSONResponse:
    meeting = await changes.reschedule(deps, account_id=principal.account_id,
                                       user_id=principal.user_id, meeting_id=meeting_id,
                                       start=body.start, time_zone=body.time_zone,
                                       duration_minutes=body.duration_minutes)
    return _answer(meeting, principal.roles)


@router.post("/{meeting_id}/cancel", response_model=MeetingRead,
             responses=error_responses(_CHANGE),
             summary="Cancel a meeting")
async def cancel_meeting(meeting_id: str, principal: CurrentPrincipal,
                         deps: MeetingsDeps) -> JSONResponse:
    meeting = await changes.cancel(deps, account_id=principal.account_id,
                                   user_id=principal.user_id, meeting_id=meeting_id)
    return _answer(meeting, principal.roles)


@router.post("/{meeting_id}/outcome", response_model=MeetingRead, responses=_RESPONSES,
             summary="Record a meeting's outcome")
async def record_outcome(meeting_id: str, body: OutcomeIn, principal: CurrentPrincipal,
                         deps: MeetingsDeps) -> JSONResponse:
    meeting = await changes.record_outcome(deps, account_id=principal.account_id,
                                           user_id=principal.user_id, meeting_id=meeting_id,
                                           outcome=body.outcome)
    return _answer(meeting, principal.roles)


@router.post("/{meeting_id}/confirm", response_model=MeetingRead, responses=_CONFIRM,
             summary="Confirm a request from an offline scheduling page (R35)")
async def confirm_request(meeting_id: str, principal: CurrentPrincipal,
                          deps: MeetingsDeps) -> JSONResponse:
    meeting = await changes.confirm(deps, account_id=principal.account_id,
                                    user_id=principal.user_id, roles=principal.roles,
                                    meeting_id=meeting_id)
    return _answer(meeting, principal.roles)
