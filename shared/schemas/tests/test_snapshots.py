"""Committed JSON Schema snapshots guard the published contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from convene_schemas.catalogue import all_event_classes
from convene_schemas.compat import check_compatibility
from convene_schemas.events.records import ContactUpserted
from convene_schemas.snapshots import (
    SNAPSHOT_DIR,
    UPDATE_COMMAND,
    compare_all,
    current_schema,
    main,
    render,
    snapshot_file_name,
    update,
)

pytestmark = pytest.mark.contract

MODELS = [pytest.param(model, id=model.__name__) for model in all_event_classes()]


@pytest.mark.parametrize("model", MODELS)
def test_every_model_is_compatible_with_its_released_snapshot(model: type) -> None:
    path = SNAPSHOT_DIR / snapshot_file_name(model)
    assert path.exists(), f"no snapshot for {model.__name__}: run {UPDATE_COMMAND}"
    problems = check_compatibility(json.loads(path.read_text()), current_schema(model))
    assert not problems, (
        f"{model.__name__} v{model.SCHEMA_VERSION} changed incompatibly:\n"
        + "\n".join(f"  {p}" for p in problems)
        + "\nKeep the change compatible, or add a new major version (a new model class with "
        "SCHEMA_VERSION + 1, and so a new snapshot file)."
    )


def test_snapshots_are_up_to_date() -> None:
    stale = [s.file_name for s in compare_all() if s.state != "up_to_date"]
    assert not stale, f"snapshots differ from the models: {stale}; run {UPDATE_COMMAND}"


def test_snapshot_file_names() -> None:
    assert snapshot_file_name(ContactUpserted) == "ContactUpserted.v1.json"
    assert len({snapshot_file_name(m) for m in all_event_classes()}) == len(all_event_classes())


def _copy_snapshots(tmp_path: Path) -> Path:
    target = tmp_path / "snapshots"
    target.mkdir()
    for path in SNAPSHOT_DIR.glob("*.json"):
        (target / path.name).write_text(path.read_text())
    return target


def test_update_writes_compatible_changes_and_refuses_incompatible_ones(tmp_path: Path) -> None:
    directory = _copy_snapshots(tmp_path)
    name = snapshot_file_name(ContactUpserted)
    released = json.loads((directory / name).read_text())

    # The released schema lacked a field that is optional now: a compatible addition.
    older = json.loads(json.dumps(released))
    del older["properties"]["language"]
    (directory / name).write_text(render(older))
    assert {s.file_name: s.state for s in compare_all(directory)}[name] == "compatible_change"
    update(directory)
    assert (directory / name).read_text() == render(current_schema(ContactUpserted))

    # The released schema had a field the model no longer has: refused, file untouched.
    richer = json.loads(json.dumps(released))
    richer["properties"]["nickname"] = {"type": "string"}
    (directory / name).write_text(render(richer))
    statuses = {s.file_name: s for s in update(directory)}
    assert statuses[name].state == "incompatible"
    assert [(i.path, i.kind) for i in statuses[name].incompatibilities] == [
        ("nickname", "removed_field")
    ]
    assert json.loads((directory / name).read_text()) == richer
    assert main(["--dir", str(directory)]) == 1
    assert main(["--update", "--allow-incompatible", "--dir", str(directory)]) == 0
    assert main(["--dir", str(directory)]) == 0


def test_missing_and_orphan_snapshots_fail_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _copy_snapshots(tmp_path)
    (directory / snapshot_file_name(ContactUpserted)).unlink()
    (directory / "ContactMerged.v1.json").write_text("{}\n")
    assert main(["--dir", str(directory)]) == 1
    output = capsys.readouterr().out
    assert "stale" in output and "ContactUpserted.v1.json" in output
    assert "ORPHAN" in output and "ContactMerged.v1.json" in output
    assert UPDATE_COMMAND in output
