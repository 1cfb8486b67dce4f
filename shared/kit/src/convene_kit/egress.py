"""Outbound HTTP to user-supplied URLs without server-side request forgery (SSRF).

A user who may type a URL (a CalDAV server, a webhook) could otherwise make a service reach
what only the service can reach: the cloud metadata endpoint (169.254.169.254), MongoDB or
Kafka on the cluster network, a sidecar on loopback. Following OWASP's SSRF prevention
cheat sheet (and the ``advocate`` library), the address is checked *after* DNS resolution,
and at the moment of connecting, on the very address that is then connected to:

* :class:`GuardedNetworkBackend` is an httpcore network backend whose ``connect_tcp``
  resolves the host itself, refuses the connection when *any* resolved address is refused,
  and connects to a checked IP address. A DNS answer that changes between a pre-check and
  the connection (DNS rebinding) therefore gains nothing, and every redirect hop, which
  opens its own connection through the same backend, is checked too. TLS is unaffected:
  httpcore takes SNI and the certificate's expected hostname from the request's origin
  (``httpcore._async.connection.AsyncHTTPConnection._connect``), not from the host given
  to ``connect_tcp``.
* :func:`guarded_transport` and :func:`guarded_client` build httpx objects that use it.
* :func:`check_url` is the same check ahead of time, for a clear error at the API.

Odd spellings of addresses (``2130706433``, ``0x7f.0.0.1``, ``127.1``, ``0177.1``) need no
parsing of our own: the system resolver turns them into the address they mean, and that
address is what is checked. Only asyncio is supported (``loop.getaddrinfo``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpcore
import httpx

__all__ = [
    "AddressCategory",
    "EgressPolicy",
    "EgressRefused",
    "GuardedNetworkBackend",
    "RefusalReason",
    "Resolver",
    "address_category",
    "check_url",
    "guarded_client",
    "guarded_transport",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

RefusalReason = Literal[
    "scheme_not_allowed",  # not http or https
    "invalid_url",  # httpx cannot parse it, or it has no host
    "unresolvable",  # the name does not resolve (pre-check only, see check_url)
    "address_not_allowed",  # some resolved address is refused by the policy
]

AddressCategory = Literal[
    "loopback", "private", "shared", "unique_local",  # opened by ``allow_private``
    "link_local", "unspecified", "multicast", "reserved",  # never opened by it
]

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Categories an operator may open with ``allow_private`` (a self-hosted server on the
# internal network or, in tests, on loopback). Link-local stays closed: it holds the cloud
# metadata service, which no calendar server lives on; an operator who really needs one
# such address lists it in ``allowed_networks``.
PRIVATE_CATEGORIES: frozenset[str] = frozenset({"loopback", "private", "shared", "unique_local"})

# Explicit tables rather than ``ipaddress``'s ``is_private``/``is_global``, whose ranges
# changed between Python patch releases; ``is_global`` is only the final safety net.
# First match wins (``::`` and ``::1`` before ``::/96``).
_V4_TABLE: tuple[tuple[str, AddressCategory], ...] = (
    ("0.0.0.0/8", "unspecified"),  # "this network": 0.0.0.0 reaches the local host
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared"),  # carrier-grade NAT (RFC 6598)
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link_local"),  # includes the metadata service 169.254.169.254
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
    ("192.0.2.0/24", "reserved"),  # documentation
    ("192.88.99.0/24", "reserved"),  # 6to4 relay anycast (deprecated)
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),  # benchmarking
    ("198.51.100.0/24", "reserved"),  # documentation
    ("203.0.113.0/24", "reserved"),  # documentation
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # future use, and 255.255.255.255
)
_V6_TABLE: tuple[tuple[str, AddressCategory], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "reserved"),  # IPv4-compatible (deprecated, RFC 4291): never a real server
    ("64:ff9b:1::/48", "private"),  # local-use NAT64 (RFC 8215)
    ("100::/64", "reserved"),  # discard-only
    ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo 2001::/32 included
    ("2001:db8::/32", "reserved"),  # documentation
    ("3fff::/20", "reserved"),  # documentation (RFC 9637)
    ("fc00::/7", "unique_local"),
    ("fe80::/10", "link_local"),
    ("fec0::/10", "reserved"),  # site-local (deprecated)
    ("ff00::/8", "multicast"),
)
_V4_RANGES = tuple((ipaddress.IPv4Network(net), category) for net, category in _V4_TABLE)
_V6_RANGES = tuple((ipaddress.IPv6Network(net), category) for net, category in _V6_TABLE)
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: the packet ends up at
# that IPv4 address, so it is judged as that address.
_V4_IN_LAST_32_BITS = tuple(ipaddress.IPv6Network(net) for net in (
    "::ffff:0:0/96",  # IPv4-mapped: the kernel connects to the IPv4 address itself
    "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
    "64:ff9b::/96",  # well-known NAT64 prefix (RFC 6052)
))
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")  # 6to4: IPv4 in bits 16..48


def address_category(address: IPAddress) -> AddressCategory | None:
    """The kind of non-public address ``address`` is, or None for a public one.

    IPv6 forms that embed an IPv4 address (mapped ``::ffff:127.0.0.1``, NAT64
    ``64:ff9b::10.0.0.1``, 6to4 ``2002:7f00:1::``) are judged as the embedded address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        bare = ipaddress.IPv6Address(int(address))  # drops a %scope, which ranges ignore
        if any(bare in net for net in _V4_IN_LAST_32_BITS):
            return address_category(ipaddress.IPv4Address(int(bare) & 0xFFFFFFFF))
        if bare in _SIX_TO_FOUR:
            embedded = bare.sixtofour
            assert embedded is not None
            return address_category(embedded)
        for net6, category in _V6_RANGES:
            if bare in net6:
                return category
        return None if bare.is_global else "reserved"
    for net4, category in _V4_RANGES:
        if address in net4:
            return category
    return None if address.is_global else "reserved"


