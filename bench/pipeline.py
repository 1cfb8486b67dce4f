"""pipeline: POST /meetings -> meetings -> Kafka -> notifications -> SMTP sink.

Open-loop runs at fixed rates (one contact invited per meeting, so one invitation each):
POST latency, invitation latency (the POST's send time -> the sink's ``received_at`` of the
invitation, matched by the .ics UID the POST answered with), sustained throughput, lost and
duplicated invitations. Then the maximum sustained rate (meetings POSTed by a bounded number
of clients as fast as they are answered), and the same figures for the bare stack
(``bench.bare``) on the same servers, which gives the ratio pipeline / bare.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aiokafka import ConsumerRecord

from bench import bare
from bench.common import (
    SinkMail,
    SinkWatcher,
    env_float,
    env_int,
    env_ints,
    fmt,
    fmt_dist,
    ms,
    verdict,
)
from bench.delivery import collect, delivery_figures, status_counts
from bench.harness import (
    BenchStack,
    Target,
    close,
    current_target,
    endpoint,
    seeded_account,
    sink_watcher,
    stack_for,
)
from bench.kafka_tools import TopicTail
from bench.load import MeetingPoster, Posted

NAME = "pipeline"
TARGET_RATE = 50
TARGET_P50_MS = 100
TARGET_P99_MS = 500
TARGET_RATIO = 0.7
SCHEDULED = b"com.convene.meetings.MeetingScheduled"


@dataclass(frozen=True)
class Knobs:
    duration_s: float = field(default_factory=lambda: env_float("BENCH_DURATION_S", 60))
    rates: list[int] = field(default_factory=lambda: env_ints("BENCH_RATES", (10, 25, 50)))
    max_meetings: int = field(default_factory=lambda: env_int("BENCH_MAX_MEETINGS", 1000))
    max_clients: int = field(default_factory=lambda: env_int("BENCH_MAX_CLIENTS", 16))
    bare_max: int = field(default_factory=lambda: env_int("BENCH_BARE_MAX", 2000))
    idle_s: float = field(default_factory=lambda: env_float("BENCH_DRAIN_S", 60))

    @property
    def cap_s(self) -> float:
        """The longest any drain may take, progress or not."""
        return max(600.0, 3 * self.duration_s)


class ScheduledEvents:
    """When each meeting's ``MeetingScheduled`` reached Kafka (the record's timestamp, set
    by meetings' producer): splits the invitation latency into meetings' part and the rest."""

    def __init__(self, stack: BenchStack) -> None:
        self.published: dict[str, float] = {}
        self.tail = TopicTail(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                              stack.topic("meetings.events.v1"), self.on_record)

    def on_record(self, record: ConsumerRecord) -> None:
        if dict(record.headers).get("ce_type") == SCHEDULED and record.key:
            self.published.setdefault(record.key.decode(), record.timestamp / 1000)


async def invitations_of(posts: list[Posted], watcher: SinkWatcher, ours: list[SinkMail],
                         knobs: Knobs, events: ScheduledEvents) -> dict[str, Any]:
    """POST figures, then wait for the invitations of every meeting created."""
    created = {p.ical_uid: p.sent_at for p in posts if p.ical_uid}
    collected = await collect(watcher, set(created), lambda m: m.ical_uid,
                              idle_s=knobs.idle_s, cap_s=knobs.cap_s)
    ours.extend(collected.mails())
    answered = [p.latency_s for p in posts if p.latency_s is not None]
    published = [events.published[p.meeting_id] - p.sent_at for p in posts
                 if p.meeting_id in events.published]
    errors = sorted({p.error for p in posts if p.error})[:5]
    return {"posts": len(posts), "statuses": status_counts(p.status for p in posts),
            "post_latency_ms": ms(answered), "event_latency_ms": ms(published),
            "errors": errors, "invitations": delivery_figures(created, collected)}


def print_run(label: str, run: dict[str, Any]) -> None:
    inv = run["invitations"]
    print(f"  {label}: {run['posts']} POSTs {run['statuses']}")
    print(f"    POST latency              {fmt_dist(run['post_latency_ms'])}")
    print(f"    MeetingScheduled on Kafka {fmt_dist(run['event_latency_ms'])}")
    print(f"    invitation latency        {fmt_dist(inv['latency_ms'])}")
    print(f"    throughput {fmt(inv['throughput_per_s'], '/s', 1)} over "
          f"{fmt(inv['window_s'], ' s', 1)}; lost {inv['lost']}, duplicated "
          f"{inv['duplicated']} (drain wait {inv['drain_wait_s']} s)")
    for error in run["errors"]:
        print(f"    error: {error}")


async def run_pipeline(target: Target, knobs: Knobs, ours: list[SinkMail]) -> dict[str, Any]:
    stack = stack_for(target, NAME)
    print(f"pipeline [{target.label} {target.revision}]: services starting "
          f"(logs in {stack.workdir})", flush=True)
    events = ScheduledEvents(stack)
    try:
        stack.start()
        account = await seeded_account(stack)
        await events.tail.start()
        poster = MeetingPoster(stack, account)
        watcher = sink_watcher()
        runs: dict[str, Any] = {}
        for rate in knobs.rates:
            posts = await poster.open_loop(rate, knobs.duration_s)
            runs[str(rate)] = await invitations_of(posts, watcher, ours, knobs, events)
            print_run(f"{rate}/s for {knobs.duration_s:.0f} s", runs[str(rate)])
        posts = await poster.as_fast_as_possible(knobs.max_meetings, knobs.max_clients)
        maximum = await invitations_of(posts, watcher, ours, knobs, events)
        print_run(f"max rate ({knobs.max_meetings} meetings, {knobs.max_clients} clients)",
                  maximum)
        return {"target": target.label, "revision": target.revision, "rates": runs,
                "max": maximum}
    finally:
        try:
            await events.tail.stop()
        finally:
            await close(stack)


async def run_bare(knobs: Knobs, ours: list[SinkMail]) -> dict[str, Any]:
    stack = stack_for(current_target(), "bare")  # its topic prefix and folder; no services
    worker = bare.BareStack(stack.prefix, stack.workdir)
    print("bare stack: one serial loop (consume -> insert + update -> SMTP -> commit)",
          flush=True)
    try:
        await worker.start()
        watcher = sink_watcher()
        runs: dict[str, Any] = {}
        for rate in knobs.rates:
            runs[str(rate)] = await bare.open_loop(worker, watcher, ours, rate,
                                                   knobs.duration_s, knobs.idle_s, knobs.cap_s)
            print_bare(f"{rate}/s for {knobs.duration_s:.0f} s", runs[str(rate)])
        maximum = await bare.max_rate(worker, watcher, ours, knobs.bare_max, knobs.idle_s,
                                      knobs.cap_s)
        print_bare(f"max rate ({knobs.bare_max} messages at once)", maximum)
        return {"rates": runs, "max": maximum}
    finally:
        await worker.close()
        await close(stack)


def print_bare(label: str, run: dict[str, Any]) -> None:
    print(f"  {label}: latency {fmt_dist(run['latency_ms'])}")
    print(f"    throughput {fmt(run['throughput_per_s'], '/s', 1)}; lost {run['lost']}, "
          f"duplicated {run['duplicated']}")


def targets_met(result: dict[str, Any], bare_result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets for one target's run, each with its figure and PASS/MISS."""
    checks: dict[str, Any] = {}
    at_target = result["rates"].get(str(TARGET_RATE))
    for name, limit in (("p50", TARGET_P50_MS), ("p99", TARGET_P99_MS)):
        value = at_target["invitations"]["latency_ms"][name] if at_target else None
        checks[f"invitation {name} at {TARGET_RATE}/s <= {limit} ms"] = {
            "value_ms": value, "pass": value is not None and value <= limit,
            "run": at_target is not None}
    pipeline_max = result["max"]["invitations"]["throughput_per_s"]
    bare_max = bare_result["max"]["throughput_per_s"]
    ratio = pipeline_max / bare_max if pipeline_max and bare_max else None
    checks[f"max rate pipeline / bare >= {TARGET_RATIO}"] = {
        "pipeline_per_s": pipeline_max, "bare_per_s": bare_max, "ratio": ratio,
        "pass": ratio is not None and ratio >= TARGET_RATIO}
    return checks


