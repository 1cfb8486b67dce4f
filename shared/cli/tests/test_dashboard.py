"""The Grafana dashboard the chart ships (deploy/helm/convene/dashboards/convene.json)
queries only metrics that the services really export.

Each service is built in-process by its own ``bootstrap`` on the kit's fakes (as its unit
tests build it), and its ``/metrics`` is read through the app. A labelled metric that has
seen no sample yet exposes no sample line, only its ``# HELP`` / ``# TYPE``: the exported
names are derived from every metric *family* (a counter ``x`` is queried as ``x_total``, a
histogram as ``x_bucket`` / ``x_sum`` / ``x_count``), not only from the samples present.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from convene_booking_pages.bootstrap import bootstrap as booking_pages
from convene_booking_pages.settings import BookingPagesSettings
from convene_calendar_sync.bootstrap import bootstrap as calendar_sync
from convene_calendar_sync.settings import CalendarSyncSettings
from convene_kit.testing import FakeStore, RecordingPublisher
from convene_meetings.bootstrap import bootstrap as meetings
from convene_meetings.settings import MeetingsSettings
from convene_notifications.bootstrap import bootstrap as notifications
from convene_notifications.settings import NotificationsSettings
from convene_records.bootstrap import bootstrap as records
from convene_records.settings import RecordsSettings
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = (Path(__file__).resolve().parents[3] / "deploy" / "helm" / "convene" / "dashboards"
             / "convene.json")


def _records() -> FastAPI:
    settings = RecordsSettings(jwt_public_key_file=None)
    return records(settings, store=FakeStore(), publisher=RecordingPublisher(settings)).app  # type: ignore[arg-type]


def _meetings() -> FastAPI:
    settings = MeetingsSettings(jwt_public_key_file=None)
    return meetings(settings, store=FakeStore(), publisher=RecordingPublisher(settings)).app  # type: ignore[arg-type]


def _notifications() -> FastAPI:
    settings = NotificationsSettings(jwt_public_key_file=None)
    return notifications(settings, store=FakeStore(),  # type: ignore[arg-type]
                         publisher=RecordingPublisher(settings)).app


def _calendar_sync() -> FastAPI:
    return calendar_sync(CalendarSyncSettings(), store=FakeStore()).app  # type: ignore[arg-type]


def _booking_pages() -> FastAPI:
    return booking_pages(BookingPagesSettings(), store=FakeStore()).app  # type: ignore[arg-type]


SERVICES: dict[str, Callable[[], FastAPI]] = {
    "records": _records, "meetings": _meetings, "notifications": _notifications,
    "calendar-sync": _calendar_sync, "booking-pages": _booking_pages,
}

# The sample names each metric type exposes (OpenMetrics/Prometheus text format).
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}

PROMQL_WORDS = frozenset("""
    sum min max avg count group stddev stdvar topk bottomk quantile count_values
    by without on ignoring group_left group_right and or unless bool offset
    rate irate increase delta idelta deriv changes resets histogram_quantile
    abs ceil floor round clamp clamp_min clamp_max sort sort_desc time vector scalar absent
    label_replace label_join max_over_time min_over_time avg_over_time sum_over_time
    count_over_time last_over_time label_values inf nan
""".split())


def exported_names(exposition: str) -> set[str]:
    """Every sample name ``exposition`` has or would have once its families see samples."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in SAMPLE_SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or Grafana's ``label_values(...)``) selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"label_values\(([^,()]*),[^()]*\)", r"\1", text)  # (metric, label)
    words = re.findall(r"(?<![\w.$])[A-Za-z_:][\w:]*", text)
    return {word for word in words if word not in PROMQL_WORDS}


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expression) for every query of the dashboard: panels and variables."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [(f"panel {panel['title']!r}", target["expr"])
               for panel in _panels(dashboard["panels"]) for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append((f"variable {variable['name']!r}", variable["query"]["query"]))
    return queries


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """Service -> the metric names its /metrics page exposes."""

    async def scrape(app: FastAPI) -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        return response.text

    return {name: exported_names(asyncio.run(scrape(build()))) for name, build in SERVICES.items()}


def test_the_metric_name_extraction_finds_every_metric_and_nothing_else() -> None:
    expr = ('histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job=~"$job", '
            'route!~"/x|rate"}[$__rate_interval]))) / on (job) group_left b_total '
            'or max(c) * 1e-3 + topk(10, sum without (le) (increase(d[$__range])))')

    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d"}
    assert metric_names('label_values(e_count{namespace=~"$namespace"}, job)') == {"e_count"}


def test_every_metric_the_dashboard_queries_is_on_some_services_metrics_page(
        exported: dict[str, set[str]]) -> None:
    available = set().union(*exported.values())
    queried = {(where, name) for where, expr in dashboard_queries() for name in metric_names(expr)}

    missing = sorted(f"{name} ({where})" for where, name in queried if name not in available)
    assert queried, "the dashboard queries nothing"
    assert not missing, "queried but exported by no service: " + ", ".join(missing)


def test_the_dashboard_shows_what_an_operator_watches() -> None:
    queried = {name for _, expr in dashboard_queries() for name in metric_names(expr)}

    for name in ("convene_http_request_seconds_count", "convene_http_request_seconds_bucket",
                 "convene_events_consumed_total", "convene_event_handler_seconds_bucket",
                 "convene_events_failed_total", "convene_events_dead_lettered_total",
                 "convene_dlq_brake_engaged", "convene_outbox_backlog",
                 "convene_outbox_oldest_entry_age_seconds", "convene_emails_sent_total",
                 "convene_emails_failed_total", "convene_reminder_lateness_seconds_bucket",
                 "convene_timers_pending", "convene_store_operations_total"):
        assert name in queried, f"no panel shows {name}"


def test_every_selector_follows_the_namespace_and_service_variables() -> None:
    for where, expr in dashboard_queries():
        if where.startswith("variable"):
            continue
        for selector in re.findall(r"[A-Za-z_:][\w:]*\{([^}]*)\}", expr):
            assert 'namespace=~"$namespace"' in selector and 'job=~"$job"' in selector, (
                f"{where}: {expr}")
