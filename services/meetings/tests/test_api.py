"""POST /meetings and GET /meetings/{id} through the real app, with a fake store and Kafka."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
from convene_schemas.events.meetings import MeetingScheduled


@dataclass
class Account:
    account_id: str
    host: str
    colleague: str
    contact: str
    contact_no_email: str
    contact_bad_email: str


@pytest.fixture
async def account(harness, records) -> Account:
    acc = Account(records.new_id("acc"), records.new_id("usr"), records.new_id("usr"),
                  records.new_id("ct"), records.new_id("ct"), records.new_id("ct"))
    await harness.deliver(records.settings(acc.account_id))
    await harness.deliver(records.user(acc.account_id, acc.host, name="Alice Moretti",
                                       email="alice@acme.example"))
    await harness.deliver(records.user(acc.account_id, acc.colleague))
    await harness.deliver(records.calendar(acc.account_id, acc.host))
    await harness.deliver(records.calendar(acc.account_id, acc.colleague))
    await harness.deliver(records.contact(acc.account_id, acc.contact, email="dana@globex.example"))
    await harness.deliver(records.contact(acc.account_id, acc.contact_no_email, email=None,
                                          email_valid=False, email_invalid_reason="missing"))
    await harness.deliver(records.contact(acc.account_id, acc.contact_bad_email,
                                          email="sam at initech", email_valid=False,
                                          email_invalid_reason="malformed"))
    return acc


def body(acc: Account, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "Globex discovery call",
        "start": "2026-03-10T15:00:00",
        "time_zone": "Europe/Rome",
        "duration_minutes": 30,
        "attendees": [{"kind": "contact", "id": acc.contact},
                      {"kind": "contact", "id": acc.contact_no_email},
                      {"kind": "contact", "id": acc.contact_bad_email}],
        "associations": [{"kind": "contact", "id": acc.contact}, {"kind": "deal", "id": "deal_1"}],
        "attendee_description": "<p>Agenda<script>x()</script></p>",
        "internal_note": "Dana is price sensitive",
        "location": {"kind": "phone", "value": "+39 02 1234 5678"},
        "reminders": [{"amount": 1, "unit": "days"}],
    }
    values.update(overrides)
    return values


async def test_scheduling_answers_201_with_the_meeting_and_who_was_not_invited(
    client, harness, mint, account
) -> None:
    response = await client.post("/meetings", json=body(account),
                                 headers=mint(account.account_id, account.host))
    assert response.status_code == 201, response.text
    answer = response.json()
    meeting = answer["meeting"]
    assert meeting["id"].startswith("mtg_") and len(meeting["id"]) == 4 + 32
    assert response.headers["location"] == f"/meetings/{meeting['id']}"
    assert meeting["ical_uid"] == f"{meeting['id']}@meetings.convene"
    assert meeting["start"] == "2026-03-10T14:00:00Z" and meeting["end"] == "2026-03-10T14:30:00Z"
    assert meeting["start_local"] == "2026-03-10T15:00:00+01:00"
    assert (meeting["version"], meeting["status"], meeting["outcome"]) == (0, "scheduled",
                                                                         "scheduled")
    assert meeting["host_user_id"] == meeting["organizer_user_id"] == account.host
    assert meeting["host_email"] == "alice@acme.example" and meeting["on_behalf"] is False
    assert meeting["attendee_description"] == "<p>Agenda</p>"
    assert [a["invite"] for a in meeting["attendees"]] == [True, False, False]
    assert answer["not_invited"] == [
        {"kind": "contact", "id": account.contact_no_email, "reason": "email_missing"},
        {"kind": "contact", "id": account.contact_bad_email, "reason": "email_invalid"},
    ]
    assert "internal_note" not in meeting  # the caller is not on the team


async def test_the_meeting_is_stored_and_meeting_scheduled_published(
    client, harness, mint, account
) -> None:
    response = await client.post("/meetings", json=body(account, host_user_id=account.colleague),
                                 headers=mint(account.account_id, account.host))
    meeting_id = response.json()["meeting"]["id"]
    stored = harness.collection("meetings").docs[meeting_id]
    assert stored["account_id"] == account.account_id
    assert stored["internal_note"] == "Dana is price sensitive"
    assert not stored.get("outbox")  # published right after the write
    [envelope] = harness.publisher.events()
    event = envelope.event
    assert isinstance(event, MeetingScheduled)
    assert stored["_id"] == event.meeting_id == meeting_id
    assert harness.publisher.records[0].key == meeting_id.encode()
    assert (event.version, event.source, event.send_invitations) == (0, "crm", True)
    assert (event.organizer_user_id, event.host_user_id, event.on_behalf) == (
        account.host, account.colleague, True)
    assert event.host_email == f"{account.colleague}@acme.example"
    assert [(a.id, a.invite, a.no_invite_reason) for a in event.attendees] == [
        (account.contact, True, None),
        (account.contact_no_email, False, "email_missing"),
        (account.contact_bad_email, False, "email_invalid"),
        (account.colleague, True, None),  # on behalf: the host is invited too (R17)
    ]
    assert event.attendees[0].email == "dana@globex.example"
    assert [(r.kind, r.id) for r in event.associations] == [("contact", account.contact),
                                                             ("deal", "deal_1")]
    assert event.reminders[0].minutes() == 24 * 60
    assert event.location.value == "+39 02 1234 5678"


async def test_when_kafka_is_down_the_meeting_is_saved_and_left_for_the_relay(
    client, harness, mint, account
) -> None:
    harness.publisher.fail = True
    response = await client.post("/meetings", json=body(account),
                                 headers=mint(account.account_id, account.host))
    assert response.status_code == 201
    stored = harness.collection("meetings").docs[response.json()["meeting"]["id"]]
    assert len(stored["outbox"]) == 1 and "outbox_pending_since" in stored


async def test_once_kafka_is_back_the_relay_publishes_what_was_left(
    client, harness, mint, account
) -> None:
    harness.publisher.fail = True
    response = await client.post("/meetings", json=body(account),
                                 headers=mint(account.account_id, account.host))
    meeting_id = response.json()["meeting"]["id"]
    harness.publisher.fail = False
    relay = harness.service.runtime.relay  # built by bootstrap over the harness's publisher
    relay.clock = lambda: datetime(2100, 1, 1, tzinfo=timezone.utc)  # a lease window opens
    assert await relay.sweep_once() == 1
    [envelope] = harness.publisher.events()
    assert isinstance(envelope.event, MeetingScheduled) and envelope.subject == meeting_id
    assert not harness.collection("meetings").docs[meeting_id].get("outbox")


async def test_the_internal_note_is_shown_only_to_the_team(client, mint, account) -> None:
    team = mint(account.account_id, account.host, roles=("team",))
    created = await client.post("/meetings", json=body(account), headers=team)
    assert created.json()["meeting"]["internal_note"] == "Dana is price sensitive"
    meeting_id = created.json()["meeting"]["id"]

    as_team = await client.get(f"/meetings/{meeting_id}", headers=team)
    assert as_team.status_code == 200
    assert as_team.json()["internal_note"] == "Dana is price sensitive"

    outsider = mint(account.account_id, account.colleague, roles=("sales",))
    as_other = await client.get(f"/meetings/{meeting_id}", headers=outsider)
    assert as_other.status_code == 200
    assert "internal_note" not in as_other.json()
    assert "price sensitive" not in as_other.text


async def test_get_returns_what_post_answered(client, mint, account) -> None:
    headers = mint(account.account_id, account.host, roles=("team",))
    created = (await client.post("/meetings", json=body(account), headers=headers)).json()
    fetched = await client.get(f"/meetings/{created['meeting']['id']}", headers=headers)
    assert fetched.json() == created["meeting"]


async def test_another_accounts_meeting_is_not_found(client, mint, account, records) -> None:
    created = await client.post("/meetings", json=body(account),
                                headers=mint(account.account_id, account.host))
    meeting_id = created.json()["meeting"]["id"]
    stranger = mint(records.new_id("acc"), account.host, roles=("team",))
    response = await client.get(f"/meetings/{meeting_id}", headers=stranger)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "meeting_not_found"
    assert "price" not in response.text and account.account_id not in response.text
    unknown = await client.get("/meetings/mtg_nope", headers=mint(account.account_id,
                                                                  account.host))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "meeting_not_found"


async def test_without_a_token_every_endpoint_answers_401(client, harness, account) -> None:
    post = await client.post("/meetings", json=body(account))
    get = await client.get("/meetings/mtg_any")
    assert (post.status_code, get.status_code) == (401, 401)
    assert post.json()["error"]["code"] == "missing_token"
    assert harness.collection("meetings").docs == {}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"start": "2026-03-01T10:00:00"}, "start_in_past"),
        ({"start": "2026-03-29T02:30:00"}, "nonexistent_local_time"),
        ({"reminders": [{"amount": n, "unit": "hours"} for n in (1, 2, 3, 4)]},
         "too_many_reminders"),
        ({"host_user_id": "usr_nobody"}, "unknown_host"),
        ({"duration_minutes": 0}, "validation_error"),
        ({"duration_minutes": -15}, "validation_error"),
        ({"time_zone": "Mars/Olympus_Mons"}, "validation_error"),
        ({"location": {"kind": "phone"}}, "invalid_location"),
    ],
)
async def test_refusals_are_422_with_a_code(client, harness, mint, account, overrides,
                                            code) -> None:
    response = await client.post("/meetings", json=body(account, **overrides),
                                 headers=mint(account.account_id, account.host))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert harness.collection("meetings").docs == {} and harness.publisher.records == []


async def test_unknown_attendees_are_named(client, mint, account, records) -> None:
    foreign = records.new_id("ct")
    attendees = [{"kind": "contact", "id": account.contact}, {"kind": "contact", "id": foreign},
                 {"kind": "user", "id": "usr_ghost"}]
    response = await client.post("/meetings", json=body(account, attendees=attendees),
                                 headers=mint(account.account_id, account.host))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unknown_attendee"
    assert error["details"]["ids"] == [foreign, "usr_ghost"]


async def test_a_contact_of_another_account_is_unknown(client, harness, mint, account,
                                                       records) -> None:
    other_account = records.new_id("acc")
    await harness.deliver(records.contact(other_account, "ct_theirs"))
    attendees = [{"kind": "contact", "id": "ct_theirs"}]
    response = await client.post("/meetings", json=body(account, attendees=attendees),
                                 headers=mint(account.account_id, account.host))
    assert response.json()["error"]["code"] == "unknown_attendee"


async def test_an_aware_start_is_accepted_as_an_instant(client, mint, account) -> None:
    response = await client.post("/meetings", json=body(account, start="2026-03-10T14:00:00Z"),
                                 headers=mint(account.account_id, account.host))
    assert response.status_code == 201
    assert response.json()["meeting"]["start"] == "2026-03-10T14:00:00Z"
