"""schemathesis over one service's live OpenAPI document, through its engine (what `st
run` does), with a fixed seed and a bounded budget per profile; every answer is also handed
to the audit (support/audit.py), so the secrets scan covers fuzzed answers too."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
import schemathesis.transport.requests as requests_transport
from schemathesis import engine
from schemathesis.engine import events
from support import audit

from security_support import PROFILE

SEED = 20261203
BUDGETS: dict[str, dict[str, Any]] = {
    # examples per operation and phase; the coverage phase (boundary and negative values of
    # every parameter) is deterministic and always on; stateful sequences only in full.
    "fast": {"max_examples": 10, "stateful": False, "max_steps": 0},
    "full": {"max_examples": 100, "stateful": True, "max_steps": 20},
}
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")


def _tolerate_urllib3_future() -> None:
    """caldav's niquests installs urllib3-future into the same ``urllib3`` directory as
    urllib3 (the workspace's venv holds urllib3-future's code under urllib3's name), whose
    pool container has no ``keys()``; schemathesis only counts pools there to decide whether
    to resend a request on a dropped keep-alive connection. Count 0 then (resend once)."""
    original = requests_transport._count_opened_connections
    if getattr(original, "_tolerant", False):
        return

    def count(session: Any) -> int:
        try:
            return original(session)
        except AttributeError:
            return 0

    count._tolerant = True  # type: ignore[attr-defined]
    requests_transport._count_opened_connections = count


@dataclass
class Finding:
    check: str
    operation: str
    message: str
    request: str
    status: int | None
    answer: bytes

    def describe(self) -> str:
        return (f"{self.check} on {self.operation}: {self.message.strip()[:300]}\n"
                f"  request: {self.request}\n  answer: {self.status} {self.answer[:300]!r}")


@dataclass
class FuzzRun:
    service: str
    requests: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, *checks: str) -> list[Finding]:
        return [f for f in self.findings if f.check in checks]

    def counts(self) -> Counter[str]:
        return Counter(f.check for f in self.findings)


def config(token: str) -> schemathesis.Config:
    budget = BUDGETS[PROFILE]
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {token}"},
        "request-timeout": 15,
        "generation": {"max-examples": budget["max_examples"], "mode": "all",
                       "deterministic": True, "database": "none", "no-shrink": True},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
                   "fuzzing": {"enabled": True},
                   "stateful": {"enabled": budget["stateful"],
                                **({"max-steps": budget["max_steps"]} if budget["stateful"] else {})}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    })


def fuzz(service: str, base_url: str, token: str) -> FuzzRun:
    """Every operation of ``service``'s document, as ``token``'s caller."""
    _tolerate_urllib3_future()
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config(token))
    run = FuzzRun(service)
    seen: set[tuple[str, str, str]] = set()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(run, event, seen)
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {str(event.info)[:300]}")
        elif isinstance(event, events.FatalError):
            run.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            run.seconds = event.running_time
    return run


def _record(run: FuzzRun, event: events.ScenarioFinished, seen: set[tuple[str, str, str]]) -> None:
    recorder = event.recorder
    for interaction in recorder.interactions.values():
        if interaction.response is None:
            continue
        run.requests += 1
        request = interaction.request
        audit.AUDIT.responses.append(audit.Response(
            request.method, request.uri, interaction.response.status_code,
            interaction.response.content or b"", team=True,
            request_body=request.body or b""))
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction else None
            request = (f"{interaction.request.method} {interaction.request.uri} "
                       f"{(interaction.request.body or b'')[:200]!r}") if interaction else "?"
            failure = check.failure_info.failure
            key = (check.name, recorder.label, getattr(failure, "title", str(failure))[:80])
            if key in seen:
                continue  # one finding per check, operation and kind of failure
            seen.add(key)
            run.findings.append(Finding(
                check.name, recorder.label, f"{getattr(failure, 'title', '')}: "
                f"{getattr(failure, 'message', failure)}", request,
                response.status_code if response else None,
                (response.content or b"") if response else b""))
