"""infra/servers/kafka.py's listeners: the default broker has PLAINTEXT and CONTROLLER only;
with CONVENE_KAFKA_PROXIED_PORT and CONVENE_KAFKA_PROXY_PORT both set (the resilience
suite's instance) it also listens on a PROXIED listener advertised at the proxy's port.

Unit tests, no servers: the configuration read from the environment and the properties file
the broker would be started with.
"""

from __future__ import annotations

import pytest

from infra import config
from infra.servers.kafka import Kafka

PROXY_VARIABLES = ("CONVENE_KAFKA_PROXIED_PORT", "CONVENE_KAFKA_PROXY_PORT")


def properties(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, str]:
    """The broker's server.properties as a dict, for this environment."""
    monkeypatch.setenv("CONVENE_KAFKA_PORT", "41092")
    monkeypatch.setenv("CONVENE_KAFKA_CONTROLLER_PORT", "41093")
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    text = Kafka(config.load())._properties()
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line
             and not line.startswith("#"))
    return dict(pairs)


def test_by_default_the_broker_has_no_proxied_listener(monkeypatch) -> None:
    props = properties(monkeypatch)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:41092,CONTROLLER://127.0.0.1:41093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:41092"
    assert props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert "PROXIED" not in "".join(props.values())


def test_both_ports_add_a_plaintext_listener_advertised_at_the_proxy(monkeypatch) -> None:
    props = properties(monkeypatch, CONVENE_KAFKA_PROXIED_PORT="41094",
                       CONVENE_KAFKA_PROXY_PORT="41095")
    assert props["listeners"] == ("PLAINTEXT://127.0.0.1:41092,CONTROLLER://127.0.0.1:41093,"
                                  "PROXIED://127.0.0.1:41094")
    # Clients that came in through the proxy are sent back to the proxy, not to 41094.
    assert props["advertised.listeners"] == ("PLAINTEXT://127.0.0.1:41092,"
                                             "PROXIED://127.0.0.1:41095")
    assert props["listener.security.protocol.map"] == (
        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT")
    # Inter-broker and controller traffic never goes through a test's proxy.
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:41093"


@pytest.mark.parametrize("only", PROXY_VARIABLES)
def test_one_port_without_the_other_is_refused(monkeypatch, only: str) -> None:
    with pytest.raises(SystemExit, match="needs both ports"):
        properties(monkeypatch, **{only: "41094"})


def test_a_proxied_port_that_is_no_port_is_refused(monkeypatch) -> None:
    with pytest.raises(SystemExit, match="CONVENE_KAFKA_PROXY_PORT='x' is not a port number"):
        properties(monkeypatch, CONVENE_KAFKA_PROXIED_PORT="41094", CONVENE_KAFKA_PROXY_PORT="x")


def test_the_configuration_carries_both_ports_or_none(monkeypatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    default = config.load()
    assert (default.kafka_proxied_port, default.kafka_proxy_port) == (None, None)
    monkeypatch.setenv("CONVENE_KAFKA_PROXIED_PORT", "41094")
    monkeypatch.setenv("CONVENE_KAFKA_PROXY_PORT", "41095")
    proxied = config.load()
    assert (proxied.kafka_proxied_port, proxied.kafka_proxy_port) == (41094, 41095)
