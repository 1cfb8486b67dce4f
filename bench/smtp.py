"""smtp: emails per second to the local sink through notifications' mailer, with its pooled
sessions (connection reuse, the service's settings) and with a new connection per email
(``CONVENE_SMTP_MAX_MESSAGES_PER_CONNECTION=1``). Each email is checked in the sink."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from typing import Any

from bench.common import (
    REPO_ROOT,
    SinkMail,
    env_int,
    fmt,
    fmt_dist,
    ms,
    verdict,
)
from bench.delivery import collect
from bench.harness import Target, load_infra_env, sink_watcher

NAME = "smtp"
TARGET_PER_S = 200
MODES = {"pooled": {}, "connection per email": {"CONVENE_SMTP_MAX_MESSAGES_PER_CONNECTION": "1"}}


async def send_batch(target: Target, mode: str, count: int, concurrency: int,
                     ours: list[SinkMail]) -> dict[str, Any]:
    tag = f"smtp-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, **load_infra_env(), **MODES[mode],
           "PYTHONPATH": str(REPO_ROOT)}  # bench itself; the mailer comes from the target
    watcher = sink_watcher()
    worker = await asyncio.to_thread(
        subprocess.run, [target.python, "-m", "bench.smtp_worker", "--count", str(count),
                         "--concurrency", str(concurrency), "--tag", tag],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    if worker.returncode != 0:
        raise RuntimeError(f"the SMTP worker failed:\n{worker.stderr[-2000:]}")
    timings = json.loads(worker.stdout.strip().splitlines()[-1])
    wanted = {f"{tag}-{i}" for i in range(count)}
    arrived = await collect(watcher, wanted, lambda m: m.bench_id, idle_s=10, cap_s=60,
                            settle_s=1)
    ours.extend(arrived.mails())
    return {
        "mode": mode, "count": count, "concurrency": concurrency,
        "sent": timings["sent"], "failures": timings["failures"],
        "failure_examples": timings["failure_examples"],
        "in_sink": len(arrived.by_key),
        "emails_per_s": timings["sent"] / timings["elapsed_s"] if timings["elapsed_s"] else None,
        "elapsed_s": timings["elapsed_s"], "send_ms": ms(timings["latencies_s"]),
        "connections_opened": timings["connections_opened"],
        "mailer_file": timings["mailer_file"], "pool_size": timings["pool_size"],
        "max_messages_per_connection": timings["max_messages_per_connection"],
    }


def print_batch(run: dict[str, Any]) -> None:
    print(f"  {run['mode']:22} {fmt(run['emails_per_s'], ' emails/s', 1)}  "
          f"({run['sent']} sent in {run['elapsed_s']:.1f} s, {run['in_sink']} in the sink, "
          f"{run['failures']} failed, {fmt(run['connections_opened'])} connections opened)")
    print(f"    per email: {fmt_dist(run['send_ms'], ' ms', 1)}")


async def run_target(target: Target, ours: list[SinkMail]) -> dict[str, Any]:
    count = env_int("BENCH_SMTP_COUNT", 2000)
    concurrency = env_int("BENCH_SMTP_CONCURRENCY", 8)
    print(f"smtp [{target.label} {target.revision}]: {count} emails per mode, "
          f"{concurrency} sends in flight", flush=True)
    runs = {}
    for mode in MODES:
        runs[mode] = await send_batch(target, mode, count, concurrency, ours)
        print_batch(runs[mode])
    pooled = runs["pooled"]["emails_per_s"]
    single = runs["connection per email"]["emails_per_s"]
    ok = pooled is not None and pooled >= TARGET_PER_S and runs["pooled"]["in_sink"] == count
    print(f"  reuse speed-up x{fmt(pooled / single if pooled and single else None, '', 2)}; "
          f"{verdict(ok)} pooled >= {TARGET_PER_S} emails/s")
    return {"target": target.label, "revision": target.revision, "runs": runs,
            "targets": {f"pooled >= {TARGET_PER_S} emails/s": {"value": pooled, "pass": ok}}}


def headline(result: dict[str, Any]) -> dict[str, float | None]:
    figures: dict[str, float | None] = {}
    for mode, run in result["runs"].items():
        figures[f"{mode} emails/s"] = run["emails_per_s"]
        figures[f"{mode} p99 ms"] = run["send_ms"]["p99"]
    return figures


async def main(targets: list[Target], ours: list[SinkMail]) -> dict[str, Any]:
    results = {t.label: await run_target(t, ours) for t in targets}
    return {"runs": results, "headline": {label: headline(r) for label, r in results.items()}}
