"""What ``ensure`` must do to make a broker match the registry: pure, no Kafka client.

:func:`desired_topics` turns the registry into the topics a broker should have (each
topic and its dead-letter topic); :func:`plan_topic` compares one of them with what the
broker reports and says what to do: create it, nothing, add partitions / set configs, or
report an error (Kafka cannot remove partitions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from convene_schemas.registry import Registry


@dataclass(frozen=True)
class DesiredTopic:
    """A topic as the registry declares it (name already prefixed)."""

    name: str
    partitions: int
    configs: dict[str, str]


@dataclass(frozen=True)
class ObservedTopic:
    """A topic as the broker reports it."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


Action = Literal["create", "ok", "change", "error"]


@dataclass(frozen=True)
class TopicPlan:
    """What to do about one topic."""

    topic: DesiredTopic
    action: Action
    add_partitions: bool = False
    config_changes: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    observed_partitions: int | None = None

    def describe(self) -> str:
        """The changes or problems, as one human-readable clause."""
        parts = list(self.problems)
        if self.add_partitions:
            parts.append(f"partitions {self.observed_partitions} -> {self.topic.partitions}")
        parts.extend(
            f"{key} {old} -> {new}" for key, (old, new) in sorted(self.config_changes.items())
        )
        return "; ".join(parts)


def desired_topics(registry: Registry, prefix: str = "") -> list[DesiredTopic]:
    """Every topic and dead-letter topic the registry declares, with ``prefix`` prepended."""
    result: list[DesiredTopic] = []
    for topic in registry.topics:
        result.append(DesiredTopic(prefix + topic.name, topic.partitions, topic.topic_configs()))
        result.append(
            DesiredTopic(prefix + topic.dlq.topic, topic.dlq.partitions, topic.dlq_configs())
        )
    return result


def plan_topic(
    desired: DesiredTopic,
    observed: ObservedTopic | None,
    replication_factor: int,
) -> TopicPlan:
    """Decide what to do about one topic, given what the broker has (None: no such topic)."""
    if observed is None:
        return TopicPlan(desired, "create")
    problems: list[str] = []
    if observed.partitions > desired.partitions:
        problems.append(
            f"has {observed.partitions} partitions, the registry declares {desired.partitions} "
            "(Kafka cannot remove partitions: fix the registry or recreate the topic)"
        )
    if observed.replication_factor != replication_factor:
        problems.append(
            f"replication factor is {observed.replication_factor}, expected {replication_factor} "
            "(not changed automatically: reassign partitions)"
        )
    if problems:
        return TopicPlan(
            desired, "error", problems=problems, observed_partitions=observed.partitions
        )
    changes = {
        key: (observed.configs.get(key), value)
        for key, value in desired.configs.items()
        if observed.configs.get(key) != value
    }
    add = observed.partitions < desired.partitions
    action: Action = "change" if add or changes else "ok"
    return TopicPlan(desired, action, add, changes, observed_partitions=observed.partitions)