def _normalize_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations outbound requests to user-supplied URLs may reach.

    By default only public addresses. ``allow_private`` (an operator setting; tests use it
    for servers on 127.0.0.1) also opens loopback, RFC 1918, carrier-grade NAT and IPv6
    unique-local addresses, never link-local (metadata), unspecified, multicast or
    reserved ones. ``allowed_networks`` and ``allowed_hosts`` are the operator's explicit
    exceptions: an address inside an allowed network is always let through, and a host
    named in ``allowed_hosts`` (exact name, case-insensitive) is reached whatever it
    resolves to, e.g. an internal CalDAV server at ``calendar.corp.internal``.
    """

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[str | IPNetwork, ...] = ()  # "10.20.0.0/16", ...
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        # Settings give strings: parse once (a typo fails at start-up), normalize names.
        networks = tuple(ipaddress.ip_network(net) for net in self.allowed_networks)
        object.__setattr__(self, "_networks", networks)
        hosts = frozenset(_normalize_host(host) for host in self.allowed_hosts)
        object.__setattr__(self, "allowed_hosts", hosts)

    def refusal(self, address: str | IPAddress) -> AddressCategory | None:
        """Why ``address`` is refused (its category), or None when it may be reached.
        A string that is no IP address is refused as ``reserved`` (fail closed)."""
        try:
            ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return "reserved"
        if any(ip.version == net.version and ip in net for net in self._networks):
            return None
        category = address_category(ip)
        if category is None or (self.allow_private and category in PRIVATE_CATEGORIES):
            return None
        return category

    def trusts_host(self, host: str) -> bool:
        """Whether ``host`` is one of the operator's ``allowed_hosts``."""
        return _normalize_host(host) in self.allowed_hosts

    def check_addresses(self, host: str, addresses: Iterable[str]) -> None:
        """Raise :class:`EgressRefused` unless every address ``host`` resolved to is allowed."""
        if self.trusts_host(host):
            return
        for address in addresses:
            category = self.refusal(address)
            if category is not None:
                raise EgressRefused(
                    "address_not_allowed",
                    f"{_normalize_host(host)!r} resolves to an address outbound requests "
                    f"may not reach ({category.replace('_', '-')})",
                    host=host, address=address)


class EgressRefused(Exception):
    """An outbound request was refused by the egress policy.

    ``reason_code`` is machine-readable (:data:`RefusalReason`). The message names the
    host at most, never the URL, so credentials in a URL's userinfo or query never reach
    it. ``address`` is the refused resolved address, for logs, not for end users.
    """

    def __init__(self, reason_code: RefusalReason, message: str, *,
                 host: str | None = None, address: str | None = None) -> None:
        super().__init__(message)
        self.reason_code: RefusalReason = reason_code
        self.message = message
        self.host = host
        self.address = address


Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves ``(host, port)`` to IP address strings; raises ``OSError`` when it cannot."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (IP literals included), in its
    order, without duplicates. ``getaddrinfo`` runs in the loop's thread pool."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _resolve(resolver: Resolver, host: str, port: int, timeout: float | None) -> list[str]:
    """Resolve, raising ``OSError`` for a name without addresses and ``TimeoutError`` when
    the resolver takes longer than ``timeout``."""
    try:
        addresses = list(await asyncio.wait_for(resolver(host, port), timeout))
    except UnicodeError as exc:  # a label the IDNA codec rejects
        raise OSError(f"cannot resolve {host!r}") from exc
    if not addresses:
        raise OSError(f"{host!r} has no addresses")
    return addresses


