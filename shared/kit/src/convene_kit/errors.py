"""The one JSON error shape of every 4xx/5xx answer: ``{"error": {"code", "message",
"details"}}``; :class:`ApiError` raises it, :func:`error_response` builds it and
:class:`ErrorBody` is its model, as the OpenAPI documents show it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from convene_kit.refusals import Refusal

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
"""The code of an HTTP error that carries no code of its own, by status."""


class ApiError(Refusal):
    """A refusal with its status given where it is raised (the kit's own, and a service's
    one-off answers); rendered as the standard JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code, message, details, headers=headers)
        self.status = status


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The standard error body as a response."""
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(
        description="Machine-readable: the kit's (not_found, method_not_allowed, "
        "unsupported_media_type, validation_error, disallowed_character, date_out_of_range, "
        "missing_token, invalid_token, token_expired, internal_error, "
        "dependency_unavailable, ...) or the service's own (meeting_not_found, "
        "start_in_past, ...).",
        examples=["validation_error"],
    )
    message: str = Field(description="For people; never echoes what the request sent.")
    details: Any = Field(
        default=None,
        description="More, by code: for validation_error, disallowed_character and "
        "date_out_of_range a list of {loc, message, type}, one per refused field.",
    )


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of every Convene service."""

    error: ErrorDetail
