"""MongoDB-wire store access: client lifecycle, declared indexes, account-scoped queries.

Works on MongoDB and on FerretDB 1.x alike: no transactions, no change streams, no
positional ``$`` operator. FerretDB scans collections, so repositories look documents up by
``_id`` where they can and keep hot collections small.

Three rules keep FerretDB 1.24 from wedging under load (tests/integration/test_store_wedge.py):

* every client's connections are bounded (``mongo_max_pool_size``), the sum over all
  clients below FerretDB's PostgreSQL pool: FerretDB runs an update as a query it holds open
  while it takes a second pooled connection for the write, so as many concurrent updates as
  the pool has connections deadlock it for good;
* every find goes through :func:`find_all` (or :meth:`AccountScopedCollection.find`), which
  asks for the whole bounded result in one batch and closes the cursor whatever happens, a
  cancellation included: an open cursor holds one of FerretDB's PostgreSQL connections;
* every operation has a client-side timeout (``mongo_operation_timeout_s``), so a stuck
  store fails calls (infrastructure errors: retried, readiness says so) instead of hanging
  them, and the service carries on by itself when the store answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pymongo
from aiokafka import errors as kafka_errors
from pymongo import AsyncMongoClient, ReturnDocument, monitoring
from pymongo import errors as mongo_errors
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from convene_kit.metrics import STORE_OPERATIONS
from convene_kit.settings import ServiceSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class InfrastructureError(Exception):
    """Raised by service code for a failure that is not the message's fault (retry it)."""


_INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    InfrastructureError,
    mongo_errors.ConnectionFailure,  # AutoReconnect, NetworkTimeout, NotPrimaryError, ...
    mongo_errors.ServerSelectionTimeoutError,
    mongo_errors.ExecutionTimeout,
    mongo_errors.WaitQueueTimeoutError,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NoBrokersAvailable,
    kafka_errors.RequestTimedOutError,
    ConnectionError,
    TimeoutError,
)
_extra_infrastructure_errors: list[type[BaseException]] = []


def register_infrastructure_error(*classes: type[BaseException]) -> None:
    """Declare more exception classes (an HTTP client's, say) as infrastructure failures."""
    _extra_infrastructure_errors.extend(classes)


_BACKEND_OUTAGE_SIGNS = ("i/o timeout", "context deadline exceeded", "connection refused",
                         "failed to connect", "conn closed", "connection reset by peer",
                         # PostgreSQL shutting down or restarting under FerretDB: SQLSTATE
                         # 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
                         "SQLSTATE 57P01", "SQLSTATE 57P02", "SQLSTATE 57P03")


def _is_backend_outage(exc: BaseException) -> bool:
    """FerretDB answers a failure of its PostgreSQL backend (a query past the pool's or the
    socket's deadline, a connection refused or reset) as ``InternalError`` (code 1) with the
    Go error in the message; on MongoDB these are network errors. Either way the store is
    not answering, which is an outage, not a bug of ours nor the message's fault."""
    return (isinstance(exc, mongo_errors.OperationFailure) and exc.code == 1
            and any(sign in str(exc) for sign in _BACKEND_OUTAGE_SIGNS))


def is_infrastructure_error(exc: BaseException) -> bool:
    """True if ``exc`` (or what caused it) is a store/broker/network outage, not a bad input.

    Consumers retry these in place with backoff and do not commit; anything else is either
    the message's declared fault (dead-lettered) or a bug (its partition waits and retries:
    see :mod:`convene_kit.consumer`).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _INFRASTRUCTURE_ERRORS + tuple(_extra_infrastructure_errors)):
            return True
        if isinstance(current, kafka_errors.KafkaError) and current.retriable:
            return True
        if isinstance(current, mongo_errors.PyMongoError) and (
            current.has_error_label("RetryableWriteError")
            or current.has_error_label("TransientTransactionError")
        ):
            return True
        if _is_backend_outage(current):
            return True
        current = current.__cause__ or current.__context__
    return False


async def until_written(
    write: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = 8,
    first_delay_s: float = 0.2,
    max_delay_s: float = 5.0,
) -> T:
    """Run ``write``, a store write that must land because something that cannot be undone
    has happened already (an email the SMTP server accepted): on an infrastructure error
    (a timeout of an overloaded store, a lost connection) it is tried again in place, with
    doubling delays, up to ``attempts`` times in all, before the error is raised. Raising
    would make the caller's whole step run again and repeat what cannot be undone.
    ``write`` must be idempotent: a write that timed out may have landed."""
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return await write()
        except Exception as exc:
            if attempt == attempts or not is_infrastructure_error(exc):
                raise
            logger.warning("writing %s failed (%s, attempt %s of %s); trying again in %.1f s",
                           what, type(exc).__name__, attempt, attempts, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay_s)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class IndexSpec:
    """One index a service's store module declares; created by :meth:`MongoStore.ensure_indexes`."""

    collection: str
    keys: Sequence[tuple[str, int]]
    name: str
    unique: bool = False
    partial_filter: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class _CountOperations(monitoring.CommandListener):
    """Counts every command the client sends (``convene_store_operations_total``), so the
    round trips behind a request or an event can be read off /metrics."""

    _UNNAMED = {"ping", "hello", "ismaster", "isMaster", "endSessions", "killCursors"}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in self._UNNAMED:
            return
        target = event.command.get(name)
        STORE_OPERATIONS.labels(command=name,
                                collection=target if isinstance(target, str) else "").inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


