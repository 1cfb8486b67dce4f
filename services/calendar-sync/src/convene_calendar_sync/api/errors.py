"""The domain's refusals as HTTP errors, in the kit's one error shape."""

from __future__ import annotations

from convene_kit.http import error_response
from fastapi import FastAPI, Request
from fastapi.responses import Response

from convene_calendar_sync.domain.errors import CalendarSyncError


async def _calendar_sync_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, CalendarSyncError)
    return error_response(exc.status, exc.code, exc.message, exc.details)


def add_error_handlers(app: FastAPI) -> None:
    """Render :class:`CalendarSyncError` as ``{"error": {"code", "message", "details"}}``."""
    app.add_exception_handler(CalendarSyncError, _calendar_sync_error)
