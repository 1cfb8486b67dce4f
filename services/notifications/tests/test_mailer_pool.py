"""The SMTP mailer reuses its sessions: many messages, few connections; a session the server
closed, or one that failed, is replaced without losing the message. Against a real SMTP
server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SmtpServer
from convene_notifications.mailer import PermanentDeliveryError, SmtpMailer


@dataclass
class Recorder:
    """The server's side: which session each message came in on; refusals per address."""

    messages: list[tuple[int, list[str]]] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        if session not in self.sessions:
            self.sessions.append(session)
        self.messages.append((self.sessions.index(session), list(envelope.rcpt_tos)))
        return "250 Message accepted"


@dataclass
class Server:
    recorder: Recorder
    port: int
    transports: list[asyncio.Transport]

    def drop_connections(self) -> None:
        """The server closes every open session (as an idle timeout would)."""
        for transport in self.transports:
            transport.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    recorder = Recorder()
    transports: list[asyncio.Transport] = []

    def protocol() -> SmtpServer:
        smtp = SmtpServer(recorder, hostname="sink.test")
        connection_made = smtp.connection_made

        def remember(transport: asyncio.Transport) -> None:
            transports.append(transport)
            connection_made(transport)

        smtp.connection_made = remember  # type: ignore[method-assign]
        return smtp

    loop = asyncio.get_running_loop()
    listening = await loop.create_server(protocol, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield Server(recorder, port, transports)
    finally:
        listening.close()
        for transport in transports:
            transport.close()


def raw(n: int) -> bytes:
    return f"From: a@b.test\r\nTo: c@d.test\r\nSubject: {n}\r\n\r\nbody {n}\r\n".encode()


async def test_many_messages_share_one_session(server: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", server.port, pool_size=1)
    for n in range(5):
        await mailer.send(raw(n), sender="a@b.test", recipients=[f"r{n}@d.test"])
    await mailer.close_idle()
    assert [session for session, _ in server.recorder.messages] == [0, 0, 0, 0, 0]
    assert len(server.transports) == 1


async def test_concurrent_sends_use_at_most_the_pool_size(server: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", server.port, pool_size=2)
    await asyncio.gather(*(mailer.send(raw(n), sender="a@b.test", recipients=["r@d.test"])
                           for n in range(8)))
    await mailer.close_idle()
    assert len(server.recorder.messages) == 8
    assert len(server.transports) <= 2


async def test_a_session_the_server_closed_is_replaced_without_losing_the_message(
        server: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", server.port, pool_size=1)
    await mailer.send(raw(1), sender="a@b.test", recipients=["r@d.test"])
    server.drop_connections()
    await asyncio.sleep(0.05)
    await mailer.send(raw(2), sender="a@b.test", recipients=["r@d.test"])
    await mailer.close_idle()
    assert [session for session, _ in server.recorder.messages] == [0, 1]


async def test_after_a_refusal_the_next_message_still_goes_out(server: Server) -> None:
    server.recorder.refuse.add("gone@d.test")
    mailer = SmtpMailer("127.0.0.1", server.port, pool_size=1)
    with pytest.raises(PermanentDeliveryError) as refused:
        await mailer.send(raw(1), sender="a@b.test", recipients=["gone@d.test"])
    assert refused.value.code == 550
    await mailer.send(raw(2), sender="a@b.test", recipients=["ok@d.test"])
    await mailer.close_idle()
    assert [rcpts for _, rcpts in server.recorder.messages] == [["ok@d.test"]]


async def test_a_session_is_retired_after_its_message_budget(server: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", server.port, pool_size=1, max_messages_per_connection=2)
    for n in range(5):
        await mailer.send(raw(n), sender="a@b.test", recipients=["r@d.test"])
    await mailer.close_idle()
    assert [session for session, _ in server.recorder.messages] == [0, 0, 1, 1, 2]


async def test_idle_sessions_are_closed_by_the_background_task(server: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", server.port, pool_size=1, idle_timeout_s=0.2)
    await mailer.send(raw(1), sender="a@b.test", recipients=["r@d.test"])
    stopping = asyncio.Event()
    task = asyncio.create_task(mailer.run(stopping))
    await asyncio.sleep(0.6)
    assert mailer._idle == []  # closed while the service runs, not only at shutdown
    stopping.set()
    await asyncio.wait_for(task, timeout=5)