class MongoStore:
    """Owns the AsyncMongoClient of one service and the indexes its collections need."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        timeout_s: float = 5.0,
        operation_timeout_s: float = 10.0,
        max_pool_size: int = 16,
        indexes: Iterable[IndexSpec] = (),
    ) -> None:
        self.url = url
        self.database_name = database
        self.timeout_s = timeout_s
        self.operation_timeout_s = operation_timeout_s
        self.max_pool_size = max_pool_size
        self.indexes: list[IndexSpec] = list(indexes)
        self._client: AsyncMongoClient[dict[str, Any]] | None = None

    @classmethod
    def from_settings(
        cls, settings: ServiceSettings, *, indexes: Iterable[IndexSpec] = ()
    ) -> MongoStore:
        """A store for the service's own database (``settings.mongo_database``)."""
        return cls(
            settings.mongo_url,
            settings.mongo_database,
            timeout_s=settings.mongo_timeout_s,
            operation_timeout_s=settings.mongo_operation_timeout_s,
            max_pool_size=settings.mongo_max_pool_size,
            indexes=indexes,
        )

    def declare(self, *specs: IndexSpec) -> None:
        """Add index declarations (before :meth:`ensure_indexes` runs at start-up)."""
        self.indexes.extend(specs)

    @property
    def client(self) -> AsyncMongoClient[dict[str, Any]]:
        """The client (created lazily: the driver connects in the background)."""
        if self._client is None:
            timeout_ms = int(self.timeout_s * 1000)
            self._client = AsyncMongoClient(
                self.url,
                tz_aware=True,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                timeoutMS=int(self.operation_timeout_s * 1000),
                maxPoolSize=self.max_pool_size,
                appname="convene",
                event_listeners=[_CountOperations()],
            )
        return self._client

    @property
    def db(self) -> AsyncDatabase[dict[str, Any]]:
        """The service's database."""
        return self.client[self.database_name]

    def collection(self, name: str) -> AsyncCollection[dict[str, Any]]:
        """A collection of the service's database."""
        return self.db[name]

    async def connect(self) -> None:
        """Create the client and check the server answers (raises on failure)."""
        await self.ping()

    async def ping(self, timeout_s: float | None = None) -> None:
        """Round-trip a ``ping`` command; TimeoutError if the server does not answer in
        time.

        The time limit is the driver's own (``pymongo.timeout``: the operation gives up by
        itself), never a cancellation from outside: on Python 3.11, cancelling a driver call
        while it waits in server selection can leave the client's topology lock held for
        good (``asyncio.wait_for`` cancelled twice returns before its inner wait has
        re-acquired the lock), after which every store call of the process hangs. The
        resilience suite's 30 s FerretDB outage wedged notifications that way through its
        readiness ping.
        """
        limit = timeout_s or self.timeout_s
        try:
            with pymongo.timeout(limit):
                await self.client.admin.command("ping")
        except mongo_errors.PyMongoError as exc:
            if exc.timeout:
                raise TimeoutError(f"the store did not answer within {limit:g}s") from exc
            raise

    async def ensure_indexes(self) -> None:
        """Create every declared index (idempotent: existing identical indexes are kept)."""
        for spec in self.indexes:
            options: dict[str, Any] = {"name": spec.name, **spec.options}
            if spec.unique:
                options["unique"] = True
            if spec.partial_filter is not None:
                options["partialFilterExpression"] = dict(spec.partial_filter)
            await self.collection(spec.collection).create_index(list(spec.keys), **options)

    async def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            await self._client.close()
            self._client = None


