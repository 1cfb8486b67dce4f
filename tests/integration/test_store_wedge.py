"""The store wedge of issue 13, reproduced on a FerretDB of the test's own, then shown
impossible with the kit's store.

FerretDB 1.24 runs an update as a query whose rows it keeps open while it takes a second
PostgreSQL connection from its pool to write the document. When as many updates run at once
as the pool has connections, each holds one and waits for another: FerretDB stops answering
everyone, for good, even after the client has gone. The kit bounds each client's
connections below FerretDB's pool (``mongo_max_pool_size``; the local FerretDB's pool is set
by ``CONVENE_FERRETDB_POOL``), asks for every find's result in one batch and closes its
cursor however the call ends, and times every operation out, so a stuck store fails calls
instead of hanging them and the service carries on when it answers again.

Each test starts its own FerretDB (a small pool, so the wedge is quick to reach) on the
shared PostgreSQL, so a wedge never touches the FerretDB the other tests use.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator

import pytest
from convene_kit.store import MongoStore, find_all, is_infrastructure_error
from pymongo import AsyncMongoClient

from infra import config
from infra.servers.ferretdb import FerretDB

POOL = 8  # the private FerretDB's PostgreSQL connections
BURSTS = 5  # bursts of concurrent updates tried before concluding FerretDB no longer wedges


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _answers(url: str, timeout_s: float = 3.0) -> bool:
    """True if a new client's ping is answered within ``timeout_s``."""
    client: AsyncMongoClient = AsyncMongoClient(
        url, serverSelectionTimeoutMS=int(timeout_s * 1000), timeoutMS=int(timeout_s * 1000))
    try:
        await client.admin.command("ping")
        return True
    except Exception:
        return False
    finally:
        await client.close()


