"""Start, recognise, health-check and stop the server processes this checkout owns.

Each server runs in its own session (process group) with its output in one log file and its
PID in one file. A recorded PID is trusted only while /proc says the process is alive and its
command line still names this checkout's infrastructure folder, so a recycled PID is never
signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from infra.config import InfraConfig


class InfraError(SystemExit):
    """A start or stop that failed; the message is what the user needs to read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for error messages."""
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log file)"
    return "\n".join(content[-lines:])


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if "\nState:\tZ" in status:  # a zombie is not a running server
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def owned_pid(cfg: InfraConfig, name: str) -> int | None:
    """The PID of this checkout's `name` server if it is running, else None."""
    try:
        pid_text, _, marker = cfg.pid_file(name).read_text().partition("\n")
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    cmdline = _cmdline(pid)
    if cmdline is None or marker.strip() not in cmdline:
        return None
    return pid


def spawn(
    cfg: InfraConfig,
    name: str,
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: Path | str | None = None,
    marker: str | None = None,
) -> int:
    """Start `argv` in a new session with its output appended to the server's log file.

    The PID file records the PID and a marker, a string of the command line (by default the
    infrastructure folder) that identifies the process as ours when it is stopped later.
    """
    marker = marker or str(cfg.home)
    if marker not in " ".join(argv):
        raise ValueError(f"marker {marker!r} does not appear in the command line of {name}")
    cfg.logs.mkdir(parents=True, exist_ok=True)
    cfg.run.mkdir(parents=True, exist_ok=True)
    log = open(cfg.log_file(name), "ab")  # noqa: SIM115 - handed to the child
    log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
    log.flush()
    kwargs: dict = {}
    if user is not None:
        kwargs.update(user=user, group=user, extra_groups=[])
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            **kwargs,
        )
    finally:
        log.close()
    cfg.pid_file(name).write_text(f"{proc.pid}\n{marker}\n")
    return proc.pid


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap our own children
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    return _cmdline(pid) is not None


def wait_until(
    cfg: InfraConfig,
    name: str,
    pid: int,
    ready: Callable[[], bool],
    timeout: float | None = None,
) -> float:
    """Poll `ready` until it holds; fail with the log's tail if the process dies or time runs out.

    Returns the seconds it took.
    """
    limit = timeout if timeout is not None else cfg.start_timeout
    started = time.monotonic()
    while True:
        if not alive(pid):
            raise InfraError(
                f"{name} exited during start-up. Last lines of {cfg.log_file(name)}:\n"
                f"{tail(cfg.log_file(name))}"
            )
        try:
            if ready():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        if time.monotonic() - started > limit:
            stop(cfg, name)
            raise InfraError(
                f"{name} was not ready within {limit:.0f}s. Last lines of "
                f"{cfg.log_file(name)}:\n{tail(cfg.log_file(name))}"
            )
        time.sleep(0.2)


def stop(
    cfg: InfraConfig, name: str, timeout: float = 30.0, sig: signal.Signals = signal.SIGTERM
) -> int | None:
    """Stop the recorded process group of `name` (`sig`, then KILL). Returns the PID stopped."""
    pid = owned_pid(cfg, name)
    cfg.pid_file(name).unlink(missing_ok=True)
    if pid is None:
        return None
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return pid
    except PermissionError:
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while alive(pid) and time.monotonic() < deadline + 10:
            time.sleep(0.1)
    return pid


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_port_free(name: str, port: int) -> None:
    """Refuse to start a server on a port another program already holds."""
    if port_open(port):
        raise InfraError(
            f"{name}: port {port} is already in use by another program. "
            f"Stop it or choose another port (see README: Configuration)."
        )
