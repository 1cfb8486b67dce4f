"""Push channels of the Google emulator: events.watch and channels.stop through
google-api-python-client, notifications received by a local HTTP endpoint."""

from __future__ import annotations

import time

import pytest
from googleapiclient.errors import HttpError

from tests.emulators.google_support import ALICE, wait_until


def watch(service, address: str, channel_id: str, **fields) -> dict:
    return service.events().watch(calendarId="primary", body={
        "id": channel_id, "type": "web_hook", "address": address, **fields}).execute()


def an_event(summary: str) -> dict:
    return {"summary": summary, "start": {"dateTime": "2030-01-07T10:00:00Z"},
            "end": {"dateTime": "2030-01-07T11:00:00Z"}}


def test_watch_notifies_sync_then_every_change_with_the_channel_token(alice, admin, receiver):
    before = time.time()
    channel = watch(alice, receiver.url, "convene-chan-1", token="per-channel-secret",
                    params={"ttl": "3600"})
    assert channel["kind"] == "api#channel" and channel["id"] == "convene-chan-1"
    assert channel["token"] == "per-channel-secret"
    assert before + 3590 < int(channel["expiration"]) / 1000 < time.time() + 3610

    (sync,) = receiver.wait_for(1)
    assert sync["x-goog-channel-id"] == "convene-chan-1"
    assert sync["x-goog-channel-token"] == "per-channel-secret"
    assert sync["x-goog-resource-state"] == "sync"
    assert sync["x-goog-message-number"] == "1"
    assert sync["x-goog-resource-id"] == channel["resourceId"]
    assert sync["x-goog-resource-uri"] == channel["resourceUri"]
    assert sync["x-goog-channel-expiration"].endswith(" GMT")
    assert sync["body"] == ""

    token = alice.events().list(calendarId="primary").execute()["nextSyncToken"]
    typed = admin.insert_event(ALICE, an_event("Typed in Google Calendar"))
    exists = receiver.wait_for(2)[1]
    assert (exists["x-goog-resource-state"], exists["x-goog-message-number"]) == ("exists", "2")
    assert exists["x-goog-channel-token"] == "per-channel-secret"
    # What the receiver does next: an incremental sync, which shows the change.
    changes = alice.events().list(calendarId="primary", syncToken=token).execute()
    assert [e["id"] for e in changes["items"]] == [typed["id"]]

    alice.events().delete(calendarId="primary", eventId=typed["id"]).execute()
    assert [n["x-goog-message-number"] for n in receiver.wait_for(3)] == ["1", "2", "3"]

    assert alice.channels().stop(body={"id": channel["id"],
                                       "resourceId": channel["resourceId"]}).execute() == ""
    admin.insert_event(ALICE, an_event("After stop"))
    (entry,) = admin.channels()
    assert entry["stopped"] and entry["messageNumber"] == 3  # nothing more was queued
    with pytest.raises(HttpError) as caught:
        alice.channels().stop(body={"id": channel["id"],
                                    "resourceId": channel["resourceId"]}).execute()
    assert caught.value.status_code == 404


def test_an_expired_channel_sends_nothing(alice, admin, receiver):
    watch(alice, receiver.url, "short-lived", params={"ttl": "60"})
    watch(alice, receiver.url, "long-lived")
    wait_until(lambda: len(receiver.received) == 2, "both sync messages")
    admin.advance_clock(61)
    admin.insert_event(ALICE, an_event("Change after expiry"))
    after = receiver.wait_for(3)[2]  # the long-lived channel is the barrier
    assert after["x-goog-channel-id"] == "long-lived"
    channels = {c["id"]: c for c in admin.channels()}
    assert not channels["short-lived"]["active"] and channels["short-lived"]["messageNumber"] == 1
    assert [n["x-goog-channel-id"] for n in receiver.received].count("short-lived") == 1


def test_a_removed_calendar_sends_not_exists(alice, admin, receiver):
    team = admin.add_calendar(ALICE, "Team")
    alice.events().watch(calendarId=team["id"], body={
        "id": "team-chan", "type": "web_hook", "address": receiver.url}).execute()
    receiver.wait_for(1)
    admin.remove_calendar(team["id"])
    gone = receiver.wait_for(2)[1]
    assert (gone["x-goog-resource-state"], gone["x-goog-message-number"]) == ("not_exists", "2")
    assert "x-goog-channel-token" not in gone  # only sent when the channel has a token


def test_a_failed_delivery_is_retried(alice, admin, receiver):
    receiver.replies.extend([503, 500])
    watch(alice, receiver.url, "flaky-receiver")
    deliveries = receiver.wait_for(3)
    assert [(d["x-goog-message-number"], d["answered"]) for d in deliveries] == [
        ("1", "503"), ("1", "500"), ("1", "200")]
    wait_until(lambda: len(admin.notifications()) == 3, "the emulator to log three attempts")
    assert [n["attempt"] for n in admin.notifications()] == [1, 2, 3]


def test_watch_refusals(alice, admin, receiver):
    watch(alice, receiver.url, "taken")
    cases = [
        ({"id": "taken", "type": "web_hook", "address": receiver.url}, "channelIdNotUnique"),
        ({"id": "x" * 65, "type": "web_hook", "address": receiver.url}, "channelIdInvalid"),
        ({"id": "bad-type", "type": "email", "address": receiver.url}, "invalid"),
        ({"id": "far-away", "type": "web_hook", "address": "https://receiver.example.com/hook"},
         "push.webhookUrlUnauthorized"),
    ]
    for body, expected in cases:
        with pytest.raises(HttpError) as caught:
            alice.events().watch(calendarId="primary", body=body).execute()
        assert (caught.value.status_code, caught.value.error_details[0]["reason"]) == (400, expected)

    admin.configure(require_https_push=True)  # what Google itself requires
    with pytest.raises(HttpError) as caught:
        watch(alice, receiver.url, "plain-http")
    assert caught.value.error_details[0]["reason"] == "push.webhookUrlNotHttps"
