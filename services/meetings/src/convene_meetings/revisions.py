"""The revision log of meetings: how concurrent changes are kept apart on FerretDB 1.x.

FerretDB's conditional updates are not atomic, so a version check in an update cannot stop
two writers. Inserting a unique ``_id`` is atomic, so every change of a meeting first
**claims its new version** by inserting ``{_id: "<meeting_id>:<version>"}`` into
``meeting_revisions``. Exactly one request wins a version; the loser reloads and re-applies
its change on top (or, after a few tries, gets 409 ``version_conflict``). No two changes can
get the same version, and none is lost.

The claim document carries the whole new state *and* the change's events (its outbox, swept
by the relay): it is the truth, and the ``meetings`` document is the head, a cache of the
latest revision. A crash between the claim and the head write leaves the head one version
behind: whoever loads the meeting next finds revision ``version + 1`` and writes it to the
head first (:func:`convene_meetings.service.load_meeting`), and the relay publishes its
events. A head write that lands late (a slow writer overtaken) is repaired the same way, as
revisions are contiguous and each is written from its claim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from convene_kit.outbox import with_outbox
from convene_kit.store import scoped_filter
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_meetings.domain.meeting import Meeting
from convene_meetings.store import meeting_document, meeting_from_document


def revision_key(meeting_id: str, version: int) -> str:
    """The ``_id`` of a revision claim: ``"<meeting_id>:<version>"``."""
    return f"{meeting_id}:{version}"


class RevisionRepository:
    """``meeting_revisions``: one document per meeting version after the first."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def claim(
        self, meeting: Meeting, outbox: Sequence[Mapping[str, Any]], now: datetime
    ) -> dict[str, Any] | None:
        """Claim ``meeting.version`` with the new state and its events; None if taken."""
        state = meeting_document(meeting)
        state.pop("_id")
        document = with_outbox({
            "_id": revision_key(meeting.meeting_id, meeting.version),
            "account_id": meeting.account_id, "meeting_id": meeting.meeting_id,
            "version": meeting.version, "state": state, "claimed_at": now,
        }, outbox)
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return None
        return document

    async def get(self, account_id: str, meeting_id: str, version: int) -> Meeting | None:
        """The meeting as revision ``version`` left it, or None if nobody claimed it."""
        found = await self.collection.find_one(
            scoped_filter(account_id, {"_id": revision_key(meeting_id, version)}))
        if found is None:
            return None
        return meeting_from_document({"meeting_id": meeting_id, **found["state"]})
