"""The chart's own rules: replicas against partitions, the topic registry mirrored in values,
the values schema refusing what it does not know, documented values, and what each
resource lets in and out."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from convene_schemas.registry import load_registry

from tests.chart.chart import (
    CHART,
    SCENARIOS,
    SERVICES,
    helm_template,
    scenario_values,
    service_key,
    service_ports,
)

REGISTRY = load_registry()
CONSUMERS = {name: sorted({t.name for t in REGISTRY.topics if name in t.consumers}) for name in SERVICES}
LIMITED = [name for name in SERVICES if CONSUMERS[name]]


def service(name: str, **settings: Any) -> dict[str, Any]:
    return {"services": {service_key(name): settings}}


def limit(name: str) -> int:
    return min(t.partitions for t in REGISTRY.topics if t.name in CONSUMERS[name])


# Replicas and partitions


def test_values_mirror_the_topic_registry() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["topics"]
    assert values["partitions"] == {t.name: t.partitions for t in REGISTRY.topics}
    assert {t: sorted(c) for t, c in values["consumers"].items()} == {
        t.name: sorted(t.consumers) for t in REGISTRY.topics}


def test_some_services_are_limited_by_partitions() -> None:
    assert {"records", "meetings", "notifications"} <= set(LIMITED)


@pytest.mark.parametrize("name", LIMITED)
def test_replicas_up_to_the_partitions_render(name: str) -> None:
    render = helm_template(service(name, replicas=limit(name)))
    assert render.returncode == 0, render.stderr
    spec = render.named("Deployment", f"convene-{name}")["spec"]
    assert spec["replicas"] == limit(name)
    # At the limit a surge pod would hold no partition and never be ready: one at a time.
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}


@pytest.mark.parametrize("name", LIMITED)
def test_replicas_beyond_the_partitions_are_refused(name: str) -> None:
    render = helm_template(service(name, replicas=limit(name) + 1))
    assert render.returncode != 0
    expected = f"services.{service_key(name)}.replicas is {limit(name) + 1}, at most {limit(name)} allowed"
    assert expected in render.stderr
    assert "Replicas and partitions" in render.stderr


@pytest.mark.parametrize("name", LIMITED)
def test_autoscaling_beyond_the_partitions_is_refused(name: str) -> None:
    autoscaling = {"enabled": True, "minReplicas": 2, "maxReplicas": limit(name) + 1}
    render = helm_template(service(name, autoscaling=autoscaling))
    assert render.returncode != 0
    assert f"autoscaling.maxReplicas is {limit(name) + 1}, at most {limit(name)} allowed" in render.stderr


def test_more_partitions_allow_more_replicas() -> None:
    topics = {"partitions": {"meetings.events.v1": 12, "booking-pages.events.v1": 12}}
    render = helm_template({"topics": topics, **service("records", replicas=12)})
    assert render.returncode == 0, render.stderr
    assert render.named("Deployment", "convene-records")["spec"]["replicas"] == 12


def test_services_that_consume_nothing_are_not_limited() -> None:
    unlimited = [name for name in SERVICES if name not in LIMITED]
    for name in unlimited:
        render = helm_template(service(name, replicas=20))
        assert render.returncode == 0, render.stderr


def test_below_the_limit_a_rollout_surges() -> None:
    spec = helm_template().named("Deployment", "convene-records")["spec"]
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


# The values schema


@pytest.mark.parametrize(
    "values",
    [
        {"replicas": 2},  # a typo for services.<name>.replicas at the top
        service("records", replica=2),  # a misspelt key
        service("records", replicas="two"),  # a wrong type
        service("records", image={"tag": "latest"}),  # an unpinned image
        service("records", image={"digest": "sha256:short"}),
        service("records", resources={"requests": {"memory": None}}),  # no memory request
        {"services": {"billing": {"enabled": True}}},  # no such service
        {"kafka": {"bootstrap": "kafka"}},  # no port
        {"podSecurityContext": {"runAsNonRoot": False}},
        {"containerSecurityContext": {"readOnlyRootFilesystem": False}},
        {"containerSecurityContext": {"allowPrivilegeEscalation": True}},
        {"logLevel": "LOUD"},
        {"topics": {"provisioning": {"image": "gateway"}}},
    ],
    ids=lambda values: json.dumps(values, separators=(",", ":")),
)
def test_schema_refuses_unknown_and_mistyped_values(values: dict[str, Any]) -> None:
    render = helm_template(values)
    assert render.returncode != 0, f"accepted {values}"
    assert "values don't meet the specifications of the schema" in render.stderr, render.stderr


def test_every_value_is_documented_by_a_comment_starting_with_its_key() -> None:
    undocumented = []
    lines = (CHART / "values.yaml").read_text().splitlines()
    schema = json.loads((CHART / "values.schema.json").read_text())
    keyed = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):(\s|$)")
    stack: list[tuple[int, dict[str, Any]]] = [(-1, schema)]
    for number, line in enumerate(lines):
        match = keyed.match(line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else {}
        node = resolve(schema, parent.get("properties", {}).get(key, {}))
        if key not in parent.get("properties", {}):
            continue  # free-form content (labels, selectors, peers): data, not a setting
        comment = lines[number - 1].strip() if number else ""
        block = number - 1
        while block > 0 and lines[block - 1].strip().startswith("#") and not comment.startswith(f"# {key} "):
            block -= 1
            comment = lines[block].strip()
        if not comment.startswith(f"# {key} "):
            undocumented.append(f"line {number + 1}: {key}")
        stack.append((indent, node))
    assert not undocumented, "\n".join(undocumented)


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_every_required_value_has_a_default_in_values() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def check(node: dict[str, Any], value: Any, path: str) -> None:
        node = resolve(schema, node)
        for key in node.get("required", []):
            assert isinstance(value, dict) and key in value, f"{path}{key} has no default in values.yaml"
            check(node["properties"][key], value[key], f"{path}{key}.")

    check(schema, values, "")


# Disabled services, scenarios


def test_a_disabled_service_has_no_resource() -> None:
    render = helm_template(SCENARIOS["one-disabled"])
    components = {d["metadata"]["labels"].get("app.kubernetes.io/component") for d in render.documents}
    assert "booking-pages" not in components
    assert {"records", "meetings", "calendar-sync", "notifications"} <= components


def test_network_policies_can_be_turned_off() -> None:
    assert not helm_template({"networkPolicy": {"enabled": False}}).of_kind("NetworkPolicy")


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler() -> None:
    render = helm_template(SCENARIOS["all-enabled"])
    for autoscaler in render.of_kind("HorizontalPodAutoscaler"):
        target = autoscaler["spec"]["scaleTargetRef"]
        assert "replicas" not in render.named("Deployment", target["name"])["spec"]
    assert len(render.of_kind("HorizontalPodAutoscaler")) == len(SERVICES)


def test_production_pins_every_image_by_digest() -> None:
    render = helm_template(SCENARIOS["production"])
    for document in render.of_kind("Deployment") + render.of_kind("Job"):
        for container in document["spec"]["template"]["spec"]["containers"]:
            assert container["image"].startswith("registry.example.com/convene/convene-")
            assert "@sha256:" in container["image"]


# Traffic


def peers(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return rule.get("from", rule.get("to", []))


@pytest.mark.parametrize("name", SERVICES)
def test_network_policy_of_each_service(name: str) -> None:
    values = scenario_values("production")
    render = helm_template(SCENARIOS["production"])
    policy = render.named("NetworkPolicy", f"convene-{name}")["spec"]
    pods = render.named("Deployment", f"convene-{name}")["spec"]["selector"]["matchLabels"]
    assert policy["podSelector"]["matchLabels"] == pods
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    sources = [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               if "namespaceSelector" in p else p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
               for p in peers(ingress)]
    public = name == "booking-pages"  # the production scenario publishes the pages
    assert sources == ["gateway", "monitoring"] + (["ingress-nginx"] if public else []) + (
        ["booking-pages"] if name == "calendar-sync" else [])
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    expected = {53, 9093, 27017} | ({587} if name == "notifications" else set()) | (
        {443} if name == "calendar-sync" else set()) | ({8103} if name == "booking-pages" else set())
    assert egress_ports == expected
    kafka = next(rule for rule in policy["egress"] if rule["ports"][0]["port"] == 9093)
    assert peers(kafka) == values["networkPolicy"]["egress"]["kafka"]["to"]


def test_only_booking_pages_reaches_calendar_sync_inside_the_namespace() -> None:
    render = helm_template(SCENARIOS["production"])
    calendar_sync = render.named("NetworkPolicy", "convene-calendar-sync")["spec"]
    pods = render.named("Deployment", "convene-booking-pages")["spec"]["selector"]["matchLabels"]
    (ingress,) = calendar_sync["ingress"]
    in_namespace = [p for p in peers(ingress) if "namespaceSelector" not in p]
    assert in_namespace == [{"podSelector": {"matchLabels": pods}}]
    booking_pages = render.named("NetworkPolicy", "convene-booking-pages")["spec"]
    to_calendar_sync = next(rule for rule in booking_pages["egress"] if rule["ports"][0]["port"] == 8103)
    target = render.named("Deployment", "convene-calendar-sync")["spec"]["selector"]["matchLabels"]
    assert peers(to_calendar_sync) == [{"podSelector": {"matchLabels": target}}]
    without = helm_template(service("booking-pages", enabled=False)).named(
        "NetworkPolicy", "convene-calendar-sync")
    assert all("namespaceSelector" in p for p in peers(without["spec"]["ingress"][0]))


def test_booking_pages_links_and_client_addresses_follow_the_ingress() -> None:
    def env(render: Any) -> dict[str, str]:
        pod = render.named("Deployment", "convene-booking-pages")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        return {e["name"]: e.get("value", "") for e in container["env"]}

    public = env(helm_template(SCENARIOS["all-enabled"]))
    assert public["CONVENE_PUBLIC_BASE_URL"] == "https://meet.example.com"
    assert public["CONVENE_TRUSTED_PROXIES"] == "1"
    internal = env(helm_template())
    assert internal["CONVENE_PUBLIC_BASE_URL"] == "http://convene-booking-pages:8105"
    chosen = env(helm_template(service("booking-pages", publicBaseUrl="https://book.acme.example/")))
    assert chosen["CONVENE_PUBLIC_BASE_URL"] == "https://book.acme.example"


def test_calendar_providers_are_reached_on_public_addresses_only() -> None:
    policy = helm_template().named("NetworkPolicy", "convene-calendar-sync")["spec"]
    providers = next(rule for rule in policy["egress"] if rule["ports"][0]["port"] == 443)
    blocks = {p["ipBlock"]["cidr"]: set(p["ipBlock"]["except"]) for p in peers(providers)}
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= blocks["0.0.0.0/0"]
    assert "fc00::/7" in blocks["::/0"]


def test_public_ingress_serves_booking_pages_only() -> None:
    render = helm_template(SCENARIOS["all-enabled"])
    (ingress,) = render.of_kind("Ingress")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == ["meet.example.com", "meetings.customer-one.example", "book.customer-two.example"]
    assert [tls["hosts"] for tls in ingress["spec"]["tls"]] == [[host] for host in hosts]
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] == "convene-booking-pages"
            assert path["path"] in ("/meetings", "/book", "/public", "/robots.txt")
    assert not helm_template().of_kind("Ingress")


@pytest.mark.parametrize("path", ["/", "/metrics", "/docs", "/pages", "/account", "/internal"])
def test_public_ingress_refuses_internal_paths(path: str) -> None:
    """The owner API (/pages, /account) stays behind the gateway, like the probes and metrics."""
    render = helm_template(service("booking-pages", ingress={"enabled": True, "paths": [path]}))
    assert render.returncode != 0
    assert "would make more than the public pages public" in render.stderr


def test_service_monitors_scrape_each_service_metrics() -> None:
    render = helm_template(SCENARIOS["all-enabled"])
    monitors = render.of_kind("ServiceMonitor")
    assert len(monitors) == len(SERVICES)
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        service = render.named("Service", monitor["metadata"]["name"])
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["convene"]}
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in [port["name"] for port in service["spec"]["ports"]]
    assert not helm_template().of_kind("ServiceMonitor")


# The topics job


def test_topics_job_runs_the_registry_ensure_before_install_and_upgrade() -> None:
    render = helm_template(SCENARIOS["production"])
    job = render.named("Job", "convene-topics")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    values = scenario_values("production")
    assert container["command"] == [
        "/opt/venv/bin/python", "-m", "convene_schemas.topics", "ensure",
        "--bootstrap", values["kafka"]["bootstrap"], "--prefix", "prod.", "--replication-factor", "3"]
    records = render.named("Deployment", "convene-records")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == records["image"], "a service image, which holds convene_schemas"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    # Its NetworkPolicy is a hook too, created before it, or a first install has none.
    policy = render.named("NetworkPolicy", "convene-topics")
    assert policy["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    policy_weight = int(policy["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert policy_weight < int(annotations["helm.sh/hook-weight"])
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= job_labels.items()
    assert {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]} == {53, 9093}


def test_topics_job_can_be_turned_off() -> None:
    render = helm_template({"topics": {"provisioning": {"enabled": False}}})
    assert not render.of_kind("Job")
    assert "convene-topics" not in [p["metadata"]["name"] for p in render.of_kind("NetworkPolicy")]


def test_ports_in_values_are_the_services_own() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["services"]
    assert {name: values[service_key(name)]["port"] for name in SERVICES} == service_ports()
