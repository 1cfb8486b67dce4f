"""``convene dlq inspect|replay`` over an in-memory Kafka: the kit's replay really runs,
against fakes of the aiokafka clients it creates."""

from __future__ import annotations

import json
import signal

import pytest

from shared.cli.tests.conftest import BOOTSTRAP, Invoke
from shared.cli.tests.kafka_fakes import FakeCluster, dead_letter_headers

SOURCE = "meetings.events.v1"
DLQ = "meetings.events.v1.dlq"


def fill(cluster: FakeCluster, count: int, *, prefix: str = "", log_start: int = 0,
         reasons: tuple[str, ...] = ("validation_failed",)) -> None:
    """A source topic of 6 partitions and its DLQ holding ``count`` dead letters."""
    cluster.create(prefix + SOURCE, partitions=6)
    cluster.create(prefix + DLQ, partitions=1, log_start=log_start)
    for n in range(count):
        cluster.append(prefix + DLQ, 0, key=f"mtg_{n}".encode(), value=f'{{"n": {n}}}'.encode(),
                       headers=dead_letter_headers(prefix + SOURCE, 1000 + n,
                                                   reason=reasons[n % len(reasons)]))


def replayed_values(cluster: FakeCluster, topic: str = SOURCE) -> list[bytes]:
    return sorted(r.value or b"" for r in cluster.records(topic))


def press_ctrl_c(times: int = 1) -> None:
    """What the terminal's Ctrl-C does to the process: call the SIGINT handler in place."""
    for _ in range(times):
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        handler(signal.SIGINT, None)


# ---------------------------------------------------------------------------------------
# replay: bounded, safe to interrupt


def test_replay_moves_back_at_most_limit_records_with_their_original_bytes(
        cluster: FakeCluster, convene: Invoke) -> None:
    fill(cluster, 5)

    result = convene("dlq", "replay", SOURCE, "--limit", "3")

    assert result.exit_code == 0, result.output
    assert replayed_values(cluster) == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    for record in cluster.records(SOURCE):
        names = [name for name, _ in record.headers]
        assert names == ["ce_id", "ce_type"], "dlq_* headers are stripped, the rest kept"
        assert record.key in {b"mtg_0", b"mtg_1", b"mtg_2"}
    assert f"replayed 3 record(s) of {DLQ} to {SOURCE}: [0] offsets 0-2" in result.stdout
    assert len(cluster.records(DLQ)) == 5, "the DLQ itself is left as it was"


def test_replay_accepts_the_dlq_name_and_stops_at_the_end_of_what_is_held(
        cluster: FakeCluster, convene: Invoke) -> None:
    fill(cluster, 2)

    result = convene("dlq", "replay", DLQ, "--limit", "50")

    assert result.exit_code == 0, result.output
    assert len(cluster.records(SOURCE)) == 2
    assert "replaying 2 record(s)" in result.stdout


def test_replay_starts_at_the_oldest_record_retention_left(cluster: FakeCluster,
                                                           convene: Invoke) -> None:
    # Offsets 0-9 were deleted by retention: starting at 0 would make a reader jump to the
    # end of the partition and replay nothing.
    fill(cluster, 2, log_start=10)

    result = convene("dlq", "replay", SOURCE, "--limit", "5")

    assert result.exit_code == 0, result.output
    assert len(cluster.records(SOURCE)) == 2
    assert "[0] offsets 10-11" in result.stdout


def test_replay_refuses_an_offset_retention_removed(cluster: FakeCluster,
                                                    convene: Invoke) -> None:
    fill(cluster, 2, log_start=10)

    result = convene("dlq", "replay", SOURCE, "--limit", "5", "--from-offset", "3")

    assert result.exit_code == 2
    assert "offset 3 of meetings.events.v1.dlq[0] is gone (retention)" in result.stderr
    assert "the oldest it holds is 10" in result.stderr
    assert cluster.sends == 0


