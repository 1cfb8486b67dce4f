"""The resilience suite's own infrastructure instance: its own home folder and ports, started
and stopped by the suite, so stopping Kafka or FerretDB here never touches the instance
other people's test runs share (the default `.convene/` on the default ports).

Every port `infra/config.py` (and the Google emulator) reads is set; the base is
``CONVENE_RESILIENCE_PORT_BASE`` (default 29000). The broker always has its PROXIED listener
here (on base+94, advertised at base+95, where test_3_network.py's fault proxy
listens), so a service can be pointed at Kafka through that proxy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.config import REPO_ROOT

# Under the project's ignored state folder (.convene/ is in .gitignore), beside but apart
# from the default instance's data/, logs/ and run/.
HOME = Path(os.environ.get("CONVENE_RESILIENCE_HOME",
                           REPO_ROOT / ".convene" / "resilience")).resolve()
DEFAULT_HOME = (REPO_ROOT / ".convene").resolve()
SERVERS = ("postgres", "ferretdb", "kafka", "smtp", "google")  # Radicale: no CalDAV work here


def port_env() -> dict[str, str]:
    base = int(os.environ.get("CONVENE_RESILIENCE_PORT_BASE", "29000"))
    offsets = {"CONVENE_KAFKA_PORT": 92, "CONVENE_KAFKA_CONTROLLER_PORT": 93,
               "CONVENE_PG_PORT": 432, "CONVENE_MONGO_PORT": 17, "CONVENE_CALDAV_PORT": 232,
               "CONVENE_SMTP_PORT": 25, "CONVENE_GOOGLE_PORT": 90,
               "CONVENE_KAFKA_PROXIED_PORT": 94, "CONVENE_KAFKA_PROXY_PORT": 95}
    return {name: str(base + offset) for name, offset in offsets.items()}


class Instance:
    """`python -m infra <command>` against the suite's home and ports only."""

    def __init__(self) -> None:
        if HOME == DEFAULT_HOME:
            raise RuntimeError("the resilience suite must not use the default .convene/ home")
        self.home = HOME
        self.env = {**os.environ, "CONVENE_HOME": str(HOME), **port_env()}

    def infra(self, command: str, *servers: str, timeout: float = 240) -> str:
        result = subprocess.run([sys.executable, "-m", "infra", command, *servers],
                                cwd=REPO_ROOT, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"python -m infra {command} {' '.join(servers)} failed:\n"
                               f"{result.stdout}{result.stderr}")
        return result.stdout

    def up(self) -> None:
        """A fresh instance: leftovers of an aborted run stopped and their data deleted."""
        self.infra("clean")
        self.infra("up", *SERVERS)
        self.activate()

    def down(self) -> None:
        self.infra("down")

    def stop(self, server: str) -> None:
        self.infra("down", server)

    def start(self, server: str) -> None:
        self.infra("up", server)

    def endpoints(self) -> dict[str, str]:
        values = {}
        for line in (self.home / "infra.env").read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key] = value
        return values

    def activate(self) -> None:
        """Point this process (and the stacks it starts) at the instance, overriding
        whatever endpoints the environment had (e.g. the default instance's)."""
        os.environ.update({"CONVENE_HOME": str(self.home), **port_env(), **self.endpoints()})

    def log_tail(self, server: str, lines: int = 30) -> str:
        try:
            text = (self.home / "logs" / f"{server}.log").read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
