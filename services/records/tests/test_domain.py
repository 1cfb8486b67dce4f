"""records' pure rules: email flagging, ids, account defaults, versions, timeline projection."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from convene_records.domain.accounts import open_account, settings_changed
from convene_records.domain.emails import check_contact_email, email_key
from convene_records.domain.ids import new_contact_id, new_user_id
from convene_records.domain.people import (
    InvalidUserEmail,
    contact_upserted,
    new_contact,
    new_user,
)
from convene_records.domain.timeline import (
    InvalidCursor,
    TimelinePosition,
    decode_cursor,
    encode_cursor,
    project_meeting,
)
from convene_records.domain.versions import FIRST_VERSION, is_newer, next_version
from convene_schemas.events.common import RecordRef
from convene_schemas.events.meetings import MeetingCanceled, MeetingScheduled

from services.records.tests.fakes import meeting_event

NOW = datetime(2026, 3, 3, 14, 0, tzinfo=timezone.utc)


def contact_with(email: str | None):
    return new_contact("ct_1", "acc_1", email=email, first_name="Sam", last_name="",
                       time_zone=None, language=None, now=NOW)


def test_a_valid_contact_email_can_receive_invitations() -> None:
    checked = check_contact_email("Dana.Lee@Globex.example")
    assert (checked.email, checked.valid, checked.invalid_reason) == (
        "Dana.Lee@Globex.example", True, None)


@pytest.mark.parametrize("raw", ["sam at initech", "sam@initech", "a..b@example.com"])
def test_a_malformed_contact_email_is_kept_as_given_and_flagged(raw: str) -> None:
    contact = contact_with(raw)
    assert contact.email == raw
    assert (contact.email_valid, contact.email_invalid_reason) == (False, "malformed")
    event = contact_upserted(contact)  # the catalogue accepts the flagged contact (R3, R13)
    assert (event.email, event.email_valid, event.email_invalid_reason) == (
        raw, False, "malformed")


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_missing_contact_email_is_flagged_missing(raw: str | None) -> None:
    contact = contact_with(raw)
    assert (contact.email, contact.email_valid, contact.email_invalid_reason) == (
        None, False, "missing")
    assert contact_upserted(contact).email_invalid_reason == "missing"


def test_surrounding_whitespace_is_not_part_of_an_address() -> None:
    assert contact_with("  dana@globex.example ").email == "dana@globex.example"


def test_a_user_needs_a_valid_email() -> None:
    with pytest.raises(InvalidUserEmail):
        new_user("usr_1", "acc_1", email="alice at acme", name="Alice", time_zone="UTC",
                 language="en", seat="none", personal_email_access=False, now=NOW)


def test_user_emails_compare_case_insensitively() -> None:
    assert email_key("Alice@Acme.Example") == email_key("alice@acme.example")


def test_ids_are_prefixed_by_kind_and_never_repeat() -> None:
    users = {new_user_id() for _ in range(100)}
    contacts = {new_contact_id() for _ in range(100)}
    assert len(users) == len(contacts) == 100 and not users & contacts
    assert all(u.startswith("usr_") for u in users)
    assert all(c.startswith("ct_") for c in contacts)


def test_a_new_account_publishes_every_setting_with_its_defaults() -> None:
    account = open_account("acc_1", name="Acme", sandbox=True, default_time_zone="Europe/Rome",
                           default_language="it", now=NOW)
    event = settings_changed(account)
    assert event.account_id == "acc_1" and event.version == FIRST_VERSION == 1
    assert event.occurred_at == event.account_created_at == NOW
    assert event.is_sandbox is True
    assert (event.default_time_zone, event.default_language) == ("Europe/Rome", "it")
    assert event.reminders_enabled_by_default is False and event.default_reminders == []
    assert event.custom_meeting_types_enabled is False and event.meeting_types == []
    assert event.meeting_outcomes == ["scheduled", "completed", "rescheduled", "no_show",
                                      "canceled"]
    assert event.hub_tier == "free"


def test_the_version_rule() -> None:
    assert next_version(FIRST_VERSION) == 2
    assert is_newer(0, None)  # nothing stored yet: a meeting's version 0 is new
    assert is_newer(3, 2)
    assert not is_newer(2, 2)  # a duplicate
    assert not is_newer(1, 2)  # an older event


def test_a_meeting_shows_once_on_each_record_it_involves() -> None:
    meeting = meeting_event(
        MeetingScheduled, contacts=["ct_a", "ct_b"], host="usr_host", organizer="usr_boss",
        associations=[RecordRef(kind="contact", id="ct_a"), RecordRef(kind="contact", id="ct_c"),
                      RecordRef(kind="deal", id="deal_1")])
    entries = project_meeting(meeting)
    assert [e.record_id for e in entries] == ["ct_a", "ct_c", "deal_1", "ct_b"]
    assert [e.record_kind for e in entries] == ["contact", "contact", "deal", "contact"]
    entry = entries[0]
    assert entry.entry_id == "acc_1:contact:ct_a:mtg_1"
    assert entry.created_by_user_id == "usr_boss"  # the organizer (R6)
    assert entry.assigned_to_user_id == "usr_host"  # the host (R6)
    assert (entry.title, entry.status, entry.outcome, entry.version) == (
        "Pricing call", "scheduled", "scheduled", 0)
    assert entry.end - entry.start == timedelta(minutes=30)
    assert entry.updated_at == meeting.occurred_at


def test_user_attendees_have_no_contact_timeline() -> None:
    meeting = meeting_event(MeetingScheduled, contacts=[])
    assert project_meeting(meeting) == []


def test_a_canceled_meeting_shows_as_canceled() -> None:
    meeting = meeting_event(MeetingCanceled, version=2, reason="canceled_in_crm")
    assert [e.status for e in project_meeting(meeting)] == ["canceled"]


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    position = TimelinePosition(start=NOW, meeting_id="mtg_9")
    assert decode_cursor(encode_cursor(position)) == position
    for forged in ["not-a-cursor", "e30", encode_cursor(position)[:-3]]:
        with pytest.raises(InvalidCursor):
            decode_cursor(forged)