@pytest.mark.parametrize("args, message", [
    ((), "Missing option '--limit'"),
    (("--limit", "0"), "0 is not in the range x>=1"),
    (("--limit", "many"), "'many' is not a valid integer"),
    (("--limit", "1", "--from-offset", "-1"), "-1 is not in the range x>=0"),
])
def test_replay_is_always_bounded_and_validates_its_arguments(
        cluster: FakeCluster, convene: Invoke, args: tuple[str, ...], message: str) -> None:
    fill(cluster, 3)

    result = convene("dlq", "replay", SOURCE, *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert cluster.sends == 0


def test_a_name_outside_the_registry_is_refused_before_kafka_is_asked(
        cluster: FakeCluster, convene: Invoke) -> None:
    cluster.reachable = False  # any Kafka call would fail with exit 3

    result = convene("dlq", "replay", "meetngs.events.v1", "--limit", "1")

    assert result.exit_code == 2
    assert "'meetngs.events.v1' is not a registry topic" in result.stderr
    assert "meetings.events.v1" in result.stderr, "the message lists the known topics"


def test_ctrl_c_stops_after_the_record_in_hand_and_says_where_to_go_on(
        cluster: FakeCluster, convene: Invoke) -> None:
    fill(cluster, 5)
    cluster.on_send = lambda n: press_ctrl_c() if n == 2 else None
    before = signal.getsignal(signal.SIGINT)

    result = convene("dlq", "replay", SOURCE, "--limit", "5")

    assert result.exit_code == 130
    assert replayed_values(cluster) == [b'{"n": 0}', b'{"n": 1}'], (
        "the record being sent when Ctrl-C came is finished; none after it is started")
    assert f"replayed 2 record(s) of {DLQ} to {SOURCE}: [0] offsets 0-1" in result.stdout
    assert "stopped by Ctrl-C after the record in hand" in result.stdout
    assert (f"to go on: convene dlq replay {SOURCE} --partition 0 --from-offset 2 --limit 3"
            in result.stdout)
    assert signal.getsignal(signal.SIGINT) is before, "the CLI's handler is removed after"


def test_a_second_ctrl_c_aborts_at_once_and_still_reports(cluster: FakeCluster,
                                                          convene: Invoke) -> None:
    fill(cluster, 5)
    cluster.on_send = lambda n: press_ctrl_c(times=2) if n == 2 else None

    result = convene("dlq", "replay", SOURCE, "--limit", "5")

    assert result.exit_code == 130
    assert replayed_values(cluster) == [b'{"n": 0}']
    assert "replayed 1 record(s)" in result.stdout
    assert "aborted by a second Ctrl-C" in result.stdout
    assert "--from-offset 1 --limit 4" in result.stdout


def test_kafka_failing_mid_replay_reports_what_was_replayed(cluster: FakeCluster,
                                                            convene: Invoke) -> None:
    fill(cluster, 4)

    def break_kafka(n: int) -> None:
        if n == 3:
            cluster.reachable = False

    cluster.on_send = break_kafka

    result = convene("dlq", "replay", SOURCE, "--limit", "4")

    assert result.exit_code == 3
    assert len(cluster.records(SOURCE)) == 2
    assert "replayed 2 record(s)" in result.stdout
    assert f"failed: cannot talk to Kafka at {BOOTSTRAP}" in result.stdout
    assert "--from-offset 2 --limit 2" in result.stdout


def test_a_replay_that_cannot_read_its_range_in_time_exits_1(cluster: FakeCluster,
                                                             convene: Invoke) -> None:
    fill(cluster, 3)

    result = convene("dlq", "replay", SOURCE, "--limit", "3", "--timeout", "1e-9")

    assert result.exit_code == 1
    assert "timed out: could not read" in result.stdout
    assert cluster.sends == 0


def test_dry_run_lists_each_record_and_publishes_nothing(cluster: FakeCluster,
                                                         convene: Invoke) -> None:
    fill(cluster, 2)

    result = convene("dlq", "replay", SOURCE, "--limit", "10", "--dry-run")

    assert result.exit_code == 0, result.output
    assert cluster.records(SOURCE) == []
    assert f"would replay 2 record(s) of {DLQ} to {SOURCE}" in result.stdout
    assert "dry run: nothing was published" in result.stdout
    assert f"would_replay [0]@1  key mtg_1  -> {SOURCE}" in result.stderr


def test_a_dead_letter_without_its_source_is_skipped(cluster: FakeCluster,
                                                     convene: Invoke) -> None:
    fill(cluster, 1)
    cluster.append(DLQ, 0, key=b"k", value=b"{}", headers=[("ce_id", b"x")])

    result = convene("dlq", "replay", SOURCE, "--limit", "10")

    assert result.exit_code == 0, result.output
    assert len(cluster.records(SOURCE)) == 1
    assert "skipped 1 without a dlq_source_topic header: offsets 1" in result.stdout


def test_an_empty_dlq_has_nothing_to_replay(cluster: FakeCluster, convene: Invoke) -> None:
    fill(cluster, 0)

    result = convene("dlq", "replay", SOURCE, "--limit", "10")

    assert result.exit_code == 0
    assert "nothing to replay" in result.stdout
    assert cluster.sends == 0


def test_the_topic_prefix_of_the_environment_or_the_option_applies(cluster: FakeCluster,
                                                                   convene: Invoke) -> None:
    fill(cluster, 2, prefix="stage.")

    from_env = convene("dlq", "replay", SOURCE, "--limit", "1",
                       env={"CONVENE_TOPIC_PREFIX": "stage."})
    from_option = convene("--topic-prefix", "stage.", "dlq", "replay", "stage." + DLQ,
                          "--limit", "1", "--from-offset", "1")

    assert from_env.exit_code == 0, from_env.output
    assert from_option.exit_code == 0, from_option.output
    assert len(cluster.records("stage." + SOURCE)) == 2


# ---------------------------------------------------------------------------------------
# inspect


def test_inspect_counts_reasons_groups_and_types_and_shows_the_oldest(
        cluster: FakeCluster, convene: Invoke) -> None:
    fill(cluster, 4, reasons=("validation_failed", "validation_failed", "rejected"))

    result = convene("dlq", "inspect", SOURCE, "--sample", "2")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{DLQ}: 4 dead letter(s) (partition 0: offsets 0-3)" in out
    assert "consumers records, notifications" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["validation_failed", "3"] in lines and ["rejected", "1"] in lines
    assert ["notifications", "4"] in lines
    assert ["com.convene.meetings.MeetingScheduled", "4"] in lines
    assert "[0]@0  key mtg_0  validation_failed by notifications" in out
    assert f"from {SOURCE}[2]@1000" in out
    assert "ValidationError: start: input should be a valid datetime" in out
    assert "[0]@2" not in out, "only --sample records are shown"
    assert cluster.sends == 0


def test_inspect_reads_at_most_max_records_but_counts_all(cluster: FakeCluster,
                                                          convene: Invoke) -> None:
    fill(cluster, 5, log_start=7)

    result = convene("dlq", "inspect", DLQ, "--max-records", "2", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["held"] == 5
    assert document["read"] == 2
    assert document["partitions"] == [{"partition": 0, "beginning": 7, "end": 12}]
    assert document["reasons"] == {"validation_failed": 2}
    assert [s["offset"] for s in document["sample"]] == [7, 8]


def test_inspect_of_a_topic_that_was_never_created_says_how_to_create_it(
        cluster: FakeCluster, convene: Invoke) -> None:
    result = convene("dlq", "inspect", SOURCE)

    assert result.exit_code == 2
    assert "topic 'meetings.events.v1.dlq' does not exist" in result.stderr
    assert "convene topics create" in result.stderr


def test_an_unreachable_kafka_is_one_line_naming_it_and_exit_3(cluster: FakeCluster,
                                                               convene: Invoke) -> None:
    cluster.reachable = False

    result = convene("dlq", "inspect", SOURCE)

    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: cannot talk to Kafka at {BOOTSTRAP}")
    assert "Traceback" not in result.output


def test_bootstrap_option_overrides_the_environment(cluster: FakeCluster,
                                                    convene: Invoke) -> None:
    cluster.reachable = False

    result = convene("--bootstrap", "other:9093", "dlq", "inspect", SOURCE)

    assert "cannot talk to Kafka at other:9093" in result.stderr


def test_record_keys_are_shown_as_they_are(cluster: FakeCluster, convene: Invoke) -> None:
    fill(cluster, 0)
    cluster.append(DLQ, 0, key=b"[/bold] [red]", value=b"{}",
                   headers=dead_letter_headers(SOURCE, 7))

    result = convene("dlq", "replay", SOURCE, "--limit", "1", "--verbose")

    assert result.exit_code == 0, result.output
    assert "key [/bold] [red]  ->" in result.stderr
