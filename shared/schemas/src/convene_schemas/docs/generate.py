"""Write or check the generated documentation files."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from convene_schemas.docs.asyncapi import render_asyncapi
from convene_schemas.docs.markdown import render_events_md
from convene_schemas.registry import Registry, load_registry

REGENERATE_COMMAND = "uv run python -m convene_schemas.docs"


def default_docs_dir() -> Path:
    """``docs/`` of the repository this package is checked out in, else ``./docs``."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "shared" / "schemas" / "pyproject.toml").is_file():
            return parent / "docs"
    return Path.cwd() / "docs"


def render_all(registry: Registry) -> dict[str, str]:
    """Every generated file's path relative to ``docs/``, with its content."""
    files = {"events.md": render_events_md(registry)}
    for service, text in render_asyncapi(registry).items():
        files[f"asyncapi/{service}.yaml"] = text
    return files


@cache
def _render_packaged_registry() -> dict[str, str]:
    return render_all(load_registry())


def generated_files(docs_dir: Path, registry: Registry | None = None) -> dict[Path, str]:
    """Every generated file under ``docs_dir`` with its expected content (the packaged
    registry's output is rendered once per process)."""
    texts = render_all(registry) if registry is not None else _render_packaged_registry()
    return {docs_dir / relative: text for relative, text in texts.items()}


def write(docs_dir: Path) -> list[Path]:
    """Write every generated file; returns the ones whose content changed."""
    changed = []
    for path, text in generated_files(docs_dir).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale(docs_dir: Path) -> list[str]:
    """Why the committed files differ from the generator's output (empty: up to date)."""
    files = generated_files(docs_dir)
    problems = []
    for path, text in files.items():
        if not path.exists():
            problems.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"stale: {path}")
    for path in sorted((docs_dir / "asyncapi").glob("*.yaml")):
        if path not in files:
            problems.append(f"not generated (remove it): {path}")
    return problems
