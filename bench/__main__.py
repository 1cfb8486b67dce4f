"""``python -m bench [pipeline|burst|reminders|smtp|cost ...] [--baseline REV]`` (``make bench``).

Starts the infrastructure with ``make infra-up`` (and stops afterwards only what it
started), runs each benchmark against the working tree (and, with ``--baseline``, against
that revision's services too), prints the figures and writes
``bench/results/<name>-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import time
import traceback
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import Any

from bench import burst, cost, pipeline, reminders, smtp
from bench.baseline import baseline_worktree
from bench.common import (
    SinkMail,
    delete_mails,
    env_flag,
    fmt,
    machine,
    machine_line,
    write_results,
)
from bench.harness import Target, current_target
from bench.infra_control import ensure_up, stop_started

BENCHMARKS = {"pipeline": pipeline, "burst": burst, "reminders": reminders, "smtp": smtp,
              "cost": cost}


def print_comparison(headline: dict[str, dict[str, float | None]]) -> None:
    """Baseline and current side by side, with current / baseline."""
    base, now = headline.get("baseline", {}), headline.get("current", {})
    print("  baseline vs current (ratio = current / baseline):")
    for key, value in now.items():
        before = base.get(key)
        ratio = value / before if value is not None and before else None
        print(f"    {key:34} {fmt(before, '', 1):>12} {fmt(value, '', 1):>12}   "
              f"x{fmt(ratio, '', 2)}")


def run_one(name: str, targets: list[Target]) -> None:
    module = BENCHMARKS[name]
    info = machine()
    print(f"\n=== {name} ===\n{machine_line(info)}", flush=True)
    ours: list[SinkMail] = []
    started = time.time()
    try:
        payload: dict[str, Any] = asyncio.run(module.main(targets, ours))
    finally:
        if not env_flag("BENCH_KEEP_MAIL"):
            print(f"  removed {delete_mails(ours)} of the benchmark's messages from the sink")
    if len(targets) > 1:
        print_comparison(payload["headline"])
    path = write_results(name, {
        "benchmark": name,
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(),
        "duration_s": round(time.time() - started, 1),
        "machine": info, "machine_after": machine(),
        "revisions": {t.label: t.revision for t in targets}, **payload})
    print(f"  results: {path.relative_to(path.parents[2])}", flush=True)


def stop_gracefully_on_sigterm() -> None:
    """SIGTERM (``timeout``, a CI runner) stops a run like Ctrl-C does: asyncio cancels the
    running benchmark, so its services are stopped, its topics and databases removed, the
    baseline worktree deleted and only the servers it started stopped. Once: a second
    SIGTERM (a wrapper forwarding the same signal) does not interrupt that clean-up."""
    received = False

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal received
        if not received:
            received = True
            signal.raise_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, on_sigterm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--baseline", help="a git revision to run side by side")
    parser.add_argument("--uv", default=os.environ.get("BENCH_UV") or shutil.which("uv"),
                        help="the uv binary (for the baseline's environment)")
    args = parser.parse_args(argv)
    names = [n for arg in args.names for n in arg.split(",") if n] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.baseline and not args.uv:
        parser.error("--baseline needs uv (--uv PATH or BENCH_UV)")
    stop_gracefully_on_sigterm()
    started_servers = ensure_up()
    failed: list[str] = []
    try:
        with ExitStack() as stack:
            targets = [current_target()]
            if args.baseline:
                targets.insert(0, stack.enter_context(baseline_worktree(args.baseline, args.uv)))
            for name in names:
                try:
                    run_one(name, targets)
                except Exception:  # noqa: BLE001 - reported; the other benchmarks still run
                    traceback.print_exc()
                    failed.append(name)
    except KeyboardInterrupt:
        print("bench: interrupted; the running benchmark's services, topics, databases and "
              "messages are cleaned up", file=sys.stderr)
        return 130
    finally:
        stop_started(started_servers)
    if failed:
        print(f"bench: {', '.join(failed)} failed (see above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
