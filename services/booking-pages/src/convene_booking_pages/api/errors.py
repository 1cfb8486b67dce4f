"""The domain's refusals as HTTP errors, in the kit's one error shape."""

from __future__ import annotations

from convene_kit.http import error_response
from fastapi import FastAPI, Request
from fastapi.responses import Response

from convene_booking_pages.domain.errors import BookingPagesError, Unavailable


async def _booking_pages_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, BookingPagesError)
    headers = {"Retry-After": "2"} if isinstance(exc, Unavailable) else None
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


def add_error_handlers(app: FastAPI) -> None:
    """Render :class:`BookingPagesError` as ``{"error": {"code", "message", "details"}}``."""
    app.add_exception_handler(BookingPagesError, _booking_pages_error)
