"""Waiting for a benchmark's emails in the sink, and the figures of what arrived: latency
from send time to the sink's ``received_at``, sustained throughput, lost and duplicated."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.common import SinkMail, SinkWatcher, ms


@dataclass
class Collected:
    """The messages of one wait, grouped by the key that names what they are about."""

    by_key: dict[str, list[SinkMail]] = field(default_factory=lambda: defaultdict(list))
    waited_s: float = 0.0
    complete: bool = False

    def mails(self) -> list[SinkMail]:
        return [mail for mails in self.by_key.values() for mail in mails]


async def collect(watcher: SinkWatcher, wanted: set[str],
                  key_of: Callable[[SinkMail], str | None], *, idle_s: float, cap_s: float,
                  settle_s: float = 3.0, interval_s: float = 0.5,
                  into: Collected | None = None) -> Collected:
    """Read the sink until a message for every key in ``wanted`` arrived (then ``settle_s``
    more, to see duplicates that follow at once), or nothing new for ``idle_s``, or
    ``cap_s`` in all. Messages with other keys are ignored (other people use the sink)."""
    collected = into or Collected()
    started = last_progress = time.monotonic()
    settle_until: float | None = None
    while True:
        for mail in watcher.scan():
            key = key_of(mail)
            if key is not None and key in wanted:
                collected.by_key[key].append(mail)
                last_progress = time.monotonic()
        now = time.monotonic()
        if settle_until is None and wanted <= collected.by_key.keys():
            settle_until = now + settle_s
        if settle_until is not None and now >= settle_until:
            collected.complete = True
            break
        if now - last_progress > idle_s or now - started > cap_s:
            break
        await asyncio.sleep(interval_s)
    collected.waited_s = time.monotonic() - started
    return collected


def delivery_figures(sent_at: dict[str, float], collected: Collected,
                     recipients_per_key: int = 1) -> dict[str, Any]:
    """Figures of keyed sends (``sent_at``: key -> epoch seconds) against what arrived.

    Latency: send time -> ``received_at`` of each key's first message per recipient.
    Throughput: messages delivered (first copies) over the window from the first send to
    the last arrival. Lost: keys with fewer recipients reached than expected. Duplicated:
    keys where one recipient got more than one message.
    """
    latencies: list[float] = []
    arrivals: list[float] = []
    lost = duplicated = 0
    for key, sent in sent_at.items():
        per_recipient: dict[tuple[str, ...], list[float]] = defaultdict(list)
        for mail in collected.by_key.get(key, []):
            per_recipient[mail.rcpt_tos].append(mail.received_at)
        if len(per_recipient) < recipients_per_key:
            lost += 1
        if any(len(times) > 1 for times in per_recipient.values()):
            duplicated += 1
        for times in per_recipient.values():
            first = min(times)
            latencies.append(first - sent)
            arrivals.append(first)
    window = (max(arrivals) - min(sent_at.values())) if arrivals else None
    return {
        "sent": len(sent_at),
        "delivered": len(arrivals),
        "lost": lost,
        "duplicated": duplicated,
        "latency_ms": ms(latencies),
        "window_s": window,
        "throughput_per_s": (len(arrivals) / window) if window else None,
        "drain_wait_s": round(collected.waited_s, 1),
    }


def status_counts(statuses: Iterable[int | None]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for status in statuses:
        counts[str(status) if status is not None else "no answer"] += 1
    return dict(sorted(counts.items()))
