"""The video-link fallback (docs/events.md): the first invitation waits for the join link,
but after ``join_link_wait_s`` goes out without it (once, across replicas); the link then
comes as an update; a link that arrives in time makes exactly one invitation, with it."""

from __future__ import annotations

from datetime import timedelta

from convene_notifications.bootstrap import Notifications, bootstrap
from convene_notifications.domain.join_link import fallback_timer_id, plan_fallback
from convene_notifications.reminder_store import REMINDER_TIMERS
from convene_notifications.settings import NotificationsSettings
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.events.common import Location
from faststream.kafka import KafkaBroker, TestKafkaBroker
from notifications_testing import NOW, FakeMailer, FakeStore, canceled, contact, meeting, updated

PENDING = Location(kind="video", video_provider="zoom", join_url_pending=True)
LINKED = Location(kind="video", video_provider="zoom", join_url="https://zoom.us/j/123")
WAIT_S = 600


class Service:
    """notifications on fakes, with a clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW
        self.mailer = FakeMailer()
        self.store = FakeStore()
        settings = NotificationsSettings(topic_prefix="ut.", join_link_wait_s=WAIT_S)
        self.app: Notifications = bootstrap(settings, broker=KafkaBroker(), store=self.store,
                                            mailer=self.mailer, clock=lambda: self.now)

    async def consume(self, *events) -> None:
        async with TestKafkaBroker(self.app.runtime.broker) as broker:
            for event in events:
                record = to_kafka_message(event, event_id=new_event_id())
                await broker.publish(record.value, "ut." + record.topic, key=record.key,
                                     headers={k: v.decode() for k, v in record.headers})

    async def at(self, seconds: float) -> int:
        """Move the clock to NOW + ``seconds``; fire what is due (two replicas' worth)."""
        self.now = NOW + timedelta(seconds=seconds)
        return (await self.app.scheduler.fire_due()) + (await self.app.scheduler.fire_due())

    def received(self, address: str) -> list[tuple[str, str, str]]:
        """(subject word, SEQUENCE line, LOCATION line) of every email to ``address``."""
        found = []
        for message in self.mailer.messages_to(address):
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


async def test_no_link_in_time_sends_the_invitation_without_it_once_then_the_link_as_update(
) -> None:
    service = Service()
    base = video_meeting()
    await service.consume(base)
    assert service.mailer.sent == []  # waiting for the link
    assert await service.at(WAIT_S - 1) == 0 and service.mailer.sent == []

    assert await service.at(WAIT_S) == 1  # one replica fires it
    assert await service.at(WAIT_S + 60) == 0
    assert service.received("ana@x.example") == [("Invitation", "SEQUENCE:0", "LOCATION:Zoom")]
    assert fallback_timer_id(base.meeting_id) not in service.store.collection(
        REMINDER_TIMERS).docs

    await service.consume(updated(base, version=1, changed_fields=["location.join_url"],
                                  location=LINKED))
    assert service.received("ana@x.example")[1] == (
        "Updated invitation", "SEQUENCE:1", "LOCATION:https://zoom.us/j/123")
    assert len(service.mailer.sent) == 2


async def test_a_link_in_time_makes_one_invitation_and_the_fallback_does_nothing() -> None:
    service = Service()
    base = video_meeting()
    await service.consume(base, updated(base, version=1, changed_fields=["location.join_url"],
                                        location=LINKED))
    assert service.received("ana@x.example") == [
        ("Invitation", "SEQUENCE:1", "LOCATION:https://zoom.us/j/123")]
    assert service.store.collection(REMINDER_TIMERS).docs == {}

    # Even a fallback timer left behind (say, planned by a late redelivery) sends nothing.
    await service.app.scheduler.timers.add_fallback(plan_fallback(base, WAIT_S))  # type: ignore[arg-type]
    await service.at(WAIT_S)
    assert len(service.mailer.sent) == 1


async def test_a_title_edit_while_waiting_keeps_the_fallback_and_a_cancel_follows_it() -> None:
    service = Service()
    base = video_meeting()
    await service.consume(base, updated(base, version=1, changed_fields=["title"],
                                        title="Renamed", location=PENDING))
    assert service.mailer.sent == []  # nobody has an invitation to update yet
    await service.at(WAIT_S)
    assert [s for s, _, _ in service.received("ana@x.example")] == ["Invitation"]
    assert service.mailer.sent[0][0]["Subject"].startswith("Invitation: Renamed")

    await service.consume(canceled(base, version=2).model_copy(update={"location": PENDING}))
    assert [s for s, _, _ in service.received("ana@x.example")] == ["Invitation", "Canceled"]


async def test_a_meeting_canceled_while_waiting_sends_nothing_ever() -> None:
    service = Service()
    base = video_meeting()
    await service.consume(base, canceled(base, version=1).model_copy(
        update={"location": PENDING}))
    assert await service.at(WAIT_S) == 0
    assert service.mailer.sent == []
