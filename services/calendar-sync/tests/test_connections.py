"""Connections through the API: CalDAV and Google (with the OAuth state rules), the
permission, one connection per user, settings, disconnect and reconnect, and credentials
that never leave sealed."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from calendar_sync_support import ACCOUNT, user_upserted
from convene_schemas.events.calendar_sync import (
    CalendarConnected,
    CalendarConnectionUpdated,
    CalendarDisconnected,
)

CALDAV = {"url": "https://caldav.example/dav/", "username": "alice", "password": "s3cret-pw"}


async def _caldav_user(harness: Any, user_id: str = "u1", **fields: Any) -> Any:
    await harness.deliver(user_upserted(user_id, **fields))
    account = harness.adapters.account("alice", "alice@caldav.example", "s3cret-pw")
    account.add_calendar("https://caldav.example/dav/alice/work/", primary=True)
    account.add_calendar("https://caldav.example/dav/alice/home/")
    account.add_calendar("https://caldav.example/dav/shared/fb/", access="free_busy")
    return account


async def test_a_caldav_account_connects_and_its_password_stays_sealed(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _caldav_user(harness)
    answer = await client.post("/connections/caldav", json=CALDAV, headers=mint("u1"))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["provider"] == "caldav" and body["status"] == "active" and body["bookable"]
    assert body["primary_calendar_id"] == "https://caldav.example/dav/alice/work/"
    assert "s3cret-pw" not in answer.text
    [connected] = harness.events(CalendarConnected)
    assert connected.connection_id == body["connection_id"] and not connected.reconnected
    assert [c.calendar_id for c in connected.calendars] == [body["primary_calendar_id"]]
    assert "s3cret-pw" not in connected.model_dump_json()
    [stored] = harness.collection("credentials").docs.values()
    assert b"s3cret-pw" not in bytes(stored["sealed"]["ciphertext"])
    assert stored["sealed"]["key_id"] == "k1"
    listing = await client.get("/connections", headers=mint("u1"))
    assert [c["connection_id"] for c in listing.json()["connections"]] == [body["connection_id"]]
    assert "s3cret-pw" not in listing.text


async def test_connecting_needs_the_personal_email_access_permission(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _caldav_user(harness, personal_email_access=False)
    answer = await client.post("/connections/caldav", json=CALDAV, headers=mint("u1"))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "personal_email_access_required"
    unknown = await client.post("/connections/caldav", json=CALDAV, headers=mint("stranger"))
    assert unknown.status_code == 403
    assert harness.events() == []


async def test_a_wrong_password_is_a_clear_400(harness: Any, client: httpx.AsyncClient,
                                              mint: Any) -> None:
    await _caldav_user(harness)
    answer = await client.post("/connections/caldav", json={**CALDAV, "password": "wrong"},
                               headers=mint("u1"))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "credentials_refused"
    assert "wrong" not in answer.text


async def test_a_private_address_is_refused_before_any_request(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _caldav_user(harness)
    for url in ("http://127.0.0.1:5232/", "http://169.254.169.254/latest/",
                "http://[::1]/dav/", "http://10.0.0.8/dav/"):
        answer = await client.post("/connections/caldav", json={**CALDAV, "url": url},
                                   headers=mint("u1"))
        assert answer.status_code == 400, url
        assert answer.json()["error"]["code"] == "url_refused", url


async def test_one_active_connection_per_user(harness: Any, client: httpx.AsyncClient,
                                              mint: Any) -> None:
    await _caldav_user(harness)
    other = harness.adapters.account("alice2", "alice2@caldav.example", "pw2")
    other.add_calendar("https://caldav.example/dav/alice2/cal/", primary=True)
    first = await client.post("/connections/caldav", json=CALDAV, headers=mint("u1"))
    assert first.status_code == 201
    second = await client.post("/connections/caldav", headers=mint("u1"), json={
        **CALDAV, "username": "alice2", "password": "pw2"})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "already_connected"
    await client.delete(f"/connections/{first.json()['connection_id']}", headers=mint("u1"))
    third = await client.post("/connections/caldav", headers=mint("u1"), json={
        **CALDAV, "username": "alice2", "password": "pw2"})
    assert third.status_code == 201


async def test_settings_add_calendars_but_refuse_unlisted_and_free_busy_ones(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _caldav_user(harness)
    connection_id = (await client.post("/connections/caldav", json=CALDAV,
                                       headers=mint("u1"))).json()["connection_id"]
    url = f"/connections/{connection_id}"
    hidden = await client.patch(url, headers=mint("u1"), json={
        "calendar_ids": ["https://caldav.example/dav/shared/fb/"]})
    assert hidden.status_code == 422
    assert hidden.json()["error"]["code"] == "calendar_details_hidden"
    unlisted = await client.patch(url, headers=mint("u1"), json={
        "calendar_ids": ["https://elsewhere.example/cal/"]})
    assert unlisted.json()["error"]["code"] == "calendar_not_listed"
    changed = await client.patch(url, headers=mint("u1"), json={
        "calendar_ids": ["https://caldav.example/dav/alice/work/",
                         "https://caldav.example/dav/alice/home/"], "sync_enabled": False})
    assert changed.status_code == 200, changed.text
    [updated] = harness.events(CalendarConnectionUpdated)
    assert set(updated.changed_fields) == {"calendars", "sync_enabled"}
    assert len(updated.calendars) == 2 and not updated.sync_enabled
    other_user = await client.patch(url, headers=mint("u2"), json={"sync_enabled": True})
    assert other_user.status_code == 404
    other_account = await client.get(url, headers=mint("u1", account_id="acc_other"))
    assert other_account.status_code == 404


async def test_disconnect_drops_credentials_and_reconnecting_continues(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _caldav_user(harness)
    connection_id = (await client.post("/connections/caldav", json=CALDAV,
                                       headers=mint("u1"))).json()["connection_id"]
    gone = await client.delete(f"/connections/{connection_id}", headers=mint("u1"))
    assert gone.status_code == 200 and gone.json()["status"] == "disconnected"
    assert harness.collection("credentials").docs == {}
    [disconnected] = harness.events(CalendarDisconnected)
    assert disconnected.reason == "disconnected_by_user"
    again = await client.post("/connections/caldav", json=CALDAV, headers=mint("u1"))
    assert again.status_code == 201 and again.json()["connection_id"] == connection_id
    connected = harness.events(CalendarConnected)
    assert [c.reconnected for c in connected] == [False, True]
    assert [c.version for c in connected] == [0, 2]


async def _start_google(harness: Any, client: httpx.AsyncClient, mint: Any,
                        user_id: str = "u1") -> str:
    answer = await client.post("/connections/google", headers=mint(user_id))
    assert answer.status_code == 200, answer.text
    return parse_qs(urlparse(answer.json()["authorization_url"]).query)["state"][0]


def _grant(harness: Any, state: str, code: str) -> None:
    """The user consents at Google: a code for the verifier stored with ``state``."""
    from convene_calendar_sync.adapters import AdapterFactory  # noqa: F401 (types only)

    stored = harness.collection("oauth_states").docs
    [pending] = [d for d in stored.values() if d.get("user_id")]
    verifier = harness.service.deps.box.open(
        pending["verifier"], context=f"calendar-sync:oauth-state:{ACCOUNT}:{pending['user_id']}")
    harness.adapters.codes[code] = (verifier, "refresh-1")


async def test_google_connects_through_a_state_used_once(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await harness.deliver(user_upserted("u1"))
    google = harness.adapters.account("refresh-1", "u1@gmail.example", "refresh-1")
    google.add_calendar("u1@gmail.example", primary=True)
    state = await _start_google(harness, client, mint)
    assert all(state not in str(d) for d in harness.collection("oauth_states").docs.values())
    _grant(harness, state, "code-1")
    done = await client.get("/connections/google/callback",
                            params={"state": state, "code": "code-1"}, headers=mint("u1"))
    assert done.status_code == 201, done.text
    assert done.json()["provider"] == "google" and done.json()["sync_enabled"] is True
    assert "refresh-1" not in done.text
    replay = await client.get("/connections/google/callback",
                              params={"state": state, "code": "code-1"}, headers=mint("u1"))
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "oauth_state_invalid"
    wrong = await client.get("/connections/google/callback",
                             params={"state": "x" * 43, "code": "code-1"}, headers=mint("u1"))
    assert wrong.json()["error"]["code"] == "oauth_state_invalid"


async def test_a_state_is_bound_to_its_user_and_expires(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await harness.deliver(user_upserted("u1"))
    await harness.deliver(user_upserted("u2"))
    harness.adapters.account("refresh-1", "u1@gmail.example", "refresh-1").add_calendar(
        "u1@gmail.example", primary=True)
    state = await _start_google(harness, client, mint)
    _grant(harness, state, "code-1")
    stolen = await client.get("/connections/google/callback",
                              params={"state": state, "code": "code-1"}, headers=mint("u2"))
    assert stolen.json()["error"]["code"] == "oauth_state_invalid"
    state2 = await _start_google(harness, client, mint)
    harness.clock.advance(harness.service.settings.oauth_state_ttl_s + 1)
    late = await client.get("/connections/google/callback",
                            params={"state": state2, "code": "code-1"}, headers=mint("u1"))
    assert late.json()["error"]["code"] == "oauth_state_invalid"


async def test_disconnecting_google_revokes_the_token(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await harness.deliver(user_upserted("u1"))
    harness.adapters.account("refresh-1", "u1@gmail.example", "refresh-1").add_calendar(
        "u1@gmail.example", primary=True)
    state = await _start_google(harness, client, mint)
    _grant(harness, state, "code-1")
    connection_id = (await client.get(
        "/connections/google/callback", params={"state": state, "code": "code-1"},
        headers=mint("u1"))).json()["connection_id"]
    await client.delete(f"/connections/{connection_id}", headers=mint("u1"))
    assert harness.adapters.revoked == ["refresh-1"]
