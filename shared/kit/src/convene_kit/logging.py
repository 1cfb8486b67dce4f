"""JSON logs, one line per record, with request/event context and secrets redacted.

Every record carries ``time``, ``level``, ``logger``, ``message``, ``service``,
``trace_id`` (from the W3C ``traceparent``), ``correlation_id`` and ``account_id``. The last
three come from context variables that the HTTP middleware sets per request and the
consumer sets per event (:func:`log_context`), so code that logs never passes them.

Redaction runs on every record before it is formatted: values under sensitive keys
(passwords, tokens, secrets, authorization, API keys) and e-mail bodies are replaced, and
``Bearer`` credentials, JWTs and ``key=value`` secrets inside message strings are masked.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

REDACTED = "[REDACTED]"

trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
traceparent_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "traceparent", default=None
)
correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
account_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "account_id", default=None
)

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|token|secret|authori[sz]ation|api[_-]?key|credential|cookie|private[_-]?key",
    re.IGNORECASE,
)
_EMAIL_BODY_KEYS = frozenset(
    {"body", "email_body", "mail_body", "html_body", "text_body", "body_html", "body_text"}
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/=]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_KEY_VALUE = re.compile(
    r"(?i)(\"?(?:[a-z_]*(?:password|passwd|token|secret|api[_-]?key|authorization))\"?"
    r"\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&}]+)"
)

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "color_message"}  # uvicorn's ANSI duplicate
)


def trace_id_from_traceparent(traceparent: str | None) -> str | None:
    """The 32-hex trace id of a W3C ``traceparent`` header, or None if it is malformed."""
    if not traceparent:
        return None
    match = _TRACEPARENT.match(traceparent.strip().lower())
    if match is None or match.group(1) == "ff" or match.group(2) == "0" * 32:
        return None
    return match.group(2)


@contextlib.contextmanager
def log_context(
    *,
    traceparent: str | None = None,
    correlation_id: str | None = None,
    account_id: str | None = None,
) -> Iterator[None]:
    """Set trace, correlation and account ids for every log record inside the block."""
    tokens = [
        (traceparent_var, traceparent_var.set(traceparent)),
        (trace_id_var, trace_id_var.set(trace_id_from_traceparent(traceparent))),
        (correlation_id_var, correlation_id_var.set(correlation_id)),
        (account_id_var, account_id_var.set(account_id)),
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def redact_text(text: str) -> str:
    """Mask Bearer/Basic credentials, JWTs and ``secret=value`` pairs inside free text."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    return _KEY_VALUE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def is_sensitive_key(key: str) -> bool:
    """True for keys whose values must never reach a log line."""
    return bool(_SENSITIVE_KEY.search(key)) or key.lower() in _EMAIL_BODY_KEYS


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with sensitive mapping entries replaced and strings masked."""
    if _depth > 8:
        return value
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_sensitive_key(k) else redact(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [redact(v, _depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    return value


class RedactionFilter(logging.Filter):
    """Rewrites a record in place so nothing sensitive reaches any handler's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_convene_redacted", False):
            return True
        if isinstance(record.msg, Mapping):
            record.msg = json.dumps(redact(record.msg), default=str)
            record.args = None
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            record.__dict__[key] = REDACTED if is_sensitive_key(key) else redact(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        record._convene_redacted = True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the Convene log fields and any ``extra`` fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "_convene_redacted", False):
            RedactionFilter().filter(record)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "trace_id": trace_id_var.get(),
            "correlation_id": correlation_id_var.get(),
            "account_id": account_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO", stream: Any = None) -> logging.Handler:
    """Send every log record of the process to ``stream`` (stdout) as redacted JSON lines.

    Replaces the root logger's handlers; returns the installed handler.
    """
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn and faststream install their own handlers; route them through ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "aiokafka"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    # HTTP clients log every request at INFO (calendar-sync polls providers); their failures
    # reach the log through the caller, so only their warnings are kept.
    for name in ("httpx", "httpcore", "googleapiclient.discovery", "caldav"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
