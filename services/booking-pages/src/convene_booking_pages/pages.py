"""The owner's side (R24, R34, R36-R40): pages, the account's settings and custom domain,
links, chat-widget snippets and prefill links. No connected calendar is needed for any of it.

Slugs are unique across every domain (R37: custom.example/meetings/x and the default
domain's /meetings/x are the same page), so a slug is claimed by a unique insert before the
page uses it; of two creates racing for one slug exactly one claims it (201), the other gets
409 ``slug_taken``. A claim whose page no longer uses it (a crash between claim and page
write, a slug changed) is taken back when someone asks for that slug.
"""

from __future__ import annotations

import html
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from convene_kit.aggregates import KeyTaken
from convene_kit.auth import Principal

from convene_booking_pages.deps import Deps
from convene_booking_pages.domain import account as accounts
from convene_booking_pages.domain import page as pages
from convene_booking_pages.domain.account import AccountSettings
from convene_booking_pages.domain.errors import Conflict, NotAllowed, NotFound, RuleViolation
from convene_booking_pages.domain.page import Page, PageSettings

ADMIN = "admin"


def _not_found(page_id: str) -> NotFound:
    return NotFound("page_not_found", "No such scheduling page.", {"page_id": page_id})


async def account_settings(deps: Deps, account_id: str) -> AccountSettings:
    """The account's settings, or the defaults if it never saved any."""
    return (await deps.aggregates.load(deps.accounts, account_id, account_id)
            or accounts.defaults(account_id))


async def _claim_slug(deps: Deps, slug: str, account_id: str, page_id: str) -> None:
    """Claim ``slug`` for ``page_id``; a stale claim (its page gone or moved to another
    slug) is taken back once. 409 ``slug_taken`` otherwise."""
    now = deps.clock()
    for _ in range(2):
        if await deps.slugs.claim(slug, account_id, page_id, now):
            return
        held = await deps.slugs.holder(slug)
        if held is None:
            continue
        holder = await deps.pages.get(held["account_id"], held["holder_id"])
        if holder is not None and not holder.deleted and holder.slug == slug:
            break
        await deps.slugs.release(slug, held["holder_id"])
    raise Conflict("slug_taken", "This address is taken; choose another slug.",
                   {"slug": slug})


async def create_page(deps: Deps, principal: Principal, settings: PageSettings) -> Page:
    page_id = f"pg_{uuid.uuid4().hex[:20]}"
    page = pages.new_page(settings, page_id=page_id, account_id=principal.account_id,
                          owner_user_id=principal.user_id, now=deps.clock())
    await _claim_slug(deps, page.slug, principal.account_id, page_id)
    try:
        return await deps.aggregates.create(deps.pages, page, [])
    except BaseException:
        await deps.slugs.release(page.slug, page_id)
        raise


async def _own_page(deps: Deps, principal: Principal, page_id: str) -> Page:
    page = await deps.aggregates.load(deps.pages, principal.account_id, page_id)
    if page is None or page.deleted:
        raise _not_found(page_id)
    if page.owner_user_id != principal.user_id and not principal.has_role(ADMIN):
        raise NotAllowed("not_page_owner", "Only the page's owner or an admin may do this.")
    return page


async def get_page(deps: Deps, principal: Principal, page_id: str) -> Page:
    page = await deps.aggregates.load(deps.pages, principal.account_id, page_id)
    if page is None or page.deleted:
        raise _not_found(page_id)
    return page


async def list_pages(deps: Deps, principal: Principal, mine: bool) -> list[Page]:
    return await deps.pages.of_account(principal.account_id,
                                       principal.user_id if mine else None)


async def edit_page(deps: Deps, principal: Principal, page_id: str,
                    changes: dict[str, Any]) -> Page:
    current = await _own_page(deps, principal, page_id)
    new_slug = changes.get("slug")
    if new_slug is not None and new_slug != current.slug:
        await _claim_slug(deps, new_slug, principal.account_id, page_id)

    async def rule(page: Page, now: datetime) -> tuple[Page, list[Any]] | None:
        if page.deleted:
            raise _not_found(page_id)
        changed = pages.edited(page, changes, now)
        return None if changed is None else (changed, [])

    try:
        page = await deps.aggregates.change(deps.pages, principal.account_id, page_id, rule,
                                            missing=_not_found(page_id))
    except BaseException:
        if new_slug is not None and new_slug != current.slug:
            await deps.slugs.release(new_slug, page_id)
        raise
    if page.slug != current.slug:
        await deps.slugs.release(current.slug, page_id)
    return page


