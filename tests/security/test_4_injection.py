"""CR/LF/NUL injection into the fields that reach an email or an .ics: no extra header, no
extra recipient, no extra iCalendar property or component.

At the door: every one-line field that ends up in a header, an address or a property
(a meeting's title, a contact's and a user's name, a visitor's name and email, a page's
title) refuses CR, LF, CRLF, NUL and the other control characters with 422 (the text rule,
convene_schemas.text). Through the door: the multi-line fields (a meeting's location and
attendee description) and the Unicode line separators a one-line field takes (U+2028,
U+2029) are carried into a real invitation; its SMTP envelope, its headers and its .ics
are then read back from the SMTP sink: the injected text is there, contained in its
property, and nothing it tried to add exists."""

from __future__ import annotations

import re
import uuid
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from security_support import FIGURES, auth
from security_support.stack import SecurityStack
from support import wait_for
from support.calendars import connect_calendar
from support.mail import StoredMail, mails
from support.skeleton import Account, meeting_request

EVIL = "attacker.example"
SEPARATORS = {"crlf": "\r\n", "lf": "\n", "cr": "\r", "nul": "\x00", "crlf_nul": "\r\n\x00",
              "vt": "\x0b", "nel": "\x85"}


def injected(prefix: str, separator: str) -> str:
    return f"{prefix}{separator}Bcc: bcc@{EVIL}{separator}X-Injected: 1"


def door_probes(account: Account) -> list[tuple[str, str, str, str, Any]]:
    """(service, method, path, field, body maker) for every one-line field that reaches an
    email header, an address or an iCalendar property."""
    def contact(value: str) -> dict:
        return {"email": f"c-{uuid.uuid4().hex[:6]}@client.example", "first_name": value,
                "last_name": "Contact", "time_zone": "Europe/Rome", "language": "en"}

    def contact_last(value: str) -> dict:
        return {**contact("Zoe"), "last_name": value}

    def user(value: str) -> dict:
        return {"email": f"u-{uuid.uuid4().hex[:6]}@acme.example", "name": value,
                "time_zone": "Europe/Rome", "language": "en", "seat": "sales_professional"}

    def meeting(value: str) -> dict:
        return meeting_request(account, value, "injection probe note")

    def booking(value: str) -> dict:
        return {"start": "2030-01-07T10:00:00+00:00", "duration_minutes": 30, "name": value,
                "email": "v@visitors.example", "time_zone": "Europe/Rome"}

    def booking_email(value: str) -> dict:
        return {**booking("Vera"), "email": "v@visitors.example" + value.removeprefix("Zoe")}

    def page(value: str) -> dict:
        return {"slug": f"inj-{uuid.uuid4().hex[:8]}", "title": value, "time_zone": "Europe/Rome"}

    return [("records", "POST", "/contacts", "first_name", contact),
            ("records", "POST", "/contacts", "last_name", contact_last),
            ("records", "POST", "/users", "name", user),
            ("meetings", "POST", "/meetings", "title", meeting),
            ("booking-pages", "POST", "/public/pages/no-such-page/bookings", "name", booking),
            ("booking-pages", "POST", "/public/pages/no-such-page/bookings", "email", booking_email),
            ("booking-pages", "POST", "/pages", "title", page)]


def test_control_characters_are_refused_at_the_door(stack: SecurityStack,
                                                    account: Account) -> None:
    tokens = {"records": account.admin, "meetings": account.host_token,
              "booking-pages": account.host_token}
    let_in, sent = [], 0
    for service, method, path, field, body in door_probes(account):
        with httpx.Client(base_url=stack.url(service), timeout=15) as client:
            for name, separator in SEPARATORS.items():
                value = injected("Zoe", separator)
                answer = client.request(method, path, json=body(value),
                                        headers=auth(tokens[service]))
                sent += 1
                code = answer.json().get("error", {}).get("code") if answer.content else None
                # An address is refused by its own rule (validation_error) or the text rule.
                if answer.status_code != 422 or (field != "email"
                                                  and code != "disallowed_character"):
                    let_in.append((service, path, field, name, answer.status_code,
                                   answer.text[:200]))
    FIGURES.add("injection", refused_at_the_door=sent - len(let_in), let_in=len(let_in))
    assert not let_in, f"control characters accepted in one-line fields: {let_in}"


def unfolded_lines(ics: bytes) -> list[str]:
    """The content lines of an iCalendar object, unfolded (RFC 5545 3.1)."""
    return re.sub(r"\r\n[ \t]", "", ics.decode()).split("\r\n")


