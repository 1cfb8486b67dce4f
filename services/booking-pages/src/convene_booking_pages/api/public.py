"""/public/...: the anonymous visitor's API (R29, R30, R35, R41), rate-limited per client
address and per page (429 with Retry-After), and /robots.txt (R38). Thin views over
:mod:`convene_booking_pages.public`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from convene_kit.openapi import error_responses
from convene_kit.rate_limit import RATE_LIMITED_ERRORS, client_address, enforce
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from convene_booking_pages import pages as owner_side
from convene_booking_pages import public as service
from convene_booking_pages.api.models import (
    BookingCreate,
    BookingRead,
    DaySlots,
    HoldCreate,
    HoldRead,
    Prefill,
    PublicField,
    PublicPageRead,
    SlotRead,
    SlotsRead,
)
from convene_booking_pages.deps import Deps
from convene_booking_pages.domain.booking import VisitorRequest

router = APIRouter(prefix="/public", tags=["public"])
robots_router = APIRouter(tags=["public"])

NOT_FOUND = "page_not_found (unknown, deleted, or not on this domain)"


def _deps(request: Request) -> Deps:
    return request.app.state.deps


PublicDeps = Annotated[Deps, Depends(_deps)]


def limit_visitor(request: Request, deps: Deps, slug: str, *, booking: bool = False) -> None:
    """The visitor's rate limits, for this API and the HTML page alike: per client address
    and per page; holds and bookings also per client on their own budget. 429 with
    Retry-After (:class:`convene_kit.rate_limit.RateLimited`) when any refuses."""
    client = client_address(request, trusted_proxies=deps.settings.trusted_proxies)
    limits = [(deps.limits.per_client, client), (deps.limits.per_page, slug)]
    if booking:
        limits.append((deps.limits.bookings_per_client, client))
    enforce(*limits)


@router.get("/pages/{slug}", response_model=PublicPageRead, summary="A page, as visitors see it",
            responses=error_responses({**RATE_LIMITED_ERRORS, 404: NOT_FOUND,
                                       503: "availability_unavailable"}))
async def get_page(slug: str, request: Request, deps: PublicDeps,
                   prefill: Annotated[str | None, Query(max_length=4000)] = None
                   ) -> PublicPageRead:
    limit_visitor(request, deps, slug)
    found = await service.public_page(deps, request.headers.get("host"), slug)
    page = found.page
    filled = owner_side.read_prefill(deps, page, prefill)
    return PublicPageRead(
        slug=page.slug, title=page.title, description=page.description,
        host_name=found.owner_name, durations=page.durations, time_zone=page.time_zone,
        language=page.language,
        form_fields=[PublicField(key=f.key, label=f.label, kind=f.kind, required=f.required,
                                 options=f.options) for f in page.form_fields],
        hold_minutes=page.hold_minutes, status=found.status,
        unavailable_reason=found.unavailable_reason,
        prefill=Prefill(**filled) if filled else None)


@router.get("/pages/{slug}/slots", response_model=SlotsRead,
            summary="Free times for days in the visitor's time zone",
            responses=error_responses({**RATE_LIMITED_ERRORS, 404: NOT_FOUND,
                                       422: "duration_not_offered, range_invalid, "
                                            "time_zone_unknown",
                                       503: "availability_unavailable"}))
async def get_slots(slug: str, request: Request, deps: PublicDeps,
                    duration: Annotated[int, Query(ge=5, le=720)],
                    time_zone: Annotated[str, Query(max_length=64)],
                    start_day: Annotated[date, Query(alias="from")],
                    end_day: Annotated[date, Query(alias="to")]) -> SlotsRead:
    limit_visitor(request, deps, slug)
    page, _ = await service.resolve(deps, request.headers.get("host"), slug)
    start, end = service.visitor_window(start_day, end_day, time_zone,
                                        deps.settings.max_slot_range_days)
    found = await service.slots(deps, page, duration, start, end)
    zone = ZoneInfo(time_zone)
    days: dict[date, list[SlotRead]] = {}
    day = start_day
    while day <= end_day:
        days[day] = []
        day += timedelta(days=1)
    for slot in found:
        local = slot.start.astimezone(zone)
        days.setdefault(local.date(), []).append(
            SlotRead(start=local, end=slot.end.astimezone(zone)))
    return SlotsRead(time_zone=time_zone, duration_minutes=duration,
                     days=[DaySlots(day=d, slots=s) for d, s in sorted(days.items())])


@router.post("/pages/{slug}/holds", response_model=HoldRead, status_code=201,
             summary="Hold a slot while the visitor fills the form",
             responses=error_responses({**RATE_LIMITED_ERRORS, 404: NOT_FOUND,
                                        409: "slot_taken, pages_turned_off",
                                        422: "holds_off", 503: "availability_unavailable"}))
async def hold_slot(slug: str, body: HoldCreate, request: Request,
                    deps: PublicDeps) -> HoldRead:
    limit_visitor(request, deps, slug, booking=True)
    hold_id, until = await service.hold(deps, request.headers.get("host"), slug, body.start,
                                        body.duration_minutes)
    return HoldRead(hold_id=hold_id, expires_at=until)


@router.post("/pages/{slug}/bookings", response_model=BookingRead, status_code=201,
             summary="Book a slot (or request one on an offline page, R35)",
             responses=error_responses({
                 **RATE_LIMITED_ERRORS, 404: NOT_FOUND,
                 409: "slot_taken (details.fresh_slots: the day's free times), "
                      "calendar_inactive (R30), pages_turned_off (R36), host_unavailable",
                 422: "duration_not_offered, answer_required, answer_invalid, answer_unknown",
                 503: "availability_unavailable"}))
async def book(slug: str, body: BookingCreate, request: Request,
               deps: PublicDeps) -> JSONResponse:
    limit_visitor(request, deps, slug, booking=True)
    visitor = VisitorRequest(start=body.start, duration_minutes=body.duration_minutes,
                             name=body.name, email=body.email, time_zone=body.time_zone,
                             answers=body.answers)
    booking, page = await service.book(deps, request.headers.get("host"), slug, visitor,
                                 body.hold_id)
    zone = ZoneInfo(body.time_zone)
    read = BookingRead(booking_id=booking.booking_id,
                       status="requested" if booking.offline else "booked",
                       start=booking.start.astimezone(zone), end=booking.end.astimezone(zone),
                       time_zone=body.time_zone, title=page.title)
    return JSONResponse(read.model_dump(mode="json"), status_code=201)


@robots_router.get("/robots.txt", response_class=PlainTextResponse,
                   summary="robots.txt of the host (R38)")
async def robots(request: Request, deps: PublicDeps) -> PlainTextResponse:
    return PlainTextResponse(await service.robots(deps, request.headers.get("host")))
