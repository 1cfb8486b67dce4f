"""Refusals: why a service says no, as its domain says it (a machine-readable code, a message
for people, details), with the HTTP status it is answered with.

Pure (no web framework), so a service's ``domain/`` derives its own refusals from
:class:`Refusal` and sets ``status`` per class; every app built by
:func:`convene_kit.http.create_app` renders any refusal as the one JSON error body
(``{"error": {"code", "message", "details"}}``), so no service registers a handler of its
own. :class:`convene_kit.errors.ApiError` is a refusal whose status is given per instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class Refusal(Exception):
    """A request refused: ``status`` (422 unless a subclass says otherwise), ``code``,
    ``message`` (never echoing a secret), ``details`` and extra response ``headers``."""

    status: int = 422
    default_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, code: str, message: str, details: Any = None, *,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = {**self.default_headers, **(headers or {})}
