"""The servers of the local infrastructure, in start order."""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod

from infra.config import InfraConfig
from infra.process import InfraError, owned_pid, require_port_free, stop, wait_until


def require_tool(tool: str, install_hint: str) -> str:
    """The path of a command-line tool, or one clear line saying what to install."""
    path = shutil.which(tool)
    if path is None:
        raise InfraError(f"missing prerequisite: `{tool}` not found on PATH. {install_hint}")
    return path


class Server(ABC):
    """One server process: prerequisites, one-off preparation, start and readiness."""

    name: str

    def __init__(self, cfg: InfraConfig) -> None:
        self.cfg = cfg

    @property
    @abstractmethod
    def port(self) -> int: ...

    def check_prerequisites(self) -> None:
        """Fail with one clear line when a tool the server needs is missing."""

    def prepare(self) -> None:
        """Fetch, build or initialise what the server needs (once; cached)."""

    @abstractmethod
    def launch(self) -> int:
        """Start the process; return its PID."""

    @abstractmethod
    def ready(self) -> bool:
        """True once the server answers requests."""

    def after_ready(self) -> None:
        """One-off set-up that needs the running server."""

    @abstractmethod
    def endpoints(self) -> dict[str, str]:
        """Environment variables describing how to reach the server."""

    def pid(self) -> int | None:
        return owned_pid(self.cfg, self.name)

    def stop(self) -> int | None:
        """Stop the process this checkout started, by its recorded PID. Returns that PID."""
        return stop(self.cfg, self.name)

    def start(self) -> str:
        """Start the server unless ours already runs; wait until it is ready."""
        pid = self.pid()
        if pid is not None:
            wait_until(self.cfg, self.name, pid, self.ready)
            self.after_ready()
            return f"{self.name}: already running (pid {pid}), reused"
        require_port_free(self.name, self.port)
        self.prepare()
        pid = self.launch()
        seconds = wait_until(self.cfg, self.name, pid, self.ready)
        self.after_ready()
        return f"{self.name}: started (pid {pid}, ready in {seconds:.1f}s)"


def all_servers(cfg: InfraConfig) -> list[Server]:
    """Every server of the chosen mode, in start order."""
    from infra.servers.ferretdb import FerretDB
    from infra.servers.google import GoogleCalendarEmulator
    from infra.servers.kafka import Kafka
    from infra.servers.postgres import Postgres
    from infra.servers.radicale import Radicale
    from infra.servers.smtp import SmtpSink

    if cfg.mode == "testcontainers":
        from infra.containers import KafkaContainerServer, MongoContainerServer

        return [KafkaContainerServer(cfg), MongoContainerServer(cfg), Radicale(cfg), SmtpSink(cfg),
                GoogleCalendarEmulator(cfg)]
    return [Postgres(cfg), FerretDB(cfg), Kafka(cfg), Radicale(cfg), SmtpSink(cfg),
            GoogleCalendarEmulator(cfg)]
