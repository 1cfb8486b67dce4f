"""Committed JSON Schema snapshots of every event model, and the command that updates them.

``shared/schemas/snapshots/<EventName>.v<major>.json`` holds ``model_json_schema()`` of each
model as it was last released. A test compares every model with its snapshot: an
incompatible change (see :mod:`convene_schemas.compat`) fails unless it comes with a new
major version, which is a new model class and so a new snapshot file.

    python -m convene_schemas.snapshots            # check: exit 1 if stale or incompatible
    python -m convene_schemas.snapshots --update   # rewrite (refuses incompatible changes)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from convene_schemas.base import Event
from convene_schemas.catalogue import all_event_classes
from convene_schemas.compat import Incompatibility, check_compatibility

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "snapshots"
"""``shared/schemas/snapshots`` in the source tree (editable installs and the repo)."""

UPDATE_COMMAND = "uv run python -m convene_schemas.snapshots --update"


SnapshotState = Literal["up_to_date", "missing", "compatible_change", "incompatible", "orphan"]


@dataclass(frozen=True)
class SnapshotStatus:
    """How one model's current schema relates to its committed snapshot."""

    file_name: str
    state: SnapshotState
    incompatibilities: list[Incompatibility] = field(default_factory=list)


def event_name(model: type[Event]) -> str:
    """The event's short name: the last dotted part of its CloudEvents type."""
    return model.EVENT_TYPE.rsplit(".", 1)[1]


def snapshot_file_name(model: type[Event]) -> str:
    """``<EventName>.v<major>.json``."""
    return f"{event_name(model)}.v{model.SCHEMA_VERSION}.json"


def current_schema(model: type[Event]) -> dict[str, Any]:
    """The model's JSON Schema (validation mode), as snapshots store it."""
    return model.model_json_schema()


def render(schema: dict[str, Any]) -> str:
    """A schema as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def compare_all(directory: Path = SNAPSHOT_DIR) -> list[SnapshotStatus]:
    """The status of every model's snapshot, plus snapshot files no model claims."""
    statuses: list[SnapshotStatus] = []
    claimed: set[str] = set()
    for model in all_event_classes():
        name = snapshot_file_name(model)
        claimed.add(name)
        path = directory / name
        if not path.exists():
            statuses.append(SnapshotStatus(name, "missing"))
            continue
        old_text = path.read_text(encoding="utf-8")
        new = current_schema(model)
        if old_text == render(new):
            statuses.append(SnapshotStatus(name, "up_to_date"))
            continue
        problems = check_compatibility(json.loads(old_text), new)
        state: SnapshotState = "incompatible" if problems else "compatible_change"
        statuses.append(SnapshotStatus(name, state, problems))
    if directory.exists():
        for path in sorted(directory.glob("*.json")):
            if path.name not in claimed:
                statuses.append(SnapshotStatus(path.name, "orphan"))
    return statuses


def update(
    directory: Path = SNAPSHOT_DIR, *, allow_incompatible: bool = False
) -> list[SnapshotStatus]:
    """Write the current schema of every model whose snapshot is missing or changed.

    Incompatible changes are refused (and nothing is written for them) unless
    ``allow_incompatible``; orphan snapshots are kept (removing an event is incompatible).
    """
    directory.mkdir(parents=True, exist_ok=True)
    statuses = compare_all(directory)
    by_name = {snapshot_file_name(m): m for m in all_event_classes()}
    for status in statuses:
        writable = status.state in ("missing", "compatible_change") or (
            status.state == "incompatible" and allow_incompatible
        )
        if writable:
            model = by_name[status.file_name]
            (directory / status.file_name).write_text(
                render(current_schema(model)), encoding="utf-8"
            )
    return statuses


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: check (default) or ``--update`` the snapshots."""
    parser = argparse.ArgumentParser(
        prog="python -m convene_schemas.snapshots", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--update", action="store_true", help="rewrite missing or changed snapshots"
    )
    parser.add_argument(
        "--allow-incompatible",
        action="store_true",
        help="with --update: also write incompatible ones",
    )
    parser.add_argument("--dir", type=Path, default=SNAPSHOT_DIR, help="snapshot directory")
    args = parser.parse_args(argv)
    if args.update:
        statuses = update(args.dir, allow_incompatible=args.allow_incompatible)
    else:
        statuses = compare_all(args.dir)
    failed = False
    for status in statuses:
        if status.state == "up_to_date":
            continue
        if status.state in ("missing", "compatible_change"):
            verb = "written" if args.update else "stale"
            failed |= not args.update
        elif status.state == "incompatible":
            verb = (
                "INCOMPATIBLE (written)"
                if args.update and args.allow_incompatible
                else "INCOMPATIBLE"
            )
            failed |= not (args.update and args.allow_incompatible)
        else:
            verb, failed = "ORPHAN (no model has this major version)", True
        print(f"{verb:<24} {status.file_name}")
        for problem in status.incompatibilities:
            print(f"    {problem}")
    if failed and not args.update:
        print(f"run: {UPDATE_COMMAND}  (incompatible changes need a new SCHEMA_VERSION)")
    if not failed:
        print(f"{len(statuses)} snapshots checked in {args.dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
