"""A small TCP fault proxy: a service talks to its store or to Kafka through it, and a test
switches it between passing bytes, adding latency, resetting connections and swallowing
everything (a black hole: connections accepted, nothing forwarded, nothing answered).

Kafka clients connect to whatever address the broker advertises once they bootstrapped, so
a proxy in front of Kafka listens on the port the broker's PROXIED listener advertises
(infra/servers/kafka.py; the suite's instance always has it) and forwards to that listener.

It runs its own event loop in a thread, so blocking test code (starting a service and
waiting for it) never stalls the bytes the service is exchanging meanwhile.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any

MODES = ("pass", "latency", "reset", "blackhole")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as a middlebox dropping the connection does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class FaultProxy:
    """127.0.0.1:``port`` (any free one by default) -> 127.0.0.1:``target_port``, with a
    switchable fault."""

    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target_port = target_port
        self.port = port
        self.mode = "pass"
        self.latency_s = 0.0
        self.counts = {"accepted": 0, "reset": 0, "held": 0}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy",
                                        daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._unblocked = asyncio.Event()

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def address(self) -> str:
        """host:port, as a Kafka bootstrap server."""
        return f"127.0.0.1:{self.port}"

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start())
        return self

    async def _start(self) -> None:
        self._unblocked.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._unblocked.set()

    def set(self, mode: str, latency_s: float = 0.0) -> None:
        """Switch the fault; ``reset`` also resets every open connection at once."""
        if mode not in MODES:
            raise ValueError(mode)
        self._call(self._set(mode, latency_s))

    async def _set(self, mode: str, latency_s: float) -> None:
        self.mode, self.latency_s = mode, latency_s
        if mode == "blackhole":
            self._unblocked.clear()
        else:
            self._unblocked.set()
        if mode == "reset":
            for writer in list(self._open):
                self.counts["reset"] += 1
                _reset(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counts["accepted"] += 1
        if self.mode == "reset":
            self.counts["reset"] += 1
            _reset(writer)
            return
        if self.mode == "blackhole":
            self.counts["held"] += 1
            await self._unblocked.wait()  # nothing forwarded, nothing answered until then
            _reset(writer)  # the path comes back; this connection's client gave up long ago
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            _reset(writer)
            return
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._open.discard(w)
                w.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                if not self._unblocked.is_set():
                    self.counts["held"] += 1
                    await self._unblocked.wait()  # an open connection goes silent too
                if self.mode == "latency" and self.latency_s:
                    await asyncio.sleep(self.latency_s)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
