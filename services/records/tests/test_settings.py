"""Account settings (R2, R8, R10, R19): PATCH /account/settings publishes the full state."""

from __future__ import annotations

from convene_schemas.events.records import AccountSettingsChanged
from fastapi.testclient import TestClient


def settings_events(publisher) -> list[AccountSettingsChanged]:
    return [e.event for e in publisher.events()
            if isinstance(e.event, AccountSettingsChanged)]


def test_an_admin_changes_settings_and_they_are_published(client: TestClient, auth,
                                                          publisher) -> None:
    admin = auth("acc_set", roles=("admin",))
    assert client.post("/account", json={"name": "Acme"}, headers=admin).status_code == 201
    defaults = client.get("/account/settings", headers=admin).json()
    assert defaults["meeting_outcomes"] == ["scheduled", "completed", "rescheduled",
                                            "no_show", "canceled"]
    assert (defaults["hub_tier"], defaults["reminders_enabled_by_default"]) == ("free", False)
    changed = client.patch("/account/settings", headers=admin, json={
        "reminders_enabled_by_default": True,
        "default_reminders": [{"amount": 1, "unit": "days"}, {"amount": 15, "unit": "minutes"}],
        "custom_meeting_types_enabled": True, "meeting_types": ["Demo", "Discovery"],
        "meeting_outcomes": ["scheduled", "won", "lost"], "sandbox": True})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["version"] == 2 and body["meeting_types"] == ["Demo", "Discovery"]
    event = settings_events(publisher)[-1]
    assert event.version == 2 and event.is_sandbox and event.reminders_enabled_by_default
    assert [(r.amount, r.unit) for r in event.default_reminders] == [(1, "days"),
                                                                     (15, "minutes")]
    assert event.meeting_outcomes == ["scheduled", "won", "lost"]
    assert client.get("/account/settings", headers=admin).json() == body
    assert client.get("/account", headers=admin).json()["sandbox"] is True

    same = client.patch("/account/settings", headers=admin, json={"sandbox": True})
    assert same.json()["version"] == 2 and len(settings_events(publisher)) == 2


def test_settings_rules(client: TestClient, auth) -> None:
    admin = auth("acc_rules", roles=("admin",))
    client.post("/account", json={"name": "Acme"}, headers=admin)
    duplicate = client.patch("/account/settings", headers=admin,
                             json={"meeting_types": ["Demo", "Demo"]})
    assert duplicate.status_code == 422
    assert duplicate.json()["error"]["code"] == "invalid_settings"
    four = [{"amount": n, "unit": "hours"} for n in range(1, 5)]
    too_many = client.patch("/account/settings", headers=admin, json={"default_reminders": four})
    assert too_many.status_code == 422
    no_outcome = client.patch("/account/settings", headers=admin, json={"meeting_outcomes": []})
    assert no_outcome.status_code == 422
    null = client.patch("/account/settings", headers=admin, json={"sandbox": None})
    assert null.status_code == 422
    member = client.patch("/account/settings", headers=auth("acc_rules"), json={"sandbox": True})
    assert member.status_code == 403 and member.json()["error"]["code"] == "forbidden"
    other = client.patch("/account/settings", headers=auth("acc_nobody", roles=("admin",)),
                         json={"sandbox": True})
    assert other.status_code == 404
    assert client.get("/account/settings", headers=admin).json()["version"] == 1
