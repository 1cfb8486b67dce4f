"""The generated catalogue (docs/events.md) and AsyncAPI documents are current and valid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from convene_schemas.docs.__main__ import main
from convene_schemas.docs.generate import REGENERATE_COMMAND, generated_files, stale
from convene_schemas.envelope import to_kafka_message
from convene_schemas.registry import SERVICES, Registry

pytestmark = pytest.mark.contract


def test_committed_docs_equal_the_generator_output(repo_root: Path) -> None:
    problems = stale(repo_root / "docs")
    assert not problems, f"{problems}: run {REGENERATE_COMMAND}"


def test_check_mode_notices_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path, text in generated_files(tmp_path).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 0
    meetings = tmp_path / "asyncapi" / "meetings.yaml"
    meetings.write_text(meetings.read_text().replace("3.0.0", "2.6.0", 1))
    (tmp_path / "asyncapi" / "legacy.yaml").write_text("asyncapi: 2.6.0\n")
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 1
    output = capsys.readouterr().out
    assert (
        f"stale: {meetings}" in output and "legacy.yaml" in output and REGENERATE_COMMAND in output
    )
    assert main(["--docs-dir", str(tmp_path)]) == 0
    assert stale(tmp_path) == [
        f"not generated (remove it): {tmp_path / 'asyncapi' / 'legacy.yaml'}"
    ]


def test_events_md_documents_topics_events_fields_and_decisions(
    repo_root: Path, registry: Registry
) -> None:
    text = (repo_root / "docs" / "events.md").read_text()
    for topic in registry.topics:
        assert f"## Topic `{topic.name}`" in text
        assert f"`{topic.dlq.topic}`" in text
        for event in topic.events:
            assert f"### {event.name}\n" in text and f"- type: `{event.type}`" in text
    assert (
        "| `join_url_pending` | boolean | no (default `false`) | True while calendar-sync" in text
    )
    assert "### Internal team notes never travel on Kafka" in text
    assert "### The video-link contract" in text
    assert "{{" not in text, "a template placeholder was not filled in"


def _asyncapi_documents() -> dict[str, dict]:
    files = generated_files(Path("docs"))  # rendered once per process
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    return {
        path.stem: yaml.load(text, Loader=loader)
        for path, text in files.items()
        if path.suffix == ".yaml"
    }


def test_asyncapi_documents_describe_each_service(registry: Registry) -> None:
    documents = _asyncapi_documents()
    assert sorted(documents) == sorted(SERVICES)
    for service, document in documents.items():
        assert document["asyncapi"] == "3.0.0"
        actions = {(op["action"], op["channel"]["$ref"]) for op in document["operations"].values()}
        for topic in registry.produced_by(service):
            assert ("send", f"#/channels/{_channel(topic.name)}") in actions
        for topic in registry.consumed_by(service):
            assert ("receive", f"#/channels/{_channel(topic.name)}") in actions
        for op in document["operations"].values():
            if op["action"] == "receive":
                assert op["bindings"]["kafka"]["groupId"]["enum"] == [service]
        for channel in document["channels"].values():
            assert (
                channel["bindings"]["kafka"]["partitions"]
                == registry.topic(channel["address"]).partitions
            )


def test_asyncapi_examples_carry_the_headers_the_envelope_writes(registry: Registry) -> None:
    document = _asyncapi_documents()["meetings"]
    message = document["components"]["messages"]["MeetingScheduled.v1"]
    example = message["examples"][0]
    event = registry.topic("meetings.events.v1").events[0]
    model = event.model.model_validate(example["payload"], strict=False)
    record = to_kafka_message(model, event_id=example["headers"]["ce_id"])
    assert example["headers"] == {name: value.decode() for name, value in record.headers}
    assert set(message["headers"]["required"]) <= set(example["headers"])
    assert message["headers"]["properties"]["ce_type"]["const"] == event.type


def _channel(topic: str) -> str:
    words = topic.replace("-", ".").split(".")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _validator(repo_root: Path) -> list[str]:
    node = shutil.which("node")
    assert node, (
        "node is not installed: the AsyncAPI documents are validated with the official parser"
    )
    tools = repo_root / "tools" / "asyncapi"
    if not (tools / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail(
            "the AsyncAPI parser is not installed: run `make tools` "
            "(npm ci --prefix tools/asyncapi)"
        )
    return [node, str(tools / "validate.mjs")]


@pytest.mark.slow
def test_asyncapi_documents_pass_the_official_parser(repo_root: Path) -> None:
    files = sorted(str(p) for p in (repo_root / "docs" / "asyncapi").glob("*.yaml"))
    assert len(files) == len(SERVICES)
    result = subprocess.run(
        [*_validator(repo_root), *files], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid AsyncAPI 3.0.0") == len(SERVICES)


@pytest.mark.slow
def test_the_parser_rejects_a_broken_document(repo_root: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = (repo_root / "docs" / "asyncapi" / "records.yaml").read_text()
    broken.write_text(text.replace("action: send", "action: publish"))
    result = subprocess.run(
        [*_validator(repo_root), str(broken)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "INVALID" in result.stderr and "action" in result.stderr
