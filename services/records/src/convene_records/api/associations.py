"""/associations (R4) and /reports/meetings (R6)."""

from __future__ import annotations

from typing import Annotated

from convene_kit.auth import CurrentPrincipal
from convene_kit.openapi import error_responses
from convene_schemas.base import SupportedDatetime
from fastapi import APIRouter, Query, Response

from convene_records.api.crm_models import (
    AssociationCreate,
    AssociationRead,
    MeetingsReportRead,
    ReportGroupRead,
)
from convene_records.api.deps import Deps
from convene_records.domain.reports import GroupBy
from convene_records.service_layer import associations, reports

router = APIRouter(tags=["associations", "reports"])


@router.post("/associations", status_code=201, response_model=AssociationRead,
             responses=error_responses({
                 404: "record_not_found: an end is missing, deleted or another account's.",
                 409: "association_exists (either direction), or concurrent_change",
                 422: "self_association, validation_error, disallowed_character."}))
async def create_association(body: AssociationCreate, principal: CurrentPrincipal,
                             deps: Deps) -> AssociationRead:
    """Associate two records; publishes ``AssociationChanged``. 404 ``record_not_found``,
    409 ``association_exists``, 422 ``self_association``."""
    association = await associations.create_association(
        deps, principal.account_id, body.from_record, body.to_record, body.label)
    return AssociationRead.of(association)


@router.get("/associations/{association_id}", response_model=AssociationRead,
            responses=error_responses({404: "association_not_found (also once removed)"}))
async def get_association(association_id: str, principal: CurrentPrincipal,
                          deps: Deps) -> AssociationRead:
    """A current association; 404 ``association_not_found`` otherwise."""
    return AssociationRead.of(
        await associations.get_association(deps, principal.account_id, association_id))


@router.delete("/associations/{association_id}", status_code=204, responses=error_responses({
    404: "association_not_found", 409: "concurrent_change: changed by others right now."}))
async def delete_association(association_id: str, principal: CurrentPrincipal,
                             deps: Deps) -> Response:
    """Remove an association; publishes ``AssociationChanged`` with ``associated`` false."""
    await associations.delete_association(deps, principal.account_id, association_id)
    return Response(status_code=204)


@router.get("/reports/meetings", response_model=MeetingsReportRead, response_model_by_alias=True,
            responses=error_responses({
                422: "invalid_range (to not after from, no offset), date_out_of_range, "
                     "validation_error."}))
async def meetings_report(
    principal: CurrentPrincipal,
    deps: Deps,
    start: Annotated[SupportedDatetime, Query(alias="from")],
    end: Annotated[SupportedDatetime, Query(alias="to")],
    group_by: GroupBy,
) -> MeetingsReportRead:
    """Meetings of the caller's account starting in [from, to) (ISO 8601 with offset),
    counted by organizer, host, outcome or meeting type (R6)."""
    groups = await reports.meetings_report(deps, principal.account_id, start=start, end=end,
                                           group_by=group_by)
    return MeetingsReportRead(from_=start, to=end, group_by=group_by,
                              total=sum(g.count for g in groups),
                              groups=[ReportGroupRead.of(g) for g in groups])
