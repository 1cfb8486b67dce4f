"""Google push notifications make a calendar due now (and only genuine ones), the key
rotation re-seals credentials under the current key, and every provider call is metered."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from calendar_sync_support import ACCOUNT, NOW, FakeAccount, FakeAdapter, connect_google  # noqa: I001
from convene_calendar_sync.operations import rotate_keys
from convene_calendar_sync.providers.base import AccessDenied
from convene_calendar_sync.providers.metered import PROVIDER_CALLS, MeteredAdapter
from convene_calendar_sync.store import CREDENTIALS, CredentialStore
from convene_calendar_sync.sync_timers import sync_timer_id
from convene_kit.secret_box import SecretBox, generate_key
from convene_kit.testing import FakeStore


async def _channel(harness: Any, token: str = "tok-" + "x" * 40) -> dict[str, Any]:
    document = {"_id": "chan-1", "account_id": ACCOUNT, "connection_id": "con_1",
                "calendar_id": "u1@gmail.example", "calendar_key": "k",
                "resource_id": "res-1", "token_hash": hashlib.sha256(token.encode()).hexdigest(),
                "expires_at": NOW + timedelta(days=7), "created_at": NOW}
    await harness.service.deps.channels.put(document)
    return document


def _headers(token: str, state: str = "exists", resource: str = "res-1",
             channel: str = "chan-1") -> dict[str, str]:
    return {"X-Goog-Channel-ID": channel, "X-Goog-Channel-Token": token,
            "X-Goog-Resource-ID": resource, "X-Goog-Resource-State": state}


async def test_a_genuine_notification_makes_the_calendar_due_now(
        harness: Any, client: httpx.AsyncClient) -> None:
    token = "tok-" + "x" * 40
    await _channel(harness, token)
    timer_id = sync_timer_id("con_1", "u1@gmail.example")
    first = await client.post("/push/google", headers=_headers(token, state="sync"))
    assert first.status_code == 204
    assert timer_id not in harness.collection("timers").docs  # "sync" only opens the channel
    news = await client.post("/push/google", headers=_headers(token))
    assert news.status_code == 204
    assert harness.collection("timers").docs[timer_id]["due_at"] == NOW


async def test_forged_notifications_are_refused_and_change_nothing(
        harness: Any, client: httpx.AsyncClient) -> None:
    token = "tok-" + "x" * 40
    await _channel(harness, token)
    for headers in (_headers("tok-wrong"), _headers(token, resource="res-other"),
                    _headers(token, channel="chan-unknown")):
        answer = await client.post("/push/google", headers=headers)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "push_refused"  # the documented shape
    assert harness.collection("timers").docs == {}


async def test_key_rotation_reseals_under_the_current_key_only_what_it_read() -> None:
    old_key, new_key = generate_key(), generate_key()
    old = SecretBox.from_setting(f"k1:{old_key}")
    both = SecretBox.from_setting(f"k2:{new_key},k1:{old_key}")
    store = FakeStore()
    credentials = CredentialStore(store.collection(CREDENTIALS))
    for index in range(3):
        connection_id = f"con_{index}"
        sealed = old.seal(f"secret-{index}",
                          context=f"calendar-sync:credential:{ACCOUNT}:{connection_id}")
        await credentials.put(ACCOUNT, connection_id, kind="password", login="u",
                              sealed=sealed, now=NOW)
    report = await rotate_keys(credentials, both)
    assert (report.rotated, report.current, report.unreadable) == (3, 0, 0)
    for index in range(3):
        stored = await credentials.get(ACCOUNT, f"con_{index}")
        assert stored is not None and stored["sealed"]["key_id"] == "k2"
        assert both.open(stored["sealed"], context=f"calendar-sync:credential:{ACCOUNT}:"
                                                    f"con_{index}") == f"secret-{index}"
    again = await rotate_keys(credentials, both)
    assert (again.rotated, again.current) == (0, 3)
    only_new = SecretBox.from_setting(f"k3:{generate_key()}")
    assert (await rotate_keys(credentials, only_new)).unreadable == 3


async def test_every_provider_call_is_metered_with_its_outcome() -> None:
    account = FakeAccount(email="a@x.example", secret="pw")
    account.add_calendar("cal", primary=True)
    adapter = MeteredAdapter(FakeAdapter(account, "wrong", "caldav"))

    def count(outcome: str) -> float:
        wanted = {"provider": "caldav", "operation": "list_calendars", "outcome": outcome}
        return sum(sample.value for metric in PROVIDER_CALLS.collect()
                   for sample in metric.samples
                   if sample.name.endswith("_count") and sample.labels == wanted)

    before = count("access_denied")
    with pytest.raises(AccessDenied):
        await adapter.list_calendars()
    assert count("access_denied") == before + 1


async def test_google_calendars_get_a_push_channel_renewed_before_expiry_and_stopped(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    settings = harness.service.settings
    object.__setattr__(settings, "google_push_address", "https://convene.example/push/google")
    google = await connect_google(harness, client, mint)
    done = google.connection
    await harness.fire_timers()
    [first] = list(google.channels)
    calendar_id, address, token = google.channels[first]
    assert calendar_id == "u1@gmail.example" and address.endswith("/push/google")
    stored = harness.collection("channels").docs[first]
    assert token not in str(stored)  # only its hash is kept
    assert (await client.post("/push/google", headers=_headers(
        token, resource=f"res-{calendar_id}", channel=first))).status_code == 204
    # a poll well before expiry keeps the channel; one inside the renewal margin renews it
    harness.clock.advance(settings.sync_interval_s + 1)
    await harness.fire_timers()
    assert list(google.channels) == [first]
    harness.clock.advance(settings.google_channel_ttl_s - settings.google_channel_renew_before_s)
    await harness.fire_timers()
    [second] = list(google.channels)
    assert second != first and list(harness.collection("channels").docs) == [second]
    gone = await client.delete(f"/connections/{done['connection_id']}",
                               headers=mint("u1"))
    assert gone.status_code == 200
    assert google.channels == {} and harness.collection("channels").docs == {}
