"""The chart's defaults, rendered: every Deployment runs locked down, probes the right paths on
its service's own port, and reserves resources."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml

from tests.chart.chart import CHART, SERVICES, Render, helm_template, service_ports


@cache
def defaults() -> Render:
    return helm_template()


def deployment(name: str) -> dict[str, Any]:
    return defaults().named("Deployment", f"convene-{name}")


def test_every_service_has_a_deployment_and_nothing_else_does() -> None:
    names = sorted(d["metadata"]["name"] for d in defaults().of_kind("Deployment"))
    assert names == sorted(f"convene-{name}" for name in SERVICES)


@pytest.mark.parametrize("name", SERVICES)
def test_pod_security(name: str) -> None:
    pod = deployment(name)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod and "hostPID" not in pod and "hostIPC" not in pod
    account = defaults().named("ServiceAccount", pod["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 10001
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    # The read-only root leaves /tmp writable through an emptyDir.
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume


@pytest.mark.parametrize("name", SERVICES)
def test_probes_on_the_right_paths_and_port(name: str) -> None:
    (container,) = deployment(name)["spec"]["template"]["spec"]["containers"]
    port = service_ports()[name]
    named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CONVENE_HTTP_PORT"] == str(port), "the service listens where the probes knock"
    assert env["CONVENE_HTTP_HOST"] == "0.0.0.0"
    probes = (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz"))
    for probe, path in probes:
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert named_ports.get(get["port"], get["port"]) == port, probe
    service = defaults().named("Service", f"convene-{name}")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]


@pytest.mark.parametrize("name", SERVICES)
def test_resources_requested_and_limited(name: str) -> None:
    (container,) = deployment(name)["spec"]["template"]["spec"]["containers"]
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["cpu"] and resources["limits"]["memory"]


@pytest.mark.parametrize("name", SERVICES)
def test_image_pinned_to_the_app_version(name: str) -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    (container,) = deployment(name)["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"convene-{name}:{app_version}"


@pytest.mark.parametrize("name", SERVICES)
def test_pods_spread_over_zones_and_nodes(name: str) -> None:
    spec = deployment(name)["spec"]
    constraints = spec["template"]["spec"]["topologySpreadConstraints"]
    keys = {c["topologyKey"] for c in constraints}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in constraints:
        assert constraint["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]


@pytest.mark.parametrize("name", SERVICES)
def test_jwt_public_key_is_a_mounted_file(name: str) -> None:
    pod = deployment(name)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "jwt-public-key")
    assert mount["readOnly"] is True
    assert env["CONVENE_JWT_PUBLIC_KEY_FILE"] == f"{mount['mountPath']}/public.pem"
    volume = next(v for v in pod["volumes"] if v["name"] == "jwt-public-key")
    assert volume["configMap"]["items"] == [{"key": "public.pem", "path": "public.pem"}]


def test_every_resource_has_the_standard_labels() -> None:
    for document in defaults().documents:
        labels = document["metadata"]["labels"]
        for label in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                      "app.kubernetes.io/managed-by", "helm.sh/chart"):
            assert label in labels, f"{document['kind']} {document['metadata']['name']} lacks {label}"
        assert document["metadata"]["namespace"] == "convene"
