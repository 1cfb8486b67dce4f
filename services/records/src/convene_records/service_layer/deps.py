"""What service functions need: the repositories and the outbox publisher."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from convene_kit.outbox import Outbox
from pymongo.asynchronous.collection import AsyncCollection

from convene_records.crm_store import (
    AssociationRepository,
    CrmRepository,
    MeetingFactRepository,
)
from convene_records.revisions import RevisionLog
from convene_records.store import (
    AccountRepository,
    ContactRepository,
    TimelineRepository,
    UserRepository,
)

logger = logging.getLogger(__name__)


class PublishAfterWrite:
    """Publishes the events a write put in a document's outbox, right after the write.

    A failure is logged, not raised: the change is stored and its events wait in the
    outbox, where the relay's sweep publishes them (the caller still gets its answer).
    """

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def __call__(self, collection: AsyncCollection[dict[str, Any]],
                       document: dict[str, Any]) -> None:
        try:
            await self.outbox.publish_pending(collection, document)
        except Exception:
            logger.warning("publishing the outbox of %s/%s failed; the relay will retry",
                           collection.name, document.get("_id"), exc_info=True)


@dataclass(frozen=True)
class RecordsDeps:
    """The repositories and the publisher, built once by ``bootstrap``."""

    accounts: AccountRepository
    users: UserRepository
    contacts: ContactRepository
    timelines: TimelineRepository
    publish: PublishAfterWrite
    crm: dict[str, CrmRepository]
    associations: AssociationRepository
    meeting_facts: MeetingFactRepository
    revisions: RevisionLog
