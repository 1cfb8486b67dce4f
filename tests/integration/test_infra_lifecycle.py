"""`make infra-up` / `make infra-down` on a second, separate infrastructure folder with its own
ports: a second `up` reuses what runs, `down` stops exactly the recorded processes."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from support import REPO_ROOT

SERVERS = ("postgres", "ferretdb", "kafka", "radicale", "smtp", "google")
PORT_VARIABLES = ("CONVENE_KAFKA_PORT", "CONVENE_KAFKA_CONTROLLER_PORT", "CONVENE_PG_PORT",
                  "CONVENE_MONGO_PORT", "CONVENE_CALDAV_PORT", "CONVENE_SMTP_PORT",
                  "CONVENE_GOOGLE_PORT")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def recorded_pids(home: Path) -> dict[str, int]:
    return {name: int((home / "run" / f"{name}.pid").read_text().split()[0])
            for name in SERVERS if (home / "run" / f"{name}.pid").exists()}


def running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def make(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", target], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


@pytest.fixture
def second_stack(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVENE_")}
    env.update(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES))), strict=True))
    env["CONVENE_HOME"] = str(tmp_path / "convene")
    env["CONVENE_CACHE_DIR"] = os.environ.get("CONVENE_CACHE_DIR",
                                              str(Path.home() / ".cache" / "convene"))
    yield env
    make("clean", env)  # also removes a PostgreSQL folder kept outside tmp_path


def test_up_is_idempotent_and_down_leaves_no_process(second_stack: dict[str, str]) -> None:
    home = Path(second_stack["CONVENE_HOME"])
    first = make("infra-up", second_stack)
    assert first.returncode == 0, first.stdout + first.stderr
    pids = recorded_pids(home)
    assert set(pids) == set(SERVERS)
    assert all(running(pid) for pid in pids.values())

    again = make("infra-up", second_stack)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("reused") == len(SERVERS)
    assert recorded_pids(home) == pids

    down = make("infra-down", second_stack)
    assert down.returncode == 0, down.stdout + down.stderr
    still_running = {name: pid for name, pid in pids.items() if running(pid)}
    assert still_running == {}
    assert recorded_pids(home) == {}


def test_a_port_in_use_is_refused_with_a_clear_message(second_stack: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(second_stack["CONVENE_SMTP_PORT"])))
        squatter.listen()
        result = make("infra-up", second_stack)
    assert result.returncode != 0
    assert f"port {second_stack['CONVENE_SMTP_PORT']} is already in use" in result.stderr
