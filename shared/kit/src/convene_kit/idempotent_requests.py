"""``Idempotency-Key`` on requests that create something, so a client's retry never creates
it twice (the IETF httpapi draft "The Idempotency-Key HTTP Header Field"; Stripe's API).

A gateway or an internal service that lost an answer (a timeout, a reset, a replica killed
mid-request) cannot tell whether its POST created the meeting; retried without a key, the
POST creates a second one, and a second invitation goes out. With a key:

1. :meth:`IdempotencyKeys.admit` derives the new resource's id from (what is created, the
   account, the principal, the key) and remembers the key's first request by a fingerprint
   of it (a unique-insert claim, :class:`~convene_kit.claims.Claims`). The same key with a
   *different* request is refused (:class:`IdempotencyKeyReused`, 422
   ``idempotency_key_reused``); a repeat of the same request is told so
   (:attr:`Admission.repeated`).
2. The service creates the resource under the derived id. The create is itself a unique
   insert, so even two repeats racing each other, or a repeat after the first attempt
   crashed mid-way, create it once: the loser meets the taken id and answers with the
   resource as it is now, marked ``Idempotent-Replayed: true``
   (:data:`REPLAYED_HEADER`).

Keys are scoped to the account and the principal (two users choosing the same key never
meet) and to the kind of thing created. The fingerprints are kept for ``retention_s``
(24 hours, as Stripe keeps keys) and then pruned; the derived id stays, so a repeat after
that still creates nothing new, only the check against a *different* request lapses.
A request without the header behaves as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header
from pymongo.asynchronous.collection import AsyncCollection

from convene_kit.claims import Claims
from convene_kit.errors import ApiError
from convene_kit.periodic import every
from convene_kit.store import IndexSpec

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEYS_COLLECTION = "idempotency_keys"
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
"""1 to 255 visible ASCII characters (a UUID is the usual choice)."""

IdempotencyKeyHeader = Annotated[str | None, Header(
    alias=HEADER, pattern=KEY_PATTERN,
    description="A key of the client's choice (1-255 visible ASCII characters; a UUID "
                "does): a retry with the same key and the same request creates nothing new "
                "and answers with what the first one created (header `Idempotent-Replayed: "
                "true`); the same key with a different request is refused with 422 "
                "`idempotency_key_reused`. Kept 24 hours.")]
"""The header as a FastAPI parameter: a malformed key is the kit's 422 validation error."""


class IdempotencyKeyReused(ApiError):
    """The key was first used with a different request."""

    def __init__(self) -> None:
        super().__init__(422, "idempotency_key_reused",
                         "This Idempotency-Key was used before with a different request; "
                         "use a new key for a new request.")


@dataclass(frozen=True)
class Admission:
    """A keyed request let in: the id its resource must have, and whether the key was
    seen before (a repeat: the resource may exist already)."""

    resource_id: str  # 32 hex digits; a service adds its own prefix
    repeated: bool


def fingerprint(request: Any) -> str:
    """SHA-256 of the request's canonical JSON (keys sorted), so the same request sent
    with its fields in another order is still the same request."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class IdempotencyKeys:
    """The keys of one service's creating requests, in one collection."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], *,
                 retention_s: float = 24 * 3600.0) -> None:
        self.claims = Claims(collection)
        self.retention = timedelta(seconds=retention_s)

    @staticmethod
    def indexes(collection: str = IDEMPOTENCY_KEYS_COLLECTION) -> list[IndexSpec]:
        """The index pruning uses (lookups are by ``_id``)."""
        return [IndexSpec(collection=collection, keys=[("claimed_at", 1)], name="claimed_at")]

    @staticmethod
    def resource_id(scope: str, account_id: str, principal_id: str, key: str) -> str:
        """The id a keyed create gives its resource: the same for every repeat, different
        for another scope, account, principal or key."""
        text = json.dumps([scope, account_id, principal_id, key], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    async def admit(self, *, scope: str, account_id: str, principal_id: str, key: str,
                    request: Any) -> Admission:
        """Remember ``key``'s request, or check a repeat against it.
        :class:`IdempotencyKeyReused` when the key came with a different request."""
        resource_id = self.resource_id(scope, account_id, principal_id, key)
        wanted = fingerprint(request)
        if await self.claims.claim(resource_id, account_id=account_id, fingerprint=wanted):
            return Admission(resource_id, repeated=False)
        first = await self.claims.holder(resource_id)
        if first is not None and first.get("fingerprint") != wanted:
            raise IdempotencyKeyReused()
        return Admission(resource_id, repeated=True)

    async def run_pruning(self, stopping: asyncio.Event, interval_s: float = 600.0) -> None:
        """Forget keys older than the retention, every ``interval_s``, until ``stopping``."""
        async def step() -> None:
            deleted = await self.claims.prune(self.retention)
            if deleted:
                logger.info("pruned %d idempotency keys", deleted)

        await every(interval_s, stopping, step, what="pruning idempotency keys")
