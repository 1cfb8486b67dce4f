"""convene-schemas installs and imports on its own: other languages' teams and services
depend on it without the rest of the monorepo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.contract]

FORBIDDEN_PREFIXES = ("convene-", "convene_")


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build the wheel: run the tests with `uv run pytest`"
    return uv


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    result = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(
        _uv(),
        "build",
        "--wheel",
        str(repo_root / "shared" / "schemas"),
        "-o",
        str(out),
        cwd=repo_root,
    )
    (built,) = out.glob("convene_schemas-*.whl")
    return built


def _metadata(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return archive.read(name).decode().splitlines()


def test_the_wheel_requires_no_service_or_kit_package(wheel: Path) -> None:
    requirements = [
        line.split(":", 1)[1].strip()
        for line in _metadata(wheel)
        if line.startswith("Requires-Dist:")
    ]
    assert requirements, "the wheel declares no requirements at all"
    offending = [r for r in requirements if r.lower().startswith(FORBIDDEN_PREFIXES)]
    assert not offending, f"convene-schemas must not depend on other Convene packages: {offending}"
    kafka_only = [r for r in requirements if r.startswith("aiokafka")]
    assert kafka_only and all(re.search(r"extra\s*==\s*['\"]kafka['\"]", r) for r in kafka_only), (
        kafka_only
    )


def test_the_wheel_ships_the_registry_and_the_docs_template(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for topic in ("records", "meetings", "calendar-sync", "notifications", "booking-pages"):
        assert f"convene_schemas/topics/{topic}.events.v1.yaml" in names
    assert "convene_schemas/docs/events_template.md" in names
    assert "convene_schemas/py.typed" in names


def test_the_wheel_imports_in_a_fresh_environment(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(_uv(), "venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run(_uv(), "pip", "install", "--quiet", "--python", str(python), str(wheel))
    probe = (
        "import sys, convene_schemas.catalogue as c, convene_schemas.envelope\n"
        "import convene_schemas.topics.ensure\n"
        "from convene_schemas.registry import load_registry\n"
        "assert 'aiokafka' not in sys.modules\n"
        "assert not any(m.startswith(('convene_kit', 'convene_meetings')) for m in sys.modules)\n"
        "print(len(c.all_event_classes()), len(list(load_registry().events())))\n"
    )
    result = _run(str(python), "-I", "-c", probe, cwd=tmp_path)
    assert result.stdout.split() == ["27", "27"]
