"""Addresses and header text: what may reach an email header, and in what shape.

Headers are only ever written through the standard library's ``email`` package, which
refuses CR/LF; this module makes sure user text (names, titles) never carries a control
character there in the first place, so a name like ``"Dana\\r\\nBcc: x@evil"`` is shown as
``"Dana Bcc: x@evil"`` and adds no header.
"""

from __future__ import annotations

import re
import unicodedata
from email.headerregistry import Address
from email.utils import parseaddr

_LINE_BREAKING = {"Cc", "Zl", "Zp"}  # control characters, line and paragraph separators
_SPACES = re.compile(r"\s+")


def single_line(text: str) -> str:
    """``text`` on one line: control characters become spaces, runs of spaces collapse."""
    cleaned = "".join(" " if unicodedata.category(ch) in _LINE_BREAKING else ch for ch in text)
    return _SPACES.sub(" ", cleaned).strip()


def _ascii_domain(domain: str) -> str | None:
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")  # IDNA 2003, what SMTP servers expect
    except UnicodeError:
        return None


def parse_address(addr_spec: str, display_name: str = "") -> Address | None:
    """``addr_spec`` as an :class:`Address` with a cleaned display name, or None if it is
    not a deliverable ASCII ``local@domain`` (SMTPUTF8 local parts are not supported)."""
    raw = addr_spec.strip()
    if not raw or any(unicodedata.category(ch) in _LINE_BREAKING for ch in raw):
        return None
    local, at, domain = raw.rpartition("@")
    ascii_domain = _ascii_domain(domain) if at else None
    if not local or not ascii_domain or not local.isascii():
        return None
    try:
        address = Address(display_name=single_line(display_name),
                          addr_spec=f"{local}@{ascii_domain}")
    except Exception:  # the parser raises several unrelated types for bad input
        return None
    if not address.username or not address.domain or "." not in address.domain.strip("."):
        return None
    return address


def parse_mailbox(mailbox: str) -> Address | None:
    """A configured mailbox such as ``"Convene <meetings@convene.test>"``, or None."""
    name, addr_spec = parseaddr(mailbox)
    return parse_address(addr_spec, name) if addr_spec else None
