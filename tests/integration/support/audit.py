"""An audit of internal team notes (R11, issue 7) and of credentials over a test run.

Credentials: every ``password`` a request sends (a CalDAV connection) and every secret a
test registers (:meth:`NoteAudit.remember_secret`, e.g. a Google refresh token the emulator
issued) must never appear in any message, email, answer (to anyone) or service log line.

Every HTTP call a test makes through httpx is observed: each ``internal_note`` a request
carries is remembered, and every response to a caller whose token lacks the ``team`` role is
kept. The searches below look for every remembered note in every message on every topic of
the stack (DLQs included), every email the SMTP sink stored since the run began (raw and each
decoded part) and every kept response. tests/integration/test_internal_notes.py runs them
over a meeting of its own (and whatever ran before it); the session's ``stack`` fixture runs
them once more when the run ends, so a note written by any test, in any order, is covered
without marking anything by hand.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from convene_kit.testing import topic_partitions
from convene_schemas.registry import load_registry

from support import endpoint

if TYPE_CHECKING:
    from support.services import Stack

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
    secrets: set[str] = field(default_factory=set)
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
        password = body.get("password") if isinstance(body, dict) else None
        if isinstance(password, str):
            self.remember_secret(password)

    def remember_secret(self, secret: str) -> None:
        """A credential that must never show up anywhere the run produced."""
        if len(secret) >= MIN_NOTE_LENGTH:
            self.secrets.add(secret)

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


    def secret_leaks(self, data: bytes) -> int:
        """How many remembered credentials occur in ``data`` (never which: not even a
        failing test's message may print one)."""
        return sum(1 for secret in self.secrets if secret.encode() in data)


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


# --- the searches ----------------------------------------------------------------------


async def every_message(bootstrap: str, topics: list[str]) -> list[tuple[str, bytes]]:
    """(topic, value and header bytes) of every record of ``topics``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics
                      for p in sorted(await topic_partitions(bootstrap, t))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[tuple[str, bytes]] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            if not batch:
                raise AssertionError(f"could not read {sorted(map(str, remaining))} to the end")
            for tp, records in batch.items():
                for record in records:
                    headers = b"".join(k.encode() + b"=" + (v or b"") for k, v in record.headers)
                    found.append((tp.topic, (record.value or b"") + b"\n" + headers))
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


async def stack_messages(stack: Stack) -> list[tuple[str, bytes]]:
    """Every message on every topic (and DLQ) of the registry, as ``stack`` names them."""
    topics = [stack.topic(name) for spec in load_registry().topics
              for name in (spec.name, spec.dlq.topic)]
    return await every_message(endpoint("CONVENE_KAFKA_BOOTSTRAP"), topics)


def emails_of_the_run() -> list[Path]:
    """Every email the SMTP sink stored since the run began."""
    sink = Path(endpoint("CONVENE_MAIL_SINK_DIR"))
    return [p for p in sink.glob("*.eml") if p.stat().st_mtime >= AUDIT.started_at - 1]


def decoded_mail(path: Path) -> bytes:
    """The raw message and every decoded part (base64 and quoted-printable undone)."""
    raw = path.read_bytes()
    parts = [raw]
    for part in message_from_bytes(raw, policy=policy.default).walk():
        if not part.is_multipart():
            parts.append(part.get_payload(decode=True) or b"")
    return b"\n".join(parts)


def leaks_in_messages(messages: list[tuple[str, bytes]]) -> list[tuple[str, list[str]]]:
    """(topic, notes) of every message that carries a note."""
    return [(topic, AUDIT.leaks(data)) for topic, data in messages if AUDIT.leaks(data)]


def leaks_in_emails(paths: list[Path]) -> list[tuple[str, list[str]]]:
    """(file name, notes) of every email that carries a note."""
    return [(p.name, AUDIT.leaks(decoded_mail(p))) for p in paths if AUDIT.leaks(decoded_mail(p))]


def leaks_in_answers() -> list[tuple[str, str, list[str]]]:
    """(method, url, notes) of every answer to a caller without the team role that carries
    a note (the caller's own request echoed in a validation error is no leak)."""
    return [(r.method, r.url, AUDIT.leaks(r.body, echo_of=r.request_body))
            for r in AUDIT.responses
            if not r.team and AUDIT.leaks(r.body, echo_of=r.request_body)]


def secret_leaks_of_the_run(stack: Stack, messages: list[tuple[str, bytes]]) -> list[str]:
    """Where credentials appear (places only, never the credential)."""
    places = [f"topic {topic}" for topic, data in messages if AUDIT.secret_leaks(data)]
    places += [f"email {p.name}" for p in emails_of_the_run()
               if AUDIT.secret_leaks(decoded_mail(p))]
    places += [f"answer to {r.method} {r.url}" for r in AUDIT.responses
               if AUDIT.secret_leaks(r.body)]
    places += [f"log {log.name}" for log in sorted(stack.workdir.glob("*.log"))
               if AUDIT.secret_leaks(log.read_bytes())]
    return places


async def leaks_of_the_run(stack: Stack) -> str | None:
    """Every leak of every note and credential so far, described; None when there is none."""
    described: list[str] = []
    if AUDIT.secrets:
        places = secret_leaks_of_the_run(stack, await stack_messages(stack))
        if places:
            described.append(f"credentials in: {sorted(set(places))}")
    if not AUDIT.notes:
        return "; ".join(described) or None
    found = {"on public topics": leaks_in_messages(await stack_messages(stack)),
             "in emails": leaks_in_emails(emails_of_the_run()),
             "in answers to callers without the team role": leaks_in_answers()}
    described += [f"notes {where}: {leaks}" for where, leaks in found.items() if leaks]
    return "; ".join(described) or None
