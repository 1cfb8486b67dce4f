"""The SSRF guard: which addresses are refused, the pre-check, and the guarded client
against real local servers (plain HTTP, a redirect, TLS) with no internet access needed:
public names come from a stub resolver."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from convene_kit.egress import (
    EgressPolicy,
    EgressRefused,
    GuardedNetworkBackend,
    address_category,
    check_url,
    guarded_client,
    guarded_transport,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def stub_resolver(answers: dict[str, Sequence[str]]):
    """A resolver answering from ``answers`` (IP literals: themselves); unknown names fail
    like DNS does."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


# -- address classes ------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "category"), [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("172.31.255.255", "private"),
    ("192.168.0.10", "private"),
    ("100.64.0.1", "shared"), ("100.127.255.254", "shared"),
    ("169.254.169.254", "link_local"), ("169.254.0.1", "link_local"),
    ("0.0.0.0", "unspecified"), ("0.1.2.3", "unspecified"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("192.0.2.7", "reserved"),
    ("198.18.0.1", "reserved"),
    ("::1", "loopback"), ("::", "unspecified"),
    ("fc00::1", "unique_local"), ("fd12:3456::1", "unique_local"),
    ("fe80::1", "link_local"), ("fe80::1%1", "link_local"), ("ff02::1", "multicast"),
    ("2001:db8::1", "reserved"), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),  # Teredo
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:a9fe:a9fe", "link_local"),
    ("::ffff:10.0.0.1", "private"), ("::127.0.0.1", "reserved"),  # IPv4-compatible
    ("64:ff9b::7f00:1", "loopback"), ("64:ff9b::10.0.0.1", "private"),  # NAT64
    ("2002:7f00:1::", "loopback"), ("2002:a9fe:a9fe::1", "link_local"),  # 6to4
])
def test_every_non_public_address_class_is_recognized(address: str, category: str) -> None:
    assert address_category(ipaddress.ip_address(address)) == category
    assert EgressPolicy().refusal(address) == category


@pytest.mark.parametrize("address", [PUBLIC_V4, "8.8.8.8", PUBLIC_V6, "::ffff:8.8.8.8",
                                     "64:ff9b::8.8.8.8", "2002:808:808::1"])
def test_public_addresses_and_their_ipv6_forms_are_allowed(address: str) -> None:
    assert address_category(ipaddress.ip_address(address)) is None
    assert EgressPolicy().refusal(address) is None


def test_allow_private_opens_internal_networks_but_never_metadata_or_unspecified() -> None:
    policy = EgressPolicy(allow_private=True)
    for address in ("127.0.0.1", "10.0.0.1", "100.64.0.1", "fd00::1", "::1", "::ffff:127.0.0.1"):
        assert policy.refusal(address) is None, address
    for address in ("169.254.169.254", "0.0.0.0", "::", "fe80::1", "224.0.0.1"):
        assert policy.refusal(address) is not None, address


def test_allowed_networks_are_explicit_exceptions() -> None:
    policy = EgressPolicy(allowed_networks=("10.20.0.0/16", "fd00:1::/32"))
    assert policy.refusal("10.20.3.4") is None
    assert policy.refusal("fd00:1::5") is None
    assert policy.refusal("10.21.0.1") == "private"
    assert policy.refusal("not-an-address") == "reserved"  # a broken resolver fails closed
    with pytest.raises(ValueError):
        EgressPolicy(allowed_networks=("10.20.0.0/33",))


# -- check_url --------------------------------------------------------------------------------

async def refusal_of(url: str, policy: EgressPolicy | None = None, **kwargs) -> EgressRefused:
    with pytest.raises(EgressRefused) as caught:
        await check_url(url, policy or EgressPolicy(), **kwargs)
    return caught.value


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "https://10.0.0.1/", "http://172.16.5.4:8080/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/", "http://0.0.0.0:5232/",
    "http://224.0.0.1/", "http://255.255.255.255/",
    "http://[::1]:5232/", "http://[::]/", "http://[fd12::1]/", "http://[fe80::1]/",
    "http://[ff02::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a00:1]/", "http://[2002:7f00:1::]/", "http://[::127.0.0.1]/",
])
async def test_literal_addresses_are_refused(url: str) -> None:
    refused = await refusal_of(url)  # IP literals resolve locally, no DNS
    assert refused.reason_code == "address_not_allowed"


