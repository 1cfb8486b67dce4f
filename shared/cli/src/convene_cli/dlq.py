"""``convene dlq inspect|replay``: what a dead-letter topic holds, and moving it back.

TOPIC is a registry topic or its dead-letter topic (``meetings.events.v1`` or
``meetings.events.v1.dlq``); ``CONVENE_TOPIC_PREFIX`` is applied. Replaying is
:func:`convene_kit.dlq.replay`: bounded by ``--limit``, from ``--from-offset`` (by default
the oldest record the DLQ still holds), each record re-published to its
``dlq_source_topic`` with its original key and headers, through an idempotent producer
with acks=all. Ctrl-C stops it after the record in hand and says what was replayed and
where to go on from; a second Ctrl-C aborts at once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict
from types import FrameType, TracebackType
from typing import Any

import click
from convene_kit.dlq import replay
from convene_schemas.registry import TopicSpec, load_registry
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from convene_cli.context import (
    EXIT_INTERRUPTED,
    EXIT_PROBLEM,
    BadInput,
    CliContext,
    kafka_errors,
    pass_cli,
)
from convene_cli.dead_letters import (
    MISSING,
    Inspection,
    PartitionBounds,
    ReplayFeed,
    ReplayStopped,
    ReplayTally,
    UnknownTopic,
    inspect_dead_letters,
    partition_bounds,
    resolve_dlq_topic,
)

TOPIC_HELP = "TOPIC is a registry topic or its DLQ, e.g. meetings.events.v1(.dlq)."


@click.group()
def dlq() -> None:
    """Inspect and replay dead-letter topics (<topic>.dlq)."""


def _resolve(cli: CliContext, name: str) -> tuple[str, TopicSpec]:
    try:
        return resolve_dlq_topic(name, load_registry(), cli.settings.topic_prefix)
    except UnknownTopic as exc:
        raise click.BadParameter(str(exc), param_hint="TOPIC") from None


def _run(bootstrap: str, coroutine: Any) -> Any:
    """Run one Kafka coroutine; a missing topic or partition is the operator's input."""
    with kafka_errors(bootstrap):
        try:
            return asyncio.run(coroutine)
        except ValueError as exc:
            raise BadInput(f"{exc} (create the topics with `convene topics create`)") from exc


@dlq.command(epilog=TOPIC_HELP)
@click.argument("topic")
@click.option("--partition", type=click.IntRange(min=0), help="Only this partition.")
@click.option("--max-records", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Read at most this many records (oldest first) for the counts and sample; "
                   "0 only counts the records held.")
