"""`python -m infra.servers.google up | down` on a throwaway infrastructure folder and a free
port: it starts well under a second, listens on 127.0.0.1 only, and stops by its recorded PID."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def infra(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.servers.google", command], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_up_and_down_by_recorded_pid(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CONVENE_HOME": str(tmp_path / "convene"),
           "CONVENE_GOOGLE_PORT": str(port)}
    started = time.monotonic()
    up = infra("up", env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        # Generous bounds: a busy 2-core machine measured 1.6-2.4 s to ready, idle ones far less.
        assert time.monotonic() - started < 15
        ready_in = float(up.stdout.split("ready in ")[1].split("s)")[0])
        assert ready_in < 5.0, up.stdout
        assert f"CONVENE_GOOGLE_API_ENDPOINT=http://127.0.0.1:{port}/calendar/v3/" in up.stdout
        pid = int((tmp_path / "convene" / "run" / "google.pid").read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            assert json.load(answer)["emulator"] == "google-calendar-v3"
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                                   text=True).stdout.split()
        assert listening[3] == f"127.0.0.1:{port}"  # the local address column
        again = infra("up", env)
        assert "already running" in again.stdout
    finally:
        down = infra("down", env)  # stops it by the recorded PID whatever failed above
    assert down.returncode == 0 and f"pid {pid}" in down.stdout
    assert not Path(f"/proc/{pid}").exists() or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
