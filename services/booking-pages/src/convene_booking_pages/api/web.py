"""The public scheduling page, server-rendered (``/<url_prefix>/<slug>``): the page, its month
of free times in the visitor's zone, the form, and the booking's confirmation with its
.ics. Works without JavaScript (every choice is a link or a form); ``page.js`` only finds
the browser's zone. Thin views over :mod:`convene_booking_pages.public` (through
:mod:`convene_booking_pages.web.service`), rate-limited as the JSON API is.

Every refusal is answered as a page in the visitor's language with its status (404, 409,
422, 429 with Retry-After, 503), never as the API's JSON.
"""

from __future__ import annotations

from urllib.parse import quote

from convene_kit.refusals import Refusal
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from convene_booking_pages import pages as owner_side
from convene_booking_pages import public as service
from convene_booking_pages.api.public import PublicDeps, limit_visitor
from convene_booking_pages.deps import Deps
from convene_booking_pages.domain.errors import Conflict, NotFound, RuleViolation
from convene_booking_pages.public import PublicPage
from convene_booking_pages.web import forms, page_view, rendering
from convene_booking_pages.web import service as web
from convene_booking_pages.web.forms import FormState
from convene_booking_pages.web.i18n import Messages, negotiate
from convene_booking_pages.web.ics import MEDIA_TYPE, booking_ics
from convene_booking_pages.web.visit import Visit, month_window, read_visit

router = APIRouter(tags=["page"], include_in_schema=False)

HIDDEN = ("duration", "tz", "start")
"""The form's hidden fields: the visitor's choices (never the name or email, which would
otherwise travel in the links of the page shown again)."""


def _refusal_page(refusal: Refusal, language: str, prefix: str, embed: bool) -> Response:
    messages = Messages(language)
    code = refusal.code if f"refusal.{refusal.code}" in messages else "generic"
    title = f"refusal_title.{refusal.status}"
    return rendering.render("refusal.html", messages,
                            {"code": refusal.code, "message": messages(f"refusal.{code}"),
                             "title": messages(title if title in messages
                                               else "refusal_title.other")},
                            prefix=prefix, embed=embed, status=refusal.status,
                            headers=dict(refusal.headers))


async def _show(deps: Deps, request: Request, found: PublicPage, visit: Visit, *,
                form: FormState | None = None, alert: page_view.Alert | None = None,
                status: int = 200) -> Response:
    """The page with the visitor's month, day, times and form."""
    page = found.page
    messages = Messages(page.language)
    window = days = None
    if found.status != "unavailable":
        window = month_window(page, visit, deps.clock())
        days = await web.free_days(deps, page, visit, window)
    if form is None:
        form = forms.prefilled(page, visit, owner_side.read_prefill(deps, page, visit.prefill))
    context = page_view.page_context(
        found, visit, window, days or {}, messages, form=form, shown_alert=alert,
        detect_zone=request.method == "GET" and "tz" not in request.query_params)
    return rendering.render("page.html", messages, context, prefix=found.account.url_prefix,
                            embed=visit.embed, status=status)


@router.get("/{prefix}/_static/{name}")
async def static_file(prefix: str, name: str) -> Response:
    if name not in rendering.ASSETS:
        return Response(status_code=404)
    return rendering.asset_response(name)


@router.get("/{prefix}/{slug}")
async def scheduling_page(prefix: str, slug: str, request: Request,
                          deps: PublicDeps) -> Response:
    language, embed = negotiate(request.headers.get("accept-language")), \
        request.query_params.get("embed") == "1"
    try:
        limit_visitor(request, deps, slug)
        found = await service.public_page(deps, request.headers.get("host"), slug,
                                           prefix=prefix)
        language = found.page.language
        return await _show(deps, request, found, read_visit(found.page, request.query_params))
    except Refusal as refusal:
        if refusal.status == 503:  # calendar-sync did not answer: the page itself is known
            language = await web.language_of(deps, request.headers.get("host"), slug, language)
        return _refusal_page(refusal, language, prefix, embed)


