"""The video-link fallback (docs/events.md): the first invitation waits for the join link,
but after ``join_link_wait_s`` goes out without it (once, across replicas); the link then
comes as an update; a link that arrives in time makes exactly one invitation, with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from convene_notifications.bootstrap import Notifications
from convene_notifications.domain.join_link import fallback_timer_id, plan_fallback
from convene_notifications.service_layer.join_link import fallback_document
from convene_notifications.timer_store import REMINDER_TIMERS
from convene_schemas.events.common import Location
from notifications_testing import (
    NOW,
    FakeMailer,
    FakeStore,
    ManualClock,
    build,
    canceled,
    consume,
    contact,
    meeting,
    settings_for,
    updated,
)

PENDING = Location(kind="video", video_provider="zoom", join_url_pending=True)
LINKED = Location(kind="video", video_provider="zoom", join_url="https://zoom.us/j/123")
WAIT_S = 600


@pytest.fixture
def service(store: FakeStore, mailer: FakeMailer, clock: ManualClock) -> Notifications:
    return build(settings_for(join_link_wait_s=WAIT_S), store=store, mailer=mailer, clock=clock)


async def at(service: Notifications, clock: ManualClock, seconds: float) -> int:
    """Move the clock to NOW + ``seconds``; fire what is due (two replicas' worth)."""
    clock.now = NOW + timedelta(seconds=seconds)
    return (await service.scheduler.fire_due()) + (await service.scheduler.fire_due())


def received(mailer: FakeMailer, address: str) -> list[tuple[str, str, str]]:
    """(subject word, SEQUENCE line, LOCATION line) of every email to ``address``."""
    found = []
    for message in mailer.messages_to(address):
        lines = message.get_body(("calendar",)).get_content().splitlines()
        found.append((message["Subject"].split(":")[0],
                      next(line for line in lines if line.startswith("SEQUENCE:")),
                      next((line for line in lines if line.startswith("LOCATION")), "")))
    return found


def video_meeting(**overrides):
    return meeting(**{"location": PENDING, "attendees": [contact("ana@x.example")],
                      **overrides})


def test_only_a_pending_link_of_a_meeting_that_invites_plans_a_fallback() -> None:
    timer = plan_fallback(video_meeting(), WAIT_S)
    assert timer is not None and timer.due_at == NOW + timedelta(seconds=WAIT_S)
    assert plan_fallback(meeting(location=LINKED), WAIT_S) is None
    assert plan_fallback(video_meeting(send_invitations=False,
                                       no_invitations_reason="disabled_by_user",
                                       attendees=[contact(invite=False,
                                                          no_invite_reason="invitations_off")]),
                         WAIT_S) is None


@pytest.mark.contract
async def test_no_link_in_time_sends_the_invitation_without_it_once_then_the_link_as_update(
        service, mailer, clock, store) -> None:
    base = video_meeting()
    await consume(service, base)
    assert mailer.sent == []  # waiting for the link
    assert await at(service, clock, WAIT_S - 1) == 0 and mailer.sent == []

    assert await at(service, clock, WAIT_S) == 1  # one replica fires it
    assert await at(service, clock, WAIT_S + 60) == 0
    assert received(mailer, "ana@x.example") == [("Invitation", "SEQUENCE:0", "LOCATION:Zoom")]
    assert fallback_timer_id(base.meeting_id) not in store.collection(REMINDER_TIMERS).docs

    await consume(service, updated(base, version=1, changed_fields=["location.join_url"],
                                   location=LINKED))
    assert received(mailer, "ana@x.example")[1] == (
        "Updated invitation", "SEQUENCE:1", "LOCATION:https://zoom.us/j/123")
    assert len(mailer.sent) == 2


@pytest.mark.contract
async def test_a_link_in_time_makes_one_invitation_and_the_fallback_does_nothing(
        service, mailer, clock, store) -> None:
    base = video_meeting()
    await consume(service, base, updated(base, version=1,
                                         changed_fields=["location.join_url"], location=LINKED))
    assert received(mailer, "ana@x.example") == [
        ("Invitation", "SEQUENCE:1", "LOCATION:https://zoom.us/j/123")]
    assert store.collection(REMINDER_TIMERS).docs == {}

    # Even a fallback timer left behind (say, planned by a late redelivery) sends nothing.
    await service.scheduler.timers.add(fallback_document(plan_fallback(base, WAIT_S)))  # type: ignore[arg-type]
    await at(service, clock, WAIT_S)
    assert len(mailer.sent) == 1


@pytest.mark.contract
async def test_a_title_edit_while_waiting_keeps_the_fallback_and_a_cancel_follows_it(
        service, mailer, clock) -> None:
    base = video_meeting()
    await consume(service, base, updated(base, version=1, changed_fields=["title"],
                                         title="Renamed", location=PENDING))
    assert mailer.sent == []  # nobody has an invitation to update yet
    await at(service, clock, WAIT_S)
    assert [s for s, _, _ in received(mailer, "ana@x.example")] == ["Invitation"]
    assert mailer.sent[0][0]["Subject"].startswith("Invitation: Renamed")

    await consume(service, canceled(base, version=2).model_copy(update={"location": PENDING}))
    assert [s for s, _, _ in received(mailer, "ana@x.example")] == ["Invitation", "Canceled"]


@pytest.mark.contract
async def test_a_meeting_canceled_while_waiting_sends_nothing_ever(
        service, mailer, clock) -> None:
    base = video_meeting()
    await consume(service, base, canceled(base, version=1).model_copy(
        update={"location": PENDING}))
    assert await at(service, clock, WAIT_S) == 0
    assert mailer.sent == []
