"""An audit of internal team notes over a whole test run (R11, issue 7).

Every HTTP call a test makes through httpx is observed: each ``internal_note`` a request
carries is remembered, and every response to a caller whose token lacks the ``team`` role is
kept. At the end of the run (tests/integration/test_zz_internal_notes.py) every message on
every public topic, every email the SMTP sink received and every kept response is searched
for every remembered note. Nothing has to be marked by hand: a new test that writes a note
is covered automatically.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

MIN_NOTE_LENGTH = 8
"""Shorter notes (say "ok") could match by chance; tests use unique, longer notes."""


@dataclass
class Response:
    """One answer the audit kept."""

    method: str
    url: str
    status: int
    body: bytes
    team: bool
    request_body: bytes = b""


@dataclass
class NoteAudit:
    """What the run wrote as internal notes and what non-team callers received."""

    started_at: float = field(default_factory=time.time)
    notes: set[str] = field(default_factory=set)
    responses: list[Response] = field(default_factory=list)

    def observe_request(self, request: httpx.Request) -> None:
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type:
            return
        try:
            body = json.loads(request.content or b"null")
        except (ValueError, httpx.RequestNotRead):
            return
        note = body.get("internal_note") if isinstance(body, dict) else None
        if isinstance(note, str) and len(note) >= MIN_NOTE_LENGTH:
            self.notes.add(note)

    def observe_response(self, request: httpx.Request, response: httpx.Response) -> None:
        roles = caller_roles(request)
        if roles is None:
            return  # not a call to a Convene service with a token
        try:
            body = response.content
        except httpx.ResponseNotRead:
            return  # a streamed answer; no test streams Convene's API
        try:
            sent = request.content
        except httpx.RequestNotRead:
            sent = b""
        self.responses.append(Response(request.method, str(request.url), response.status_code,
                                       body, team="team" in roles, request_body=sent))

    def leaks(self, data: bytes, *, echo_of: bytes = b"") -> list[str]:
        """The remembered notes that occur in ``data`` (a caller's own request, ``echo_of``,
        repeated in a validation error is no leak)."""
        return [note for note in self.notes
                if note.encode() in data and note.encode() not in echo_of]


def caller_roles(request: httpx.Request) -> list[str] | None:
    """The roles in the request's bearer token (read, not verified), or None without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    roles = claims.get("roles", []) if isinstance(claims, dict) else []
    return [str(role) for role in roles] if isinstance(roles, list) else []


AUDIT = NoteAudit()


def install() -> None:
    """Wrap httpx's sync and async ``send`` so every call of the run is observed (once)."""
    if getattr(httpx.Client.send, "_note_audit", False):
        return
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        AUDIT.observe_request(request)
        response = sync_send(self, request, **kwargs)
        AUDIT.observe_response(request, response)
        return response

    async def asend(self: httpx.AsyncClient, request: httpx.Request,
                    **kwargs: Any) -> httpx.Response:
        AUDIT.observe_request(request)
        response = await async_send(self, request, **kwargs)
        AUDIT.observe_response(request, response)
        return response

    send._note_audit = asend._note_audit = True  # type: ignore[attr-defined]
    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = asend  # type: ignore[method-assign]
