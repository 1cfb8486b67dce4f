"""Helpers of the security suite (tests/security): the profile, the figures every check
reports, and reading the services' OpenAPI documents. The services run as real processes
through tests/integration's support (Stack), which this package imports, never copies."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from support import REPO_ROOT

PROFILE = os.environ.get("CONVENE_SECURITY_PROFILE", "fast")
"""fast (inside `make test`) or full (`make test-security`): only the fuzzing budget differs."""
if PROFILE not in ("fast", "full"):
    raise RuntimeError(f"CONVENE_SECURITY_PROFILE must be fast or full, not {PROFILE!r}")

ARTIFACT = Path(os.environ.get("CONVENE_HOME", REPO_ROOT / ".convene")) / "artifacts" / "security.json"
KIT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Figures:
    """What each check did, by check name (printed and written when the session ends)."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, check: str, **counts: Any) -> None:
        """Add counts (numbers are summed, anything else replaced) to ``check``'s figures."""
        mine = self.checks.setdefault(check, {})
        for key, value in counts.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                mine[key] = mine.get(key, 0) + value
            else:
                mine[key] = value

    def lines(self) -> list[str]:
        return [f"security {check}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
                for check, counts in self.checks.items()]

    def write(self) -> Path:
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps({"profile": PROFILE, "checks": self.checks}, indent=2))
        return ARTIFACT


FIGURES = Figures()


def openapi(base_url: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/openapi.json", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"\{([^}]+)\}", self.path)

    @property
    def requires_token(self) -> bool:
        """The operation documents a 401: it is behind the gateway's token."""
        return "401" in self.spec.get("responses", {})

    def required_query(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", [])
                if p["in"] == "query" and p.get("required")]


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    """Every operation of the document but the kit's probes."""
    for path, item in document["paths"].items():
        if path in KIT_PATHS:
            continue
        for method in METHODS:
            if method in item:
                yield Operation(method, path, item[method])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
