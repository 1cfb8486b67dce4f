"""The process lifecycle: start-up and shutdown order, background tasks, readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from convene_kit.http import create_app
from convene_kit.relay import OutboxRelay
from convene_kit.runtime import ServiceRuntime
from convene_kit.settings import ServiceSettings
from convene_kit.store import IndexSpec
from convene_kit.testing import RecordingPublisher
from fastapi.testclient import TestClient

SETTINGS = ServiceSettings(service_name="kittest", outbox_sweep_interval_s=3600,
                           outbox_grace_s=7, outbox_lease_s=40, outbox_batch_size=9)


class FakeStore:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.indexes: list[IndexSpec] = []
        self.reachable = True

    def collection(self, name: str) -> Any:
        return name  # the relay's sweep is replaced in these tests

    def declare(self, *specs: IndexSpec) -> None:
        self.indexes.extend(specs)

    async def connect(self) -> None:
        self.calls.append("store.connect")

    async def ensure_indexes(self) -> None:
        self.calls.append(f"store.ensure_indexes:{len(self.indexes)}")

    async def ping(self, timeout_s: float | None = None) -> None:
        if not self.reachable:
            raise ConnectionError("store unreachable")

    async def close(self) -> None:
        self.calls.append("store.close")


class FakeBroker:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.reachable = True

    async def start(self) -> None:
        self.calls.append("broker.start")

    async def stop(self) -> None:
        self.calls.append("broker.stop")

    async def ping(self, timeout: float | None) -> bool:
        return self.reachable


class FakeConsumer:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.processed_events = None
        self.subscribers = [object()]
        self.assigned = False

    async def stop(self) -> None:
        self.calls.append("consumer.stop")

    def all_assigned(self) -> bool:
        return self.assigned


def runtime(calls: list[str], store: FakeStore | None = None, **kwargs: Any) -> ServiceRuntime:
    return ServiceRuntime(SETTINGS, broker=FakeBroker(calls),  # type: ignore[arg-type]
                          store=store or FakeStore(calls),  # type: ignore[arg-type]
                          consumer=FakeConsumer(calls), **kwargs)  # type: ignore[arg-type]


def test_the_relay_from_settings_sweeps_the_given_collections_through_the_given_publisher() -> None:
    store, publisher = FakeStore([]), RecordingPublisher(SETTINGS)
    relay = OutboxRelay.from_settings(store, publisher, SETTINGS,  # type: ignore[arg-type]
                                      collections=["meetings", "meeting_revisions"])
    assert relay.publisher is publisher  # what bootstrap(publisher=...) gets, the relay gets
    assert relay.collections == ["meetings", "meeting_revisions"]
    assert relay.replica_id == SETTINGS.replica_id
    assert (relay.grace.total_seconds(), relay.lease.total_seconds(), relay.interval_s,
            relay.batch_size) == (7, 40, 3600, 9)
    assert [(spec.collection, spec.name) for spec in store.indexes] == [
        ("meetings", "outbox_pending_since"), ("meeting_revisions", "outbox_pending_since"),
        ("outbox_leases", "claimed_at")]


async def test_start_and_stop_in_order_with_background_tasks() -> None:
    calls: list[str] = []
    ticks = asyncio.Event()

    async def heartbeat(stopping: asyncio.Event) -> None:
        ticks.set()
        await stopping.wait()
        calls.append("background.stopped")

    store = FakeStore(calls)
    relay = OutboxRelay.from_settings(store, RecordingPublisher(SETTINGS), SETTINGS,  # type: ignore[arg-type]
                                      collections=["meetings"])
    relay.sweep_once = _no_sweep  # type: ignore[method-assign]
    rt = runtime(calls, store, relay=relay, background=[heartbeat])
    await rt.start()
    await asyncio.wait_for(ticks.wait(), timeout=5)
    await rt.stop()
    assert calls == [
        "store.connect",
        "store.ensure_indexes:2",  # the outbox index of "meetings", the relay's leases
        "broker.start",
        "background.stopped",
        "consumer.stop",
        "broker.stop",
        "store.close",
    ]


async def _no_sweep() -> int:
    return 0


def test_readiness_through_the_app_reports_each_dependency() -> None:
    calls: list[str] = []
    rt = runtime(calls)
    app = create_app(rt.settings, readiness_checks=rt.readiness_checks(), lifespan=rt.lifespan)
    with TestClient(app) as client:
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["error"]["details"]["checks"] == {
            "kafka": "ok", "store": "ok", "consumers": "failed"}
        rt.consumer.assigned = True  # type: ignore[union-attr]
        assert client.get("/readyz").status_code == 200
        rt.broker.reachable = False  # type: ignore[attr-defined]
        rt.store.reachable = False  # type: ignore[attr-defined]
        checks = client.get("/readyz").json()["error"]["details"]["checks"]
        assert checks["kafka"] == "failed"
        assert checks["store"].startswith("ConnectionError")
    assert calls[-1] == "store.close"
