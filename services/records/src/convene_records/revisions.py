"""The revision log: how concurrent changes of one record are kept apart on FerretDB 1.x.

FerretDB's conditional updates are not atomic (a version in the filter stops nobody), but
inserting a unique ``_id`` is. So every change of an account's settings, a user, a contact, a
company, deal, ticket, task or an association **claims its new version** by inserting
a claim into ``record_revisions`` through the kit's :class:`~convene_kit.revisions.RevisionLog`
(read it for the protocol: the claim is the truth, the record's document the head, rolled
forward on every load). The loser re-applies its change on the newer record
(:func:`convene_records.service_layer.changes.change`).

Nothing here knows one kind from another: a :class:`VersionedRepository` subclass says how a
record becomes a document and back (the head searches and listings read); the log stores
documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from convene_kit.outbox import outbox_entries, with_outbox
from convene_kit.revisions import RevisionLog, revision_indexes
from convene_kit.store import AccountScopedCollection
from convene_schemas.base import Event
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

Collection = AsyncCollection[dict[str, Any]]

REVISIONS = "record_revisions"

REVISION_INDEXES = revision_indexes(REVISIONS)

__all__ = ["REVISIONS", "REVISION_INDEXES", "DuplicateRecord", "RevisionLog", "Versioned",
           "VersionedRepository"]


class DuplicateRecord(Exception):
    """An insert or head write met an existing ``_id`` or unique key."""


class Versioned(Protocol):
    """What a record changed through the log has: an id and a version."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...


R = TypeVar("R", bound=Versioned)


class VersionedRepository(Generic[R]):
    """A collection of heads: one document per record (``_id`` = record id, with
    ``account_id`` and ``version``). Subclasses define :meth:`document` and :meth:`record`."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._scoped = AccountScopedCollection(collection)

    def document(self, record: R) -> dict[str, Any]:
        """The stored form of ``record`` (``_id``, ``account_id``, ``version``, search keys)."""
        raise NotImplementedError

    def record(self, document: Mapping[str, Any]) -> R:
        """The record a stored document holds (store-only fields ignored)."""
        raise NotImplementedError

    async def add(self, record: R, events: Iterable[Event]) -> dict[str, Any]:
        """Insert a new record (its first version) with ``events`` in its outbox, one write;
        :class:`DuplicateRecord` if the id or a unique key is taken."""
        document = self.document(record)
        written = with_outbox(document, outbox_entries(events))
        try:
            await self._scoped.insert_one(document["account_id"], written)
        except DuplicateKeyError as exc:
            raise DuplicateRecord(str(exc)) from exc
        return written

    async def get(self, account_id: str, record_id: str) -> R | None:
        """The head of the account's record (deleted or not), or None."""
        found = await self._scoped.find_one(account_id, {"_id": record_id})
        return None if found is None else self.record(found)

    async def write_head(self, record: R) -> None:
        """Write a claimed revision's state over the head; :class:`DuplicateRecord` when a
        unique key (a user's email) is taken."""
        state = self.document(record)
        record_id, account_id = state.pop("_id"), state["account_id"]
        try:
            await self._scoped.update_one(account_id, {"_id": record_id}, {"$set": state})
        except DuplicateKeyError as exc:
            raise DuplicateRecord(str(exc)) from exc
