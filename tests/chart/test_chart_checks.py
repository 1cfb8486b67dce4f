"""The chart through its checkers: ``helm lint --strict``, and every ci/ scenario rendered by
``helm template`` and checked by kubeconform (-strict, against the Kubernetes JSON schemas
of the chart's oldest and newest Kubernetes) and by checkov's Kubernetes checks."""

from __future__ import annotations

import json
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.chart.chart import (
    CHART,
    KUBERNETES_VERSIONS,
    SCENARIOS,
    helm_template,
    kubernetes_schemas,
    tool,
)

# kubeconform skips the Prometheus Operator's ServiceMonitor: no schema of that CRD is
# available offline (kubernetes-validate has only Kubernetes' own kinds). Its shape is
# checked by test_chart_rules.py::test_service_monitors_scrape_each_service_metrics.
KUBECONFORM_SKIPPED_KINDS = ("ServiceMonitor",)

# checkov's checks that the chart does not pass, each with why it is right not to:
CHECKOV_SKIPPED = {
    # "Prefer using secrets as files over secrets as environment variables". The services
    # take every setting from environment variables (architecture brief: configuration from
    # the environment only; convene_kit.settings is the one reader), so the MongoDB URL,
    # the SMTP password and the encryption key can only arrive as env. They come from
    # secretKeyRef, never from values (tests/chart/test_chart_secrets.py), and the kit masks
    # secrets in its logs. The one setting that is a file, the JWT public key, is mounted.
    "CKV_K8S_35": "secrets as env: the services' settings are environment variables only",
    # "Image should use digest". Tags are pinned (the chart's appVersion by default, never
    # latest); services.<name>.image.digest pins by digest where a release pipeline knows
    # it. Skipped only in scenarios whose images use tags: production pins digests and is
    # checked with this check on.
    "CKV_K8S_43": "images pinned by tag (the chart's appVersion); digests are optional",
}


def _uses_digests(scenario: str) -> bool:
    return all(
        "@sha256:" in container["image"]
        for document in helm_template(SCENARIOS[scenario]).documents
        if document["kind"] in ("Deployment", "Job")
        for container in document["spec"]["template"]["spec"]["containers"]
    )


def _checkov_skips(scenario: str) -> list[str]:
    return [check for check in CHECKOV_SKIPPED if not (check == "CKV_K8S_43" and _uses_digests(scenario))]


@cache
def checkov_reports() -> dict[str, dict[str, Any]]:
    """checkov's JSON report of each scenario, each scanned alone (its graph checks, such as
    "every pod has a NetworkPolicy", must not see another scenario's resources); two at a
    time, offline (--skip-download: no Prisma Cloud, no download)."""
    checkov = tool("CONVENE_CHECKOV")

    def scan(scenario: str) -> tuple[str, dict[str, Any]]:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / f"{scenario}.yaml").write_text(helm_template(SCENARIOS[scenario]).stdout)
            result = subprocess.run(
                [checkov, "--framework", "kubernetes", "--skip-download", "--output", "json",
                 "--directory", folder, "--skip-check", ",".join(_checkov_skips(scenario))],
                capture_output=True, text=True, timeout=300,
            )
        assert result.returncode in (0, 1), f"checkov crashed on {scenario}:\n{result.stderr[-3000:]}"
        report = json.loads(result.stdout)
        return scenario, report

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(scan, SCENARIOS))


def test_there_are_the_four_scenarios() -> None:
    assert {"defaults", "all-enabled", "one-disabled", "production"} <= set(SCENARIOS)


def test_helm_lint_strict() -> None:
    for values in [None, *SCENARIOS.values()]:
        args = [tool("CONVENE_HELM"), "lint", "--strict", str(CHART)]
        if values:
            args += ["--values", str(values)]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"helm lint --strict {values or ''}:\n{result.stdout}{result.stderr}"
        assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_kubeconform_strict(scenario: str, kube_version: str) -> None:
    render = helm_template(SCENARIOS[scenario], kube_version=kube_version)
    assert render.returncode == 0, render.stderr
    location = str(kubernetes_schemas()) + (
        "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
        "/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    )
    result = subprocess.run(
        [tool("CONVENE_KUBECONFORM"), "-strict", "-summary", "-output", "json",
         "-kubernetes-version", kube_version, "-schema-location", location,
         "-skip", ",".join(KUBECONFORM_SKIPPED_KINDS), "-"],
        input=render.stdout, capture_output=True, text=True, timeout=120,
    )
    report = json.loads(result.stdout)
    problems = [f"{r['kind']} {r['name']}: {r['status']} {r.get('msg', '')}" for r in report["resources"]
                if r["status"] not in ("statusValid", "statusSkipped")]
    assert result.returncode == 0 and not problems, "\n".join(problems) or result.stderr
    summary = report["summary"]
    skipped = sum(1 for doc in render.documents if doc["kind"] in KUBECONFORM_SKIPPED_KINDS)
    assert summary["skipped"] == skipped
    assert summary["valid"] == len(render.documents) - skipped > 0


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_checkov_kubernetes_checks(scenario: str) -> None:
    report = checkov_reports()[scenario]
    assert report["check_type"] == "kubernetes"
    results = report["results"]
    assert not results["parsing_errors"], results["parsing_errors"]
    failed = [f"{c['check_id']} {c['check_name']}: {c['resource']}" for c in results["failed_checks"]]
    assert not failed, "\n".join(failed)
    # Each workload really went through the checks (a scan that read nothing passes too).
    checked = {c["resource"] for c in results["passed_checks"]}
    documents = helm_template(SCENARIOS[scenario]).documents
    workloads = [d for d in documents if d["kind"] in ("Deployment", "Job")]
    for workload in workloads:
        name = f"{workload['kind']}.{workload['metadata']['namespace']}.{workload['metadata']['name']}"
        assert name in checked, f"checkov did not check {name}"
    assert report["summary"]["passed"] > 20 * len(workloads)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_notes_render(scenario: str) -> None:
    # `helm install --dry-run=client` renders NOTES.txt without a cluster.
    result = subprocess.run(
        [tool("CONVENE_HELM"), "install", "convene", str(CHART), "--namespace", "convene",
         "--dry-run=client", "--values", str(SCENARIOS[scenario])],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("\nNOTES:\n", 1)[1]
    assert "Needed in the namespace before the pods can start" in notes
    assert "records: convene-records:8101" in notes