@pytest.fixture
async def ferretdb() -> AsyncIterator[tuple[str, subprocess.Popen]]:
    """A FerretDB of this test with a pool of :data:`POOL` connections; killed afterwards."""
    cfg = config.load()
    port = _free_port()
    process = subprocess.Popen(
        [str(cfg.ferretdb_binary), "--handler=postgresql",
         f"--postgresql-url={FerretDB(cfg).postgresql_url(POOL)}",
         f"--listen-addr=127.0.0.1:{port}", f"--state-dir={tempfile.mkdtemp()}",
         "--debug-addr=-", "--telemetry=disable", "--log-level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"mongodb://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while not await _answers(url, 1.0):
            assert time.monotonic() < deadline, "the test's FerretDB did not start"
        yield url, process
    finally:
        os.killpg(process.pid, signal.SIGCONT)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


async def _seed(collection, count: int) -> None:  # noqa: ANN001 - any async collection
    await collection.drop()
    await collection.insert_many([{"_id": i, "account_id": "acc", "n": 0, "pad": "x" * 100}
                                  for i in range(count)])


async def test_more_concurrent_updates_than_ferretdbs_pool_wedge_it_for_good(ferretdb) -> None:
    """The hazard itself, pinned: a client with more connections than FerretDB's pool sends
    concurrent updates; its calls time out, and afterwards FerretDB answers nobody, not even
    a new client's ping. Should a future FerretDB stop doing this, this test says so."""
    url, _ = ferretdb
    client: AsyncMongoClient = AsyncMongoClient(url, maxPoolSize=POOL * 4, timeoutMS=2000)
    collection = client["wedge"]["docs"]
    await _seed(collection, 200)

    # The deadlock is a race (every pool connection held by an update waiting for a second
    # one): one burst reaches it almost always, a few bursts in a row all but surely.
    failed: list[BaseException] = []
    for _ in range(BURSTS):
        results = await asyncio.gather(
            *(collection.update_one({"_id": i, "account_id": "acc"}, {"$inc": {"n": 1}})
              for i in range(200)), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            break
    await client.close()

    assert failed, f"{BURSTS} bursts all succeeded: FerretDB no longer deadlocks on its pool"
    assert all(is_infrastructure_error(r) for r in failed)
    assert not await _answers(url), "FerretDB answered again after the deadlock"


async def test_the_kits_store_keeps_ferretdb_answering_through_abandoned_bursts(
        ferretdb) -> None:
    """The same burst and worse through the kit's store (its pool bounded below FerretDB's):
    400 concurrent updates, finds of more documents than a default batch, and inserts, a
    fifth of them abandoned mid-flight. Every call that was not abandoned succeeds, no
    update is lost, and FerretDB answers a new client at once afterwards."""
    url, _ = ferretdb
    store = MongoStore(url, "wedge_kit", max_pool_size=POOL - 2, operation_timeout_s=10)
    collection = store.collection("docs")
    await _seed(collection, 400)
    rng = random.Random(13)

    async def update(i: int) -> None:
        await collection.update_one({"_id": i, "account_id": "acc"}, {"$inc": {"n": 1}})

    async def read(i: int) -> None:
        found = await find_all(collection, {"account_id": "acc"}, sort=[("_id", 1)],
                               limit=300)
        assert len(found) == 300

    async def insert(i: int) -> None:
        await collection.insert_one({"_id": f"new-{i}", "account_id": "acc"})

    kinds = [update, read, insert]
    tasks = {i: asyncio.create_task(kinds[i % 3](i)) for i in range(400)}
    abandoned = set(rng.sample(sorted(tasks), 80))
    # Abandon once the store is busy: the first call has come back, so the pool's
    # connections are taken and the rest are in flight or queued for one.
    await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
    for i in abandoned:  # the client gives up mid-flight
        tasks[i].cancel()
    results = dict(zip(tasks, await asyncio.gather(*tasks.values(), return_exceptions=True),
                       strict=True))
    assert any(isinstance(results[i], asyncio.CancelledError) for i in abandoned), \
        "no call was abandoned mid-flight: the burst checked nothing"

    errors = {i: r for i, r in results.items()
              if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)}
    assert errors == {}, f"calls failed: {list(errors.items())[:3]}"
    started = time.monotonic()
    assert await _answers(url), "FerretDB stopped answering after the burst"
    assert time.monotonic() - started < 3
    completed_updates = {i for i in range(0, 400, 3)
                         if i not in abandoned or not isinstance(results[i], BaseException)}
    docs = {d["_id"]: d["n"] for d in await find_all(collection, {"account_id": "acc",
                                                                  "n": {"$gt": 0}})}
    assert completed_updates <= set(docs), "an update that returned was lost"
    await store.close()


async def _stopped(pid: int, timeout_s: float = 5.0) -> None:
    """Wait until the process ``pid`` is stopped (state T in /proc/<pid>/stat)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        if state in ("T", "t"):
            return
        assert time.monotonic() < deadline, f"process {pid} did not stop (state {state})"
        await asyncio.sleep(0.01)


async def test_a_store_that_stops_answering_fails_calls_in_time_and_recovers(
        ferretdb) -> None:
    """FerretDB frozen (SIGSTOP): the kit's calls fail within their timeout as
    infrastructure errors (retried by consumers, shown by /readyz) instead of hanging;
    thawed (SIGCONT): the same store object answers again, with nothing restarted."""
    url, process = ferretdb
    store = MongoStore(url, "wedge_recovery", timeout_s=1, operation_timeout_s=2)
    collection = store.collection("docs")
    await _seed(collection, 10)
    os.killpg(process.pid, signal.SIGSTOP)
    try:
        await _stopped(process.pid)  # kill() only queues the signal: wait until it took
        started = time.monotonic()
        with pytest.raises(Exception) as failure:
            await collection.find_one({"_id": 1})
        assert is_infrastructure_error(failure.value)
        assert time.monotonic() - started < 6, "the call was not bounded by its timeout"
        with pytest.raises(Exception) as failure:
            await store.ping()
        assert is_infrastructure_error(failure.value)
    finally:
        os.killpg(process.pid, signal.SIGCONT)
    deadline = time.monotonic() + 15
    while True:
        try:
            assert (await collection.find_one({"_id": 1}))["_id"] == 1
            break
        except Exception:
            assert time.monotonic() < deadline, "the store did not recover by itself"
            await asyncio.sleep(0.2)
    await store.ping()
    await store.close()
