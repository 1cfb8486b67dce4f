"""Versioned aggregates (convene_kit.aggregates) on the kit's in-memory store: concurrent
changes all land with their own versions, their events leave in version order with no gap
and no repeat (also when requests finish out of order or Kafka fails), a head left behind is
rolled forward, a revision whose unique key is taken is withdrawn."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from convene_kit.aggregates import Aggregates, KeyTaken, Revision, VersionedRepository
from convene_kit.outbox import Outbox
from convene_kit.revisions import RevisionLog, revision_key
from convene_kit.store import IndexSpec
from convene_kit.testing import FakeStore, RecordingPublisher
from convene_schemas.base import Event

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
ACCOUNT = "acc_1"


class WidgetChanged(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.AggregateWidgetChanged"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = "kittest.aggregates.v1"
    AGGREGATE_ID_FIELD: ClassVar[str] = "widget_id"
    widget_id: str
    slug: str
    colours: list[str]


@dataclass(frozen=True)
class Widget:
    id: str
    account_id: str
    slug: str
    colours: tuple[str, ...]
    version: int


class WidgetRepository(VersionedRepository[Widget]):
    def document(self, aggregate: Widget) -> dict[str, Any]:
        doc = asdict(aggregate)
        doc["_id"] = doc.pop("id")
        return doc

    def from_document(self, document: Mapping[str, Any]) -> Widget:
        return Widget(id=document["_id"], account_id=document["account_id"],
                      slug=document["slug"], colours=tuple(document["colours"]),
                      version=document["version"])


class Conflict(Exception):
    pass


@dataclass
class World:
    store: FakeStore
    publisher: RecordingPublisher
    failing: set[int]  # the versions whose events Kafka refuses
    widgets: WidgetRepository
    aggregates: Aggregates

    @property
    def claims(self) -> dict[Any, dict[str, Any]]:
        return self.store.collection("revisions").docs

    def versions(self, widget_id: str = "w_1") -> list[int]:
        """The versions of the widget's published events, in publishing order."""
        events = [envelope.event for envelope in self.publisher.events()]
        return [e.version for e in events if isinstance(e, WidgetChanged)
                and e.widget_id == widget_id]


@pytest.fixture
def world() -> World:
    store = FakeStore([IndexSpec("widgets", [("account_id", 1), ("slug", 1)],
                                 name="account_slug", unique=True)])
    failing: set[int] = set()
    publisher = RecordingPublisher(fail_on=lambda envelope: envelope.event.version in failing)
    aggregates = Aggregates(RevisionLog(store.collection("revisions")), Outbox(publisher),
                            clock=lambda: NOW, conflict=Conflict)
    return World(store, publisher, failing, WidgetRepository(store.collection("widgets")),
                 aggregates)


def changed(widget: Widget) -> WidgetChanged:
    return WidgetChanged(account_id=widget.account_id, version=widget.version,
                         occurred_at=NOW, widget_id=widget.id, slug=widget.slug,
                         colours=list(widget.colours))


def add_colour(colour: str, seen: list[datetime] | None = None):
    async def rule(widget: Widget, now: datetime) -> Revision[Widget] | None:
        if seen is not None:
            seen.append(now)
        if colour in widget.colours:
            return None
        new = replace(widget, colours=(*widget.colours, colour), version=widget.version + 1)
        return new, [changed(new)]
    return rule


def rename(slug: str):
    async def rule(widget: Widget, now: datetime) -> Revision[Widget] | None:
        new = replace(widget, slug=slug, version=widget.version + 1)
        return new, [changed(new)]
    return rule


async def created(world: World, widget_id: str = "w_1", slug: str = "first") -> Widget:
    widget = Widget(widget_id, ACCOUNT, slug, (), 1)
    return await world.aggregates.create(world.widgets, widget, [changed(widget)])


async def test_create_stores_the_first_version_and_publishes_it(world: World) -> None:
    await created(world)
    assert world.versions() == [1]
    assert not world.store.collection("widgets").docs["w_1"].get("outbox")
    with pytest.raises(KeyTaken):
        await created(world)  # the same id
    with pytest.raises(KeyTaken):
        await created(world, "w_2")  # the same unique slug
    assert world.versions() == [1] and world.versions("w_2") == []


async def test_concurrent_changes_all_land_and_publish_in_version_order(world: World) -> None:
    await created(world)
    colours = ["red", "green", "blue", "cyan", "magenta", "yellow"]
    answers = await asyncio.gather(*(
        world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour(c), missing=KeyError())
        for c in colours))
    assert sorted(a.version for a in answers) == [2, 3, 4, 5, 6, 7]  # each its own version
    final = await world.aggregates.load(world.widgets, ACCOUNT, "w_1")
    assert final is not None and sorted(final.colours) == sorted(colours)  # none lost
    assert world.versions() == [1, 2, 3, 4, 5, 6, 7]  # in order, no gap, no repeat