async def delete_page(deps: Deps, principal: Principal, page_id: str) -> None:
    await _own_page(deps, principal, page_id)

    async def rule(page: Page, now: datetime) -> tuple[Page, list[Any]] | None:
        gone = pages.deleted(page, now)
        return None if gone is None else (gone, [])

    page = await deps.aggregates.change(deps.pages, principal.account_id, page_id, rule,
                                        missing=_not_found(page_id))
    await deps.slugs.release(page.slug, page_id)


async def change_account_settings(deps: Deps, principal: Principal,
                                  changes: dict[str, Any]) -> AccountSettings:
    """Admins only (R36). A new custom domain is claimed first (unique across accounts,
    409 ``domain_taken``); the old one is let go after the change."""
    if not principal.has_role(ADMIN):
        raise NotAllowed("admin_required", "Only an admin may change the account's pages "
                         "settings.")
    account_id = principal.account_id
    current = await account_settings(deps, account_id)
    if accounts.prefix_reserved(changes.get("url_prefix")):
        raise RuleViolation("url_prefix_reserved", "This URL prefix is a path of the "
                            "service itself; choose another one.", {"field": "url_prefix"})
    if changes.get("default_page_id"):
        page = await deps.pages.get(account_id, changes["default_page_id"])
        if page is None or page.deleted:
            raise RuleViolation("default_page_unknown", "The default page must be a page of "
                                "this account.", {"field": "default_page_id"})
    domain: str | None = changes.get("custom_domain")
    if domain is not None and domain != current.custom_domain and not await deps.domains.claim(
            domain, account_id, account_id, deps.clock()):
        raise Conflict("domain_taken", "This domain is connected to another account.",
                       {"custom_domain": domain})
    if current.version == 0 and current.updated_at is None:
        try:
            await deps.aggregates.create(deps.accounts, current, [])
        except KeyTaken:
            pass  # saved concurrently: change that version

    async def rule(account: AccountSettings, now: datetime
                   ) -> tuple[AccountSettings, list[Any]] | None:
        changed = accounts.edited(account, changes, now)
        return None if changed is None else (changed, [])

    updated = await deps.aggregates.change(
        deps.accounts, account_id, account_id, rule,
        missing=NotFound("account_not_found", "No such account."))
    if current.custom_domain and updated.custom_domain != current.custom_domain:
        await deps.domains.release(current.custom_domain, account_id)
    return updated


def links(deps: Deps, account: AccountSettings, page: Page) -> dict[str, str]:
    """The page's link (on the custom domain when there is one), and the chat-widget snippets
    (R40): an iframe of the page's embed view and a script that opens it."""
    url = accounts.page_link(account, page.slug, deps.settings.public_base_url)
    embed = f"{url}?embed=1"
    title = html.escape(page.title, quote=True)
    iframe = (f'<iframe src="{html.escape(embed, quote=True)}" title="{title}" '
              f'style="width:100%;min-height:640px;border:0" loading="lazy"></iframe>')
    script = ("<script>(function(){var a=document.createElement('a');"
              f"a.href={json.dumps(url)};a.target='_blank';a.rel='noopener';"
              f"a.textContent={json.dumps(page.title)};"
              "(document.currentScript.parentNode).insertBefore(a,document.currentScript);"
              "})();</script>")
    return {"url": url, "embed_url": embed, "iframe": iframe, "script": script}


def prefill_link(deps: Deps, account: AccountSettings, page: Page, *, name: str | None,
                 email: str | None, answers: dict[str, str]) -> tuple[str, datetime]:
    """A link that opens the page with the form filled (R39) for one visitor; signed, so
    nobody can change whose data it shows, and expiring."""
    now = deps.clock()
    expires = now + timedelta(seconds=deps.settings.prefill_ttl_s)
    claims: dict[str, Any] = {"pid": page.page_id, "acc": page.account_id, "iat": now,
                              "exp": expires, "answers": answers}
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    token = jwt.encode(claims, deps.prefill_key, algorithm="HS256")
    url = accounts.page_link(account, page.slug, deps.settings.public_base_url)
    return f"{url}?prefill={token}", expires


def read_prefill(deps: Deps, page: Page, token: str | None) -> dict[str, Any] | None:
    """The fields a prefill token carries for this page, or None: a token of another page,
    a tampered or an expired one shows nothing."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, deps.prefill_key, algorithms=["HS256"],
                            options={"require": ["exp", "pid", "acc"], "verify_exp": False})
    except jwt.PyJWTError:
        return None
    if claims.get("pid") != page.page_id or claims.get("acc") != page.account_id:
        return None
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= deps.clock().timestamp():
        return None  # expired by the service's clock
    known = {f.key for f in page.form_fields}
    answers = {k: str(v) for k, v in (claims.get("answers") or {}).items() if k in known}
    return {"name": claims.get("name"), "email": claims.get("email"), "answers": answers}