def print_targets(label: str, checks: dict[str, Any]) -> None:
    print(f"  targets [{label}]:")
    for name, check in checks.items():
        if "ratio" in check:
            figure = (f"{fmt(check['pipeline_per_s'], '/s', 1)} / "
                      f"{fmt(check['bare_per_s'], '/s', 1)} = {fmt(check['ratio'], '', 2)}")
        elif not check["run"]:
            print(f"    ----  {name}: not run (BENCH_RATES has no {TARGET_RATE})")
            continue
        else:
            figure = fmt(check["value_ms"], " ms")
        print(f"    {verdict(check['pass'])}  {name}: {figure}")


def headline(result: dict[str, Any]) -> dict[str, float | None]:
    """The figures compared between a baseline and the current tree."""
    figures: dict[str, float | None] = {}
    for rate, run in result["rates"].items():
        inv = run["invitations"]
        figures[f"{rate}/s POST p50 ms"] = run["post_latency_ms"]["p50"]
        figures[f"{rate}/s POST p99 ms"] = run["post_latency_ms"]["p99"]
        figures[f"{rate}/s event p99 ms"] = run["event_latency_ms"]["p99"]
        figures[f"{rate}/s invitation p50 ms"] = inv["latency_ms"]["p50"]
        figures[f"{rate}/s invitation p99 ms"] = inv["latency_ms"]["p99"]
        figures[f"{rate}/s invitation max ms"] = inv["latency_ms"]["max"]
        figures[f"{rate}/s throughput /s"] = inv["throughput_per_s"]
    figures["max rate /s"] = result["max"]["invitations"]["throughput_per_s"]
    return figures


async def main(targets: list[Target], ours: list[SinkMail]) -> dict[str, Any]:
    knobs = Knobs()
    print(f"pipeline: rates {knobs.rates}/s for {knobs.duration_s:.0f} s each, then "
          f"{knobs.max_meetings} meetings as fast as {knobs.max_clients} clients go; "
          f"drain: {knobs.idle_s:.0f} s without progress", flush=True)
    results = {t.label: await run_pipeline(t, knobs, ours) for t in targets}
    bare_result = await run_bare(knobs, ours)
    for target in targets:
        results[target.label]["targets"] = targets_met(results[target.label], bare_result)
        print_targets(target.label, results[target.label]["targets"])
    return {"knobs": asdict(knobs), "runs": results, "bare": bare_result,
            "headline": {label: headline(r) for label, r in results.items()}}
