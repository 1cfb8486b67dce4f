"""Create or verify every registry topic and its dead-letter topic on a Kafka broker.

Uses aiokafka's ``AIOKafkaAdminClient`` (install ``convene-schemas[kafka]``). Idempotent:
a second run finds everything in place, changes nothing and says so. A topic with fewer
partitions than declared gets more; one with more is an error (Kafka cannot shrink).
``cleanup.policy`` and ``retention.ms`` are set from the registry; this command owns the
topic-level configs of these topics (AlterConfigs replaces the topic's dynamic configs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convene_schemas.registry import Registry, load_registry
from convene_schemas.topics.plan import (
    DesiredTopic,
    ObservedTopic,
    TopicPlan,
    desired_topics,
    plan_topic,
)

TOPIC_ALREADY_EXISTS = 36


class TopicAdminError(RuntimeError):
    """The broker refused an admin request."""


@dataclass(frozen=True)
class TopicResult:
    """The outcome for one topic: ``created``, ``ok``, ``changed`` or ``error``
    (``would create`` / ``would change`` in a dry run)."""

    name: str
    outcome: str
    detail: str = ""

    def line(self) -> str:
        """One line for the command's output."""
        return f"{self.outcome:<13} {self.name}" + (f"  ({self.detail})" if self.detail else "")


def _admin_module() -> Any:
    try:
        import aiokafka.admin as admin
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise SystemExit("aiokafka is missing: install convene-schemas[kafka]") from exc
    return admin


async def observe(admin_client: Any, names: list[str]) -> dict[str, ObservedTopic]:
    """What the broker has for each of ``names`` that exists (missing ones are absent)."""
    _admin_module()
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    existing = set(await admin_client.list_topics())
    present = [name for name in names if name in existing]
    if not present:
        return {}
    metadata = {t["topic"]: t for t in await admin_client.describe_topics(present)}
    responses = await admin_client.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in present]
    )
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise TopicAdminError(f"{resource['resource_name']}: {resource['error_message']}")
            configs[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]
            }
    observed: dict[str, ObservedTopic] = {}
    for name in present:
        partitions = metadata[name]["partitions"]
        replicas = max((len(p["replicas"]) for p in partitions), default=0)
        observed[name] = ObservedTopic(name, len(partitions), replicas, configs.get(name, {}))
    return observed


def _raise_on_errors(response: Any, what: str, tolerated: tuple[int, ...] = ()) -> None:
    for error in response.to_object().get("topic_errors", []):
        if error["error_code"] and error["error_code"] not in tolerated:
            raise TopicAdminError(
                f"{what} {error['topic']}: {error['error_message']} (code {error['error_code']})"
            )


async def apply(admin_client: Any, plan: TopicPlan, replication_factor: int) -> None:
    """Carry out one plan: create the topic, or add partitions and set configs."""
    admin = _admin_module()
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    topic = plan.topic
    if plan.action == "create":
        new_topic = admin.NewTopic(
            topic.name, topic.partitions, replication_factor, topic_configs=topic.configs
        )
        _raise_on_errors(
            await admin_client.create_topics([new_topic]), "create", (TOPIC_ALREADY_EXISTS,)
        )
        return
    if plan.add_partitions:
        await admin_client.create_partitions(
            {topic.name: admin.NewPartitions(total_count=topic.partitions)}
        )
    if plan.config_changes:
        responses = await admin_client.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic.name, configs=dict(topic.configs))]
        )
        for response in responses:
            for resource in response.to_object()["resources"]:
                if resource["error_code"]:
                    raise TopicAdminError(
                        f"alter {resource['resource_name']}: {resource['error_message']}"
                    )


_OUTCOMES = {"create": ("created", "would create"), "change": ("changed", "would change")}


async def ensure_topics(
    bootstrap: str,
    *,
    prefix: str = "",
    replication_factor: int = 1,
    dry_run: bool = False,
    registry: Registry | None = None,
) -> list[TopicResult]:
    """Make the broker at ``bootstrap`` match the registry; one result per topic."""
    admin = _admin_module()
    desired: list[DesiredTopic] = desired_topics(registry or load_registry(), prefix)
    client = admin.AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="convene-topics-ensure"
    )
    try:
        await client.start()
        observed = await observe(client, [t.name for t in desired])
        results: list[TopicResult] = []
        for topic in desired:
            plan = plan_topic(topic, observed.get(topic.name), replication_factor)
            if plan.action in ("ok", "error"):
                results.append(TopicResult(topic.name, plan.action, plan.describe()))
                continue
            if not dry_run:
                await apply(client, plan, replication_factor)
            done, would = _OUTCOMES[plan.action]
            detail = plan.describe() or f"{topic.partitions} partitions, {_configs_text(topic)}"
            results.append(TopicResult(topic.name, would if dry_run else done, detail))
        return results
    finally:
        await client.close()


def _configs_text(topic: DesiredTopic) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(topic.configs.items()))


def summary(results: list[TopicResult], dry_run: bool) -> str:
    """The closing line: how many topics changed, or that nothing did."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    changed = {
        outcome: n for outcome, n in sorted(counts.items()) if outcome not in ("ok", "error")
    }
    if not changed and not counts.get("error"):
        return f"nothing changed: all {len(results)} topics match the registry"
    parts = [f"{n} {outcome}" for outcome, n in changed.items()]
    if dry_run and changed:
        parts.append("dry run: nothing was changed")
    if counts.get("error"):
        parts.append(f"{counts['error']} topic(s) do not match the registry and were not fixed")
    return "; ".join(parts)
