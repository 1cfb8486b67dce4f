"""/users/{user_id}/availability: busy time for the scheduling view (a user's token); and
/internal/accounts/{account_id}/users/{user_id}/availability for booking-pages' public pages
(a service token, merged blocks only, never a title)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from convene_kit.auth import CurrentPrincipal
from convene_kit.openapi import error_responses
from convene_kit.service_tokens import CallingService
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from convene_calendar_sync import availability as service
from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain.busy import Availability

router = APIRouter(tags=["availability"])


def _deps(request: Request) -> Deps:
    return request.app.state.deps


class BusyBlockRead(BaseModel):
    start: datetime
    end: datetime
    title: str | None = Field(default=None, description="Only for the owner (R18).")


class IntervalRead(BaseModel):
    start: datetime
    end: datetime


class MergedAvailabilityRead(BaseModel):
    """What another service sees (no titles at all)."""

    user_id: str
    start: datetime
    end: datetime
    bookable: bool = Field(description="False with no active connection or while a counted "
                           "calendar's access is lost (R30).")
    connected: bool = Field(description="The user has an active calendar connection.")
    inactive_calendar_ids: list[str]
    busy_merged: list[IntervalRead] = Field(description="Busy time over every counted "
                                            "calendar, merged, without titles.")


class AvailabilityRead(MergedAvailabilityRead):
    """What a user of the account sees."""

    busy: list[BusyBlockRead] = Field(description="The owner: one block per event, titled; "
                                      "others: merged blocks without titles (R18).")


@router.get("/users/{user_id}/availability", response_model=AvailabilityRead,
            summary="A user's busy time (no provider call)",
            responses=error_responses({404: "user_not_found: no such user in the account",
                                       422: "range_invalid, range_too_long (over 92 days)"}))
async def get_availability(user_id: str, principal: CurrentPrincipal,
                           deps: Annotated[Deps, Depends(_deps)],
                           start: Annotated[datetime, Query(description="With an offset.")],
                           end: Annotated[datetime, Query(description="With an offset.")]
                           ) -> AvailabilityRead:
    view, connected = await service.user_availability(deps, principal, user_id, start, end)
    return AvailabilityRead(
        **_merged(user_id, view, connected),
        busy=[BusyBlockRead(start=b.start, end=b.end, title=b.title) for b in view.busy])


@router.get("/internal/accounts/{account_id}/users/{user_id}/availability",
            response_model=MergedAvailabilityRead,
            summary="A user's busy time for another service (service token; no titles)",
            responses=error_responses({422: "range_invalid, range_too_long (over 92 days)"}))
async def get_internal_availability(account_id: str, user_id: str, caller: CallingService,
                                    deps: Annotated[Deps, Depends(_deps)],
                                    start: Annotated[datetime, Query(description="With an offset.")],
                                    end: Annotated[datetime, Query(description="With an offset.")]
                                    ) -> MergedAvailabilityRead:
    view, connected = await service.availability_of(deps, account_id, user_id, start, end,
                                                    viewer_is_owner=False)
    return MergedAvailabilityRead(**_merged(user_id, view, connected))


def _merged(user_id: str, view: Availability, connected: bool) -> dict[str, Any]:
    return {"user_id": user_id, "start": view.start, "end": view.end,
            "bookable": view.bookable, "connected": connected,
            "inactive_calendar_ids": view.inactive_calendar_ids,
            "busy_merged": [IntervalRead(start=i.start, end=i.end) for i in view.busy_merged]}
