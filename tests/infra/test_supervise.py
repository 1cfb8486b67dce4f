"""infra/supervise.py: the restart policy of `make run SUPERVISE=1` and the resilience suite.

Unit tests, no servers: fake children whose exit a test decides, and real processes for the
one test that proves a SIGKILLed process is started again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from infra.supervise import Restart, Supervisor


class FakeChild:
    """A child whose exit the test decides; counts its starts."""

    def __init__(self) -> None:
        self.starts = 0
        self.code: int | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            self.starts += 1
            self.code = None

    def poll(self) -> int | None:
        with self.lock:
            return self.code

    def exit(self, code: int) -> None:
        with self.lock:
            self.code = code


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def fast(children, **kwargs) -> Supervisor:
    options = {"interval_s": 0.01, "initial_backoff_s": 0.05, "max_backoff_s": 0.4,
               "stable_after_s": 60.0, "max_restarts": 20}
    options.update(kwargs)
    return Supervisor(children, **options)


def test_a_child_that_exits_is_started_again_and_reported() -> None:
    child, other = FakeChild(), FakeChild()
    seen: list[Restart] = []
    with fast({"a": child, "b": other}, on_restart=seen.append) as sup:
        time.sleep(0.1)
        assert child.starts == 0 and sup.restarts == []  # running children are left alone
        child.exit(-9)
        wait_until(lambda: child.starts == 1)
    assert other.starts == 0
    assert [(r.name, r.returncode) for r in sup.restarts] == [("a", -9)]
    assert seen == sup.restarts
    (restart,) = seen
    assert restart.restarted_at - restart.exited_at >= 0.05  # the initial back-off was kept
    assert sup.restarts_of("a") == 1 and sup.restarts_of("b") == 0


def test_the_back_off_doubles_while_a_child_keeps_crashing() -> None:
    child = FakeChild()
    with fast({"a": child}, initial_backoff_s=0.05, max_backoff_s=0.2) as sup:
        for expected in range(1, 5):
            child.exit(1)
            wait_until(lambda expected=expected: child.starts == expected)
    waits = [r.restarted_at - r.exited_at for r in sup.restarts]
    assert len(waits) == 4
    for wait, backoff in zip(waits, (0.05, 0.1, 0.2, 0.2), strict=True):  # capped at 0.2
        assert backoff <= wait < backoff + 0.15, waits


def test_a_child_that_stayed_up_is_restarted_after_the_initial_back_off_again() -> None:
    child = FakeChild()
    with fast({"a": child}, initial_backoff_s=0.05, max_backoff_s=1.0, stable_after_s=0.2) as sup:
        for expected in (1, 2, 3):
            child.exit(1)
            wait_until(lambda expected=expected: child.starts == expected)
        time.sleep(0.3)  # stable: the back-off resets
        child.exit(1)
        wait_until(lambda: child.starts == 4)
    last = sup.restarts[-1]
    assert last.restarted_at - last.exited_at < 0.05 + 0.15  # not the doubled 0.4 s


def test_it_gives_up_after_max_restarts() -> None:
    child = FakeChild()
    with fast({"a": child}, initial_backoff_s=0.01, max_backoff_s=0.01, max_restarts=3) as sup:
        for expected in (1, 2, 3):
            child.exit(1)
            wait_until(lambda expected=expected: child.starts == expected)
        child.exit(1)
        wait_until(lambda: sup.given_up == ["a"])
        time.sleep(0.1)
    assert child.starts == 3 and sup.given_up == ["a"]


def test_a_paused_child_is_not_restarted_until_resumed() -> None:
    child = FakeChild()
    with fast({"a": child}) as sup:
        sup.pause("a")
        child.exit(0)  # its owner stops it on purpose
        time.sleep(0.2)
        assert child.starts == 0
        replacement = FakeChild()
        replacement.start()  # the owner started a new process standing in for it
        sup.resume("a", replacement)
        replacement.exit(1)
        wait_until(lambda: replacement.starts == 2)
    assert child.starts == 0 and sup.restarts_of("a") == 1


def test_after_stop_nothing_is_restarted() -> None:
    child = FakeChild()
    sup = fast({"a": child})
    sup.start()
    sup.stop()
    child.exit(1)
    time.sleep(0.1)
    assert child.starts == 0 and sup.restarts == []


class ProcessChild:
    """A real process: a sleeping Python."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()


@pytest.mark.timeout(30)
def test_a_sigkilled_process_is_started_again() -> None:
    child = ProcessChild()
    child.start()
    first = child.process
    assert first is not None
    try:
        with fast({"sleeper": child}) as sup:
            first.send_signal(signal.SIGKILL)
            wait_until(lambda: child.process is not first and child.poll() is None, timeout=10)
        assert [(r.name, r.returncode) for r in sup.restarts] == [("sleeper", -signal.SIGKILL)]
    finally:
        for process in {first, child.process}:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.timeout(30)
def test_make_run_supervise_restarts_a_killed_service_child(tmp_path) -> None:
    """infra/run.py's ServiceChild (what `make run SUPERVISE=1` hands the supervisor): a
    SIGKILLed service is started again with the same environment, its log appended."""
    import os

    from infra.run import ServiceChild, ServiceSpec

    (tmp_path / "fake_service.py").write_text(
        "import os, sys, time\nprint('up', os.environ['FAKE_MARK'], flush=True)\ntime.sleep(60)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "FAKE_MARK": "mark-17"}
    child = ServiceChild(ServiceSpec("fake", "fake_service", 0), env, tmp_path / "fake.log")
    child.start()
    first = child.process
    assert first is not None and child.poll() is None
    try:
        log = tmp_path / "fake.log"
        wait_until(lambda: "up mark-17" in log.read_text(), timeout=10)
        with fast({"fake": child}) as sup:
            os.killpg(first.pid, signal.SIGKILL)
            wait_until(lambda: child.process is not first and child.poll() is None, timeout=10)
            wait_until(lambda: log.read_text().count("up mark-17") == 2, timeout=10)
        assert sup.restarts_of("fake") == 1
    finally:
        for process in {first, child.process}:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