async def test_a_slow_request_is_overtaken_without_breaking_the_order(world: World) -> None:
    await created(world)
    write_head, released = world.widgets.write_head, asyncio.Event()

    async def slow_for_the_first_request(widget: Widget) -> None:
        if asyncio.current_task() is slow:
            await released.wait()  # claimed version 2, not yet written nor published
        await write_head(widget)

    world.widgets.write_head = slow_for_the_first_request  # type: ignore[method-assign]
    slow = asyncio.create_task(world.aggregates.change(
        world.widgets, ACCOUNT, "w_1", add_colour("red"), missing=KeyError()))

    async def claimed() -> None:
        while revision_key("w_1", 2) not in world.claims:
            await asyncio.sleep(0)

    await asyncio.wait_for(claimed(), timeout=5)
    fast = await asyncio.wait_for(world.aggregates.change(
        world.widgets, ACCOUNT, "w_1", add_colour("blue"), missing=KeyError()), timeout=5)
    assert (fast.version, fast.colours) == (3, ("red", "blue"))  # rolled forward over v2
    assert world.versions() == [1, 2, 3]  # v2 first, though its request is not done
    released.set()
    assert (await asyncio.wait_for(slow, timeout=5)).version == 2
    assert world.versions() == [1, 2, 3]  # and never twice


async def test_a_failed_publish_saves_the_change_and_nothing_overtakes_it(
        world: World) -> None:
    await created(world)
    world.failing.add(2)
    saved = await world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour("red"),
                                          missing=KeyError())
    assert saved.version == 2 and world.versions() == [1]
    await world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour("blue"),
                                  missing=KeyError())
    assert world.versions() == [1]  # version 3 waits behind version 2
    assert all(claim["outbox"] for claim in world.claims.values())  # left for the relay
    world.failing.clear()
    await world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour("green"),
                                  missing=KeyError())
    assert world.versions() == [1, 2, 3, 4]
    assert all(not claim.get("outbox") for claim in world.claims.values())


async def test_a_no_op_stores_and_publishes_nothing(world: World) -> None:
    await created(world)
    await world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour("red"),
                                  missing=KeyError())
    same = await world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour("red"),
                                         missing=KeyError())
    assert same.version == 2 and len(world.claims) == 1
    assert world.versions() == [1, 2]


async def test_rules_and_claims_see_the_injected_clock(world: World) -> None:
    await created(world)
    seen: list[datetime] = []
    await world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour("red", seen),
                                  missing=KeyError())
    assert seen == [NOW]
    assert world.claims[revision_key("w_1", 2)]["claimed_at"] == NOW


async def test_no_such_aggregate_in_the_account_raises_missing(world: World) -> None:
    await created(world)
    for account_id, widget_id in (("acc_2", "w_1"), (ACCOUNT, "w_9")):
        with pytest.raises(LookupError):
            await world.aggregates.change(world.widgets, account_id, widget_id,
                                          add_colour("red"), missing=LookupError())
        assert await world.aggregates.load(world.widgets, account_id, widget_id) is None


async def test_losing_every_claim_raises_the_services_conflict(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    await created(world)
    seen: list[datetime] = []

    async def always_taken(*_: object, **__: object) -> None:
        return None

    monkeypatch.setattr(world.aggregates.revisions, "claim", always_taken)
    with pytest.raises(Conflict):
        await world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour("red", seen),
                                      missing=KeyError())
    assert len(seen) == world.aggregates.attempts  # the rule re-applied after each loss
    assert world.versions() == [1]


async def test_a_head_left_behind_is_rolled_forward_and_written(world: World) -> None:
    widget = await created(world)
    ahead = replace(widget, colours=("red",), version=2)
    await world.aggregates.revisions.claim(world.widgets.document(ahead), [], NOW,
                                           head="widgets")  # crash: no head write
    assert (await world.widgets.get(ACCOUNT, "w_1")).version == 1  # type: ignore[union-attr]
    assert await world.aggregates.load(world.widgets, ACCOUNT, "w_1") == ahead
    assert await world.widgets.get(ACCOUNT, "w_1") == ahead


async def test_a_revision_whose_unique_key_is_taken_is_withdrawn(world: World) -> None:
    await created(world, "w_1", "first")
    await created(world, "w_2", "second")
    with pytest.raises(KeyTaken):
        await world.aggregates.change(world.widgets, ACCOUNT, "w_2", rename("first"),
                                      missing=KeyError())
    assert revision_key("w_2", 2) not in world.claims
    assert world.versions("w_2") == [1]
    # The same when a load meets such a claim (its writer died before withdrawing it).
    taken = Widget("w_2", ACCOUNT, "first", (), 2)
    await world.aggregates.revisions.claim(world.widgets.document(taken), [], NOW,
                                           head="widgets")
    loaded = await world.aggregates.load(world.widgets, ACCOUNT, "w_2")
    assert loaded is not None and (loaded.slug, loaded.version) == ("second", 1)
    assert revision_key("w_2", 2) not in world.claims
    renamed = await world.aggregates.change(world.widgets, ACCOUNT, "w_2", rename("third"),
                                            missing=KeyError())
    assert (renamed.slug, renamed.version) == ("third", 2)
    assert world.versions("w_2") == [1, 2]


async def test_pruning_runs_on_the_logs_clock(world: World) -> None:
    await created(world)
    await world.aggregates.change(world.widgets, ACCOUNT, "w_1", add_colour("red"),
                                  missing=KeyError())
    log = RevisionLog(world.store.collection("revisions"),
                      clock=lambda: NOW + timedelta(days=2))
    stopping = asyncio.Event()
    pruning = asyncio.create_task(log.run_pruning(stopping, interval_s=0.01))

    async def pruned() -> None:
        while world.claims:  # published, two days old by the log's clock, at the head
            await asyncio.sleep(0.01)

    await asyncio.wait_for(pruned(), timeout=5)
    stopping.set()
    await asyncio.wait_for(pruning, timeout=5)
