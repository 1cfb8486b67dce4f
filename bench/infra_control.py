"""Starting the infrastructure for a benchmark, and stopping afterwards only what the
benchmark itself started (other people may be using servers that were already up).

A server counts as the benchmark's only while it is the very process the benchmark started:
if someone restarted it in the meantime (a new PID), it is theirs and stays up.
"""

from __future__ import annotations

import subprocess
import sys

from bench.common import REPO_ROOT


def server_pids() -> dict[str, str | None]:
    """Server name -> its PID when up, None when down (``python -m infra status``)."""
    status = subprocess.run([sys.executable, "-m", "infra", "status"], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    servers: dict[str, str | None] = {}
    for line in status.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] == "down":
            servers[parts[0]] = None
        elif len(parts) >= 4 and parts[1] == "up" and parts[2] == "pid":
            servers[parts[0]] = parts[3]
    return servers


def ensure_up() -> dict[str, str]:
    """``make infra-up`` (it reuses what runs and creates the topics); returns the servers
    this call started, with their PIDs."""
    before = server_pids()
    down = [name for name, pid in before.items() if pid is None]
    if before and not down:
        print("infra: every server is up already; it stays up afterwards", flush=True)
    else:
        print(f"infra: starting {', '.join(down) or 'every server'}; stopped again at the end "
              "(unless someone restarts it meanwhile)", flush=True)
    subprocess.run(["make", "--no-print-directory", "infra-up"], cwd=REPO_ROOT, check=True)
    after = server_pids()
    return {name: pid for name, pid in after.items()  # "-": up, but not as a PID of ours
            if pid not in (None, "-") and (name in down or not before)}


def stop_started(started: dict[str, str]) -> None:
    """Stop the servers :func:`ensure_up` started that still run as the same process:
    ``make infra-down`` when that is all of them, else exactly those by name."""
    if not started:
        print("infra: left running (it was up before the benchmark)", flush=True)
        return
    now = server_pids()
    ours = [name for name, pid in started.items() if now.get(name) == pid]
    for name in sorted(set(started) - set(ours)):
        print(f"infra: {name} was restarted by someone else meanwhile; left running", flush=True)
    if not ours:
        return
    if set(ours) >= {name for name, pid in now.items() if pid is not None}:
        subprocess.run(["make", "--no-print-directory", "infra-down"], cwd=REPO_ROOT)
    else:
        subprocess.run([sys.executable, "-m", "infra", "down", *ours], cwd=REPO_ROOT)