def header_block(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii", errors="replace")


@pytest.fixture(scope="module")
async def injected_meeting(stack: SecurityStack) -> dict[str, Any]:
    """A meeting whose host, contact, title, location and description all carry an
    injection, to a contact of a fresh account; returns what to look for."""
    account = Account(stack)
    marker = uuid.uuid4().hex[:10]
    sep = "\u2028"  # not a control character: a one-line field takes it
    with httpx.Client(base_url=stack.url("records"), headers=auth(account.admin),
                      timeout=10) as client:
        contact = client.post("/contacts", json={
            "email": f"inj-{marker}@client.example",
            "first_name": f"Zoe{sep}Bcc: name@{EVIL}", "last_name": "C\u2029X-Injected: 1",
            "time_zone": "Europe/Rome", "language": "en"})
        assert contact.status_code == 201, contact.text
        host = client.post("/users", json={
            "email": f"host-{marker}@acme.example", "name": f"Hana{sep}Cc: host@{EVIL}",
            "time_zone": "Europe/Rome", "language": "en", "seat": "sales_professional"})
        assert host.status_code == 201, host.text
    account.contact, account.host = contact.json(), host.json()
    account.host_token = stack.token(account.id, account.host["id"], roles="team")
    await connect_calendar(stack, account, account.host["id"])
    body = meeting_request(account, f"Inj {marker}{sep}Bcc: title@{EVIL}\u2029X-Injected: 1",
                           "injection note, team only")
    body["location"] = {"kind": "custom", "value": (
        f"Room 1\r\nATTENDEE:mailto:location@{EVIL}\r\nX-INJECTED:location\r\n"
        f"Bcc: location@{EVIL}")}
    body["attendee_description"] = (
        f"<p>Agenda</p>\r\nBcc: description@{EVIL}\r\n\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n"
        f"SUMMARY:injected\r\nATTENDEE:mailto:description@{EVIL}\r\nEND:VEVENT\n\x0d"
        f"BEGIN:VALARM\nX-INJECTED:description")

    async def scheduled() -> httpx.Response | None:
        async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=10) as client:
            answer = await client.post("/meetings", json=body, headers=auth(account.host_token))
        if answer.status_code == 422 and answer.json()["error"]["code"] in (
                "unknown_host", "unknown_attendee", "no_connected_calendar"):
            return None
        return answer

    answer = await wait_for(scheduled, "meetings to know the injected host and contact",
                            timeout=40)
    assert answer.status_code == 201, answer.text

    async def invitation() -> list[StoredMail] | None:
        return mails(account.contact["email"]) or None

    found = await wait_for(invitation, "the invitation to reach the SMTP sink", timeout=60)
    return {"mails": found, "recipients": {account.contact["email"].lower(),
                                           account.host["email"].lower()}}


def test_nothing_injected_reaches_an_email_or_an_ics(injected_meeting: dict[str, Any]) -> None:
    problems: list[str] = []
    calendars = 0
    for mail in injected_meeting["mails"]:
        # The envelope: only the meeting's people.
        extra = [r for r in mail.rcpt_tos if r.lower() not in injected_meeting["recipients"]]
        if extra:
            problems.append(f"{mail.path.name}: extra recipients {extra}")
        # The headers: none added, no address of the attacker in any.
        message = message_from_bytes(mail.raw, policy=policy.default)
        names = {name.lower() for name in message.keys()}
        for added in ("bcc", "cc", "x-injected"):
            if added in names:
                problems.append(f"{mail.path.name}: a {added} header")
        if re.search(r"(?im)^(bcc|cc|x-injected)\s*:", header_block(mail.raw)):
            problems.append(f"{mail.path.name}: an injected header line")
        for name in ("to", "from", "reply-to", "sender"):
            for value in message.get_all(name, []):
                if any(EVIL in a.addr_spec for a in value.addresses):
                    problems.append(f"{mail.path.name}: {name} holds {value}")
        # The .ics: one event, the injected text inside its own property, nothing added.
        for ics in mail.calendar_parts():
            calendars += 1
            lines = unfolded_lines(ics)
            events = Calendar.from_ical(ics).walk("VEVENT")
            if len(events) != 1 or lines.count("BEGIN:VEVENT") != 1:
                problems.append(f"{mail.path.name}: {len(events)} events")
            for line in lines:
                if line.upper().startswith(("X-INJECTED", "BEGIN:VALARM", "BCC")):
                    problems.append(f"{mail.path.name}: .ics line {line[:80]!r}")
            if sum(line.startswith("SUMMARY") for line in lines) != 1:
                problems.append(f"{mail.path.name}: not one SUMMARY")
            for event in events:
                for prop in ("ATTENDEE", "ORGANIZER"):
                    people = event.get(prop, [])
                    for person in people if isinstance(people, list) else [people]:
                        if EVIL in str(person):  # the address (a CN may quote the text)
                            problems.append(f"{mail.path.name}: .ics {prop} {person}")
            location = [line for line in lines if line.startswith("LOCATION")]
            if not location or f"location@{EVIL}" not in location[0]:
                problems.append(f"{mail.path.name}: the location's text is not in LOCATION "
                                f"(the probe did not reach the .ics): {location}")
    FIGURES.add("injection", emails_checked=len(injected_meeting["mails"]),
                ics_checked=calendars, injected_headers_or_properties=len(problems))
    assert calendars >= 1, "no invitation carried an .ics: the probe proves nothing"
    assert not problems, problems
