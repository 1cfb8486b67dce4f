"""A baseline git revision side by side with the working tree: a temporary worktree of
that revision with its own virtual environment (``uv sync --frozen --all-packages``), so
its services run its own code against the same servers. Removed at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import REPO_ROOT
from bench.harness import Target


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


@contextmanager
def baseline_worktree(revision: str, uv: str) -> Iterator[Target]:
    """Check ``revision`` out into a temporary worktree, install it, yield its target."""
    commit = _git("rev-parse", "--verify", f"{revision}^{{commit}}")
    short = commit[:7]
    folder = Path(tempfile.mkdtemp(prefix=f"convene-baseline-{short}-"))
    tree = folder / "tree"
    print(f"baseline: worktree of {revision} ({short}) in {tree}", flush=True)
    _git("worktree", "add", "--detach", str(tree), commit)
    try:
        env = {k: v for k, v in os.environ.items()
               if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
        subprocess.run([uv, "sync", "--frozen", "--all-packages", "--quiet"], cwd=tree,
                       env=env, check=True)
        yield Target("baseline", str(tree / ".venv" / "bin" / "python"), tree, short)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO_ROOT)
        shutil.rmtree(folder, ignore_errors=True)
        print(f"baseline: worktree {tree} removed", flush=True)
