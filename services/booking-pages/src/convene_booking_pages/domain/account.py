"""An account's booking-page settings (R36-R38): the URL prefix of every page, the default
page, the switch that turns every page off, the custom domain and whether search engines
are kept away from it. One versioned aggregate per account (``_id`` = the account id);
an account that never saved them has :func:`defaults`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from convene_schemas.text import StorableText
from pydantic import Field

DomainName = Annotated[str, Field(
    min_length=4, max_length=253,
    pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    description="A host name, lower case, without scheme, port or path.")]


RESERVED_PREFIXES = frozenset({"pages", "account", "public", "internal", "docs", "redoc",
                               "healthz", "readyz", "metrics"})
"""Path segments of the service's own routes: a page prefix may not be one of them, or its
pages would shadow (or be shadowed by) the API, the probes or the metrics."""


def prefix_reserved(prefix: str | None) -> bool:
    """Whether ``prefix`` is one of the service's own path segments."""
    return prefix in RESERVED_PREFIXES


class AccountSettingsFields(StorableText):
    """What an admin sets for every page of the account."""

    url_prefix: str = Field(default="meetings", pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
                            description="The path segment before every page's slug.")
    default_page_id: str | None = Field(default=None, max_length=200, description="The page "
                                        "linked from sales email templates.")
    pages_enabled: bool = Field(default=True, description="Off: every page answers "
                                "'unavailable', nothing is deleted (R36).")
    custom_domain: DomainName | None = Field(default=None, description="Pages are served on "
                                             "it and links use it (R37).")
    hide_custom_domain_from_search: bool = Field(
        default=False, description="robots.txt on the custom domain disallows /<prefix>* (R38).")


class AccountSettings(AccountSettingsFields):
    account_id: str
    version: int = 0
    updated_at: datetime | None = None


def defaults(account_id: str) -> AccountSettings:
    """The settings of an account that never saved any."""
    return AccountSettings(account_id=account_id)


def edited(account: AccountSettings, changes: dict[str, object],
           now: datetime) -> AccountSettings | None:
    """The settings with ``changes`` applied; None if nothing changes."""
    current = account.model_dump(include=set(AccountSettingsFields.model_fields))
    merged = AccountSettingsFields.model_validate({**current, **changes})
    if merged.model_dump() == current:
        return None
    return AccountSettings.model_validate({**account.model_dump(), **merged.model_dump(),
                                           "version": account.version + 1, "updated_at": now})


def page_link(account: AccountSettings, slug: str, default_base_url: str) -> str:
    """Where a page is shared: on the custom domain when one is connected, so every link
    follows a domain switch (R37); otherwise on the default domain."""
    base = (f"https://{account.custom_domain}" if account.custom_domain
            else default_base_url.rstrip("/"))
    return f"{base}/{account.url_prefix}/{quote(slug)}"


def robots_txt(account: AccountSettings | None) -> str:
    """robots.txt for a host: on a custom domain whose owner asked, pages are disallowed
    (R38, ``Disallow: /meetings*`` with the default prefix); elsewhere nothing is."""
    if account is not None and account.custom_domain and account.hide_custom_domain_from_search:
        return f"User-agent: *\nDisallow: /{account.url_prefix}*\n"
    return "User-agent: *\nDisallow:\n"