MAX_FIND = 1000
"""The most documents one find returns; larger reads page (keyset) or aggregate."""


async def find_all(
    collection: AsyncCollection[dict[str, Any]],
    query: Mapping[str, Any],
    projection: Mapping[str, Any] | None = None,
    *,
    sort: Sequence[tuple[str, int]] | None = None,
    limit: int = MAX_FIND,
    skip: int = 0,
) -> list[dict[str, Any]]:
    """The matching documents (at most ``limit``, itself at most :data:`MAX_FIND`).

    The whole result is asked for in one batch, so the server closes its cursor with its
    first answer; the cursor is closed here too, shielded, however the call ends (a
    cancelled request, a timeout), so no cursor ever outlives the call.
    """
    if not 0 < limit <= MAX_FIND:
        raise ValueError(f"a find returns 1..{MAX_FIND} documents; page larger reads")
    cursor = collection.find(query, projection, skip=skip, limit=limit, batch_size=limit,
                             sort=list(sort) if sort else None)
    try:
        return await cursor.to_list(None)
    finally:
        await asyncio.shield(cursor.close())


class AccountScopeError(ValueError):
    """A repository query was about to run without (or against another) account id."""


def scoped_filter(account_id: str, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``query`` restricted to one account; refuses an empty or conflicting account id."""
    if not isinstance(account_id, str) or not account_id:
        raise AccountScopeError("every repository query needs a non-empty account_id")
    scoped = dict(query or {})
    if "account_id" in scoped and scoped["account_id"] != account_id:
        raise AccountScopeError("query filters on another account than the caller's")
    scoped["account_id"] = account_id
    return scoped


class AccountScopedCollection:
    """A collection whose every read and write is restricted to one account.

    Each method takes ``account_id`` first and adds it to the filter, so a repository
    cannot forget the tenant boundary; inserted documents must carry the same account id.
    """

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    @property
    def name(self) -> str:
        """The underlying collection's name."""
        return self.collection.name

    async def find_one(
        self, account_id: str, query: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any] | None:
        """The first matching document of the account, or None."""
        return await self.collection.find_one(scoped_filter(account_id, query), **kwargs)

    async def find(
        self,
        account_id: str,
        query: Mapping[str, Any] | None = None,
        *,
        sort: Sequence[tuple[str, int]] | None = None,
        limit: int = MAX_FIND,
        skip: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Matching documents of the account, at most ``limit`` (see :func:`find_all`)."""
        return await find_all(self.collection, scoped_filter(account_id, query), projection,
                              sort=sort, limit=limit, skip=skip)

    async def count(self, account_id: str, query: Mapping[str, Any] | None = None) -> int:
        """How many documents of the account match."""
        return await self.collection.count_documents(scoped_filter(account_id, query))

    async def insert_one(self, account_id: str, document: Mapping[str, Any]) -> Any:
        """Insert a document of the account; returns its ``_id``."""
        doc = dict(document)
        if doc.setdefault("account_id", account_id) != account_id or not account_id:
            raise AccountScopeError("document belongs to another account than the caller's")
        result = await self.collection.insert_one(doc)
        return result.inserted_id

    async def update_one(
        self,
        account_id: str,
        query: Mapping[str, Any],
        update: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        upsert: bool = False,
    ) -> int:
        """Update one document of the account; returns the number matched."""
        result = await self.collection.update_one(
            scoped_filter(account_id, query), update, upsert=upsert
        )
        return result.matched_count

    async def find_one_and_update(
        self,
        account_id: str,
        query: Mapping[str, Any],
        update: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        upsert: bool = False,
        return_after: bool = True,
        sort: Sequence[tuple[str, int]] | None = None,
        projection: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Atomically update one document of the account and return it (after, by default)."""
        return await self.collection.find_one_and_update(
            scoped_filter(account_id, query),
            update,
            upsert=upsert,
            sort=list(sort) if sort else None,
            projection=projection,
            return_document=ReturnDocument.AFTER if return_after else ReturnDocument.BEFORE,
        )

    async def delete_one(self, account_id: str, query: Mapping[str, Any]) -> int:
        """Delete one document of the account; returns the number deleted."""
        result = await self.collection.delete_one(scoped_filter(account_id, query))
        return result.deleted_count
