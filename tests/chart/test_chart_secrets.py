"""Secrets never pass through the chart: it takes Secret references only, renders no Secret,
and refuses secret values put where a plain value goes, without repeating them."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.chart import SCENARIOS, helm_template, walk

HERE = Path(__file__).parent
FAKE_SECRETS = {
    (doc["metadata"]["name"], key): value
    for doc in yaml.safe_load_all((HERE / "fake-secrets.yaml").read_text())
    for key, value in doc["stringData"].items()
}
REFS = HERE / "secret-refs-values.yaml"

# Where each secret must arrive: service -> environment variable -> (Secret, key).
EXPECTED_REFS = {
    "records": {"CONVENE_MONGO_URL": ("convene-mongodb", "url")},
    "meetings": {"CONVENE_MONGO_URL": ("convene-mongodb", "url")},
    "booking-pages": {"CONVENE_MONGO_URL": ("convene-mongodb", "url"),
                      "CONVENE_CALENDAR_SYNC_TOKEN": ("convene-service-token", "token"),
                      "CONVENE_PREFILL_SIGNING_KEY": ("convene-prefill-key", "key")},
    "calendar-sync": {"CONVENE_MONGO_URL": ("convene-mongodb", "url"),
                      "CONVENE_CREDENTIALS_ENCRYPTION_KEY": ("convene-credentials-key", "key"),
                      "CONVENE_BOOKING_PAGES_SERVICE_TOKEN": ("convene-service-token", "token")},
    "notifications": {"CONVENE_MONGO_URL": ("convene-mongodb-notifications", "url"),
                      "CONVENE_SMTP_USERNAME": ("convene-smtp", "username"),
                      "CONVENE_SMTP_PASSWORD": ("convene-smtp", "password")},
}


def forms(secret: str) -> list[str]:
    """A secret as it could leak: itself, base64 (a Secret's data), and its password part."""
    leaks = [secret, base64.b64encode(secret.encode()).decode()]
    if "://" in secret and "@" in secret:
        leaks.append(secret.split("://", 1)[1].split("@", 1)[0].split(":", 1)[-1])
    return leaks


def assert_no_secret_in(text: str) -> None:
    for (name, key), secret in FAKE_SECRETS.items():
        for leak in forms(secret):
            assert leak not in text, f"the value of Secret {name}, key {key}, appears"


def test_the_fake_secrets_are_recognisable() -> None:
    assert len(FAKE_SECRETS) == 8
    assert all("FAKE-" in value for value in FAKE_SECRETS.values())


@pytest.mark.parametrize("values", ["defaults", "references", *sorted(SCENARIOS)])
def test_no_secret_value_in_any_manifest(values: str) -> None:
    files = [] if values == "defaults" else [REFS] if values == "references" else [SCENARIOS[values]]
    render = helm_template(*files)
    assert render.returncode == 0, render.stderr
    assert_no_secret_in(render.stdout)
    assert not render.of_kind("Secret"), "the chart renders no Secret: it only refers to them"


def test_each_secret_reaches_its_container_only_by_reference() -> None:
    render = helm_template(REFS)
    for deployment in render.of_kind("Deployment"):
        name = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        expected = {**EXPECTED_REFS[name], "CONVENE_EXTRA_TOKEN": ("convene-extra", "token")}
        for variable, (secret, key) in expected.items():
            assert "value" not in env[variable], f"{name}: {variable} is a plain value"
            assert env[variable]["valueFrom"] == {"secretKeyRef": {"name": secret, "key": key}}, name
        referenced = {
            (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in env.values() if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert referenced == set(expected.values()), f"{name} gets exactly its own secrets"
    volume = next(v for v in render.of_kind("Deployment")[0]["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "jwt-public-key")
    assert volume["secret"]["secretName"] == "gateway-jwt-public-key"


MONGO_URL = FAKE_SECRETS[("convene-mongodb", "url")]
SMTP_PASSWORD = FAKE_SECRETS[("convene-smtp", "password")]
ENCRYPTION_KEY = FAKE_SECRETS[("convene-credentials-key", "key")]
SERVICE_TOKEN = FAKE_SECRETS[("convene-service-token", "token")]
PREFILL_KEY = FAKE_SECRETS[("convene-prefill-key", "key")]

# Secret values put where the chart takes plain values, or under keys it does not have.
SMUGGLED: dict[str, dict[str, Any]] = {
    "a MongoDB URL with credentials": {"mongodb": {"url": MONGO_URL}},
    "a MongoDB URL with credentials (SRV)": {
        "mongodb": {"url": MONGO_URL.replace("mongodb://", "mongodb+srv://")}},
    "the MongoDB URL as a service's env": {
        "services": {"meetings": {"env": {"CONVENE_MONGO_URL": MONGO_URL}}}},
    "an SMTP password as env": {
        "services": {"notifications": {"env": {"CONVENE_SMTP_PASSWORD": SMTP_PASSWORD}}}},
    "an SMTP password value": {"smtp": {"password": SMTP_PASSWORD}},
    "the encryption key as env": {
        "services": {"calendarSync": {"env": {"CONVENE_CREDENTIALS_ENCRYPTION_KEY": ENCRYPTION_KEY}}}},
    "the encryption key value": {"credentialsEncryptionKey": {"value": ENCRYPTION_KEY}},
    "a Kafka password": {"kafka": {"password": SMTP_PASSWORD}},
    "the service token as calendar-sync's env": {
        "services": {"calendarSync": {"env": {
            "CONVENE_INTERNAL_API_TOKENS": f"booking-pages:{SERVICE_TOKEN}"}}}},
    "the service token as booking-pages' env": {
        "services": {"bookingPages": {"env": {"CONVENE_CALENDAR_SYNC_TOKEN": SERVICE_TOKEN}}}},
    "the prefill key as env": {
        "services": {"bookingPages": {"env": {"CONVENE_PREFILL_SIGNING_KEY": PREFILL_KEY}}}},
    "the service token value": {"serviceToken": {"value": SERVICE_TOKEN}},
}


@pytest.mark.parametrize("attempt", sorted(SMUGGLED))
def test_secret_values_in_values_are_refused_without_echo(attempt: str) -> None:
    render = helm_template(SMUGGLED[attempt])
    assert render.returncode != 0, f"{attempt} was accepted"
    assert_no_secret_in(render.stdout + render.stderr)
    assert "Error" in render.stderr


def test_refusals_say_what_to_do() -> None:
    assert "mongodb.urlSecret" in helm_template(SMUGGLED["a MongoDB URL with credentials"]).stderr
    env = helm_template(SMUGGLED["an SMTP password as env"]).stderr
    assert "services.notifications.env.CONVENE_SMTP_PASSWORD is set by the chart" in env


def test_walk_finds_no_secret_shaped_value_in_defaults() -> None:
    # No default carries a credential either: no URL with a user, no key or password value.
    for path, value in walk(yaml.safe_load((SCENARIOS["defaults"].parents[1] / "values.yaml").read_text())):
        if isinstance(value, str) and "://" in value:
            assert "@" not in value.split("://", 1)[1].split("/", 1)[0], f"credentials in {'.'.join(path)}"
        if path and path[-1].lower() in ("password", "token", "value"):
            pytest.fail(f"values.yaml has a secret-looking key {'.'.join(path)}")


def test_calendar_sync_accepts_the_token_booking_pages_sends() -> None:
    render = helm_template(REFS)

    def env_of(name: str) -> list[dict[str, Any]]:
        (container,) = render.named("Deployment", f"convene-{name}")["spec"]["template"]["spec"]["containers"]
        return list(container["env"])

    calendar_sync = env_of("calendar-sync")
    names = [e["name"] for e in calendar_sync]
    tokens = next(e for e in calendar_sync if e["name"] == "CONVENE_INTERNAL_API_TOKENS")
    # Kubernetes expands $(VAR) only from variables defined before it.
    assert tokens["value"] == "booking-pages:$(CONVENE_BOOKING_PAGES_SERVICE_TOKEN)"
    assert names.index("CONVENE_BOOKING_PAGES_SERVICE_TOKEN") < names.index("CONVENE_INTERNAL_API_TOKENS")
    booking_pages = {e["name"]: e for e in env_of("booking-pages")}
    assert booking_pages["CONVENE_CALENDAR_SYNC_URL"]["value"] == "http://convene-calendar-sync:8103"
    defaults = helm_template()
    (container,) = defaults.named("Deployment", "convene-calendar-sync")["spec"]["template"]["spec"][
        "containers"]
    assert "CONVENE_INTERNAL_API_TOKENS" not in {e["name"] for e in container["env"]}, \
        "without a Secret the internal reads stay closed"