@click.option("--sample", "sample_size", type=click.IntRange(min=0), default=3,
              show_default=True, help="Show this many records, oldest first.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds allowed for reading.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@pass_cli
def inspect(cli: CliContext, topic: str, partition: int | None, max_records: int,
            sample_size: int, timeout: float, as_json: bool) -> None:
    """How many dead letters TOPIC's DLQ holds, their reasons, and a sample.

    Reasons, consumer groups and event types come from the dlq_reason, dlq_consumer_group
    and ce_type headers of the records read. Nothing is committed or changed.
    """
    dlq_topic, spec = _resolve(cli, topic)
    bootstrap = cli.settings.kafka_bootstrap
    inspection: Inspection = _run(bootstrap, inspect_dead_letters(
        bootstrap, dlq_topic, partition=partition, max_records=max_records,
        sample_size=sample_size, timeout_s=timeout))
    if as_json:
        click.echo(json.dumps(_inspection_document(inspection), indent=2))
        return
    for line in _inspection_lines(inspection, spec, topic):
        click.echo(line)


def _inspection_document(inspection: Inspection) -> dict[str, Any]:
    return {
        "topic": inspection.topic,
        "held": inspection.held,
        "partitions": [asdict(b) for b in inspection.bounds],
        "read": inspection.read,
        "reasons": dict(inspection.reasons.most_common()),
        "consumer_groups": dict(inspection.consumer_groups.most_common()),
        "event_types": dict(inspection.event_types.most_common()),
        "sample": [asdict(letter) for letter in inspection.sample],
    }


def _bounds_text(bounds: PartitionBounds) -> str:
    if not bounds.held:
        return f"partition {bounds.partition}: empty (next offset {bounds.end})"
    return f"partition {bounds.partition}: offsets {bounds.beginning}-{bounds.end - 1}"


def _inspection_lines(inspection: Inspection, spec: TopicSpec, name: str) -> list[str]:
    lines = [f"{inspection.topic}: {inspection.held} dead letter(s) "
             f"({'; '.join(_bounds_text(b) for b in inspection.bounds)})",
             f"  of {spec.name} (producer {spec.producer}; consumers "
             f"{', '.join(spec.consumers) or 'none yet'})"]
    if not inspection.read:
        return lines
    lines.append(f"read {inspection.read} of {inspection.held}, oldest first:")
    for title, counts in (("reasons (dlq_reason)", inspection.reasons),
                          ("consumer groups (dlq_consumer_group)", inspection.consumer_groups),
                          ("event types (ce_type)", inspection.event_types)):
        lines.append(f"  {title}:")
        width = max(len(value) for value in counts)
        lines.extend(f"    {value:<{width}}  {n:>6}" for value, n in counts.most_common())
    if inspection.sample:
        lines.append("sample:")
    for letter in inspection.sample:
        shown = {name: value if value is not None else MISSING
                 for name, value in asdict(letter).items()}
        lines.append("  [{partition}]@{offset}  key {key}  {reason} by {consumer_group} at "
                     "{failed_at}, {event_type} from {source}".format(**shown))
        lines.append("      {error_class}: {error_message}".format(**shown))
    lines.append(f"replay them with: convene dlq replay {name} --limit {inspection.held}"
                 " [--dry-run]")
    return lines


class InterruptGuard:
    """Ctrl-C during a replay: the first asks it to stop after the record in hand
    (``requested``), a second raises KeyboardInterrupt at once. Signals reach the main
    thread only, so elsewhere nothing is installed."""

    def __init__(self, on_first: Callable[[], None]) -> None:
        self.on_first = on_first
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.on_first()


def _start_offset(topic: str, bounds: list[PartitionBounds], from_offset: int | None) -> int:
    held = [b for b in bounds if b.held]
    if from_offset is None:
        beginnings = sorted({b.beginning for b in held})
        if len(beginnings) > 1:
            raise BadInput(f"the partitions of {topic} begin at different offsets "
                           f"({', '.join(_bounds_text(b) for b in held)}): pass --partition")
        return beginnings[0] if beginnings else 0
    for b in held:
        if from_offset < b.beginning:
            # Reading below the log start would make the consumer jump to the end.
            raise BadInput(f"offset {from_offset} of {topic}[{b.partition}] is gone "
                           f"(retention); the oldest it holds is {b.beginning}")
    return from_offset


@dlq.command(name="replay", epilog=TOPIC_HELP)
@click.argument("topic")
@click.option("--limit", type=click.IntRange(min=1), required=True,
              help="Replay at most this many records (required: a replay is bounded).")
@click.option("--from-offset", type=click.IntRange(min=0),
              help="First offset to replay [default: the oldest the DLQ holds].")
@click.option("--partition", type=click.IntRange(min=0), help="Only this partition.")
@click.option("--dry-run", is_flag=True, help="List what would be replayed; publish nothing.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
              show_default=True, help="Give up if the range cannot be read within this.")
@click.option("-v", "--verbose", is_flag=True, help="One line per record (always on with "
                                                      "--dry-run).")
@pass_cli
def replay_command(cli: CliContext, topic: str, limit: int, from_offset: int | None,
                   partition: int | None, dry_run: bool, timeout: float, verbose: bool) -> None:
    """Re-publish at most --limit dead letters of TOPIC to the topics they came from.

    Each record goes back to its dlq_source_topic with its original key and headers (the
    dlq_* ones removed); a record without that header is skipped. Every consumer group of
    that topic sees it again: the services drop what they already processed. Ctrl-C stops
    after the record in hand with a summary (exit 130); Ctrl-C twice aborts at once.
    """
    dlq_topic, _ = _resolve(cli, topic)
    bootstrap = cli.settings.kafka_bootstrap
    bounds: list[PartitionBounds] = _run(bootstrap, partition_bounds(bootstrap, dlq_topic,
                                                                     partition))
    start = _start_offset(dlq_topic, bounds, from_offset)
    available = sum(max(0, b.end - max(start, b.beginning)) for b in bounds)
    planned = min(limit, available)
    if not planned:
        click.echo(f"nothing to replay: {dlq_topic} holds no record from offset {start} "
                   f"({'; '.join(_bounds_text(b) for b in bounds)})")
        return
    verb = "listing (dry run)" if dry_run else "replaying"
    click.echo(f"{verb} {planned} record(s) of {dlq_topic} from offset {start}")
    console = Console(stderr=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)
    task = progress.add_task(verb, total=planned)

    def stopping() -> None:
        progress.update(task, description="stopping after the record in hand "
                                          "(Ctrl-C again aborts at once)")

    def on_item(item: dict[str, Any]) -> None:
        progress.advance(task)
        if verbose or dry_run:
            target = item["target_topic"] or "(no dlq_source_topic header)"
            progress.console.print(f"{item['action']:<12} [{item['partition']}]@{item['offset']}"
                                   f"  key {item['key']}  -> {target}", highlight=False,
                                   markup=False)

    outcome, detail, failure = "done", "", None
    with InterruptGuard(stopping) as guard, progress:
        feed = ReplayFeed(on_item, lambda: guard.requested)
        try:
            with kafka_errors(bootstrap):
                try:
                    if guard.requested:  # Ctrl-C before the first record: replay none
                        raise ReplayStopped()
                    asyncio.run(replay(bootstrap, dlq_topic, from_offset=start, limit=limit,
                                       partition=partition, dry_run=dry_run, out=feed,
                                       timeout_s=timeout))
                except ReplayStopped:
                    outcome = "stopped"
                except TimeoutError as exc:
                    outcome, detail = "timed_out", str(exc)
                except ValueError as exc:  # the topic or partition went away meanwhile
                    raise BadInput(str(exc)) from exc
        except KeyboardInterrupt:
            outcome = "aborted"
        except click.ClickException as exc:
            outcome, detail, failure = "failed", exc.format_message(), exc
    for line in _replay_summary(topic, dlq_topic, ReplayTally.of(feed.items), outcome,
                                detail, limit):
        click.echo(line)
    if failure is not None:
        raise SystemExit(failure.exit_code)
    if outcome in ("stopped", "aborted"):
        raise SystemExit(EXIT_INTERRUPTED)
    if outcome == "timed_out":
        raise SystemExit(EXIT_PROBLEM)


def _replay_summary(name: str, dlq_topic: str, tally: ReplayTally, outcome: str,
                    detail: str, limit: int) -> list[str]:
    ranges = ", ".join(f"[{p}] offsets {first}-{last}"
                       for p, (first, last) in sorted(tally.offsets.items()))
    targets = ", ".join(sorted(tally.targets)) or "no topic"
    lines = []
    for action, words in (("replayed", "replayed"), ("would_replay", "would replay")):
        if tally.actions[action]:
            lines.append(f"{words} {tally.actions[action]} record(s) of {dlq_topic} "
                         f"to {targets}: {ranges}")
    if tally.skipped:
        lines.append(f"skipped {len(tally.skipped)} without a dlq_source_topic header: "
                     f"offsets {', '.join(map(str, tally.skipped))}")
    if not tally.handled:
        lines.append(f"nothing was replayed from {dlq_topic}")
    if tally.actions["would_replay"]:
        lines.append("dry run: nothing was published")
    resume = " ".join(f"--partition {p} --from-offset {o}"
                      for p, o in sorted(tally.next_offsets().items()))
    remaining = limit - tally.handled
    go_on = (f"to go on: convene dlq replay {name} {resume} --limit {remaining}"
             if resume and remaining > 0 else "")
    if outcome == "stopped":
        lines.append("stopped by Ctrl-C after the record in hand; nothing after it was "
                     "replayed")
    elif outcome == "aborted":
        lines.append("aborted by a second Ctrl-C: the records counted above were replayed; "
                     "one in flight at that moment may or may not have been")
    elif outcome == "timed_out":
        lines.append(f"timed out: {detail}")
    elif outcome == "failed":
        lines.append(f"failed: {detail}")
    if outcome != "done" and go_on:
        lines.append(go_on)
    return lines
