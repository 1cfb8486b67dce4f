"""The settings every Convene service shares.

Each service declares exactly one subclass of :class:`ServiceSettings` (in its
``settings.py``), sets ``service_name``'s default and adds its own fields. Values come from
environment variables prefixed ``CONVENE_`` (``CONVENE_KAFKA_BOOTSTRAP``,
``CONVENE_MONGO_URL``, ...). This module is the only place in the kit that reads the
environment.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_replica_id() -> str:
    # Unique per process: two replicas on one host must not share a lease owner.
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


class ServiceSettings(BaseSettings):
    """Configuration shared by every service process (environment prefix ``CONVENE_``)."""

    model_config = SettingsConfigDict(env_prefix="CONVENE_", extra="ignore", frozen=True)

    service_name: str = Field(description="Service name: consumer group, client id, ce_source.")
    replica_id: str = Field(
        default_factory=_default_replica_id,
        description="This process's identity, used as the outbox relay's lease owner.",
    )

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = Field(
        default="",
        description="Prepended to every topic the service publishes to or consumes (tests).",
    )
    kafka_request_timeout_s: float = 10.0
    kafka_publish_timeout_s: float = Field(
        default=5.0,
        description="How long a request or a handler waits for Kafka to acknowledge an "
                    "event before giving up on it (it stays in its outbox and the relay "
                    "sends it). The producer is idempotent, so it never expires a record "
                    "itself: without this a POST would wait out a whole Kafka outage.",
    )
    kafka_max_poll_interval_s: float = Field(
        default=300.0,
        description="Kafka's max.poll.interval.ms: the longest a handler may hold a message.",
    )

    # MongoDB-wire store
    mongo_url: str = "mongodb://127.0.0.1:37017/"
    mongo_database: str = Field(default="", description="Defaults to convene_<service_name>.")
    mongo_timeout_s: float = Field(
        default=5.0, description="Server selection and connection timeout (seconds).")
    mongo_operation_timeout_s: float = Field(
        default=10.0,
        description="Client-side timeout of every store operation (PyMongo timeoutMS; sent as "
                    "maxTimeMS): a call gives up instead of hanging on a stuck store.")
    mongo_max_pool_size: int = Field(
        default=16, ge=1,
        description="Connections this process opens to the store at most. On FerretDB the "
                    "sum over every client must stay below FerretDB's PostgreSQL pool "
                    "(CONVENE_FERRETDB_POOL locally), or concurrent updates deadlock it.")

    # HTTP
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # Auth: the gateway signs a JWT per request; services verify with its public key.
    jwt_public_key_file: Path | None = None

    jwt_audience: str = "convene"
    jwt_issuer: str = "convene-gateway"
    jwt_leeway_s: float = 30.0

    log_level: str = "INFO"

    # Outbox relay
    outbox_sweep_interval_s: float = 5.0
    outbox_lease_s: float = 30.0
    outbox_grace_s: float = 10.0
    outbox_batch_size: int = 100

    # Idempotency records
    processed_event_retention_s: float = 7 * 24 * 3600.0
    processed_event_prune_interval_s: float = 3600.0

    # Consumer retries
    consumer_retry_initial_s: float = 0.5
    consumer_retry_max_s: float = 30.0

    # The DLQ brake (convene_kit.consumer): one partition's stream of dead letters stops it.
    # 50 in a row: the catalogue's dead letters are isolated mistakes (one bad version, one
    # malformed record), and 50 consecutive ones on one partition means a systemic cause
    # (a producer's bad deploy, a schema mismatch, a handler rejecting wrongly); it also
    # bounds what one process start can drain. Half of the last 100: a steady failure of
    # one event type among others, which the consecutive count misses; judged only once
    # 100 records were seen, so one bad message right after a start does not brake.
    consumer_dlq_max_consecutive: int = Field(
        default=50, ge=0,
        description="More dead letters in a row than this on one partition engage the DLQ "
                    "brake (0: no limit).")
    consumer_dlq_max_ratio: float = Field(
        default=0.5, gt=0, le=1,
        description="More than this share of one partition's last consumer_dlq_window "
                    "records dead-lettered engages the DLQ brake (1: no limit).")
    consumer_dlq_window: int = Field(
        default=100, ge=1,
        description="Records per partition the DLQ brake's ratio is measured over.")

    consumer_commit_interval_s: float = Field(
        default=0.2, description="How often processed positions are committed (batched).")
    consumer_lane_depth: int = Field(
        default=64, ge=1, description="Records queued per partition ahead of its worker.")

    readiness_timeout_s: float = 2.0
    shutdown_grace_s: float = 20.0

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    @field_validator("jwt_public_key_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _derive_database(self) -> ServiceSettings:
        if not self.mongo_database:
            name = "convene_" + self.service_name.replace("-", "_")
            object.__setattr__(self, "mongo_database", name)
        return self

    def topic(self, name: str) -> str:
        """The physical topic name of a logical one (the catalogue's ``Event.TOPIC``)."""
        return f"{self.topic_prefix}{name}"

    @property
    def consumer_group(self) -> str:
        """The Kafka consumer group: one per service (within one topic prefix, so that an
        isolated environment sharing a broker never joins another's group)."""
        return f"{self.topic_prefix}{self.service_name}"
