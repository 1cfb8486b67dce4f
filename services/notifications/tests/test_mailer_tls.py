"""STARTTLS and SMTP AUTH as configured: against a real SMTP server (aiosmtpd on 127.0.0.1)
that requires both, with a certificate made for the test and verified through
``CONVENE_SMTP_CA_FILE``. Wrong credentials or an unverifiable server are temporary failures
of our own setup (retried), never a silent plain-text send."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import AuthResult, LoginPassword
from convene_notifications.mailer import SmtpMailer, TransientDeliveryError
from convene_notifications.settings import NotificationsSettings
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

USER, PASSWORD = "mailer", "s3cret-pass"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "convene test smtp")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp.pem", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Handler:
    received: list[tuple[bool, bool, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        tls = session.ssl is not None
        self.received.append((tls, session.authenticated, envelope.content))
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    handler: Handler
    port: int
    ca_file: Path


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Handler()

    def protocol() -> SmtpServer:
        return SmtpServer(handler, hostname="tls.test", tls_context=context,
                          require_starttls=True, authenticator=authenticate,
                          auth_require_tls=True, auth_required=True)

    listening = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    try:
        yield Server(handler, listening.sockets[0].getsockname()[1], cert)
    finally:
        listening.close()


RAW = b"From: a@b.test\r\nTo: c@d.test\r\nSubject: tls\r\n\r\nbody\r\n"


async def test_starttls_and_auth_from_the_settings_deliver(server: Server) -> None:
    settings = NotificationsSettings(
        smtp_host="127.0.0.1", smtp_port=server.port, smtp_starttls=True,
        smtp_username=USER, smtp_password=PASSWORD, smtp_ca_file=str(server.ca_file))
    mailer = SmtpMailer.from_settings(settings)
    await mailer.send(RAW, sender="a@b.test", recipients=["c@d.test"])
    await mailer.send(RAW, sender="a@b.test", recipients=["c@d.test"])  # same session
    await mailer.close_idle()
    assert [(tls, authenticated, content) for tls, authenticated, content
            in server.handler.received] == [(True, True, RAW), (True, True, RAW)]


async def test_a_wrong_password_is_a_temporary_failure_of_our_setup(server: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", server.port, starttls=True, username=USER,
                        password=SecretStr("wrong"), ca_file=str(server.ca_file))
    with pytest.raises(TransientDeliveryError) as failed:
        await mailer.send(RAW, sender="a@b.test", recipients=["c@d.test"])
    assert failed.value.code == 535
    assert server.handler.received == []


async def test_an_unverifiable_certificate_sends_nothing(server: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", server.port, starttls=True, username=USER,
                        password=SecretStr(PASSWORD))  # the system's trust store
    with pytest.raises(TransientDeliveryError):
        await mailer.send(RAW, sender="a@b.test", recipients=["c@d.test"])
    assert server.handler.received == []


async def test_without_starttls_a_server_requiring_it_gets_nothing(server: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", server.port, username=USER, password=SecretStr(PASSWORD))
    with pytest.raises(TransientDeliveryError):
        await mailer.send(RAW, sender="a@b.test", recipients=["c@d.test"])
    assert server.handler.received == []