async def check_url(url: str, policy: EgressPolicy, *, resolver: Resolver | None = None,
                    timeout_s: float = 5.0) -> None:
    """Check ``url`` ahead of time, e.g. when a user submits it: an http(s) URL with a
    host, which resolves, to addresses that are all allowed. Raises :class:`EgressRefused`.

    The URL is parsed by httpx, the parser the request will use, so the check cannot
    disagree with it about the host. Passing this check is not enough to be safe (the DNS
    answer may change); requests still go through :func:`guarded_client`.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise EgressRefused("invalid_url", "the URL cannot be parsed") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise EgressRefused("scheme_not_allowed", "only http and https URLs are allowed")
    if not parsed.host:
        raise EgressRefused("invalid_url", "the URL has no host")
    host = parsed.raw_host.decode("ascii")  # IDNA-encoded, as it will be resolved
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = await _resolve(resolver or system_resolver, host, port, timeout_s)
    except (OSError, TimeoutError):
        raise EgressRefused("unresolvable", f"the host {parsed.host!r} does not resolve",
                            host=parsed.host) from None
    policy.check_addresses(host, addresses)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses ``policy`` allows.

    ``connect_tcp`` resolves the host, raises :class:`EgressRefused` if *any* address is
    refused (so a name cannot mix a public and a private answer), then connects to the
    checked addresses in the resolver's order through ``inner``. A name that does not
    resolve is a connection failure (``httpcore.ConnectError``, httpx's ``ConnectError``),
    like it is for any client: it may be temporary. Unix sockets are refused.
    """

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend | None = None,
                 *, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolver = resolver or system_resolver

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, check every address, connect to the first that answers."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            addresses = await _resolve(self._resolver, host, port, timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from None
        self.policy.check_addresses(host, addresses)
        failure: Exception | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host!r} timed out")
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=remaining, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # try the next address, as getaddrinfo-based clients do
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        """Refused: a Unix socket is local by definition."""
        raise EgressRefused("address_not_allowed", "Unix sockets may not be reached")

    async def sleep(self, seconds: float) -> None:
        """Delegates to the inner backend (httpcore sleeps between connect retries)."""
        await self._inner.sleep(seconds)


# Transport options a caller may set. Refused: ``proxy`` (the connection, and so the check,
# would be to the proxy, not to the destination), ``uds`` (a local socket), and a client's
# ``mounts``/``transport`` (they would replace the guarded transport).
_TRANSPORT_OPTIONS = frozenset({"verify", "cert", "trust_env", "http1", "http2", "limits",
                                "local_address", "retries", "socket_options"})
_REFUSED_TRANSPORT_OPTIONS = frozenset({"proxy", "uds"})
_REFUSED_CLIENT_OPTIONS = frozenset({"proxy", "uds", "mounts", "transport"})


def guarded_transport(policy: EgressPolicy, *, resolver: Resolver | None = None,
                      **httpx_transport_kwargs: Any) -> httpx.AsyncHTTPTransport:
    """An ``httpx.AsyncHTTPTransport`` whose connections go through
    :class:`GuardedNetworkBackend`. Takes the transport's options (``verify``, ``http2``,
    ``limits``, ``retries``, ...) except ``proxy`` and ``uds``, which would bypass the check.

    httpx builds its httpcore pool without a way to pass a network backend, so the pool's
    backend is swapped after construction; the attribute is checked so an httpx/httpcore
    upgrade that moves it fails loudly here instead of silently unguarded.
    """
    refused = _REFUSED_TRANSPORT_OPTIONS & httpx_transport_kwargs.keys()
    if refused:
        raise ValueError(f"guarded transports do not support {sorted(refused)}")
    transport = httpx.AsyncHTTPTransport(**httpx_transport_kwargs)
    pool = transport._pool
    if type(pool) is not httpcore.AsyncConnectionPool or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx's transport no longer holds an httpcore.AsyncConnectionPool "
                           "with a _network_backend: the egress guard cannot be installed")
    pool._network_backend = GuardedNetworkBackend(policy, pool._network_backend,
                                                  resolver=resolver)
    return transport


def guarded_client(policy: EgressPolicy, *, resolver: Resolver | None = None,
                   **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for user-supplied URLs: every connection, redirects
    included, goes through :func:`guarded_transport`.

    Takes ``httpx.AsyncClient``'s options; the transport's ones (``verify``, ``cert``,
    ``http2``, ``limits``, ``trust_env``, ...) are handed to the guarded transport, where
    httpx would otherwise ignore them once a transport is given. ``proxy``, ``mounts`` and
    ``transport`` are refused. Environment proxies are never used (httpx ignores them when a
    transport is given).
    """
    refused = _REFUSED_CLIENT_OPTIONS & kwargs.keys()
    if refused:
        raise ValueError(f"guarded clients do not support {sorted(refused)}")
    transport_kwargs = {key: kwargs.pop(key) for key in _TRANSPORT_OPTIONS & kwargs.keys()}
    if "trust_env" in transport_kwargs:
        kwargs["trust_env"] = transport_kwargs["trust_env"]
    return httpx.AsyncClient(transport=guarded_transport(policy, resolver=resolver,
                                                         **transport_kwargs), **kwargs)
