"""Versioned aggregates: how a service creates, loads and changes one document from many
requests at once, on FerretDB 1.x as on MongoDB.

An aggregate (a meeting, a contact, a task, an account's settings, ...) lives as a *head*
document (``_id`` = its id, ``account_id``, ``version``) in its own collection, which a
:class:`VersionedRepository` subclass maps to and from the domain's object. Its history is
the service's revision log (:class:`~convene_kit.revisions.RevisionLog`): one unique-insert
claim per version after the first, holding the new state and the change's events.
:class:`Aggregates` runs the whole protocol once for every service:

- :meth:`Aggregates.create` inserts the first version with its events (the head's own
  outbox) and publishes them;
- :meth:`Aggregates.load` reads the head and rolls it forward through claimed versions (a
  crash between claim and head write, or a late head write, loses nothing);
- :meth:`Aggregates.change` applies a rule to the latest version, claims the next one (a
  lost claim re-applies the rule on the newer version, up to ``attempts`` times, then the
  service's conflict error), writes the head and publishes every unpublished claim up to
  that version, oldest first, under the aggregate's lock: events leave in version order
  even when concurrent requests finish out of order.

A failed publish never fails the request: the change is stored, its events wait in their
document's outbox and the outbox relay's sweep sends them (pass the head collections and
the revision log's collection to ``OutboxRelay.from_settings(..., collections=...)``).

A head write that meets a unique index (records: a user's email taken meanwhile) raises
:class:`KeyTaken`; that revision is withdrawn, since it can never become the head.
Aggregates without unique keys besides ``_id`` (meetings) simply never see it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from convene_schemas.base import Event
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_kit.clock import Clock, utc_now
from convene_kit.outbox import Outbox, outbox_entries, with_outbox
from convene_kit.revisions import RevisionLog
from convene_kit.store import AccountScopedCollection

logger = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 8
"""How often :meth:`Aggregates.change` re-applies a rule on a newer version before the
service's conflict error (409)."""


class KeyTaken(Exception):
    """An insert or a head write met an ``_id`` or a unique key another document holds."""


class ConcurrentChange(Exception):
    """Concurrent changes kept winning the aggregate's next version (the default conflict
    error; a service passes its own to :class:`Aggregates`)."""

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(f"{aggregate_id} is being changed concurrently")
        self.aggregate_id = aggregate_id


class Versioned(Protocol):
    """What every aggregate has: its version, raised by one on every change."""

    @property
    def version(self) -> int: ...


A = TypeVar("A", bound=Versioned)

Revision = tuple[A, Sequence[Event]]
"""A change's outcome: the aggregate at its next version and the events it raises."""

Rule = Callable[[A, datetime], Awaitable[Revision[A] | None]]
"""A change: (the latest aggregate, now) -> its :data:`Revision`, or None when nothing
changes (a no-op stores and publishes nothing). It runs again on the newer aggregate after
a lost claim, so it reads what it depends on itself rather than closing over an earlier
read; it may raise the service's refusals (404, 422, ...)."""


