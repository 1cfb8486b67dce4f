"""Changing any record through the revision log (:mod:`convene_records.revisions`).

:func:`load` reads a record at its latest claimed revision; :func:`change` applies a rule to
it and claims the next version, re-applying the rule on a newer record when another request
won that version. Every kind (account settings, users, contacts, companies, deals, tickets,
tasks, associations) changes through these two functions.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from convene_kit.http import ApiError
from convene_kit.outbox import outbox_entries, utcnow
from convene_schemas.base import Event

from convene_records.revisions import DuplicateRecord, Versioned, VersionedRepository
from convene_records.service_layer.deps import RecordsDeps

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=Versioned)

CLAIM_ATTEMPTS = 8
"""How often a change is re-applied on a newer version before 409 ``concurrent_change``."""

Rule = Callable[[R], Awaitable["tuple[R, Sequence[Event]] | None"]]
"""A change: the record -> (the record at its next version, its events), or None for a
no-op. It may raise :class:`~convene_kit.http.ApiError` (e.g. 404 for a deleted record).
It runs again on the newer record after a lost claim, so it reads what it depends on
itself (a task's associations, say) rather than closing over an earlier read."""


async def load(deps: RecordsDeps, repository: VersionedRepository[R], account_id: str,
               record_id: str) -> R | None:
    """The account's record at its latest claimed revision (deleted or not), or None.

    A head left behind its revisions (a crash between claim and head write, a late write) is
    rolled forward here. A revision whose head write can never land (a user's new email
    taken meanwhile) is withdrawn.
    """
    record = await repository.get(account_id, record_id)
    while record is not None:
        ahead = await deps.revisions.state(account_id, record_id, record.version + 1)
        if ahead is None:
            break
        newer = repository.record(ahead)
        try:
            await repository.write_head(newer)
        except DuplicateRecord:
            logger.warning("withdrawing revision %s of %s: a unique key is taken",
                           newer.version, record_id)
            await deps.revisions.withdraw(account_id, record_id, newer.version)
            break
        record = newer
    return record


async def change(deps: RecordsDeps, repository: VersionedRepository[R], account_id: str,
                 record_id: str, rule: Rule[R], *, missing: ApiError) -> R:
    """Apply ``rule`` to the latest record and store the result as its next version: claim
    it, write the head, publish the claim's events. ``missing`` is raised when there is no
    such record. After :data:`CLAIM_ATTEMPTS` lost claims, 409 ``concurrent_change``.
    :class:`DuplicateRecord` when the head write meets a taken unique key (the claim is
    withdrawn, nothing is published)."""
    for _ in range(CLAIM_ATTEMPTS):
        record = await load(deps, repository, account_id, record_id)
        if record is None:
            raise missing
        result = await rule(record)
        if result is None:
            return record
        new, events = result
        claimed = await deps.revisions.claim(repository.document(new), outbox_entries(events),
                                             utcnow(), head=repository.collection.name)
        if claimed is None:
            logger.info("version %s of %s was claimed concurrently; re-applying the change",
                        new.version, record_id)
            continue
        try:
            await repository.write_head(new)
        except DuplicateRecord:
            await deps.revisions.withdraw(account_id, record_id, new.version)
            raise
        await publish_in_order(deps, account_id, record_id, new.version)
        return new
    raise ApiError(409, "concurrent_change",
                   "The record is being changed by others right now; try again.")


async def publish_in_order(deps: RecordsDeps, account_id: str, record_id: str,
                           version: int) -> None:
    """Publish the record's unpublished revisions up to ``version``, oldest first.

    Two requests that claimed versions 2 and 3 may finish in either order; whichever
    publishes first sends both, in version order, under the record's lock (one process).
    A failed publish leaves the rest to the relay's sweep."""
    async with deps.revisions.publishing(record_id):
        for claim in await deps.revisions.pending(account_id, record_id, version):
            await deps.publish(deps.revisions.collection, claim)
