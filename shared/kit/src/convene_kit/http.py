"""The HTTP side of a service: FastAPI app with health, readiness, metrics and one error shape.

Every 4xx/5xx body is ``{"error": {"code", "message", "details"}}`` (:mod:`convene_kit.errors`):
service errors (:class:`ApiError` and the domains' :class:`~convene_kit.refusals.Refusal`
subclasses), unknown routes (404 ``not_found``), wrong methods (405
``method_not_allowed`` with every allowed method in ``Allow``; OPTIONS answers 204 with the
same header), a body that is not JSON (415 ``unsupported_media_type``), FastAPI's request
validation (422 ``validation_error`` with per-field details, or the boundary rule's own code,
``disallowed_character`` / ``date_out_of_range``, when only that rule was broken; see
:mod:`convene_kit.boundary`) and unexpected exceptions (500 ``internal_error``, nothing of
the exception leaks). The OpenAPI document lists each of these per operation
(:mod:`convene_kit.openapi`).

A pure ASGI middleware reads ``X-Correlation-Id`` (or makes one) and ``traceparent``, sets
them as log context, echoes ``X-Correlation-Id`` on the response and records latency by
route template (``/meetings/{meeting_id}``, never the raw path).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convene_kit.boundary import (
    BOUNDARY_CODES,
    DISALLOWED_CHARACTER,
    PathAndQueryTextMiddleware,
    allowed_methods,
    require_json_body,
    unchecked_bodies,
)
from convene_kit.errors import STATUS_CODES, ApiError, error_response
from convene_kit.logging import log_context
from convene_kit.metrics import CONTENT_TYPE_LATEST, HTTP_LATENCY, generate_latest
from convene_kit.openapi import OPERATIONS_TAG, document_errors
from convene_kit.refusals import Refusal
from convene_kit.settings import ServiceSettings
from convene_kit.store import is_infrastructure_error

__all__ = ["ApiError", "Lifespan", "ReadinessCheck", "RequestContextMiddleware", "create_app",
           "error_response", "run_readiness"]

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool | None]]
Lifespan = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[Any]]

async def _refusal(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route at the path only; OPTIONS, which
        # no route declares, lands here too and is answered with the full list.
        headers["Allow"] = ", ".join(allowed_methods(request.app.router.routes, request.scope))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=headers)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI's answer to a JSON body that is not UTF-8 (RFC 8259 §8.1): the same 422 as
        # a body that is not JSON at all, which the documents promise, not a bare 400.
        return error_response(422, "validation_error", "The request body is not valid JSON.",
                              [{"loc": ["body"], "message": "the body is not UTF-8",
                                "type": "json_invalid"}])
    code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    details = None if isinstance(exc.detail, str) else exc.detail
    return error_response(exc.status_code, code, message, details, headers)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # No "input" echoed back: it may carry secrets.
    details = [
        {"loc": list(err.get("loc", ())), "message": err.get("msg", ""), "type": err.get("type")}
        for err in exc.errors()
    ]
    for detail in details:
        if detail["type"] == "string_unicode":  # pydantic's own refusal of a lone surrogate
            detail["type"] = DISALLOWED_CHARACTER
            detail["message"] = "an unpaired surrogate (U+D800-U+DFFF) is not a character"
    kinds = {detail["type"] for detail in details}
    if len(kinds) == 1 and (rule := kinds.pop()) in BOUNDARY_CODES:
        first = details[0]
        where = ".".join(str(part) for part in first["loc"])
        return error_response(422, rule, f"{where}: {first['message']}.", details)
    return error_response(422, "validation_error", "The request is not valid.", details)


async def _unexpected_error(_: Request, exc: Exception) -> Response:
    if is_infrastructure_error(exc):
        # The store or Kafka did not answer in time: the caller may retry; nothing was
        # half-done (every change is one write).
        logger.warning("a dependency failed: %s", type(exc).__name__, exc_info=exc)
        return error_response(503, "dependency_unavailable",
                              "A dependency of the service is not answering; try again.",
                              headers={"Retry-After": "1"})
    logger.error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "Internal server error.")


class RequestContextMiddleware:
    """Correlation id in/out, traceparent, log context and latency by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        correlation_id = headers.get("x-correlation-id", "")[:128] or str(uuid.uuid4())
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-correlation-id", correlation_id.encode("latin-1")),
                ]
            await send(message)

        with log_context(traceparent=headers.get("traceparent"), correlation_id=correlation_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", None) or "<unmatched>"
                HTTP_LATENCY.labels(
                    method=scope.get("method", ""), route=template, status=str(status)
                ).observe(time.perf_counter() - started)


_CHECKS_IN_FLIGHT: dict[ReadinessCheck, asyncio.Task[Any]] = {}
"""Readiness checks still running after their probe gave up on them, by check."""


def _check_task(check: ReadinessCheck) -> asyncio.Task[Any]:
    """The check's running task, or a new one: a check a probe gave up on is awaited again
    by the next probe, never started twice, so a hanging dependency cannot pile them up."""
    task = _CHECKS_IN_FLIGHT.get(check)
    if task is None:
        task = asyncio.ensure_future(check())
        _CHECKS_IN_FLIGHT[check] = task

        def done(finished: asyncio.Task[Any]) -> None:
            _CHECKS_IN_FLIGHT.pop(check, None)
            if not finished.cancelled():
                finished.exception()  # retrieved: a late failure is no "never retrieved"

        task.add_done_callback(done)
    return task


async def run_readiness(
    checks: Mapping[str, ReadinessCheck], timeout_s: float
) -> dict[str, str]:
    """Run every check concurrently; maps each name to ``ok`` or why it failed.

    A check that has not answered after ``timeout_s`` is reported as timed out but *not
    cancelled*: it ends by its own time limit (the store's ping is the driver's, see
    :meth:`convene_kit.store.Store.ping`). Cancelling a driver call from outside can
    corrupt the driver's locks; the check's own limit is the one that ends it.
    """
    names = list(checks)
    tasks = {name: _check_task(checks[name]) for name in names}
    if tasks:
        await asyncio.wait(tasks.values(), timeout=timeout_s)

    def outcome(task: asyncio.Task[Any]) -> str:
        if not task.done():
            return f"timed out after {timeout_s}s"
        if task.cancelled():
            return "cancelled"
        exc = task.exception()
        if isinstance(exc, TimeoutError):
            return f"timed out after {timeout_s}s"
        if exc is not None:  # a readiness check reports, it does not crash
            return f"{type(exc).__name__}: {exc}"[:300]
        result = task.result()
        return "ok" if result is None or result is True else "failed"

    return {name: outcome(tasks[name]) for name in names}


def create_app(
    settings: ServiceSettings,
    *,
    routers: Iterable[APIRouter] = (),
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
    on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
    verifier: Any = None,
    title: str | None = None,
    version: str = "1.0.0",
) -> FastAPI:
    """The service's FastAPI app: routers plus /healthz, /readyz, /metrics and /docs.

    ``readiness_checks`` maps a name (``kafka``, ``store``, ``consumers``) to an async
    callable that returns None/True when ready and False or raises otherwise.
    ``lifespan`` (e.g. ``ServiceRuntime.lifespan``) runs inside ``on_startup`` /
    ``on_shutdown`` hooks. ``verifier`` (a :class:`~convene_kit.auth.JwtVerifier`)
    defaults to one built from ``settings.jwt_public_key_file`` when that is set.
    """
    checks = dict(readiness_checks or {})

    @contextlib.asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in on_startup:
            await hook()
        async with contextlib.AsyncExitStack() as stack:
            if lifespan is not None:
                await stack.enter_async_context(lifespan(app))
            yield
        for hook in on_shutdown:
            await hook()

    routers = list(routers)
    unchecked = unchecked_bodies(routers)
    if unchecked:
        raise TypeError(f"request bodies must derive from convene_kit.boundary.RequestModel "
                        f"(the text rule): {', '.join(unchecked)}")
    app = FastAPI(title=title or f"convene {settings.service_name}", version=version,
                  lifespan=app_lifespan, dependencies=[Depends(require_json_body)])
    app.state.settings = settings
    if verifier is None and settings.jwt_public_key_file is not None:
        from convene_kit.auth import JwtVerifier

        verifier = JwtVerifier.from_settings(settings)
    app.state.jwt_verifier = verifier

    app.add_exception_handler(Refusal, _refusal)  # ApiError and every domain's refusals
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(PathAndQueryTextMiddleware)
    app.add_middleware(RequestContextMiddleware)  # outermost: ids and latency for every answer

    @app.get("/healthz", tags=[OPERATIONS_TAG], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=[OPERATIONS_TAG], summary="Kafka, store and consumers are ready",
             responses={503: {"description": "not_ready: details.checks names why."}})
    async def readyz() -> Response:
        results = await run_readiness(checks, settings.readiness_timeout_s)
        failed = sorted(name for name, result in results.items() if result != "ok")
        if failed:
            return error_response(503, "not_ready", f"not ready: {', '.join(failed)}",
                                  {"checks": results})
        return JSONResponse({"status": "ready", "checks": results})

    @app.get("/metrics", tags=[OPERATIONS_TAG], summary="Prometheus metrics",
             response_class=PlainTextResponse,
             response_description="The Prometheus text exposition format "
                                  f"({CONTENT_TYPE_LATEST}).")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
