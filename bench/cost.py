"""cost: what one scheduled meeting costs, end to end, and who pays it.

``BENCH_COST_MEETINGS`` (300) meetings POSTed at ``BENCH_COST_RATE`` (10) a second, well
under the machine's capacity so nothing queues, each with one contact invited: one POST,
one invitation, one timeline entry. Measured over the run, from its first POST until every
invitation is in the sink, and divided by the meetings:

- store round trips per service, by command (``convene_store_operations_total`` of each
  service's ``/metrics``);
- events each service published (``convene_events_published_total``);
- CPU time of each service's process and of each server (FerretDB, PostgreSQL with its
  backends, Kafka, the SMTP sink): ``/proc/<pid>/stat`` of the process and every descendant,
  plus what it reaped of exited children.

Background work (timer loops, outbox sweeps, sync polls) is measured first over an idle
window of the same length and subtracted, so the figures are the meetings' own. What the
machine can do follows from the total: cores x 1 s / CPU per meeting is the rate at which
the 2 cores would be busy with nothing else. The servers are shared: another user's load
inflates their CPU (not the round trips); the load average is printed with the figures.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.common import SinkMail, env_float, env_int, fmt, tls_context
from bench.delivery import collect, delivery_figures
from bench.harness import BenchStack, Target, close, seeded_account, sink_watcher, stack_for
from bench.infra_control import server_pids
from bench.load import MeetingPoster

NAME = "cost"
TICKS = os.sysconf("SC_CLK_TCK")
SERVERS = ("ferretdb", "postgres", "kafka", "smtp")


@dataclass(frozen=True)
class Knobs:
    meetings: int = field(default_factory=lambda: env_int("BENCH_COST_MEETINGS", 300))
    rate: float = field(default_factory=lambda: env_float("BENCH_COST_RATE", 10))
    idle_s: float = field(default_factory=lambda: env_float("BENCH_DRAIN_S", 60))


# --- CPU -----------------------------------------------------------------------------------

def _stat(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant (PostgreSQL's backends run in
    sessions of their own, so a process group would miss them), plus the children ``root``
    reaped (backends that ended, a service's finished subprocesses)."""
    parent: dict[int, int] = {}
    spent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        if fields is None:
            continue
        pid = int(entry.name)
        parent[pid] = int(fields[1])  # field 4: parent
        spent[pid] = int(fields[11]) + int(fields[12])  # utime, stime
        if pid == root:
            spent[pid] += int(fields[13]) + int(fields[14])  # cutime, cstime

    def under_root(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parent.get(pid, 0)
        return False

    return sum(ticks for pid, ticks in spent.items() if under_root(pid)) / TICKS


def processes(stack: BenchStack) -> dict[str, int]:
    """Name -> the root process of every service of the stack and every server."""
    found = {name: proc.process.pid for name, proc in stack.services.items()
             if proc.process is not None}
    for name, pid in server_pids().items():
        if name in SERVERS and pid and pid.isdigit():
            found[name] = int(pid)
    return found


# --- metrics -------------------------------------------------------------------------------

async def counters(stack: BenchStack) -> dict[str, dict[str, float]]:
    """Service -> {"store <command>": n, "published": n} from its /metrics."""
    out: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=10, verify=tls_context()) as client:
        for name in stack.services:
            text = (await client.get(f"{stack.url(name)}/metrics")).text
            values: dict[str, float] = defaultdict(float)
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "convene_store_operations_total":
                        values[f"store {sample.labels.get('command', '?')} "
                               f"{sample.labels.get('collection', '?')}"] += sample.value
                    elif sample.name == "convene_events_published_total":
                        values["published"] += sample.value
            out[name] = dict(values)
    return out


@dataclass
class Snapshot:
    at: float
    cpu_s: dict[str, float]
    counts: dict[str, dict[str, float]]


async def snapshot(stack: BenchStack, pids: dict[str, int]) -> Snapshot:
    counts = await counters(stack)
    return Snapshot(time.monotonic(), {n: tree_cpu_s(p) for n, p in pids.items()}, counts)


