"""The topic registry's ``consumers:`` lists say who really subscribes to each topic.

docs/events.md and the AsyncAPI documents are generated from those lists, so a list that
drifts from the code publishes a wrong contract. Each service is built here by its own
``bootstrap()`` (the wiring its process runs), with a broker and a store that never connect,
and the topics its broker ends up subscribed to are compared with the registry: a service
that subscribes to a topic whose entry does not name it, or a consumer named in an entry
that does not subscribe, fails the test.

The service packages are workspace members, imported lazily: convene-schemas itself depends
on none of them (test_wheel.py), only this test of the monorepo does.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from convene_schemas.registry import SERVICES, Registry

pytestmark = pytest.mark.contract


@dataclass(frozen=True)
class Subscriptions:
    """What one service's bootstrap subscribed to."""

    topics: frozenset[str]
    """Logical topic names (the settings' topic prefix removed)."""
    groups: frozenset[str]
    """The consumer groups of those subscribers (prefix removed)."""


def package_of(service: str) -> str:
    """``calendar-sync`` -> ``convene_calendar_sync``."""
    return "convene_" + service.replace("-", "_")


async def subscriptions_of(service: str) -> Subscriptions:
    """Build ``service`` with its real bootstrap and read its broker's subscribers."""
    from faststream.kafka import KafkaBroker

    bootstrap = importlib.import_module(f"{package_of(service)}.bootstrap").bootstrap
    broker = KafkaBroker("127.0.0.1:9")  # never started: nothing connects
    built = bootstrap(broker=broker)
    runtime = built.runtime
    try:
        prefix = runtime.settings.topic_prefix
        topics, groups = set(), set()
        for subscriber in broker.subscribers:
            for topic in subscriber.topics:
                assert topic.name.startswith(prefix), (topic.name, prefix)
                topics.add(topic.name.removeprefix(prefix))
            groups.add((subscriber.group_id or "").removeprefix(prefix))
        return Subscriptions(frozenset(topics), frozenset(groups))
    finally:
        await runtime.store.close()


def drift(service: str, subscribed: frozenset[str], registry: Registry) -> list[str]:
    """Every difference between what ``service`` subscribes to and what the registry says."""
    known = {topic.name for topic in registry.topics}
    listed = {topic.name for topic in registry.consumed_by(service)}
    problems = [
        f"{service} subscribes to {name}, which is not in the registry"
        for name in sorted(subscribed - known)
    ]
    problems += [
        f"{service} subscribes to {name}, but its registry entry does not list {service} "
        "under consumers:"
        for name in sorted((subscribed & known) - listed)
    ]
    problems += [
        f"the registry lists {service} under consumers: of {name}, but {service} does not "
        "subscribe to it"
        for name in sorted(listed - subscribed)
    ]
    return problems


def test_every_service_in_the_tree_is_a_registry_service(repo_root: Path) -> None:
    """A new service folder must join ``SERVICES``, or this test would never look at it."""
    services = repo_root / "services"
    folders = {p.name for p in services.iterdir() if (p / "pyproject.toml").is_file()}
    assert folders == set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
async def test_registry_consumers_equal_the_service_subscriptions(
    service: str, registry: Registry
) -> None:
    subscriptions = await subscriptions_of(service)
    problems = drift(service, subscriptions.topics, registry)
    assert not problems, "\n".join(problems) + (
        "\nfix the consumers: lists in shared/schemas/src/convene_schemas/topics/*.yaml, then "
        "run `uv run python -m convene_schemas.docs`"
    )
    if subscriptions.topics:  # one consumer group per service, named after it
        assert subscriptions.groups == {service}


def test_drift_names_both_directions(registry: Registry) -> None:
    """The comparison itself: an unlisted subscription and a listed non-subscriber both count."""
    doctored = registry.model_copy(update={"topics": [
        topic.model_copy(update={"consumers": {
            "meetings.events.v1": ["calendar-sync"],  # records dropped, though it subscribes
            "records.events.v1": [*topic.consumers, "records"],  # listed, never subscribes
        }.get(topic.name, topic.consumers)})
        for topic in registry.topics
    ]})
    subscribed = frozenset({"meetings.events.v1", "booking-pages.events.v1"})
    assert drift("records", subscribed, doctored) == [
        "records subscribes to meetings.events.v1, but its registry entry does not list records "
        "under consumers:",
        "the registry lists records under consumers: of records.events.v1, but records does not "
        "subscribe to it",
    ]
    assert drift("records", subscribed | {"nowhere.events.v1"}, registry) == [
        "records subscribes to nowhere.events.v1, which is not in the registry"
    ]
