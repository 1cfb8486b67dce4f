"""Run Convene's services as real processes for the integration tests.

A :class:`Stack` isolates one test module: its own topic prefix (topics created from the
registry with that prefix, consumer groups named after it), its own databases, its own JWT
key pair, free ports. Services are started with ``python -m <package>`` exactly as
``make run`` and a container would, and stopped with SIGTERM (or killed with SIGKILL). A
test may start one with another entry module instead (``module=``, one of support's, e.g.
:mod:`support.crash_before_publish`), which builds the service with a test double.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support import REPO_ROOT, endpoint, load_infra_env

INTEGRATION_DIR = Path(__file__).resolve().parents[1]
"""tests/integration: on the PYTHONPATH of a child started with a support entry module."""

PACKAGES = {
    "records": "convene_records",
    "meetings": "convene_meetings",
    "calendar-sync": "convene_calendar_sync",
    "notifications": "convene_notifications",
    "booking-pages": "convene_booking_pages",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServiceProcess:
    """One service process of a stack."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    module: str | None = None  # the entry module instead of the service's package (tests)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(self.env)
        if self.module is not None:  # a support module: import support from tests/integration
            env["PYTHONPATH"] = os.pathsep.join(
                [str(INTEGRATION_DIR), *filter(None, [env.get("PYTHONPATH")])])
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module or PACKAGES[self.name]], env=env, cwd=REPO_ROOT,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n"
                                     f"{self.log_tail()}")
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready after {timeout:.0f}s ({last}):\n"
                             f"{self.log_tail()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed."""
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


GOOGLE_CLIENT_ID = "convene-it.apps.googleusercontent.example"
GOOGLE_CLIENT_SECRET = "convene-it-secret"
GOOGLE_REDIRECT_URI = "http://127.0.0.1/connections/google/callback"


