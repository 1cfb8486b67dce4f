"""Restart a service process that exits: the local stand-in for a container orchestrator's
restart policy (Kubernetes' ``restartPolicy: Always`` with its back-off).

Used by ``make run SUPERVISE=1`` (``python -m infra.run --supervise``) and by the resilience
suite (tests/resilience), which SIGKILLs services and needs them back without a replica.
A supervisor polls its children from one background thread; a child that exited on its own
is started again after a back-off that doubles from ``initial_backoff_s`` up to
``max_backoff_s`` (reset once a child stayed up for ``stable_after_s``), at most
``max_restarts`` times per child so a service that cannot start does not loop forever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Child(Protocol):
    """What the supervisor needs of a process it watches."""

    def start(self) -> None:
        """Start the process (again)."""

    def poll(self) -> int | None:
        """Its exit code once it exited, None while it runs."""


@dataclass(frozen=True)
class Restart:
    """One restart: which child, how it had exited, when (monotonic seconds)."""

    name: str
    returncode: int
    exited_at: float
    restarted_at: float


@dataclass
class _Watched:
    child: Child
    started_at: float = field(default_factory=time.monotonic)
    backoff_s: float = 0.0
    restarts: int = 0
    exited_at: float | None = None
    gave_up: bool = False
    paused: bool = False


class Supervisor:
    """Watches named children and restarts those that exit (see the module docstring)."""

    def __init__(self, children: dict[str, Child], *, interval_s: float = 0.2,
                 initial_backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 stable_after_s: float = 60.0, max_restarts: int = 20,
                 on_restart: Callable[[Restart], None] | None = None) -> None:
        self._watched = {name: _Watched(child) for name, child in children.items()}
        self._interval_s = interval_s
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._stable_after_s = stable_after_s
        self._max_restarts = max_restarts
        self._on_restart = on_restart
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts: list[Restart] = []
        self.given_up: list[str] = []

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Begin watching (the children are already started by their owner)."""
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; the children keep running (their owner stops them)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def pause(self, name: str) -> None:
        """Stop watching ``name`` (its owner stops or restarts it on purpose)."""
        with self._lock:
            self._watched[name].paused = True

    def resume(self, name: str, child: Child | None = None) -> None:
        """Watch ``name`` again (``child``: a new process object standing in for it)."""
        with self._lock:
            old = self._watched[name]
            self._watched[name] = _Watched(child or old.child, restarts=old.restarts)

    def restarts_of(self, name: str) -> int:
        return sum(1 for r in self.restarts if r.name == name)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            with self._lock:
                for name, watched in self._watched.items():
                    self._check(name, watched)

    def _check(self, name: str, watched: _Watched) -> None:
        if watched.gave_up or watched.paused:
            return
        code = watched.child.poll()
        now = time.monotonic()
        if code is None:
            if watched.exited_at is None and now - watched.started_at > self._stable_after_s:
                watched.backoff_s = 0.0  # it stayed up: the next crash restarts at once
            return
        if watched.exited_at is None:
            watched.exited_at = now
            watched.backoff_s = (min(self._max_backoff_s, max(self._initial_backoff_s,
                                                              watched.backoff_s * 2))
                                 if watched.backoff_s else self._initial_backoff_s)
        if now - watched.exited_at < watched.backoff_s:
            return
        if watched.restarts >= self._max_restarts:
            watched.gave_up = True
            self.given_up.append(name)
            return
        restart = Restart(name, code, watched.exited_at, now)
        watched.child.start()
        watched.restarts += 1
        watched.started_at, watched.exited_at = time.monotonic(), None
        self.restarts.append(restart)
        if self._on_restart is not None:
            self._on_restart(restart)