def delta(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    counts = {svc: {k: v - before.counts.get(svc, {}).get(k, 0.0) for k, v in c.items()}
              for svc, c in after.counts.items()}
    return {"seconds": after.at - before.at,
            "cpu_s": {n: after.cpu_s[n] - before.cpu_s.get(n, 0.0) for n in after.cpu_s},
            "counts": counts}


def per_meeting(load: dict[str, Any], idle: dict[str, Any], meetings: int) -> dict[str, Any]:
    """The load window's figures less the idle rate over the same time, per meeting."""
    scale = load["seconds"] / idle["seconds"]
    cpu_ms = {n: max(0.0, (v - idle["cpu_s"].get(n, 0.0) * scale)) * 1000 / meetings
              for n, v in load["cpu_s"].items()}
    counts: dict[str, dict[str, float]] = {}
    for svc, values in load["counts"].items():
        base = idle["counts"].get(svc, {})
        counts[svc] = {k: round(max(0.0, v - base.get(k, 0.0) * scale) / meetings, 2)
                       for k, v in sorted(values.items())
                       if round(max(0.0, v - base.get(k, 0.0) * scale) / meetings, 2) > 0}
    round_trips = {svc: round(sum(v for k, v in c.items() if k.startswith("store ")), 1)
                   for svc, c in counts.items()}
    total_cpu = sum(cpu_ms.values())
    return {"cpu_ms": {n: round(v, 1) for n, v in sorted(cpu_ms.items())},
            "cpu_ms_total": round(total_cpu, 1),
            "store_round_trips": round_trips,
            "store_round_trips_total": round(sum(round_trips.values()), 1),
            "counts": counts,
            "capacity_per_s": round((os.cpu_count() or 1) * 1000 / total_cpu, 1)
            if total_cpu else None,
            "idle_cpu_ms_per_s": {n: round(v * 1000 / idle["seconds"], 1)
                                  for n, v in sorted(idle["cpu_s"].items())}}


# --- the run -------------------------------------------------------------------------------

async def run_cost(target: Target, knobs: Knobs, ours: list[SinkMail]) -> dict[str, Any]:
    stack = stack_for(target, NAME)
    print(f"cost [{target.label} {target.revision}]: services starting "
          f"(logs in {stack.workdir})", flush=True)
    try:
        stack.start()
        account = await seeded_account(stack)
        poster = MeetingPoster(stack, account)
        watcher = sink_watcher()
        pids = processes(stack)
        window_s = knobs.meetings / knobs.rate
        await asyncio.sleep(5)  # the warm-up meeting's own work settles
        idle_start = await snapshot(stack, pids)
        await asyncio.sleep(window_s)
        idle = delta(idle_start, await snapshot(stack, pids))
        load_start = await snapshot(stack, pids)
        posts = await poster.open_loop(knobs.rate, window_s)
        created = {p.ical_uid: p.sent_at for p in posts if p.ical_uid}
        collected = await collect(watcher, set(created), lambda m: m.ical_uid,
                                  idle_s=knobs.idle_s, cap_s=max(600.0, 3 * window_s))
        await asyncio.sleep(2)  # timeline entries and outbox clean-ups trail the email
        load = delta(load_start, await snapshot(stack, pids))
        ours.extend(collected.mails())
        delivery = delivery_figures(created, collected)
        figures = per_meeting(load, idle, len(created))
        print_cost(target.label, len(created), delivery, figures)
        return {"target": target.label, "revision": target.revision, "meetings": len(created),
                "delivery": delivery, "per_meeting": figures, "idle": idle, "load": load}
    finally:
        await close(stack)


def print_cost(label: str, meetings: int, delivery: dict[str, Any],
               figures: dict[str, Any]) -> None:
    print(f"  [{label}] {meetings} meetings: {delivery['delivered']} invitations, lost "
          f"{delivery['lost']}, duplicated {delivery['duplicated']}")
    print(f"    CPU per meeting {fmt(figures['cpu_ms_total'], ' ms', 1)} "
          f"(the {os.cpu_count()} cores' capacity: {fmt(figures['capacity_per_s'], '/s', 1)})")
    for name, value in sorted(figures["cpu_ms"].items(), key=lambda kv: -kv[1]):
        print(f"      {name:15} {value:7.1f} ms")
    print(f"    store round trips per meeting {figures['store_round_trips_total']}")
    for svc, counts in figures["counts"].items():
        if counts:
            print(f"      {svc:15} {figures['store_round_trips'][svc]:g}: "
                  f"{', '.join(f'{k[6:]} {v:g}' for k, v in counts.items() if k[:6] == 'store ')}"
                  f"; published {counts.get('published', 0):g}")


def headline(result: dict[str, Any]) -> dict[str, float | None]:
    figures = result["per_meeting"]
    out: dict[str, float | None] = {"CPU ms per meeting": figures["cpu_ms_total"],
                                    "capacity /s": figures["capacity_per_s"],
                                    "store round trips": figures["store_round_trips_total"]}
    for name, value in figures["cpu_ms"].items():
        out[f"CPU ms {name}"] = value
    for svc, value in figures["store_round_trips"].items():
        out[f"round trips {svc}"] = value
    return out


async def main(targets: list[Target], ours: list[SinkMail]) -> dict[str, Any]:
    knobs = Knobs()
    print(f"cost: {knobs.meetings} meetings at {knobs.rate:g}/s, after an idle window of "
          f"the same length", flush=True)
    results = {t.label: await run_cost(t, knobs, ours) for t in targets}
    return {"knobs": asdict(knobs), "runs": results,
            "headline": {label: headline(r) for label, r in results.items()}}
