"""The domain's refusals as HTTP errors, in the kit's one error shape."""

from __future__ import annotations

from convene_kit.http import error_response
from fastapi import FastAPI, Request
from fastapi.responses import Response

from convene_meetings.domain.errors import (
    MeetingNotFound,
    MeetingsError,
    NotAllowed,
    VersionConflict,
)

STATUS_BY_ERROR: dict[type[MeetingsError], int] = {
    MeetingNotFound: 404, NotAllowed: 403, VersionConflict: 409,
}
"""HTTP status per refusal; any other :class:`MeetingsError` (a broken rule) is a 422."""


async def _meetings_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, MeetingsError)
    status = next((s for cls, s in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 422)
    return error_response(status, exc.code, exc.message, exc.details)


def add_error_handlers(app: FastAPI) -> None:
    """Render :class:`MeetingsError` as ``{"error": {"code", "message", "details"}}``."""
    app.add_exception_handler(MeetingsError, _meetings_error)
