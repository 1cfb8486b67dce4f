"""What `python -m convene_schemas.topics ensure` decides, without a broker."""

from __future__ import annotations

import pytest
from convene_schemas.registry import Registry
from convene_schemas.topics.__main__ import main
from convene_schemas.topics.ensure import TopicResult, summary
from convene_schemas.topics.plan import DesiredTopic, ObservedTopic, desired_topics, plan_topic

pytestmark = pytest.mark.contract

MEETINGS = DesiredTopic(
    "meetings.events.v1", 6, {"cleanup.policy": "delete", "retention.ms": "2592000000"}
)


def observed(partitions: int = 6, replicas: int = 1, **configs: str) -> ObservedTopic:
    return ObservedTopic(
        "meetings.events.v1", partitions, replicas, {**MEETINGS.configs, **configs}
    )


def test_every_topic_and_its_dead_letter_topic_is_desired(registry: Registry) -> None:
    topics = {t.name: t for t in desired_topics(registry, prefix="it-1.")}
    assert len(topics) == 2 * len(registry.topics)
    for topic in registry.topics:
        main_topic, dlq = topics[f"it-1.{topic.name}"], topics[f"it-1.{topic.name}.dlq"]
        assert main_topic.partitions == topic.partitions
        assert main_topic.configs["retention.ms"] == str(topic.retention_ms)
        assert main_topic.configs["cleanup.policy"] == topic.cleanup_policy
        assert dlq.partitions == topic.dlq.partitions
        assert dlq.configs == {
            "cleanup.policy": "delete",
            "retention.ms": str(topic.dlq.retention_ms),
        }
    assert topics["it-1.records.events.v1"].configs["cleanup.policy"] == "compact"


def test_a_missing_topic_is_created() -> None:
    assert plan_topic(MEETINGS, None, 1).action == "create"


def test_a_matching_topic_is_left_alone() -> None:
    plan = plan_topic(MEETINGS, observed(), 1)
    assert (plan.action, plan.describe()) == ("ok", "")


def test_too_few_partitions_are_increased_and_configs_set() -> None:
    plan = plan_topic(MEETINGS, observed(partitions=3, **{"retention.ms": "1000"}), 1)
    assert plan.action == "change" and plan.add_partitions
    assert plan.config_changes == {"retention.ms": ("1000", "2592000000")}
    assert plan.describe() == "partitions 3 -> 6; retention.ms 1000 -> 2592000000"


def test_too_many_partitions_is_an_error() -> None:
    plan = plan_topic(MEETINGS, observed(partitions=8), 1)
    assert plan.action == "error"
    assert "has 8 partitions, the registry declares 6" in plan.describe()


def test_a_different_replication_factor_is_an_error() -> None:
    plan = plan_topic(MEETINGS, observed(replicas=1), 3)
    assert plan.action == "error" and "replication factor is 1, expected 3" in plan.describe()


def test_summary_says_when_nothing_changed() -> None:
    ok = [TopicResult("a", "ok"), TopicResult("b", "ok")]
    assert summary(ok, dry_run=False) == "nothing changed: all 2 topics match the registry"
    mixed = [
        TopicResult("a", "created"),
        TopicResult("b", "changed"),
        TopicResult("c", "error", "x"),
    ]
    assert (
        summary(mixed, dry_run=False)
        == "1 changed; 1 created; 1 topic(s) do not match the registry and were not fixed"
    )
    assert "dry run" in summary([TopicResult("a", "would create")], dry_run=True)
    assert TopicResult("a", "created", "6 partitions").line() == "created       a  (6 partitions)"


def test_ensure_needs_a_bootstrap_server() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ensure"])
    assert exited.value.code == 2


def test_an_unreachable_broker_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    assert main(["ensure", "--bootstrap", "127.0.0.1:1", "--dry-run"]) == 2
    assert "127.0.0.1:1" in capsys.readouterr().err
