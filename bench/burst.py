"""burst: 2,000 POST /meetings from 200 concurrent clients as fast as they go, one in five
abandoned by its client after 100 ms. Afterwards: which meetings exist (GET /meetings, so
an abandoned request that still created one counts), whether each got exactly one
invitation, how long every service took to answer ``/readyz`` 200 again (limit 10 s), and
whether the store answers a ping."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.common import (
    SinkMail,
    env_float,
    env_int,
    fmt,
    fmt_dist,
    ms,
    tls_context,
    verdict,
)
from bench.delivery import collect, delivery_figures, status_counts
from bench.harness import (
    Account,
    BenchStack,
    Target,
    auth,
    close,
    endpoint,
    seeded_account,
    sink_watcher,
    stack_for,
)
from bench.load import MeetingPoster, Posted

NAME = "burst"
READY_LIMIT_S = 10.0


async def burst(poster: MeetingPoster, count: int, clients: int, abandon_every: int,
                abandon_after_s: float) -> list[Posted]:
    """``clients`` loops, each with its own connection, share ``count`` POSTs; every
    ``abandon_every``-th one is given up after ``abandon_after_s``."""
    numbers = iter(range(count))
    results: list[Posted] = []

    async def client_loop() -> None:
        async with poster.client(max_connections=1) as client:
            for n in numbers:
                abandon = abandon_after_s if n % abandon_every == 0 else None
                results.append(await poster.post(client, time.time(), abandon))

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return results


async def existing_meetings(stack: BenchStack, account: Account, tag: str) -> dict[str, str]:
    """title -> ical_uid of every meeting of the account whose title carries ``tag``."""
    found: dict[str, str] = {}
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=60,
                                 headers=auth(account.host_token)) as client:
        while True:
            params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = await client.get("/meetings", params=params)
            page.raise_for_status()
            body = page.json()
            for meeting in body["items"]:
                if meeting["title"].startswith(tag):
                    found[meeting["title"]] = meeting["ical_uid"]
            cursor = body["next_cursor"]
            if not cursor:
                return found


async def time_to_ready(client: httpx.AsyncClient, url: str, started: float,
                        limit_s: float) -> float | None:
    """Seconds from ``started`` (monotonic) until ``/readyz`` answers 200, None if not
    within ``limit_s``."""
    while time.monotonic() - started < limit_s:
        try:
            if (await client.get(f"{url}/readyz")).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    return None


async def readiness(stack: BenchStack, limit_s: float) -> dict[str, float | None]:
    """How long after now each service takes to answer ``/readyz`` 200 (all polled at once,
    on one client made beforehand)."""
    async with httpx.AsyncClient(timeout=2, verify=tls_context()) as client:
        started = time.monotonic()
        times = await asyncio.gather(*(time_to_ready(client, s.url, started, limit_s)
                                       for s in stack.services.values()))
    return dict(zip(stack.services, times, strict=True))


async def ping_store() -> dict[str, Any]:
    started = time.monotonic()
    client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"), timeoutMS=10_000)
    try:
        await client.admin.command("ping")
        return {"ok": True, "ms": (time.monotonic() - started) * 1000}
    except Exception as exc:  # noqa: BLE001 - the answer is the figure
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
    finally:
        await client.close()


async def run_target(target: Target, ours: list[SinkMail]) -> dict[str, Any]:
    count = env_int("BENCH_BURST_MEETINGS", 2000)
    clients = env_int("BENCH_BURST_CLIENTS", 200)
    idle_s = env_float("BENCH_DRAIN_S", 60)
    stack = stack_for(target, NAME)
    print(f"burst [{target.label} {target.revision}]: {count} POSTs from {clients} clients, "
          f"1 in 5 abandoned after 100 ms (logs in {stack.workdir})", flush=True)
    try:
        stack.start()
        account = await seeded_account(stack)
        poster = MeetingPoster(stack, account, timeout_s=120)
        watcher = sink_watcher()
        started = time.time()
        posts = await burst(poster, count, clients, abandon_every=5, abandon_after_s=0.1)
        burst_s = time.time() - started
        ready = await readiness(stack, READY_LIMIT_S)
        store = await ping_store()
        exists = await existing_meetings(stack, account, poster.tag)
        by_title = {p.title: p for p in posts}
        sent_at = {uid: by_title[title].sent_at for title, uid in exists.items()}
        collected = await collect(watcher, set(sent_at), lambda m: m.ical_uid, idle_s=idle_s,
                                  cap_s=max(600.0, 4 * idle_s))
        ours.extend(collected.mails())
        abandoned = [p for p in posts if p.abandoned]
        result = {
            "target": target.label, "revision": target.revision, "posts": len(posts),
            "clients": clients, "burst_s": burst_s, "statuses": status_counts(
                p.status for p in posts if not p.abandoned),
            "abandoned": len(abandoned),
            "abandoned_but_created": sum(1 for p in abandoned if p.title in exists),
            "created_201": sum(1 for p in posts if p.status == 201),
            "meetings_existing": len(exists),
            "created_201_missing_from_list": sum(
                1 for p in posts if p.status == 201 and p.title not in exists),
            "post_latency_ms": ms(p.latency_s for p in posts if p.latency_s is not None),
            "errors": sorted({p.error for p in posts if p.error})[:5],
            "invitations": delivery_figures(sent_at, collected),
            "ready_s": ready, "store_ping": store,
        }
        print_result(result)
        return result
    finally:
        await close(stack)


def print_result(r: dict[str, Any]) -> None:
    inv = r["invitations"]
    print(f"  {r['posts']} POSTs in {r['burst_s']:.1f} s: answered {r['statuses']}, "
          f"{r['abandoned']} abandoned ({r['abandoned_but_created']} of them created a meeting)")
    print(f"    POST latency (answered) {fmt_dist(r['post_latency_ms'])}")
    for error in r["errors"]:
        print(f"    error: {error}")
    print(f"  meetings that exist: {r['meetings_existing']} (201s: {r['created_201']}, "
          f"201s not listed: {r['created_201_missing_from_list']})")
    print(f"  invitations: {inv['delivered']} delivered for {inv['sent']} meetings; "
          f"missing {inv['lost']}, duplicated {inv['duplicated']}; "
          f"latency {fmt_dist(inv['latency_ms'])}")
    for name, seconds in r["ready_s"].items():
        after = fmt(seconds, " s", 2) if seconds is not None else f"more than {READY_LIMIT_S} s"
        print(f"  {verdict(seconds is not None)}  {name} /readyz 200 after {after}")
    store = r["store_ping"]
    print(f"  {verdict(store['ok'])}  store ping "
          f"{fmt(store.get('ms'), ' ms', 1) if store['ok'] else store['error']}")
    exactly_one = inv["lost"] == 0 and inv["duplicated"] == 0
    print(f"  {verdict(exactly_one)}  every meeting that exists got exactly one invitation")


def headline(result: dict[str, Any]) -> dict[str, float | None]:
    inv = result["invitations"]
    figures: dict[str, float | None] = {
        "burst s": result["burst_s"], "POST p50 ms": result["post_latency_ms"]["p50"],
        "POST p99 ms": result["post_latency_ms"]["p99"],
        "invitation p99 ms": inv["latency_ms"]["p99"], "missing": inv["lost"],
        "duplicated": inv["duplicated"]}
    for name, seconds in result["ready_s"].items():
        figures[f"{name} ready s"] = seconds
    return figures


async def main(targets: list[Target], ours: list[SinkMail]) -> dict[str, Any]:
    results = {t.label: await run_target(t, ours) for t in targets}
    return {"runs": results, "headline": {label: headline(r) for label, r in results.items()}}
