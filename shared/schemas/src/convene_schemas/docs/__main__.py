"""``python -m convene_schemas.docs [--check] [--docs-dir DIR]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from convene_schemas.docs.generate import REGENERATE_COMMAND, default_docs_dir, stale, write


def main(argv: Sequence[str] | None = None) -> int:
    """Write docs/events.md and docs/asyncapi/*.yaml, or with ``--check`` verify them."""
    parser = argparse.ArgumentParser(prog="python -m convene_schemas.docs")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    parser.add_argument("--docs-dir", type=Path, default=None, help="default: the repo's docs/")
    args = parser.parse_args(argv)
    docs_dir = args.docs_dir or default_docs_dir()
    if args.check:
        problems = stale(docs_dir)
        for problem in problems:
            print(problem)
        if problems:
            print(f"the event docs are out of date: run {REGENERATE_COMMAND}")
            return 1
        print(f"event docs in {docs_dir} are up to date")
        return 0
    changed = write(docs_dir)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print(f"event docs in {docs_dir} were already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
