"""caldav's async client over the egress guard: the library requires niquests and takes
its niquests code path, so its HTTP session is replaced by a stand-in that sends every
request through :func:`convene_kit.egress.guarded_client` (an httpx client whose every
connection, redirects included, is checked by the guard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from caldav.aio import AsyncDAVClient


class _Response:
    """An httpx response with the attributes caldav reads of a niquests response."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = response.content
        self.text = response.text
        self.url = response.url
        self.reason = self.reason_phrase = response.reason_phrase


class _GuardedSession:
    """Stands in for the HTTP session of caldav's async client. caldav requires niquests
    and so always takes its niquests code path, whose ``request(method, url, data=...,
    proxies=..., verify=..., cert=...)`` this accepts; TLS options and timeouts are the
    guarded client's own, set once."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def request(self, method: str, url: str, *, data: bytes | str | None = None,
                      content: bytes | str | None = None, headers: Any = None,
                      auth: httpx.Auth | None = None, proxies: Any = None,
                      **_tls_and_timeout: Any) -> _Response:
        if proxies:
            raise ValueError("proxies would bypass the egress guard")
        response = await self._client.request(
            method, url, content=data if data is not None else content, headers=headers,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT)
        return _Response(response)

    async def close(self) -> None:
        await self._client.aclose()

    aclose = close


class GuardedDAVClient(AsyncDAVClient):
    """caldav's async client with a guarded session, also when caldav recreates it."""

    def __init__(self, *, session_factory: Callable[[], httpx.AsyncClient],
                 **kwargs: Any) -> None:
        self._session_factory = session_factory
        super().__init__(**kwargs)
        assert self.features is not None
        # caldav retries a 401 once without HTTP/2 while that feature is unknown: moot here.
        self.features.set_feature("http.multiplexing", False)

    def _create_session(self) -> None:
        self.session = _GuardedSession(self._session_factory())
