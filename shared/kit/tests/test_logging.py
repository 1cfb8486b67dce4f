"""JSON log lines carry the context fields, and secrets never reach them."""

from __future__ import annotations

import io
import json
import logging

import pytest
from convene_kit.logging import (
    JsonFormatter,
    RedactionFilter,
    configure_logging,
    log_context,
    trace_id_from_traceparent,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def capture():
    stream = io.StringIO()
    logger = logging.getLogger("kittest.logging")
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter("meetings"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines
    logger.removeHandler(handler)


def test_one_json_line_with_context_fields(capture) -> None:
    logger, lines = capture
    with log_context(traceparent=TRACEPARENT, correlation_id="corr-1", account_id="acc-1"):
        logger.info("meeting %s scheduled", "m-1", extra={"meeting_id": "m-1"})
    logger.warning("outside")
    first, second = lines()
    assert first["message"] == "meeting m-1 scheduled"
    assert first["level"] == "INFO"
    assert first["logger"] == "kittest.logging"
    assert first["service"] == "meetings"
    assert first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert first["correlation_id"] == "corr-1"
    assert first["account_id"] == "acc-1"
    assert first["meeting_id"] == "m-1"
    assert first["time"].endswith("+00:00")
    assert second["trace_id"] is None and second["account_id"] is None


def test_sensitive_extra_fields_and_nested_values_are_redacted(capture) -> None:
    logger, lines = capture
    logger.info(
        "connecting",
        extra={
            "password": "hunter2",
            "credentials": {"refresh_token": "1//0g-refresh", "client": "ok"},
            "request": {"headers": {"Authorization": "Bearer abc.def"}, "api_key": "k-123"},
            "email": {"to": "ann@example.com", "body": "Dear Ann, your code is 4711"},
        },
    )
    text = "\n".join(json.dumps(line) for line in lines())
    for secret in ("hunter2", "1//0g-refresh", "abc.def", "k-123", "4711"):
        assert secret not in text
    line = lines()[0]
    assert line["password"] == "[REDACTED]"
    assert line["email"]["to"] == "ann@example.com"
    assert line["email"]["body"] == "[REDACTED]"


def test_secrets_inside_messages_are_masked(capture) -> None:
    logger, lines = capture
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl"
    logger.info("calling provider with Authorization: Bearer ya29.a0AfH6SMB")
    logger.info("raw token %s", token)
    logger.info("login password=s3cret&user=ann, client_secret: 'xyz'")
    logger.info({"event": "sync", "access_token": "at-1"})
    messages = [line["message"] for line in lines()]
    joined = " ".join(messages)
    for secret in ("ya29.a0AfH6SMB", token, "s3cret", "xyz", "at-1"):
        assert secret not in joined
    assert "user=ann" in messages[2]


def test_exception_text_is_redacted(capture) -> None:
    logger, lines = capture
    try:
        raise RuntimeError("auth failed for token=tok-999")
    except RuntimeError:
        logger.exception("provider call failed")
    line = lines()[0]
    assert "RuntimeError" in line["exception"]
    assert "tok-999" not in line["exception"]


def test_malformed_traceparent_gives_no_trace_id() -> None:
    assert trace_id_from_traceparent(TRACEPARENT) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_from_traceparent("garbage") is None
    assert trace_id_from_traceparent("00-" + "0" * 32 + "-00f067aa0ba902b7-01") is None
    assert trace_id_from_traceparent(None) is None


def test_configure_logging_routes_the_root_logger_through_redaction() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("records", "info", stream=stream)
        logging.getLogger("some.library").info("token=abc123 sent")
        line = json.loads(stream.getvalue().splitlines()[-1])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert line["service"] == "records"
    assert "abc123" not in line["message"]
