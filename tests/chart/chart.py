"""Rendering the Helm chart (deploy/helm/convene) and finding the checkers for its tests.

``make test-chart`` installs helm, kubeconform and checkov at pinned versions into the
project's cache and passes their paths as ``CONVENE_HELM``, ``CONVENE_KUBECONFORM`` and
``CONVENE_CHECKOV``. The Kubernetes JSON schemas come from the ``kubernetes-validate`` package
(a dev dependency), rewritten once into the cache in the layout kubeconform reads: nothing is
downloaded at test time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "convene"
SCENARIOS = {path.name.removesuffix("-values.yaml"): path for path in sorted(CHART.glob("ci/*-values.yaml"))}
RELEASE = "convene"
NAMESPACE = "convene"
# The chart's kubeVersion floor and the newest Kubernetes whose schemas kubernetes-validate has.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
SERVICES = ("records", "meetings", "calendar-sync", "notifications", "booking-pages")


def tool(variable: str) -> str:
    """The checker whose path ``make test-chart`` put in ``variable``."""
    path = os.environ.get(variable, "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{variable} does not name an installed checker: run `make test-chart`")
    return path


def service_key(name: str) -> str:
    """The chart's values key of a service: ``calendar-sync`` -> ``calendarSync``."""
    head, *rest = name.split("-")
    return head + "".join(part.title() for part in rest)


def service_ports() -> dict[str, int]:
    """Each service's HTTP port, as its own settings declare it (``http_port: int = 81xx``)."""
    ports = {}
    for name in SERVICES:
        settings = next((ROOT / "services" / name / "src").glob("*/settings.py"))
        match = re.search(r"^\s*http_port: int = (\d+)", settings.read_text(), re.MULTILINE)
        assert match, f"no http_port default in {settings}"
        ports[name] = int(match.group(1))
    return ports


@dataclass(frozen=True)
class Render:
    """One ``helm template``: its exit code, the manifests it printed and its error output."""

    returncode: int
    stdout: str
    stderr: str

    @cached_property
    def documents(self) -> list[dict[str, Any]]:
        assert self.returncode == 0, f"helm template failed:\n{self.stderr}"
        return [doc for doc in yaml.safe_load_all(self.stdout) if doc]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.documents if doc["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        found = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"] == name]
        assert len(found) == 1, f"{len(found)} {kind} named {name}"
        return found[0]


def helm_template(*values: Path | dict[str, Any], kube_version: str = KUBERNETES_VERSIONS[-1]) -> Render:
    """Render the chart with these values files (or dicts, written to a temporary file);
    the same values render once per test run."""
    key = tuple(json.dumps(item, sort_keys=True) if isinstance(item, dict) else str(item) for item in values)
    return _render(key, kube_version)


@cache
def _render(values: tuple[str, ...], kube_version: str) -> Render:
    with tempfile.TemporaryDirectory() as scratch:
        args = [tool("CONVENE_HELM"), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
                "--kube-version", kube_version]
        for index, item in enumerate(values):
            if item.startswith("{"):
                path = Path(scratch) / f"values-{index}.yaml"
                path.write_text(yaml.safe_dump(json.loads(item)))
                item = str(path)
            args += ["--values", item]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return Render(result.returncode, result.stdout, result.stderr)


def scenario_values(name: str) -> dict[str, Any]:
    """A ci/ scenario's values, as a dict."""
    return yaml.safe_load(SCENARIOS[name].read_text()) or {}


def kubernetes_schemas() -> Path:
    """kubernetes-validate's strict schemas in kubeconform's layout, made once per version.

    The package's schemas carry an ``$id`` on kubernetes.io and refer to
    ``/api/_definitions.json``, which it maps itself; kubeconform loads files, so the copy
    drops the ``$id`` and makes each reference relative to the file beside it. The folders are
    named as kubeconform's default layout names them (``v1.30.0-standalone-strict``), so
    ``-strict`` picks the strict schemas.
    """
    import kubernetes_validate

    package = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    version = metadata.version("kubernetes-validate")
    cache = Path(os.environ.get("CONVENE_CACHE_DIR", Path.home() / ".cache" / "convene"))
    target = cache / f"kubeconform-schemas-{version}"
    if all((target / f"v{v}-standalone-strict" / "_definitions.json").exists() for v in KUBERNETES_VERSIONS):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="kubeconform-schemas-", dir=cache))
    for kube in KUBERNETES_VERSIONS:
        source = package / f"v{kube}-local-strict"
        assert source.is_dir(), f"kubernetes-validate {version} has no schemas for {kube}"
        folder = partial / f"v{kube}-standalone-strict"
        folder.mkdir()
        for schema in source.glob("*.json"):
            text = schema.read_text().replace('"/api/_definitions.json#', '"_definitions.json#')
            document = json.loads(text)
            if isinstance(document, dict):
                document.pop("$id", None)
            (folder / schema.name).write_text(json.dumps(document))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, value) in a nested document of dicts and lists."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, str(index)))


def containers(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The containers of a Deployment's or a Job's pod template."""
    return document["spec"]["template"]["spec"]["containers"]
