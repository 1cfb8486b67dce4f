"""The topic registry: one YAML file per topic in ``convene_schemas/topics/``.

Each file says what travels on a topic and how the topic is configured: the key, the
partition count, retention and cleanup policy, the producing and consuming services, the
dead-letter topic, and every event type with its schema versions and example payloads.
(Modelled on getsentry/sentry-kafka-schemas' ``topics/*.yaml``.)

>>> registry = load_registry()
>>> registry.topic("meetings.events.v1").partitions
6
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from convene_schemas.base import Event, event_class

SERVICES: tuple[str, ...] = (
    "records",
    "meetings",
    "calendar-sync",
    "notifications",
    "booking-pages",
)
"""Every Convene service that publishes or consumes events."""

DEFAULT_PARTITIONS = 6


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Example(_Spec):
    """One example payload of an event type: a complete JSON body."""

    name: str = Field(min_length=1)
    data: dict[str, Any]


class EventSpec(_Spec):
    """One event type (at one major version) that a topic carries."""

    type: str = Field(pattern=r"^com\.convene\.[a-z-]+\.[A-Z][A-Za-z]+$")
    schema_version: int = Field(ge=1)
    examples: list[Example] = Field(min_length=1)

    @property
    def model(self) -> builtins.type[Event]:
        """The pydantic model of this event type and version."""
        model = event_class(self.type, self.schema_version)
        if model is None:
            raise LookupError(f"no model for {self.type} v{self.schema_version}")
        return model

    @property
    def name(self) -> str:
        """The event's short name: ``MeetingScheduled``."""
        return self.type.rsplit(".", 1)[1]


class DeadLetterSpec(_Spec):
    """The topic's dead-letter topic: messages that can never be processed go here."""

    topic: str
    partitions: int = Field(default=1, ge=1)
    retention_ms: int = Field(ge=-1)


class TopicSpec(_Spec):
    """Everything the registry declares about one topic."""

    name: str = Field(pattern=r"^[a-z-]+\.events\.v\d+$")
    description: str
    key: str = Field(description="What the message key is.")
    partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1)
    cleanup_policy: Literal["delete", "compact"] = "delete"
    retention_ms: int = Field(ge=-1, description="retention.ms; -1 keeps messages for ever.")
    producer: str
    consumers: list[str]
    dlq: DeadLetterSpec
    events: list[EventSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> TopicSpec:
        for service in (self.producer, *self.consumers):
            if service not in SERVICES:
                raise ValueError(f"unknown service {service!r}")
        if self.dlq.topic != f"{self.name}.dlq":
            raise ValueError(f"the dead-letter topic of {self.name} is {self.name}.dlq")
        if not self.name.startswith(f"{self.producer}.events."):
            raise ValueError(f"{self.name} is not named after its producer {self.producer}")
        keys = [(e.type, e.schema_version) for e in self.events]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.name} lists an event type twice")
        return self

    def topic_configs(self) -> dict[str, str]:
        """The topic-level Kafka configs this registry manages."""
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}

    def dlq_configs(self) -> dict[str, str]:
        """The dead-letter topic's Kafka configs (always time-based deletion)."""
        return {"cleanup.policy": "delete", "retention.ms": str(self.dlq.retention_ms)}


class Registry(_Spec):
    """All topics, in name order."""

    topics: list[TopicSpec]

    def topic(self, name: str) -> TopicSpec:
        """The topic called ``name``; ``KeyError`` if it is not declared."""
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(name)

    def events(self) -> Iterator[tuple[TopicSpec, EventSpec]]:
        """Every (topic, event type) pair."""
        for topic in self.topics:
            for event in topic.events:
                yield topic, event

    def topic_of(self, model: type[Event]) -> TopicSpec:
        """The topic whose YAML lists ``model``; ``KeyError`` if none does."""
        for topic, event in self.events():
            if (event.type, event.schema_version) == (model.EVENT_TYPE, model.SCHEMA_VERSION):
                return topic
        raise KeyError(model.EVENT_TYPE)

    def produced_by(self, service: str) -> list[TopicSpec]:
        """The topics a service publishes."""
        return [t for t in self.topics if t.producer == service]

    def consumed_by(self, service: str) -> list[TopicSpec]:
        """The topics a service subscribes to."""
        return [t for t in self.topics if service in t.consumers]


def parse_topic(text: str) -> TopicSpec:
    """Parse one topic YAML document (JSON-ish types, unknown keys refused)."""
    return TopicSpec.model_validate(yaml.safe_load(text), strict=False)


@cache
def load_registry() -> Registry:
    """Load every ``topics/*.yaml`` shipped in this package (cached)."""
    folder = resources.files("convene_schemas.topics")
    topics = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            topic = parse_topic(entry.read_text(encoding="utf-8"))
            if entry.name != f"{topic.name}.yaml":
                raise ValueError(f"{entry.name} declares topic {topic.name}")
            topics.append(topic)
    return Registry(topics=topics)