@pytest.mark.parametrize("host", [
    "2130706433",  # decimal
    "017700000001",  # octal, one part
    "0x7f.0.0.1", "0x7f000001",  # hex
    "127.1", "0177.1",  # short forms, octal short form
    "localhost",  # a name resolving to loopback
])
async def test_odd_spellings_and_names_of_loopback_are_refused(host: str) -> None:
    refused = await refusal_of(f"http://{host}:5232/dav/")
    assert refused.reason_code == "address_not_allowed"
    assert refused.address is not None and ipaddress.ip_address(refused.address).is_loopback


async def test_dotted_octal_is_refused_by_the_parser_and_by_the_backend() -> None:
    # httpx's URL parser rejects "0177.0.0.1"; the OS resolver would read it as 127.0.0.1,
    # so the connection-time guard refuses it even if it got there.
    assert (await refusal_of("http://0177.0.0.1/")).reason_code == "invalid_url"
    with pytest.raises(EgressRefused) as caught:
        await GuardedNetworkBackend(EgressPolicy()).connect_tcp("0177.0.0.1", 80)
    assert caught.value.address == "127.0.0.1"


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd",
                                 "gopher://example.com/", "ldap://example.com/"])
async def test_only_http_and_https_are_allowed(url: str) -> None:
    assert (await refusal_of(url)).reason_code == "scheme_not_allowed"


async def test_a_url_without_host_is_invalid() -> None:
    assert (await refusal_of("http:///calendars/")).reason_code == "invalid_url"
    assert (await refusal_of("not a url at all")).reason_code in {"invalid_url",
                                                                  "scheme_not_allowed"}


async def test_an_unresolvable_name_is_reported_as_such() -> None:
    resolver = stub_resolver({"empty.example": []})
    for url in ("https://nowhere.example/", "https://empty.example/"):
        refused = await refusal_of(url, resolver=resolver)
        assert refused.reason_code == "unresolvable"


async def test_a_public_name_passes_and_any_private_answer_refuses_it() -> None:
    resolver = stub_resolver({
        "calendar.example": [PUBLIC_V4, PUBLIC_V6],
        "mixed.example": [PUBLIC_V4, "10.0.0.7"],
        "v6only.example": ["::1"],
    })
    await check_url("https://calendar.example/dav/", EgressPolicy(), resolver=resolver)
    assert (await refusal_of("https://mixed.example/", resolver=resolver)).address == "10.0.0.7"
    assert (await refusal_of("https://v6only.example/", resolver=resolver)).address == "::1"


async def test_allowed_hosts_are_reached_whatever_they_resolve_to() -> None:
    resolver = stub_resolver({"calendar.corp.internal": ["10.1.2.3"]})
    policy = EgressPolicy(allowed_hosts=frozenset({"Calendar.Corp.Internal."}))
    await check_url("https://calendar.corp.internal/", policy, resolver=resolver)
    assert (await refusal_of("https://10.1.2.3/", policy)).reason_code == "address_not_allowed"


async def test_allow_private_lets_loopback_pass_the_check() -> None:
    await check_url("http://127.0.0.1:5232/", EgressPolicy(allow_private=True))
    refused = await refusal_of("http://169.254.169.254/", EgressPolicy(allow_private=True))
    assert refused.reason_code == "address_not_allowed"


async def test_messages_never_hold_credentials_from_the_url() -> None:
    for url in ("http://alice:s3cret-pw@127.0.0.1/?token=t0ken",
                "ftp://alice:s3cret-pw@example.com/?token=t0ken",
                "http://alice:s3cret-pw@nowhere.example/?token=t0ken"):
        refused = await refusal_of(url, resolver=stub_resolver({}))
        assert "s3cret-pw" not in str(refused) and "t0ken" not in str(refused)
        assert "alice" not in str(refused)


# -- the guarded client against real local servers ---------------------------------------

@dataclass
class LocalServer:
    """A threaded HTTP server on 127.0.0.1 recording what reached it."""

    port: int
    seen: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location
    server_names: list[str | None] = field(default_factory=list)  # TLS SNI


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    state = LocalServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            state.seen.append((self.path, self.headers.get("Host", "")))
            location = state.redirects.get(self.path)
            body = b"hello from the local server"
            self.send_response(302 if location else 200)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _ctx: state.server_names.append(name)
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serve() as state:
        yield state


async def test_the_client_refuses_loopback_before_connecting(server: LocalServer) -> None:
    async with guarded_client(EgressPolicy()) as client:
        with pytest.raises(EgressRefused) as caught:
            await client.get(f"http://127.0.0.1:{server.port}/")
    assert caught.value.reason_code == "address_not_allowed"
    assert server.seen == []


async def test_allow_private_reaches_a_real_local_server(server: LocalServer) -> None:
    async with guarded_client(EgressPolicy(allow_private=True)) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/hello")
    assert response.status_code == 200
    assert response.text == "hello from the local server"
    assert server.seen == [("/hello", f"127.0.0.1:{server.port}")]


