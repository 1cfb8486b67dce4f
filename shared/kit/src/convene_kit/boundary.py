"""What every service's HTTP boundary refuses before a view runs, in one place.

* **Request bodies** derive from :class:`RequestModel`, which applies the event contract's
  text rule (:mod:`convene_schemas.text`) to every string of every field: one line without
  control characters, or TAB/LF/CR too in a field annotated ``MultilineText``.
  ``create_app`` refuses to build an app with a route whose body is anything else, or holds
  a model that is not one (:func:`unchecked_bodies`), so a new model cannot forget the rule.
* **Path and query**: :class:`PathAndQueryTextMiddleware` applies the one-line rule to the
  decoded path (every path parameter) and to every query name and value, before routing.
* **Times** in bodies and queries use ``convene_schemas.base.SupportedDatetime``, the
  contract's supported range.
* **Content type**: a route with a JSON body answers 415 to a non-empty body of any other
  media type (:func:`require_json_body`), instead of failing to validate bytes as 422.
* **Methods**: :func:`allowed_methods` is every method some route of the app answers at a
  path, for a complete ``Allow`` header on 405 and on OPTIONS.

Refusals of the text and time rules are 422 with the rule's own code,
``disallowed_character`` or ``date_out_of_range`` (``validation_error`` when a request
breaks several kinds of rule at once), in the kit's one error shape.
"""

from __future__ import annotations

import email.message
import typing
from collections.abc import Iterable
from types import NoneType, UnionType
from typing import Any
from urllib.parse import parse_qsl

from convene_schemas.base import DATE_OUT_OF_RANGE
from convene_schemas.text import (
    DISALLOWED_CHARACTER,
    StorableText,
    disallowed_character,
    why_disallowed,
)
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from convene_kit.errors import ApiError, error_response

__all__ = ["BOUNDARY_CODES", "DISALLOWED_CHARACTER", "PathAndQueryTextMiddleware",
           "RequestModel", "allowed_methods", "is_json_media_type", "require_json_body",
           "unchecked_bodies"]

BOUNDARY_CODES = frozenset({DISALLOWED_CHARACTER, DATE_OUT_OF_RANGE})
"""The codes of the boundary's own rules: a 422 breaking only one of them carries it as
its ``error.code``."""

_PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class RequestModel(StorableText):
    """Base of every request body: each string a field holds must be storable text (see
    :mod:`convene_schemas.text`), whatever the field's own constraints say."""


def _plain_models(annotation: Any, seen: set[type[BaseModel]]) -> list[type[BaseModel]]:
    """The models in ``annotation`` (and in their fields) that do not apply the rule."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return []
        seen.add(annotation)
        if not issubclass(annotation, StorableText):
            return [annotation]
        return [plain for field in annotation.model_fields.values()
                for plain in _plain_models(field.annotation, seen)]
    return [plain for arg in typing.get_args(annotation) for plain in _plain_models(arg, seen)]


def unchecked_bodies(routers: Iterable[APIRouter]) -> list[str]:
    """``METHOD path`` of every route whose request body is not a :class:`RequestModel`, or
    holds a model that is not one (each model applies the rule to its own strings)."""
    found = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or route.body_field is None:
                continue
            annotation = route.body_field.field_info.annotation
            members = [a for a in typing.get_args(annotation) if a is not NoneType]
            top = members[0] if typing.get_origin(annotation) in (typing.Union, UnionType) \
                and len(members) == 1 else annotation
            plain = _plain_models(annotation, set())
            if plain or not (isinstance(top, type) and issubclass(top, StorableText)):
                names = ", ".join(sorted(m.__name__ for m in plain)) or str(annotation)
                found += [f"{method} {route.path} ({names})"
                          for method in sorted(route.methods or ())]
    return found


def _query_problems(query_string: bytes) -> list[dict[str, Any]]:
    problems = []
    # As Starlette reads the query: latin-1 bytes, percent-decoded as UTF-8.
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        char = disallowed_character(name) or disallowed_character(value)
        if char is not None:
            loc = ["query"] if disallowed_character(name) else ["query", name]
            problems.append({"loc": loc, "message": why_disallowed(char),
                             "type": DISALLOWED_CHARACTER})
    return problems


class PathAndQueryTextMiddleware:
    """422 ``disallowed_character`` for a path or query holding a control character
    (U+0000 included: ``GET /meetings/a%00b``), before any route or store sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problems = _query_problems(scope.get("query_string", b""))
            char = disallowed_character(scope.get("path", ""))
            if char is not None:
                problems.insert(0, {"loc": ["path"], "message": why_disallowed(char),
                                    "type": DISALLOWED_CHARACTER})
            if problems:
                first = problems[0]
                message = f"{'.'.join(first['loc'])}: {first['message']}."
                response = error_response(422, DISALLOWED_CHARACTER, message, problems)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def is_json_media_type(content_type: str | None) -> bool:
    """True for ``application/json`` and ``application/*+json`` (parameters ignored), as
    FastAPI decides whether to parse a body as JSON."""
    if not content_type:
        return False
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    subtype = parsed.get_content_subtype()
    return parsed.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json"))


async def require_json_body(request: Request) -> None:
    """App-wide dependency: a route that takes a body answers 415
    ``unsupported_media_type`` to a non-empty body that is not JSON (FastAPI would try to
    validate the raw bytes and answer 422). Runs before the body is validated."""
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None or not await request.body():
        return
    content_type = request.headers.get("content-type")
    if not is_json_media_type(content_type):
        raise ApiError(415, "unsupported_media_type",
                       "The request body must be JSON (Content-Type: application/json).",
                       {"content_type": content_type})


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route answers at ``scope``'s path, then ``OPTIONS``: routes of one
    path may come from several routers (``GET`` and ``PATCH /meetings/{id}``), and
    Starlette's own 405 names only the first route it finds."""
    routes = list(routes)
    allowed = []
    for method in _PROBED_METHODS:
        probe = {"type": "http", "path": scope.get("path", ""), "method": method,
                 "root_path": scope.get("root_path", ""), "headers": [], "query_string": b""}
        if any(route.matches(probe)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return [*allowed, "OPTIONS"]
