"""What every benchmark shares: knobs from the environment, percentiles, the machine's
description, the JSON results file, and reading what the SMTP sink stored."""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import re
import ssl
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"


# --- knobs ---------------------------------------------------------------------------------

def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_ints(name: str, default: Iterable[int]) -> list[int]:
    value = os.environ.get(name, "").strip()
    return [int(part) for part in value.split(",") if part.strip()] if value else list(default)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every HTTP client: httpx builds one per client otherwise, which
    costs tens to hundreds of milliseconds of CPU each (the services speak plain HTTP)."""
    return ssl.create_default_context()


# --- figures -------------------------------------------------------------------------------

def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def distribution(values: Iterable[float]) -> dict[str, float | int | None]:
    """n, p50, p99 and max of per-item timings (the same unit as ``values``)."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {"n": len(ordered), "p50": percentile(ordered, 0.50),
            "p99": percentile(ordered, 0.99), "max": ordered[-1]}


def ms(seconds: Iterable[float]) -> dict[str, float | int | None]:
    """:func:`distribution` of durations given in seconds, in milliseconds."""
    return distribution(s * 1000.0 for s in seconds)


def fmt(value: float | int | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def fmt_dist(dist: dict[str, Any], unit: str = " ms", digits: int = 0) -> str:
    return (f"p50 {fmt(dist['p50'], unit, digits)}  p99 {fmt(dist['p99'], unit, digits)}  "
            f"max {fmt(dist['max'], unit, digits)}  (n={dist['n']})")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --- the machine ---------------------------------------------------------------------------

def _meminfo() -> dict[str, int]:
    values = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            values[key] = int(rest.split()[0])  # kB
    except (OSError, ValueError, IndexError):
        pass
    return values


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision(cwd: Path = REPO_ROOT) -> str:
    """The checked-out commit, with ``+dirty`` when the tree has uncommitted changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, check=True,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}+dirty" if dirty else rev


def machine() -> dict[str, Any]:
    """Cores, memory (from /proc/meminfo) and load: the context every figure needs."""
    info = _meminfo()
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_gib": round(info.get("MemTotal", 0) / 1024 / 1024, 1),
        "mem_available_gib": round(info.get("MemAvailable", 0) / 1024 / 1024, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def machine_line(info: dict[str, Any]) -> str:
    return (f"machine: {info['cores']} cores ({info['cpu_model']}), "
            f"{info['mem_total_gib']} GiB memory ({info['mem_available_gib']} GiB available), "
            f"load average {' '.join(str(x) for x in info['load_average'])}")


# --- results -------------------------------------------------------------------------------

def utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>-<UTC timestamp>.json`` and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{utc_stamp()}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


# --- the SMTP sink -------------------------------------------------------------------------

UID_PATTERN = re.compile(rb"^UID:(\S+)", re.MULTILINE)
BENCH_ID_PATTERN = re.compile(rb"^X-Bench-Id: (\S+)", re.MULTILINE)


@dataclass(frozen=True)
class SinkMail:
    """One message the sink stored: when it arrived (epoch seconds), to whom, and what
    names it: the meeting's .ics UID (invitations, updates, cancellations carry one), the
    ``X-Bench-Id`` header of a message a benchmark sent itself, whether it has a
    ``text/calendar`` part."""

    eml: Path
    received_at: float
    rcpt_tos: tuple[str, ...]
    ical_uid: str | None
    bench_id: str | None
    has_calendar: bool

    @classmethod
    def read(cls, eml: Path, meta: dict[str, Any], raw: bytes) -> SinkMail:
        uid = UID_PATTERN.search(raw)
        bench_id = BENCH_ID_PATTERN.search(raw)
        return cls(eml, datetime.fromisoformat(meta["received_at"]).timestamp(),
                   tuple(r.lower() for r in meta["rcpt_tos"]),
                   uid.group(1).decode() if uid else None,
                   bench_id.group(1).decode() if bench_id else None,
                   b"text/calendar" in raw)

    def delete(self) -> None:
        for path in (self.eml, self.eml.with_suffix(".json")):
            path.unlink(missing_ok=True)


class SinkWatcher:
    """Reads the sink's folder incrementally: each :meth:`scan` returns the messages stored
    since the previous one (only files named after ``since``; the sink names every file
    ``<UTC received time>-<id>``)."""

    def __init__(self, folder: Path, since: float | None = None) -> None:
        self.folder = folder
        since = time.time() if since is None else since
        start = datetime.fromtimestamp(since - 2.0, timezone.utc)  # 2 s: clock rounding
        self._floor = start.strftime("%Y%m%dT%H%M%S")
        self._seen: set[str] = set()

    def scan(self) -> list[SinkMail]:
        found = []
        for entry in os.scandir(self.folder):
            name = entry.name
            if not name.endswith(".json") or name < self._floor or name in self._seen:
                continue
            eml = self.folder / (name[:-5] + ".eml")
            try:
                meta = json.loads(Path(entry.path).read_text())
                raw = eml.read_bytes()
            except (OSError, ValueError):
                continue  # being written: the next scan sees it whole
            self._seen.add(name)
            found.append(SinkMail.read(eml, meta, raw))
        return found


def delete_mails(mails: Iterable[SinkMail]) -> int:
    """Remove the benchmark's own messages from the shared sink folder (other people's
    tests read every file in it); returns how many."""
    count = 0
    for mail in mails:
        mail.delete()
        count += 1
    return count
