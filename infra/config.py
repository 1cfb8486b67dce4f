"""Where the local infrastructure lives and listens, from CONVENE_* environment variables.

Defaults stay clear of servers a developer commonly runs (9092, 27017, 5432, 5232, 25, 1025).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

KAFKA_VERSION = "4.2.0"
FERRETDB_VERSION = "v1.24.2"
POSTGRES_MAJOR = "15"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SystemExit(f"{name}={port} is out of range")
    return port


def _proxied_ports() -> tuple[int | None, int | None]:
    """The fault-injection listener's two ports: both set, or neither."""
    names = ("CONVENE_KAFKA_PROXIED_PORT", "CONVENE_KAFKA_PROXY_PORT")
    given = [name for name in names if os.environ.get(name)]
    if not given:
        return None, None
    if len(given) == 1:
        raise SystemExit(f"{given[0]} is set without {({*names} - {*given}).pop()}: "
                         "the proxied Kafka listener needs both ports")
    return _port(names[0], 0), _port(names[1], 0)


@dataclass(frozen=True)
class InfraConfig:
    """Every port and folder of the local infrastructure."""

    mode: str  # "local" (processes started here) or "testcontainers"
    home: Path  # state of this checkout's infrastructure: data, logs, pids
    cache: Path  # downloads and builds, kept by `make clean`
    kafka_port: int
    kafka_controller_port: int
    postgres_port: int
    mongo_port: int
    caldav_port: int
    smtp_port: int
    start_timeout: float
    ferretdb_pool: int = 300  # PostgreSQL connections FerretDB may hold (its pgx pool)
    # An extra Kafka listener for fault injection (the resilience suite), off unless both are
    # set: the broker listens on kafka_proxied_port and advertises kafka_proxy_port, where a
    # test's TCP fault proxy listens and forwards to it, so clients that bootstrap through
    # the proxy keep talking through it.
    kafka_proxied_port: int | None = None
    kafka_proxy_port: int | None = None

    @property
    def postgres_max_connections(self) -> int:
        """Room for FerretDB's whole pool plus the tools and tests that connect directly."""
        return max(400, self.ferretdb_pool + 100)

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def mail_sink_dir(self) -> Path:
        return self.data / "mail"

    @property
    def endpoints_file(self) -> Path:
        return self.home / "infra.env"

    @property
    def kafka_libs(self) -> Path:
        return self.cache / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def ferretdb_binary(self) -> Path:
        return self.cache / f"ferretdb-{FERRETDB_VERSION}" / "ferretdb"

    def log_file(self, server: str) -> Path:
        return self.logs / f"{server}.log"

    def pid_file(self, server: str) -> Path:
        return self.run / f"{server}.pid"


def load() -> InfraConfig:
    """Read the configuration from the environment."""
    home = Path(os.environ.get("CONVENE_HOME", REPO_ROOT / ".convene")).resolve()
    cache = Path(
        os.environ.get("CONVENE_CACHE_DIR", Path.home() / ".cache" / "convene")
    ).resolve()
    mode = os.environ.get("CONVENE_INFRA", "local")
    if mode not in ("local", "testcontainers"):
        raise SystemExit(f"CONVENE_INFRA must be 'local' or 'testcontainers', not {mode!r}")
    proxied, proxy = _proxied_ports()
    return InfraConfig(
        mode=mode,
        home=home,
        cache=cache,
        kafka_port=_port("CONVENE_KAFKA_PORT", 19092),
        kafka_controller_port=_port("CONVENE_KAFKA_CONTROLLER_PORT", 19093),
        postgres_port=_port("CONVENE_PG_PORT", 15433),
        mongo_port=_port("CONVENE_MONGO_PORT", 37017),
        caldav_port=_port("CONVENE_CALDAV_PORT", 15232),
        smtp_port=_port("CONVENE_SMTP_PORT", 18025),
        start_timeout=float(os.environ.get("CONVENE_INFRA_TIMEOUT", "90")),
        ferretdb_pool=int(os.environ.get("CONVENE_FERRETDB_POOL", "300")),
        kafka_proxied_port=proxied,
        kafka_proxy_port=proxy,
    )
