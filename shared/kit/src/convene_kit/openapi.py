"""Honest OpenAPI documents: every error answer a route can give, with the one error shape.

``create_app`` passes its document through :func:`document_errors`, which adds to every
operation the answers the kit itself gives (so no service has to remember them):

====  ===========================================================================
401   the operation needs the gateway's token (it has ``security``)
415   it takes a request body (anything but JSON is refused)
422   it takes a body or parameters (validation, the text rule, the time range)
500   every operation (an unexpected failure)
503   every service operation (the store or Kafka did not answer)
====  ===========================================================================

A route declares the answers of its own rules (403, 404, 409, a 422 of a rule, ...) with
FastAPI's ``responses=``; a description is enough. Every 4xx and 5xx answer then gets the
kit's :class:`~convene_kit.errors.ErrorBody` schema, replacing FastAPI's own 422 shape,
which no Convene service answers with. :func:`undocumented_errors` is the check each
service's tests run over its document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Set
from typing import Any

from convene_kit.errors import ErrorBody

ERROR_SCHEMA_REF = "#/components/schemas/ErrorBody"

COMMON_ERRORS = {
    "401": "missing_token, invalid_token or token_expired: no valid gateway token "
           "(with a WWW-Authenticate: Bearer challenge).",
    "415": "unsupported_media_type: the request body is not JSON "
           "(Content-Type: application/json).",
    "422": "validation_error (details name each refused field), disallowed_character (a "
           "control character, or a line break in a one-line field, in the body, the path "
           "or the query) or date_out_of_range (a time outside 1900-01-01T00:00:00Z .. "
           "9000-01-01T00:00:00Z).",
    "500": "internal_error: an unexpected failure; nothing of it is shown.",
    "503": "dependency_unavailable: the store or Kafka did not answer; retry after "
           "Retry-After.",
}
"""The answers the kit gives, with what they mean."""

OPERATIONS_TAG = "operations"
"""The tag of the kit's own /healthz, /readyz and /metrics (no store behind them)."""

_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def operations(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every ``(method, path, operation)`` of an OpenAPI document."""
    for path, item in schema.get("paths", {}).items():
        for method in _HTTP_METHODS:
            if method in item:
                yield method, path, item[method]


def kit_errors(operation: Mapping[str, Any]) -> set[str]:
    """The statuses the kit can answer for ``operation`` (see the module docstring)."""
    wanted = {"500"}
    if operation.get("security"):
        wanted.add("401")
    if "requestBody" in operation:
        wanted |= {"415", "422"}
    if operation.get("parameters"):
        wanted.add("422")
    if OPERATIONS_TAG not in operation.get("tags", []):
        wanted.add("503")
    return wanted


def _is_error(status: str) -> bool:
    return status[:1] in ("4", "5")


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the kit's answers added and every error answer in the kit's shape
    (in place, and idempotent)."""
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(error_schema.pop("$defs", {}))
    components["ErrorBody"] = error_schema
    for _, _, operation in operations(schema):
        responses = operation.setdefault("responses", {})
        for status in kit_errors(operation):
            responses.setdefault(status, {"description": COMMON_ERRORS[status]})
        for status, response in responses.items():
            if not _is_error(str(status)):
                continue
            if response.get("description") in (None, "", "Validation Error"):
                response["description"] = COMMON_ERRORS.get(str(status), "An error.")
            response["content"] = {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}}
        operation["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))
    text = json.dumps(schema.get("paths", {}))
    for name in _FASTAPI_VALIDATION:
        if f"#/components/schemas/{name}" not in text:
            components.pop(name, None)
    return schema


def undocumented_errors(schema: Mapping[str, Any],
                        expected: Mapping[str, Set[str | int]] | None = None) -> list[str]:
    """What ``schema`` fails to document: per operation, each answer the kit can give
    (:func:`kit_errors`) and each of ``expected`` (``{"GET /meetings/{meeting_id}":
    {404}}``, the service's own), and every error answer without the kit's error schema.
    Empty when the document is honest."""
    problems = []
    expected = expected or {}
    seen = set()
    for method, path, operation in operations(schema):
        name = f"{method.upper()} {path}"
        seen.add(name)
        responses = {str(status): response
                     for status, response in operation.get("responses", {}).items()}
        wanted = kit_errors(operation) | {str(s) for s in expected.get(name, ())}
        problems += [f"{name}: {status} is not documented"
                     for status in sorted(wanted - set(responses))]
        for status, response in sorted(responses.items()):
            if not _is_error(status):
                continue
            content = response.get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            if ref != ERROR_SCHEMA_REF or set(content) != {"application/json"}:
                problems.append(f"{name}: {status} is not the kit's error shape")
    problems += [f"{name}: no such operation" for name in sorted(set(expected) - seen)]
    return problems


def error_responses(errors: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for a route's own error answers (status -> the codes it
    answers with and when); the kit adds the error schema and its own answers."""
    return {status: {"description": text} for status, text in errors.items()}
