"""/pages and /account/booking-settings: the owner's side. Thin views over
:mod:`convene_booking_pages.pages`."""

from __future__ import annotations

from typing import Annotated

from convene_kit.auth import CurrentPrincipal
from convene_kit.openapi import error_responses
from fastapi import APIRouter, Depends, Query, Request, Response

from convene_booking_pages import pages as service
from convene_booking_pages.api.models import (
    AccountSettingsRead,
    AccountSettingsUpdate,
    PageCreate,
    PageLinks,
    PageList,
    PageRead,
    PageUpdate,
    PrefillCreate,
    PrefillLink,
)
from convene_booking_pages.deps import Deps
from convene_booking_pages.domain.account import AccountSettings, page_link
from convene_booking_pages.domain.page import Page, PageSettings

router = APIRouter(tags=["pages"])


def _deps(request: Request) -> Deps:
    return request.app.state.deps


PagesDeps = Annotated[Deps, Depends(_deps)]
SETTINGS_RULES = ("422 a settings rule (hours_invalid, duration_invalid, time_zone_unknown, "
                  "form_fields_invalid, team_mode_invalid, ...)")


def _read(deps: Deps, page: Page, account: AccountSettings) -> PageRead:
    return PageRead(**page.model_dump(include=set(PageRead.model_fields) - {"url"}),
                    url=page_link(account, page.slug, deps.settings.public_base_url))


@router.post("/pages", response_model=PageRead, status_code=201, summary="Create a page",
             responses=error_responses({409: "slug_taken (on any domain, R37)",
                                        422: SETTINGS_RULES}))
async def create_page(body: PageCreate, principal: CurrentPrincipal,
                      deps: PagesDeps) -> PageRead:
    settings = PageSettings.model_validate(body.model_dump())
    page = await service.create_page(deps, principal, settings)
    return _read(deps, page, await service.account_settings(deps, principal.account_id))


@router.get("/pages", response_model=PageList, summary="The account's pages")
async def list_pages(principal: CurrentPrincipal, deps: PagesDeps,
                     mine: Annotated[bool, Query(description="Only the caller's.")] = True
                     ) -> PageList:
    account = await service.account_settings(deps, principal.account_id)
    found = await service.list_pages(deps, principal, mine)
    return PageList(pages=[_read(deps, p, account) for p in found])


@router.get("/pages/{page_id}", response_model=PageRead, summary="One page",
            responses=error_responses({404: "page_not_found"}))
async def get_page(page_id: str, principal: CurrentPrincipal, deps: PagesDeps) -> PageRead:
    page = await service.get_page(deps, principal, page_id)
    return _read(deps, page, await service.account_settings(deps, principal.account_id))


@router.patch("/pages/{page_id}", response_model=PageRead, summary="Change a page",
              responses=error_responses({403: "not_page_owner", 404: "page_not_found",
                                         409: "slug_taken, version_conflict",
                                         422: SETTINGS_RULES}))
async def edit_page(page_id: str, body: PageUpdate, principal: CurrentPrincipal,
                    deps: PagesDeps) -> PageRead:
    page = await service.edit_page(deps, principal, page_id, body.model_dump(exclude_unset=True))
    return _read(deps, page, await service.account_settings(deps, principal.account_id))


@router.delete("/pages/{page_id}", status_code=204, summary="Delete a page (its slug is free)",
               responses=error_responses({403: "not_page_owner", 404: "page_not_found"}))
async def delete_page(page_id: str, principal: CurrentPrincipal, deps: PagesDeps) -> Response:
    await service.delete_page(deps, principal, page_id)
    return Response(status_code=204)


@router.get("/pages/{page_id}/links", response_model=PageLinks,
            summary="The page's link and chat-widget snippets (R40)",
            responses=error_responses({404: "page_not_found"}))
async def page_links(page_id: str, principal: CurrentPrincipal, deps: PagesDeps) -> PageLinks:
    page = await service.get_page(deps, principal, page_id)
    account = await service.account_settings(deps, principal.account_id)
    return PageLinks(**service.links(deps, account, page))


@router.post("/pages/{page_id}/prefill-links", response_model=PrefillLink, status_code=201,
             summary="A signed, expiring link that opens the form filled (R39)",
             responses=error_responses({404: "page_not_found"}))
async def prefill_link(page_id: str, body: PrefillCreate, principal: CurrentPrincipal,
                       deps: PagesDeps) -> PrefillLink:
    page = await service.get_page(deps, principal, page_id)
    account = await service.account_settings(deps, principal.account_id)
    url, expires = service.prefill_link(deps, account, page, name=body.name, email=body.email,
                                        answers=body.answers)
    return PrefillLink(url=url, expires_at=expires)


def _settings_read(deps: Deps, account: AccountSettings, default_slug: str | None
                   ) -> AccountSettingsRead:
    url = (page_link(account, default_slug, deps.settings.public_base_url)
           if default_slug else None)
    return AccountSettingsRead(**account.model_dump(include=set(AccountSettingsRead.model_fields)),
                               default_page_url=url)


async def _default_slug(deps: Deps, account: AccountSettings) -> str | None:
    if not account.default_page_id:
        return None
    page = await deps.pages.get(account.account_id, account.default_page_id)
    return page.slug if page is not None and not page.deleted else None


@router.get("/account/booking-settings", response_model=AccountSettingsRead,
            summary="The account's pages settings (R36-R38)")
async def get_account_settings(principal: CurrentPrincipal,
                               deps: PagesDeps) -> AccountSettingsRead:
    account = await service.account_settings(deps, principal.account_id)
    return _settings_read(deps, account, await _default_slug(deps, account))


@router.patch("/account/booking-settings", response_model=AccountSettingsRead,
              summary="Change the account's pages settings (admin)",
              responses=error_responses({403: "admin_required",
                                         409: "domain_taken, version_conflict",
                                         422: "default_page_unknown, url_prefix_reserved"}))
async def change_account_settings(body: AccountSettingsUpdate, principal: CurrentPrincipal,
                                  deps: PagesDeps) -> AccountSettingsRead:
    account = await service.change_account_settings(deps, principal,
                                                    body.model_dump(exclude_unset=True))
    return _settings_read(deps, account, await _default_slug(deps, account))
