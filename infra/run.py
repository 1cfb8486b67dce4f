"""`make run`: the whole system locally. Starts the infrastructure (reusing what already runs),
creates the topics, starts every service that exists as its own process, seeds the demo
account, prints every URL, and on Ctrl-C stops exactly what it started.

When a service exits, `make run` stops everything and says which one (a crash is not
hidden). With ``--supervise`` (``make run SUPERVISE=1``) a service that exits is started
again instead (infra/supervise.py: back-off, at most 20 restarts each), and each restart
is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from infra import config
from infra.__main__ import write_endpoints
from infra.process import InfraError
from infra.servers import all_servers
from infra.supervise import Restart, Supervisor


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # folder under services/
    package: str  # its Python package, run with `python -m <package>`
    port: int


SERVICES = (
    ServiceSpec("records", "convene_records", 8101),
    ServiceSpec("meetings", "convene_meetings", 8102),
    ServiceSpec("calendar-sync", "convene_calendar_sync", 8103),
    ServiceSpec("notifications", "convene_notifications", 8104),
    ServiceSpec("booking-pages", "convene_booking_pages", 8105),
)


def existing_services() -> list[ServiceSpec]:
    """The services whose package is installed in this workspace."""
    return [s for s in SERVICES if importlib.util.find_spec(s.package) is not None]


def read_endpoints(cfg: config.InfraConfig) -> dict[str, str]:
    values = {}
    for line in cfg.endpoints_file.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
    return values


def ensure_topics(endpoints: dict[str, str]) -> None:
    if importlib.util.find_spec("convene_schemas.topics") is None:
        return
    subprocess.run([sys.executable, "-m", "convene_schemas.topics", "ensure",
                    "--bootstrap", endpoints["CONVENE_KAFKA_BOOTSTRAP"]], check=True)


DEMO_ACCOUNT = "acc_demo"
DEMO_ADMIN = "usr_demo_admin"


def dev_keys(cfg: config.InfraConfig) -> Path:
    """The local key pair standing in for the gateway's (created once)."""
    keys = cfg.home / "keys"
    subprocess.run([sys.executable, "-m", "convene_kit.devtokens", "keygen", "--dir", str(keys)],
                   check=True, capture_output=True)
    return keys


def mint(keys: Path, user: str, roles: str = "team") -> str:
    return subprocess.run(
        [sys.executable, "-m", "convene_kit.devtokens", "mint", "--key-dir", str(keys),
         "--account", DEMO_ACCOUNT, "--user", user, "--roles", roles, "--ttl", str(12 * 3600)],
        check=True, capture_output=True, text=True).stdout.strip()


