"""The HTTP app: one JSON error shape for every 4xx/5xx, health, readiness, metrics."""

from __future__ import annotations

from convene_kit.boundary import RequestModel
from convene_kit.http import ApiError, create_app
from convene_kit.metrics import generate_latest
from convene_kit.settings import ServiceSettings
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import Field
from pymongo.errors import WaitQueueTimeoutError

router = APIRouter()


class MeetingCreate(RequestModel):
    title: str = Field(min_length=1)
    duration_minutes: int = Field(gt=0)


@router.post("/meetings", status_code=201)
async def create_meeting(body: MeetingCreate) -> dict[str, str]:
    return {"title": body.title}


@router.get("/meetings/{meeting_id}")
async def get_meeting(meeting_id: str) -> dict[str, str]:
    if meeting_id == "taken":
        raise ApiError(409, "slot_taken", "The slot is already booked.", {"slot": "09:00"})
    if meeting_id == "boom":
        raise RuntimeError("database password=hunter2 leaked?")
    if meeting_id == "store-down":
        raise WaitQueueTimeoutError("Timed out while checking out a connection (hunter2)")
    return {"id": meeting_id}


def client(**kwargs) -> TestClient:
    app = create_app(ServiceSettings(service_name="kittest"), routers=[router], **kwargs)
    return TestClient(app, raise_server_exceptions=False)


def test_api_error_renders_the_standard_body() -> None:
    response = client().get("/meetings/taken")
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "slot_taken", "message": "The slot is already booked.",
                  "details": {"slot": "09:00"}}
    }


def test_validation_error_is_422_with_field_details_and_no_input_echo() -> None:
    response = client().post("/meetings", json={"title": "", "duration_minutes": "secret-ish"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    fields = {tuple(d["loc"]) for d in error["details"]}
    assert fields == {("body", "title"), ("body", "duration_minutes")}
    assert all(set(d) == {"loc", "message", "type"} for d in error["details"])
    assert "secret-ish" not in response.text


def test_unknown_route_and_wrong_method_use_the_error_body() -> None:
    c = client()
    missing = c.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = c.delete("/meetings")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_unexpected_exception_is_a_500_that_leaks_nothing() -> None:
    response = client().get("/meetings/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Internal server error.", "details": None}
    }
    assert "hunter2" not in response.text


def test_a_store_that_does_not_answer_is_a_503_to_retry_not_a_500() -> None:
    response = client().get("/meetings/store-down")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert "hunter2" not in response.text


def test_correlation_id_is_echoed_or_generated() -> None:
    c = client()
    echoed = c.get("/meetings/m-1", headers={"X-Correlation-Id": "corr-123"})
    assert echoed.headers["x-correlation-id"] == "corr-123"
    generated = c.get("/meetings/m-1")
    assert len(generated.headers["x-correlation-id"]) == 36


def test_latency_is_recorded_by_route_template_not_raw_path() -> None:
    client().get("/meetings/m-42")
    text = generate_latest().decode()
    assert 'route="/meetings/{meeting_id}"' in text
    assert "m-42" not in text


def test_healthz_and_metrics() -> None:
    c = client()
    assert c.get("/healthz").json() == {"status": "ok"}
    metrics = c.get("/metrics")
    assert metrics.status_code == 200
    assert "convene_http_request_seconds" in metrics.text
    assert c.get("/docs").status_code == 200
    assert "/meetings/{meeting_id}" in c.get("/openapi.json").json()["paths"]


def test_readyz_names_the_failing_check() -> None:
    async def kafka() -> bool:
        return False

    async def store() -> None:
        raise ConnectionError("connection refused")

    async def consumers() -> bool:
        return True

    c = client(readiness_checks={"kafka": kafka, "store": store, "consumers": consumers})
    response = c.get("/readyz")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert error["details"]["checks"]["kafka"] == "failed"
    assert error["details"]["checks"]["store"].startswith("ConnectionError")
    assert error["details"]["checks"]["consumers"] == "ok"
    assert "kafka" in error["message"] and "store" in error["message"]


def test_readyz_ok_when_every_check_passes() -> None:
    async def fine() -> None:
        return None

    response = client(readiness_checks={"kafka": fine, "store": fine}).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"kafka": "ok", "store": "ok"}}


def test_lifespan_and_hooks_run_in_order() -> None:
    import contextlib

    calls: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        calls.append("lifespan-start")
        yield
        calls.append("lifespan-stop")

    async def up() -> None:
        calls.append("startup")

    async def down() -> None:
        calls.append("shutdown")

    with client(lifespan=lifespan, on_startup=[up], on_shutdown=[down]) as c:
        c.get("/healthz")
    assert calls == ["startup", "lifespan-start", "lifespan-stop", "shutdown"]


async def test_a_slow_check_is_reported_timed_out_but_never_cancelled_nor_started_twice() -> None:
    import asyncio

    from convene_kit.http import run_readiness

    started, finished = [], []
    release = asyncio.Event()

    async def store() -> None:  # stands in for a driver call that must not be cancelled
        started.append(1)
        await release.wait()
        finished.append(1)

    first = await run_readiness({"store": store}, 0.05)
    second = await run_readiness({"store": store}, 0.05)  # the same call, still running
    assert first == second == {"store": "timed out after 0.05s"}
    assert started == [1] and finished == []
    release.set()
    assert await run_readiness({"store": store}, 1.0) == {"store": "ok"}  # the same call ended
    assert finished == [1] and started == [1]
    assert await run_readiness({"store": store}, 1.0) == {"store": "ok"}  # then a new one
    assert started == [1, 1]


async def test_the_store_ping_gives_up_by_the_drivers_own_limit_and_the_client_stays_usable(
) -> None:
    import asyncio
    import time

    import pytest
    from convene_kit.store import MongoStore

    store = MongoStore("mongodb://127.0.0.1:9/", "nothing", timeout_s=5.0)  # nothing listens
    try:
        for limit in (0.2, 0.5, 0.3):
            began = time.monotonic()
            with pytest.raises(TimeoutError):
                await store.ping(limit)
            assert time.monotonic() - began < limit + 1.0
        # concurrent pings against the dead server: none is cancelled, each ends by itself
        results = await asyncio.gather(*(store.ping(0.2) for _ in range(10)),
                                       return_exceptions=True)
        assert all(isinstance(r, TimeoutError) for r in results)
        assert not store.client._topology._lock.locked()  # no lock left held
    finally:
        await store.close()