@dataclass
class Stack:
    """An isolated set of service processes sharing the running infrastructure."""

    workdir: Path
    prefix: str = field(default_factory=lambda: f"it{uuid.uuid4().hex[:8]}.")
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        load_infra_env()
        from convene_kit.secret_box import generate_key

        self.secret_keys = f"it1:{generate_key()}"
        self.service_token = secrets.token_urlsafe(32)
        self.keys = self.workdir / "keys"
        subprocess.run([sys.executable, "-m", "convene_kit.devtokens", "keygen",
                        "--dir", str(self.keys)], check=True, capture_output=True)
        topics = subprocess.run([sys.executable, "-m", "convene_schemas.topics", "ensure",
                                 "--bootstrap", endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                 "--prefix", self.prefix], capture_output=True, text=True)
        if topics.returncode != 0:
            raise RuntimeError(f"creating the stack's topics failed (is `make infra-up` done?):\n"
                               f"{topics.stdout}{topics.stderr}")

    def topic(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    def database(self, service: str) -> str:
        return f"{self.prefix.rstrip('.')}_{service.replace('-', '_')}"

    def env_for(self, service: str, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVENE_")}
        env.update({
            "CONVENE_KAFKA_BOOTSTRAP": endpoint("CONVENE_KAFKA_BOOTSTRAP"),
            "CONVENE_MONGO_URL": endpoint("CONVENE_MONGO_URL"),
            "CONVENE_SMTP_HOST": endpoint("CONVENE_SMTP_HOST"),
            "CONVENE_SMTP_PORT": endpoint("CONVENE_SMTP_PORT"),
            "CONVENE_MONGO_DATABASE": self.database(service),
            "CONVENE_TOPIC_PREFIX": self.prefix,
            "CONVENE_HTTP_PORT": str(port),
            "CONVENE_JWT_PUBLIC_KEY_FILE": str(self.keys / "public.pem"),
            "CONVENE_OUTBOX_GRACE_S": "1",
            "CONVENE_OUTBOX_SWEEP_INTERVAL_S": "0.5",
            "CONVENE_OUTBOX_LEASE_S": "4",
            "CONVENE_CONSUMER_RETRY_INITIAL_S": "0.2",
            "CONVENE_CONSUMER_RETRY_MAX_S": "1",
            "CONVENE_MONGO_TIMEOUT_S": "2",
            "CONVENE_LOG_LEVEL": "INFO",
        })
        if service == "calendar-sync":
            env.update(self.calendar_sync_env())
        if service == "booking-pages":
            env.update(self.booking_pages_env())
        env.update(extra or {})
        return env

    def calendar_sync_env(self) -> dict[str, str]:
        """calendar-sync on the local servers: a keyring of the stack, egress to 127.0.0.1
        allowed (Radicale and the Google emulator are local), Google = the emulator with the
        stack's OAuth client, fast polls."""
        env = {"CONVENE_CREDENTIALS_ENCRYPTION_KEY": self.secret_keys,
               "CONVENE_ALLOW_PRIVATE_URLS": "true",
               "CONVENE_GOOGLE_CLIENT_ID": GOOGLE_CLIENT_ID,
               "CONVENE_GOOGLE_CLIENT_SECRET": GOOGLE_CLIENT_SECRET,
               "CONVENE_GOOGLE_REDIRECT_URI": GOOGLE_REDIRECT_URI,
               "CONVENE_SYNC_INTERVAL_S": "1", "CONVENE_SYNC_RETRY_S": "1",
               "CONVENE_TIMER_INTERVAL_S": "0.2", "CONVENE_SYNC_LEASE_S": "5",
               "CONVENE_INTERNAL_API_TOKENS": f"booking-pages:{self.service_token}"}
        for name in ("CONVENE_GOOGLE_API_ENDPOINT", "CONVENE_GOOGLE_AUTH_URI",
                     "CONVENE_GOOGLE_TOKEN_URI", "CONVENE_GOOGLE_REVOKE_URI",
                     "CONVENE_GOOGLE_USERINFO_URI"):
            env[name] = endpoint(name)
        return env

    def booking_pages_env(self) -> dict[str, str]:
        """booking-pages reads availability from this stack's calendar-sync (started before
        it, see PACKAGES) with the stack's service token; tests set their own rate limits."""
        calendar_sync = self.services.get("calendar-sync")
        url = f"http://127.0.0.1:{calendar_sync.port}" if calendar_sync else "http://127.0.0.1:9"
        return {"CONVENE_CALENDAR_SYNC_URL": url, "CONVENE_CALENDAR_SYNC_TOKEN": self.service_token,
                "CONVENE_PREFILL_SIGNING_KEY": self.service_token[::-1],
                "CONVENE_PUBLIC_RATE_PER_CLIENT": "100000/minute",
                "CONVENE_PUBLIC_RATE_PER_PAGE": "100000/minute",
                "CONVENE_BOOKING_RATE_PER_CLIENT": "100000/minute",
                "CONVENE_HOUSEKEEPING_INTERVAL_S": "1"}

    def start(self, *names: str, extra: dict[str, dict[str, str]] | None = None,
              modules: dict[str, str] | None = None) -> None:
        """Start services (all five by default) and wait until each is ready; ``modules``
        names another entry module for some of them (``python -m <module>``)."""
        for name in names or tuple(PACKAGES):
            if name in self.services:
                self.services[name].stop()  # never orphan a running process of this name
            port = self.services[name].port if name in self.services else free_port()
            service = ServiceProcess(name, port, self.env_for(name, port, (extra or {}).get(name)),
                                     self.workdir / f"{name}.log",
                                     module=(modules or {}).get(name))
            self.services[name] = service
            service.start()
        for name in names or tuple(PACKAGES):
            self.services[name].wait_ready()

    def restart(self, name: str, extra: dict[str, str] | None = None,
                module: str | None = None) -> None:
        """Stop one service and start it again, with ``extra`` environment and, if given,
        from another entry ``module``."""
        self.services[name].stop()
        self.start(name, extra={name: extra or {}}, modules={name: module} if module else None)

    def url(self, service: str) -> str:
        return self.services[service].url

    def token(self, account: str, user: str, roles: str = "", ttl: int = 3600) -> str:
        args = [sys.executable, "-m", "convene_kit.devtokens", "mint", "--key-dir",
                str(self.keys), "--account", account, "--user", user, "--ttl", str(ttl)]
        if roles:
            args += ["--roles", roles]
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def stop_all(self) -> None:
        for service in self.services.values():
            service.stop()

    def cleanup(self) -> None:
        """Drop this stack's databases and delete its topics (runs never accumulate)."""
        asyncio.run(self._cleanup())

    async def _cleanup(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient
        from pymongo import AsyncMongoClient

        client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"))
        try:
            for name in PACKAGES:
                await client.drop_database(self.database(name))
        finally:
            await client.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"))
        await admin.start()
        try:
            ours = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{s.log_tail(15)}" for name, s in self.services.items())