@router.post("/{prefix}/{slug}")
async def book(prefix: str, slug: str, request: Request, deps: PublicDeps) -> Response:
    """The form's POST: 303 to the confirmation, or the page again with what went wrong."""
    host = request.headers.get("host")
    language, embed = negotiate(request.headers.get("accept-language")), \
        request.query_params.get("embed") == "1"
    try:
        limit_visitor(request, deps, slug, booking=True)
        page, _ = await service.resolve(deps, host, slug, prefix=prefix)
        language = page.language
        posted = await forms.read_form(request)
        visit = read_visit(page, {**{k: posted[k] for k in HIDDEN if k in posted},
                                  "embed": "1" if embed else ""})
        visitor, state = forms.visitor_request(page, visit, posted)
        if visitor is None:
            found = await service.public_page(deps, host, slug, prefix=prefix)
            return await _show(deps, request, found, visit, form=state, status=422)
        try:
            booking, _ = await service.book(deps, host, slug, visitor)
        except (Conflict, RuleViolation) as refusal:
            found = await service.public_page(deps, host, slug, prefix=prefix)
            return await _refused(deps, request, found, visit, state, refusal)
        target = f"/{quote(prefix)}/{quote(slug)}/booked/{booking.booking_id}"
        return RedirectResponse(target + ("?embed=1" if embed else ""), status_code=303)
    except Refusal as refusal:
        return _refusal_page(refusal, language, prefix, embed)


async def _refused(deps: Deps, request: Request, found: PublicPage, visit: Visit,
                   state: FormState, refusal: Refusal) -> Response:
    """The page again after a refused booking: a form rule next to its question (422), the
    others as an alert over the day's fresh times (409)."""
    if refusal.code.startswith("answer_"):
        return await _show(deps, request, found, visit,
                           form=forms.refused_answer(found.page, refusal, state), status=422)
    shown = page_view.alert(Messages(found.page.language), refusal.code)
    return await _show(deps, request, found, visit, form=state, alert=shown,
                       status=refusal.status)


@router.get("/{prefix}/{slug}/booked/{booking_id}.ics")
async def booking_calendar(prefix: str, slug: str, booking_id: str,
                           request: Request, deps: PublicDeps) -> Response:
    """The booked meeting as an .ics to add to a calendar (not for a request: nothing is
    confirmed yet, the host's invitation will follow)."""
    language = negotiate(request.headers.get("accept-language"))
    try:
        limit_visitor(request, deps, slug)
        found = await web.booked(deps, request.headers.get("host"), prefix, slug, booking_id)
        language = found.page.language
        booking = found.booking
        if booking.offline or booking.state != "booked":
            raise NotFound("booking_not_confirmed", "This booking has no calendar event.")
        body = booking_ics(booking, found.page.title, deps.clock())
    except Refusal as refusal:
        return _refusal_page(refusal, language, prefix, False)
    return Response(body, media_type=MEDIA_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{found.page.slug}.ics"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@router.get("/{prefix}/{slug}/booked/{booking_id}")
async def confirmation(prefix: str, slug: str, booking_id: str, request: Request,
                       deps: PublicDeps) -> Response:
    language, embed = negotiate(request.headers.get("accept-language")), \
        request.query_params.get("embed") == "1"
    try:
        limit_visitor(request, deps, slug)
        found = await web.booked(deps, request.headers.get("host"), prefix, slug, booking_id)
    except Refusal as refusal:
        return _refusal_page(refusal, language, prefix, embed)
    messages = Messages(found.page.language)
    context = page_view.confirmation_context(found.booking, found.page.title, found.host_name,
                                             messages, prefix=prefix, embed=embed)
    return rendering.render("confirmation.html", messages, context, prefix=prefix,
                            embed=embed)
