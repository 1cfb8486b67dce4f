"""The public page's HTML: Jinja2 templates shipped in the package (autoescaped: every value
a host or a visitor typed is escaped), the static files, and the headers every answer
carries.

Headers: a Content-Security-Policy that lets in only this origin's script and style (no
inline script or style anywhere), ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``
except on the embed view (``?embed=1``, the chat widgets' iframe, R40), which any site may
frame; ``Cache-Control: no-store`` on every page (free times and bookings change by the
minute); no referrer beyond this origin (a confirmation's address is its visitor's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from convene_booking_pages.web.i18n import Messages

ASSETS = {"page.css": "text/css; charset=utf-8",
          "page.js": "text/javascript; charset=utf-8"}
"""The static files, served at ``/<url_prefix>/_static/<name>``: under the pages' own
prefix, so whatever routes a page to this service (an ingress path, a custom domain)
routes its files too."""

_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
           "form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}")


def paragraphs(text: str) -> Markup:
    """Plain text as escaped paragraphs (blank lines split them; newlines are <br>)."""
    blocks = [block for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in lines))
        for lines in (block.strip().split("\n") for block in blocks))


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("convene_booking_pages.web", "templates"),
                      autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["paragraphs"] = paragraphs
    return env


@cache
def asset(name: str) -> tuple[bytes, str]:
    """A static file's bytes and a short digest of them (the cache-busting version)."""
    data = files("convene_booking_pages.web").joinpath("static", name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


def asset_url(prefix: str, name: str) -> str:
    return f"/{quote(prefix, safe='')}/_static/{name}?v={asset(name)[1]}"


def security_headers(*, embed: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": _POLICY.format(ancestors="*" if embed else "'none'"),
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if not embed:
        headers["X-Frame-Options"] = "DENY"
    return headers


def render(template: str, messages: Messages, context: Mapping[str, Any], *, prefix: str,
           embed: bool, status: int = 200,
           headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """``template`` in the page's language, with the headers above (and ``headers``)."""
    body = environment().get_template(template).render(
        t=messages, lang=messages.language, embed=embed,
        css=asset_url(prefix, "page.css"), js=asset_url(prefix, "page.js"), **context)
    return HTMLResponse(body, status_code=status,
                        headers={**security_headers(embed=embed), **(headers or {})})


def asset_response(name: str) -> Response:
    """A static file; its URL carries its digest, so it may be cached for long."""
    data, _ = asset(name)
    return Response(data, media_type=ASSETS[name], headers={
        "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