async def test_the_connection_goes_to_the_checked_address_under_the_url_host(
        server: LocalServer) -> None:
    resolver = stub_resolver({"calendar.example": ["127.0.0.1"]})
    async with guarded_client(EgressPolicy(allow_private=True), resolver=resolver) as client:
        response = await client.get(f"http://calendar.example:{server.port}/dav/")
    assert response.status_code == 200
    assert server.seen == [("/dav/", f"calendar.example:{server.port}")]


async def test_dns_rebinding_after_the_pre_check_is_refused_at_connection_time(
        server: LocalServer) -> None:
    answers = iter([[PUBLIC_V4], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)  # public for the pre-check, loopback when connecting

    await check_url(f"http://rebind.example:{server.port}/", EgressPolicy(), resolver=rebinding)
    async with guarded_client(EgressPolicy(), resolver=rebinding) as client:
        with pytest.raises(EgressRefused) as caught:
            await client.get(f"http://rebind.example:{server.port}/")
    assert caught.value.address == "127.0.0.1"
    assert server.seen == []


async def test_one_refused_answer_among_public_ones_refuses_the_connection() -> None:
    resolver = stub_resolver({"mixed.example": [PUBLIC_V4, PUBLIC_V6, "::ffff:10.0.0.1"]})
    backend = GuardedNetworkBackend(EgressPolicy(), resolver=resolver)
    with pytest.raises(EgressRefused) as caught:  # before any connection attempt
        await backend.connect_tcp("mixed.example", 443, timeout=1.0)
    assert caught.value.address == "::ffff:10.0.0.1"


async def test_a_redirect_to_a_refused_address_is_refused(server: LocalServer) -> None:
    # The first server is reachable (a trusted host name); its redirects are not.
    resolver = stub_resolver({"calendar.example": ["127.0.0.1"]})
    policy = EgressPolicy(allowed_hosts=frozenset({"calendar.example"}))
    server.redirects["/loopback"] = f"http://127.0.0.1:{server.port}/secret"
    server.redirects["/metadata"] = "http://169.254.169.254/latest/meta-data/"
    async with guarded_client(policy, resolver=resolver, follow_redirects=True) as client:
        for path in ("/loopback", "/metadata"):
            with pytest.raises(EgressRefused):
                await client.get(f"http://calendar.example:{server.port}{path}")
    assert [path for path, _ in server.seen] == ["/loopback", "/metadata"]  # no /secret


async def test_a_name_that_does_not_resolve_is_a_connection_error() -> None:
    async with guarded_client(EgressPolicy(), resolver=stub_resolver({})) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://nowhere.example/")


def self_signed(directory: Path, hostname: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_tls_verifies_the_url_host_not_the_connected_address(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "calendar.example")  # no IP address in the certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    resolver = stub_resolver({"calendar.example": ["127.0.0.1"]})
    with serve(server_tls) as state:
        async with guarded_client(EgressPolicy(allow_private=True), resolver=resolver,
                                  verify=trust) as client:
            response = await client.get(f"https://calendar.example:{state.port}/tls")
        assert response.status_code == 200
        assert state.server_names == ["calendar.example"]  # SNI from the URL host
        async with guarded_client(EgressPolicy(allow_private=True), verify=trust) as client:
            with pytest.raises(httpx.ConnectError):  # the certificate is not for 127.0.0.1
                await client.get(f"https://127.0.0.1:{state.port}/tls")


def test_options_that_would_bypass_the_guard_are_refused() -> None:
    with pytest.raises(ValueError):
        guarded_transport(EgressPolicy(), proxy="http://proxy.example:3128")
    with pytest.raises(ValueError):
        guarded_transport(EgressPolicy(), uds="/var/run/docker.sock")
    for option in ({"proxy": "http://proxy.example:3128"},
                   {"mounts": {"all://": httpx.AsyncHTTPTransport()}},
                   {"transport": httpx.AsyncHTTPTransport()}):
        with pytest.raises(ValueError):
            guarded_client(EgressPolicy(), **option)


async def test_transport_options_reach_the_guarded_transport() -> None:
    client = guarded_client(EgressPolicy(), retries=2, http1=True, timeout=3.0)
    try:
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, GuardedNetworkBackend)
        assert pool._retries == 2
        assert client.timeout.connect == 3.0
    finally:
        await client.aclose()


async def test_unix_sockets_are_refused() -> None:
    with pytest.raises(EgressRefused):
        await GuardedNetworkBackend(EgressPolicy()).connect_unix_socket("/var/run/docker.sock")
