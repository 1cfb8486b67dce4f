"""Which invitations a scheduled meeting calls for, and their idempotency keys (pure)."""

from __future__ import annotations

from convene_notifications.domain.planning import email_key, plan_invitations
from convene_schemas.events.common import Location
from notifications_testing import contact, meeting


def test_every_invited_attendee_gets_one_invitation_with_the_meeting_version() -> None:
    dana, luca = contact("dana@globex.example"), contact("luca@initech.example", name="Luca")
    planned = plan_invitations(meeting(attendees=[dana, luca], version=0))

    assert [p.recipient.email for p in planned] == ["dana@globex.example", "luca@initech.example"]
    assert {(p.kind, p.method, p.sequence) for p in planned} == {("invitation", "REQUEST", 0)}


def test_attendees_not_invited_get_nothing() -> None:
    planned = plan_invitations(meeting(attendees=[
        contact("dana@globex.example"),
        contact("bad-address", invite=False),
        contact(None, invite=False),
    ]))
    assert [p.recipient.email for p in planned] == ["dana@globex.example"]


def test_no_invitations_when_the_meeting_sends_none() -> None:
    planned = plan_invitations(meeting(
        send_invitations=False, no_invitations_reason="calendar_sync_off",
        attendees=[contact(invite=False, no_invite_reason="invitations_off")]))
    assert planned == []


def test_an_address_shared_by_two_attendees_is_invited_once() -> None:
    planned = plan_invitations(meeting(attendees=[
        contact("Dana@Globex.example"), contact("dana@globex.example", kind="user")]))
    assert len(planned) == 1


def test_invitations_wait_while_the_video_link_is_pending() -> None:
    pending = Location(kind="video", video_provider="zoom", join_url_pending=True)
    ready = Location(kind="video", video_provider="zoom", join_url="https://zoom.example/j/1")
    assert plan_invitations(meeting(location=pending)) == []
    assert len(plan_invitations(meeting(location=ready))) == 1


def test_the_key_ignores_address_case_and_names_a_stable_message_id() -> None:
    event = meeting(attendees=[contact("Dana.Lee@Globex.example")], version=3)
    [planned] = plan_invitations(event)
    [again] = plan_invitations(event.model_copy())

    assert planned.key == email_key("acc_1", event.meeting_id, "dana.lee@globex.example",
                                    "invitation", 3)
    assert planned.email_id == again.email_id and len(planned.email_id) == 32
    assert planned.message_id("convene.test") == f"<{planned.email_id}@convene.test>"


def test_another_sequence_or_kind_is_another_email() -> None:
    ids = {
        email_key("acc_1", "m1", "d@x.example", "invitation", 0),
        email_key("acc_1", "m1", "d@x.example", "invitation", 1),
        email_key("acc_1", "m1", "d@x.example", "update", 1),
        email_key("acc_2", "m1", "d@x.example", "invitation", 0),
    }
    assert len(ids) == 4