class VersionedRepository(Generic[A]):
    """A collection of heads, one document per aggregate (``_id`` = aggregate id, with
    ``account_id`` and ``version``), every access scoped by account. Subclasses say how an
    aggregate becomes a document and back (:meth:`document`, :meth:`from_document`); they
    add their own queries (listings, searches) over the heads."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection
        self._scoped = AccountScopedCollection(collection)

    def document(self, aggregate: A) -> dict[str, Any]:
        """The stored form of ``aggregate``: ``_id``, ``account_id``, ``version`` and what
        queries need (search keys, ...)."""
        raise NotImplementedError

    def from_document(self, document: Mapping[str, Any]) -> A:
        """The aggregate a stored document (a head or a claim's state) holds; store-only
        fields such as the outbox are ignored."""
        raise NotImplementedError

    async def get(self, account_id: str, aggregate_id: str) -> A | None:
        """The account's head as stored (not rolled forward: see :meth:`Aggregates.load`),
        or None, also for another account's id."""
        found = await self._scoped.find_one(account_id, {"_id": aggregate_id})
        return None if found is None else self.from_document(found)

    async def add(self, aggregate: A, events: Iterable[Event]) -> dict[str, Any]:
        """Insert the first version with ``events`` in its outbox, one write; returns the
        document written. :class:`KeyTaken` if the id or a unique key is taken."""
        document = with_outbox(self.document(aggregate), outbox_entries(events))
        try:
            await self._scoped.insert_one(document["account_id"], document)
        except DuplicateKeyError as exc:
            raise KeyTaken(str(exc)) from exc
        return document

    async def write_head(self, aggregate: A) -> None:
        """Write a claimed revision's state over the head (its outbox untouched);
        :class:`KeyTaken` when a unique key is taken."""
        state = self.document(aggregate)
        aggregate_id, account_id = state.pop("_id"), state["account_id"]
        try:
            await self._scoped.update_one(account_id, {"_id": aggregate_id}, {"$set": state})
        except DuplicateKeyError as exc:
            raise KeyTaken(str(exc)) from exc


M = TypeVar("M", bound=BaseModel)


class ModelRepository(VersionedRepository[Any], Generic[M]):
    """Heads stored as a pydantic model's fields plus ``_id`` (the value of the model's
    ``id_field``); store-only fields of a document (the outbox, ``_id``) are ignored when
    it is read back. Subclasses set ``model`` and ``id_field`` and add their queries."""

    model: type[M]
    id_field: str

    def document(self, aggregate: M) -> dict[str, Any]:
        return {"_id": getattr(aggregate, self.id_field), **aggregate.model_dump(mode="python")}

    def from_document(self, document: Mapping[str, Any]) -> M:
        return self.model.model_validate(
            {k: document[k] for k in self.model.model_fields if k in document})


class Aggregates:
    """Creating, loading and changing a service's versioned aggregates through its revision
    log; events are published through ``outbox`` at once, in version order.

    ``conflict(aggregate_id)`` builds the error raised after ``attempts`` lost claims (the
    service's 409); ``clock`` gives the time rules and claims see.
    """

    def __init__(self, revisions: RevisionLog, outbox: Outbox, *, clock: Clock = utc_now,
                 conflict: Callable[[str], Exception] = ConcurrentChange,
                 attempts: int = CLAIM_ATTEMPTS) -> None:
        self.revisions = revisions
        self.outbox = outbox
        self.clock = clock
        self.conflict = conflict
        self.attempts = attempts

    async def create(self, repository: VersionedRepository[A], aggregate: A,
                     events: Iterable[Event]) -> A:
        """Store a new aggregate (its first version) with its events, then publish them.
        :class:`KeyTaken` (nothing stored) if its id or a unique key is taken."""
        written = await repository.add(aggregate, events)
        await self._publish(repository.collection, written)
        return aggregate

    async def load(self, repository: VersionedRepository[A], account_id: str,
                   aggregate_id: str) -> A | None:
        """The account's aggregate at its latest claimed revision, or None.

        A head left behind its revisions is rolled forward (and written). A revision whose
        head write can never land (:class:`KeyTaken`) is withdrawn and the aggregate stays
        at the version before it.
        """
        aggregate = await repository.get(account_id, aggregate_id)
        while aggregate is not None:
            ahead = await self.revisions.state(account_id, aggregate_id, aggregate.version + 1)
            if ahead is None:
                break
            newer = repository.from_document(ahead)
            try:
                await repository.write_head(newer)
            except KeyTaken:
                logger.warning("withdrawing revision %s of %s: a unique key is taken",
                               newer.version, aggregate_id)
                await self.revisions.withdraw(account_id, aggregate_id, newer.version)
                break
            aggregate = newer
        return aggregate

    async def change(self, repository: VersionedRepository[A], account_id: str,
                     aggregate_id: str, rule: Rule[A], *, missing: Exception) -> A:
        """Apply ``rule`` to the latest aggregate and store the result as its next version;
        returns the aggregate after the change (unchanged for a no-op).

        ``missing`` is raised when there is no such aggregate in the account. Losing the
        claim to a concurrent change re-applies ``rule`` on the newer aggregate; after
        ``attempts`` losses, ``conflict(aggregate_id)``. :class:`KeyTaken` when the head
        write meets a taken unique key (the claim is withdrawn, nothing is published).
        """
        for _ in range(self.attempts):
            current = await self.load(repository, account_id, aggregate_id)
            if current is None:
                raise missing
            now = self.clock()
            revision = await rule(current, now)
            if revision is None:
                return current
            new, events = revision
            claimed = await self.revisions.claim(repository.document(new),
                                                 outbox_entries(events), now,
                                                 head=repository.collection.name)
            if claimed is None:
                logger.info("version %s of %s was claimed concurrently; re-applying the change",
                            new.version, aggregate_id)
                continue
            try:
                await repository.write_head(new)
            except KeyTaken:
                await self.revisions.withdraw(account_id, aggregate_id, new.version)
                raise
            await self.publish_in_order(account_id, aggregate_id, new.version)
            return new
        raise self.conflict(aggregate_id)

    async def publish_in_order(self, account_id: str, aggregate_id: str, up_to: int) -> None:
        """Publish the aggregate's unpublished claims up to version ``up_to``, oldest first.

        Two requests that claimed versions 2 and 3 may finish in either order; whichever
        publishes first sends both, in version order, under the aggregate's lock (one per
        process). The first failure stops the loop, so no later version overtakes it; the
        relay's sweep sends what is left.
        """
        async with self.revisions.publishing(aggregate_id):
            for claim in await self.revisions.pending(account_id, aggregate_id, up_to):
                if not await self._publish(self.revisions.collection, claim):
                    return

    async def _publish(self, collection: AsyncCollection[dict[str, Any]],
                       document: Mapping[str, Any]) -> bool:
        try:
            await self.outbox.publish_pending(collection, document)
        except Exception:
            logger.warning("publishing the events of %s/%s failed; the outbox relay will "
                           "retry", collection.name, document.get("_id"), exc_info=True)
            return False
        return True
