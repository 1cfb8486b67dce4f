"""schemathesis over every service's live OpenAPI document (security_support/fuzz.py), as an
admin and team member of an account with a host and a contact, so the deep paths are
reached: no 5xx, every answer in its documented schema, content type and status code."""

from __future__ import annotations

import pytest
from security_support import FIGURES, PROFILE
from security_support.fuzz import FuzzRun, fuzz
from security_support.stack import SecurityStack
from support.skeleton import Account

SERVICES = ("records", "meetings", "calendar-sync", "notifications", "booking-pages")
RUNS: dict[str, FuzzRun] = {}

@pytest.fixture(scope="module")
def fuzz_caller(stack: SecurityStack) -> str:
    account = Account(stack)
    return stack.token(account.id, account.host["id"], roles="admin,team")


def fuzzed(stack: SecurityStack, token: str, service: str) -> FuzzRun:
    """One engine run per service for the module's three checks."""
    if service not in RUNS:
        run = RUNS[service] = fuzz(service, stack.url(service), token)
        counts = run.counts()
        FIGURES.add("fuzz", profile=PROFILE, requests=run.requests,
                    server_errors=counts["not_a_server_error"],
                    schema_violations=counts["response_schema_conformance"]
                    + counts["content_type_conformance"],
                    undocumented_statuses=counts["status_code_conformance"],
                    seconds=round(run.seconds, 1))
        FIGURES.add(f"fuzz {service}", requests=run.requests,
                    findings=dict(counts) or "none", seconds=round(run.seconds, 1))
        assert not run.errors, f"schemathesis could not test {service}: {run.errors[:5]}"
        assert run.requests > 0
    return RUNS[service]


def report(findings: list) -> str:
    return "\n".join(f.describe() for f in findings)


@pytest.mark.parametrize("service", SERVICES)
def test_no_answer_is_a_server_error(stack: SecurityStack, fuzz_caller: str, service: str) -> None:
    errors = fuzzed(stack, fuzz_caller, service).of("not_a_server_error")
    assert not errors, f"{service} answered 5xx:\n{report(errors)}\n{stack.logs()}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_answer_matches_its_documented_schema(stack: SecurityStack, fuzz_caller: str,
                                                    service: str) -> None:
    wrong = fuzzed(stack, fuzz_caller, service).of("response_schema_conformance",
                                                   "content_type_conformance")
    assert not wrong, f"{service} answered outside its document:\n{report(wrong)}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_status_is_documented(stack: SecurityStack, fuzz_caller: str, service: str) -> None:
    undocumented = fuzzed(stack, fuzz_caller, service).of("status_code_conformance")
    assert not undocumented, f"{service} answered undocumented statuses:\n{report(undocumented)}"
