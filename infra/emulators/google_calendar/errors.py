"""Errors in Google's JSON error format, so googleapiclient raises HttpError with the right
`reason` (and retries exactly what it retries against Google: 5xx, 429, 403 rate limits).

Shapes from Google's error guide as quoted in providers.md §2.7 and §2.1.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error answer of the Calendar API: HTTP status plus Google's `error` object."""

    def __init__(self, code: int, reason: str, message: str, *, domain: str = "global",
                 location: str | None = None, location_type: str | None = None,
                 status: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.status = status
        self.headers = headers or {}

    def body(self) -> dict:
        detail: dict = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location is not None:
            detail["locationType"] = self.location_type or "parameter"
            detail["location"] = self.location
        error: dict = {"errors": [detail], "code": self.code, "message": self.message}
        if self.status is not None:
            error["status"] = self.status
        return {"error": error}


def invalid(message: str, location: str | None = None) -> ApiError:
    return ApiError(400, "invalid", message, location=location)


def required(message: str, location: str | None = None) -> ApiError:
    return ApiError(400, "required", message, location=location)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "badRequest", message)


def time_range_empty(location: str = "timeMax") -> ApiError:
    return ApiError(400, "timeRangeEmpty", "The specified time range is empty.",
                    domain="calendar", location=location)


def auth_error() -> ApiError:
    return ApiError(401, "authError", "Invalid Credentials", location="Authorization",
                    location_type="header",
                    headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                                 'error="invalid_token"'})


def insufficient_scopes() -> ApiError:
    return ApiError(403, "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                    status="PERMISSION_DENIED")


def required_access_level(level: str = "writer") -> ApiError:
    return ApiError(403, "requiredAccessLevel",
                    f"You need to have {level} access to this calendar.", domain="calendar")


def not_found() -> ApiError:
    return ApiError(404, "notFound", "Not Found")


def duplicate() -> ApiError:
    return ApiError(409, "duplicate", "The requested identifier already exists.")


def deleted() -> ApiError:
    return ApiError(410, "deleted", "Resource has been deleted")


def full_sync_required() -> ApiError:
    return ApiError(410, "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                    domain="calendar", location="syncToken")


def condition_not_met() -> ApiError:
    return ApiError(412, "conditionNotMet", "Precondition Failed", location="If-Match",
                    location_type="header")


def rate_limit_exceeded(code: int = 403) -> ApiError:
    return ApiError(code, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits",
                    status="RESOURCE_EXHAUSTED" if code == 429 else None)


def user_rate_limit_exceeded() -> ApiError:
    return ApiError(403, "userRateLimitExceeded", "User Rate Limit Exceeded",
                    domain="usageLimits")


def backend_error(code: int = 500) -> ApiError:
    return ApiError(code, "backendError", "Backend Error")