def _call(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


DEMO_GOOGLE_CLIENT = ("convene-dev.apps.googleusercontent.example", "convene-dev-secret")
CALENDAR_SYNC_URL = "http://127.0.0.1:8103"


def calendar_sync_env(cfg: config.InfraConfig, endpoints: dict[str, str]) -> dict[str, str]:
    """What calendar-sync needs locally: a keyring for credentials at rest (made once, 0600),
    egress to 127.0.0.1 allowed (Radicale and the emulator are local), and the Google
    emulator as Google, with a development OAuth client registered there."""
    keyring = cfg.home / "secret-keys"
    if not keyring.exists():
        from convene_kit.secret_box import generate_key

        fd = os.open(keyring, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"dev1:{generate_key()}\n")
    client_id, client_secret = DEMO_GOOGLE_CLIENT
    redirect = f"{CALENDAR_SYNC_URL}/connections/google/callback"
    if "CONVENE_GOOGLE_URL" in endpoints:
        from infra.emulators.google_calendar.client import EmulatorAdmin

        EmulatorAdmin(endpoints["CONVENE_GOOGLE_URL"]).add_client(client_id, client_secret,
                                                                  [redirect])
    return {"CONVENE_CREDENTIALS_ENCRYPTION_KEY": keyring.read_text().strip(),
            "CONVENE_ALLOW_PRIVATE_URLS": "true",
            "CONVENE_GOOGLE_CLIENT_ID": client_id, "CONVENE_GOOGLE_CLIENT_SECRET": client_secret,
            "CONVENE_GOOGLE_REDIRECT_URI": redirect,
            "CONVENE_INTERNAL_API_TOKENS": f"booking-pages:{service_token(cfg)}"}


def service_token(cfg: config.InfraConfig) -> str:
    """booking-pages' token for calendar-sync's availability reads (made once, 0600)."""
    path = cfg.home / "service-token"
    if not path.exists():
        import secrets

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def booking_pages_env(cfg: config.InfraConfig) -> dict[str, str]:
    """booking-pages reads availability from calendar-sync with its token; prefill links
    are signed with a key kept across restarts."""
    key = cfg.home / "prefill-key"
    if not key.exists():
        import secrets

        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return {"CONVENE_CALENDAR_SYNC_URL": CALENDAR_SYNC_URL,
            "CONVENE_CALENDAR_SYNC_TOKEN": service_token(cfg),
            "CONVENE_PREFILL_SIGNING_KEY": key.read_text().strip(),
            "CONVENE_PUBLIC_BASE_URL": BOOKING_PAGES_URL}


BOOKING_PAGES_URL = "http://127.0.0.1:8105"
DEMO_PAGE_SLUG = "hana-intro"


def seed_demo_page(keys: Path, host_user_id: str) -> None:
    """The host's demo scheduling page, once (a slug taken means it exists)."""
    token = mint(keys, host_user_id)
    status, body = _call("POST", f"{BOOKING_PAGES_URL}/pages", token, {
        "slug": DEMO_PAGE_SLUG, "title": "Intro call with Hana", "time_zone": "Europe/Rome",
        "durations": [30, 60], "minimum_notice_minutes": 60,
        "description": "A first talk about what Demo Co can do for you.",
        "form_fields": [{"key": "company", "label": "Company", "required": True}]})
    if status not in (201, 409):
        raise InfraError(f"seeding the demo page failed with HTTP {status}: {body}")


def connect_demo_calendar(endpoints: dict[str, str], token: str) -> dict:
    """Connect the demo host's calendar for real: a CalDAV calendar on Radicale (user
    ``demo``), created once, connected through calendar-sync's API. calendar-sync learns
    the host from records' events, so the connect is retried until it knows them."""
    import caldav

    credentials = json.loads(Path(endpoints["CONVENE_CALDAV_CREDENTIALS_FILE"]).read_text())
    url = endpoints["CONVENE_CALDAV_URL"]
    with caldav.DAVClient(url=url, username="demo", password=credentials["demo"]) as client:
        principal = client.principal()
        if not any(c.url.path.rstrip("/").endswith("/demo/work") for c in principal.calendars()):
            principal.make_calendar(name="Work", cal_id="work")
    body = {"url": url, "username": "demo", "password": credentials["demo"]}
    deadline = time.monotonic() + 60
    while True:
        status, answer = _call("POST", f"{CALENDAR_SYNC_URL}/connections/caldav", token, body)
        if status in (201, 409):
            return answer
        if time.monotonic() > deadline:
            raise InfraError(f"connecting the demo calendar failed with HTTP {status}: {answer}")
        time.sleep(0.5)  # records' UserUpserted has not reached calendar-sync yet


def seed_demo(cfg: config.InfraConfig, keys: Path, records_url: str,
              endpoints: dict[str, str]) -> dict[str, str]:
    """The demo account with a host user and a contact, created through records' API once
    (their ids are kept in data/demo.json, which `make clean` removes with the data)."""
    state = cfg.data / "demo.json"
    if state.exists():
        return json.loads(state.read_text())
    admin = mint(keys, DEMO_ADMIN, roles="admin")
    status, body = _call("POST", f"{records_url}/account", admin,
                         {"name": "Demo Co", "default_time_zone": "Europe/Rome"})
    if status != 201:
        raise InfraError(f"seeding the demo account failed with HTTP {status}: {body}; "
                         "`make clean` resets the local data")
    seeded = {}
    for kind, request in (("users", {"email": "host@demo.example", "name": "Hana Host",
                                     "time_zone": "Europe/Rome", "language": "en",
                                     "seat": "sales_professional",
                                     "personal_email_access": True}),  # may connect (R22)
                          ("contacts", {"email": "carl@client.example", "first_name": "Carl",
                                        "last_name": "Contact", "time_zone": "America/New_York",
                                        "language": "en"})):
        status, created = _call("POST", f"{records_url}/{kind}", admin, request)
        if status != 201:
            raise InfraError(f"seeding {kind} failed with HTTP {status}: {created}")
        seeded[kind] = created["id"]
    connect_demo_calendar(endpoints, mint(keys, seeded["users"]))
    state.write_text(json.dumps(seeded))
    return seeded


def wait_healthy(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


class ServiceChild:
    """One service process of `make run`, startable again by the supervisor."""

    def __init__(self, spec: ServiceSpec, env: dict[str, str], log_file: Path) -> None:
        self.spec, self.env, self.log_file = spec, env, log_file
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", self.spec.package],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.run", description=__doc__)
    parser.add_argument("--supervise", action="store_true",
                        help="restart a service that exits instead of stopping everything")
    args = parser.parse_args(argv)
    cfg = config.load()
    servers = all_servers(cfg)
    started_servers = []
    children: list[ServiceChild] = []
    supervisor: Supervisor | None = None
    stop_requested = False

    def request_stop(signum, frame):  # noqa: ARG001
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for server in servers:
            server.check_prerequisites()
            was_running = server.pid() is not None
            print(server.start(), flush=True)
            if not was_running:
                started_servers.append(server)
        write_endpoints(cfg, servers)
        endpoints = read_endpoints(cfg)
        ensure_topics(endpoints)

        specs = existing_services()
        keys = dev_keys(cfg)
        env = {**os.environ, **endpoints, "CONVENE_JWT_PUBLIC_KEY_FILE": str(keys / "public.pem")}
        own_env = {"calendar-sync": calendar_sync_env(cfg, endpoints),
                   "booking-pages": booking_pages_env(cfg)}
        for spec in specs:
            child = ServiceChild(spec, {**env, **own_env.get(spec.name, {}),
                                        "CONVENE_HTTP_PORT": str(spec.port)},
                                 cfg.log_file(spec.name))
            child.start()
            children.append(child)
        for spec in specs:
            if not wait_healthy(f"http://127.0.0.1:{spec.port}/healthz"):
                raise InfraError(f"{spec.name} did not become healthy; see {cfg.log_file(spec.name)}")

        seeded = seed_demo(cfg, keys, "http://127.0.0.1:8101", endpoints) if any(
            s.name == "records" for s in specs) else {}

        print("\nConvene is running. Press Ctrl-C to stop everything started here.\n")
        if specs:
            for spec in specs:
                print(f"  {spec.name:14} http://127.0.0.1:{spec.port}/   API docs: "
                      f"http://127.0.0.1:{spec.port}/docs")
        else:
            print("  services: none exist yet (services/*), only the infrastructure runs")
        print(f"  Kafka bootstrap  {endpoints['CONVENE_KAFKA_BOOTSTRAP']}")
        print(f"  MongoDB wire     {endpoints['CONVENE_MONGO_URL']}")
        print(f"  CalDAV           {endpoints['CONVENE_CALDAV_URL']} "
              f"(users in {endpoints['CONVENE_CALDAV_CREDENTIALS_FILE']})")
        if "CONVENE_GOOGLE_URL" in endpoints:
            print(f"  Google emulator  {endpoints['CONVENE_GOOGLE_URL']}/ "
                  f"(Calendar v3 and OAuth; admin API under /_admin/)")
        print(f"  SMTP sink        {endpoints['CONVENE_SMTP_HOST']}:{endpoints['CONVENE_SMTP_PORT']}"
              f", every email is written to {endpoints['CONVENE_MAIL_SINK_DIR']}/*.eml")
        print(f"  logs             {cfg.logs}/")
        if seeded:
            token = mint(keys, seeded["users"])
            (cfg.home / "demo-token").write_text(token + "\n")
            print(f"\n  demo account {DEMO_ACCOUNT}: host user {seeded['users']}, "
                  f"contact {seeded['contacts']}")
            print(f"  development token of the host (role team), also in {cfg.home / 'demo-token'}:")
            print(f"    {token}")
            print(f"  the host's calendar (CalDAV, user demo on Radicale): "
                  f"{endpoints['CONVENE_CALDAV_URL']}demo/work/ ; connections: "
                  f"GET {CALENDAR_SYNC_URL}/connections with the token")
            print("  schedule the demo meeting: see README.md, 'Try it'")
            if any(s.name == "booking-pages" for s in specs):
                seed_demo_page(keys, seeded["users"])
                print(f"  the host's scheduling page (open it in a browser): "
                      f"{BOOKING_PAGES_URL}/meetings/{DEMO_PAGE_SLUG}")
                print(f"  the same page as JSON: {BOOKING_PAGES_URL}/public/pages/"
                      f"{DEMO_PAGE_SLUG} ; its free times: .../{DEMO_PAGE_SLUG}/slots"
                      f"?duration=30&time_zone=Europe/Rome&from=YYYY-MM-DD&to=YYYY-MM-DD")
        print("", flush=True)
        if args.supervise:
            def report(restart: Restart) -> None:
                print(f"supervise: {restart.name} exited with code {restart.returncode}; "
                      f"started again (see {cfg.log_file(restart.name)})", flush=True)

            supervisor = Supervisor({c.spec.name: c for c in children}, on_restart=report)
            supervisor.start()
            print("supervised: a service that exits is started again (at most 20 times)\n",
                  flush=True)
        while not stop_requested:
            for child in children:
                code = child.poll()
                if code is not None and supervisor is None:
                    raise InfraError(f"{child.spec.name} exited with code {code}; see "
                                     f"{cfg.log_file(child.spec.name)} (`make run SUPERVISE=1` "
                                     "restarts it instead)")
            if supervisor is not None and supervisor.given_up:
                raise InfraError(f"{', '.join(supervisor.given_up)} kept exiting; see {cfg.logs}")
            time.sleep(0.5)
        return 0
    except InfraError as exc:
        print(f"run: {exc.message}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping...", flush=True)
        if supervisor is not None:
            supervisor.stop()  # before the services, or it would start them again
        services = [c.process for c in children if c.process is not None]
        for proc in services:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in services:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for server in reversed(started_servers):
            pid = server.stop()
            print(f"{server.name}: stopped (pid {pid})")


if __name__ == "__main__":
    sys.exit(main())
