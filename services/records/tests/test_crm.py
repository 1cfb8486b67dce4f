"""Companies, deals, tickets, associations, their timelines and the meeting report through
the real wiring over the in-memory store."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from convene_records.domain.associations import association_id
from convene_records.domain.reports import count_meetings, meeting_fact
from convene_schemas.events.common import RecordRef
from convene_schemas.events.meetings import (
    MeetingOutcomeRecorded,
    MeetingRescheduled,
    MeetingScheduled,
)
from convene_schemas.events.records import (
    AssociationChanged,
    CompanyUpserted,
    DealUpserted,
    RecordDeleted,
)
from fastapi.testclient import TestClient

from services.records.tests.fakes import MEETING_START, meeting_event
from services.records.tests.test_timeline import deliver


def code(response) -> str:
    return response.json()["error"]["code"]


def account_id(headers) -> str:
    import jwt
    return jwt.decode(headers["Authorization"].split()[1],
                      options={"verify_signature": False})["account_id"]


def test_a_company_is_created_read_and_soft_deleted(client: TestClient, account,
                                                    publisher) -> None:
    created = client.post("/companies", json={"name": "Globex", "domain": "globex.example"},
                          headers=account)
    assert created.status_code == 201, created.text
    company = created.json()
    assert company["id"].startswith("co_") and company["version"] == 1
    assert client.get(f"/companies/{company['id']}", headers=account).json() == company
    assert isinstance(publisher.events()[-1].event, CompanyUpserted)

    assert client.delete(f"/companies/{company['id']}", headers=account).status_code == 204
    deleted = publisher.events()[-1].event
    assert isinstance(deleted, RecordDeleted)
    assert (deleted.record_kind, deleted.record_id, deleted.version) == (
        "company", company["id"], 2)
    gone = client.get(f"/companies/{company['id']}", headers=account)
    assert gone.status_code == 404 and code(gone) == "company_not_found"
    again = client.delete(f"/companies/{company['id']}", headers=account)
    assert again.status_code == 404


def test_deal_rules_come_from_the_contract(client: TestClient, account, publisher) -> None:
    bad = client.post("/deals", json={"name": "Big", "stage": "open", "amount": "10"},
                      headers=account)
    assert bad.status_code == 422 and code(bad) == "invalid_properties"
    ok = client.post("/deals", json={"name": "Big", "stage": "open", "amount": "1500.50",
                                     "currency": "EUR"}, headers=account)
    assert ok.status_code == 201, ok.text
    assert ok.json()["amount"] == "1500.50"
    event = publisher.events()[-1].event
    assert isinstance(event, DealUpserted) and str(event.amount) == "1500.50"
    owner = client.post("/tickets", json={"subject": "S", "status": "new",
                                          "owner_user_id": "usr_nobody"}, headers=account)
    assert owner.status_code == 422 and code(owner) == "unknown_owner"


def test_another_account_sees_none_of_it(client: TestClient, account, auth) -> None:
    deal = client.post("/deals", json={"name": "D", "stage": "s"}, headers=account).json()
    other = auth("acc_other")
    client.post("/account", json={"name": "Other"}, headers=other)
    for path in (f"/deals/{deal['id']}", f"/deals/{deal['id']}/timeline",
                 f"/deals/{deal['id']}/associations"):
        response = client.get(path, headers=other)
        assert response.status_code == 404 and deal["id"] not in response.text
    assert client.delete(f"/deals/{deal['id']}", headers=other).status_code == 404
    assert client.get(f"/deals/{deal['id']}", headers=account).status_code == 200


def test_associations_are_one_per_pair_and_announced(client: TestClient, account,
                                                     publisher) -> None:
    company = client.post("/companies", json={"name": "C"}, headers=account).json()
    ticket = client.post("/tickets", json={"subject": "T", "status": "new"},
                         headers=account).json()
    one = {"kind": "company", "id": company["id"]}
    other = {"kind": "ticket", "id": ticket["id"]}
    created = client.post("/associations", json={"from_record": one, "to_record": other},
                          headers=account)
    assert created.status_code == 201, created.text
    reverse = client.post("/associations", json={"from_record": other, "to_record": one},
                          headers=account)
    assert reverse.status_code == 409 and code(reverse) == "association_exists"
    event = publisher.events()[-1].event
    assert isinstance(event, AssociationChanged) and event.associated
    listed = client.get(f"/tickets/{ticket['id']}/associations", headers=account).json()
    assert [a["id"] for a in listed["items"]] == [created.json()["id"]]

    assoc = created.json()["id"]
    assert assoc == association_id(account_id(account), RecordRef(**other), RecordRef(**one))
    assert client.delete(f"/associations/{assoc}", headers=account).status_code == 204
    removed = publisher.events()[-1].event
    assert isinstance(removed, AssociationChanged) and not removed.associated
    assert removed.version == 2
    assert client.get(f"/associations/{assoc}", headers=account).status_code == 404
    missing = client.post("/associations", json={
        "from_record": one, "to_record": {"kind": "deal", "id": "deal_missing"}},
        headers=account)
    assert missing.status_code == 404 and code(missing) == "record_not_found"


def test_a_meeting_shows_on_company_deal_and_contact_timelines(service, client, account) -> None:
    company = client.post("/companies", json={"name": "C"}, headers=account).json()
    deal = client.post("/deals", json={"name": "D", "stage": "s"}, headers=account).json()
    contact = client.post("/contacts", json={"email": "x@y.example"}, headers=account).json()
    acc = account_id(account)
    refs = [RecordRef(kind="company", id=company["id"]), RecordRef(kind="deal", id=deal["id"])]
    asyncio.run(deliver(service, meeting_event(
        MeetingScheduled, account_id=acc, contacts=[contact["id"]], associations=refs)))
    moved = MEETING_START + timedelta(days=1)
    asyncio.run(deliver(service, meeting_event(
        MeetingRescheduled, account_id=acc, version=1, contacts=[contact["id"]],
        associations=refs, start=moved, previous_start=MEETING_START,
        previous_end=MEETING_START + timedelta(minutes=30), changed_fields=["start", "end"])))
    for path in (f"/companies/{company['id']}", f"/deals/{deal['id']}",
                 f"/contacts/{contact['id']}"):
        [entry] = client.get(f"{path}/timeline", headers=account).json()["items"]
        assert entry["version"] == 1 and entry["start"].startswith("2026-05-05T09:00")


def test_the_report_counts_the_latest_version_of_each_meeting(service, client, account) -> None:
    acc = account_id(account)
    asyncio.run(deliver(service, meeting_event(MeetingScheduled, account_id=acc,
                                               meeting_id="m1", host="usr_a")))
    asyncio.run(deliver(service, meeting_event(MeetingScheduled, account_id=acc,
                                               meeting_id="m2", host="usr_b")))
    outcome = meeting_event(MeetingOutcomeRecorded, account_id=acc, meeting_id="m1",
                            version=1, host="usr_a", outcome="completed",
                            recorded_by_user_id="usr_a")
    asyncio.run(deliver(service, outcome))
    asyncio.run(deliver(service, meeting_event(MeetingScheduled, account_id=acc,
                                               meeting_id="m1", host="usr_a")))  # older
    params = {"from": "2026-05-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}
    by_outcome = client.get("/reports/meetings", params={**params, "group_by": "outcome"},
                            headers=account).json()
    assert by_outcome["total"] == 2
    assert by_outcome["from"].startswith("2026-05-01T00:00:00") and "from_" not in by_outcome
    assert {g["key"]: g["count"] for g in by_outcome["groups"]} == {"completed": 1,
                                                                    "scheduled": 1}
    by_host = client.get("/reports/meetings", params={**params, "group_by": "host"},
                         headers=account).json()
    assert {g["key"]: g["count"] for g in by_host["groups"]} == {"usr_a": 1, "usr_b": 1}
    empty = client.get("/reports/meetings", params={"from": "2026-07-01T00:00:00Z",
                                                    "to": "2026-08-01T00:00:00Z",
                                                    "group_by": "host"}, headers=account)
    assert empty.json()["total"] == 0
    backwards = client.get("/reports/meetings", params={"from": params["to"],
                                                        "to": params["from"],
                                                        "group_by": "host"}, headers=account)
    assert backwards.status_code == 422 and code(backwards) == "invalid_range"


def test_count_meetings_orders_by_count_then_key() -> None:
    facts = [meeting_fact(meeting_event(MeetingScheduled, meeting_id=f"m{i}", host=h))
             for i, h in enumerate(["b", "a", "b", "c", "a", "b"])]
    groups = count_meetings(facts, "host")
    assert [(g.key, g.count) for g in groups] == [("b", 3), ("a", 2), ("c", 1)]
    assert Counter({g.key: g.count for g in groups}) == Counter(["b", "a", "b", "c", "a", "b"])


def test_a_task_has_an_owner_a_due_time_a_status_and_associations(
        client: TestClient, account, publisher) -> None:
    from convene_schemas.events.records import AssociationChanged, TaskUpserted

    owner = client.post("/users", json={"email": "o@acme.example", "name": "Owner",
                                        "time_zone": "UTC", "language": "en"},
                        headers=account).json()
    deal = client.post("/deals", json={"name": "D", "stage": "s"}, headers=account).json()
    body = {"title": "Call back", "owner_user_id": owner["id"], "due_at": "2026-06-01T09:00:00Z",
            "status": "in_progress", "associations": [{"kind": "deal", "id": deal["id"]}]}
    created = client.post("/tasks", json=body, headers=account)
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["id"].startswith("task_") and task["status"] == "in_progress"
    assert task["associations"] == [{"kind": "deal", "id": deal["id"]}]
    assert client.get(f"/tasks/{task['id']}", headers=account).json() == task
    event = next(e.event for e in reversed(publisher.events())
                 if isinstance(e.event, TaskUpserted))
    assert event.owner_user_id == owner["id"] and event.version == 1
    linked = publisher.events()[-1].event  # the association document follows the task
    assert isinstance(linked, AssociationChanged) and linked.associated
    assert {linked.from_record.id, linked.to_record.id} == {task["id"], deal["id"]}
    assert event.due_at.isoformat() == "2026-06-01T09:00:00+00:00"
    unknown = client.post("/tasks", json={**body, "associations": [
        {"kind": "ticket", "id": "tkt_missing"}]}, headers=account)
    assert unknown.status_code == 422 and code(unknown) == "unknown_record"
    no_owner = client.post("/tasks", json={"title": "x", "owner_user_id": "usr_x"},
                           headers=account)
    assert no_owner.status_code == 422 and code(no_owner) == "unknown_owner"
    assert client.get(f"/tasks/{task['id']}/timeline", headers=account).status_code == 404
    assert client.delete(f"/tasks/{task['id']}", headers=account).status_code == 204
    assert client.get(f"/tasks/{task['id']}", headers=account).status_code == 404


def test_updating_a_record_publishes_its_new_state(client: TestClient, account,
                                                   publisher) -> None:
    from convene_schemas.events.records import TicketUpserted

    ticket = client.post("/tickets", json={"subject": "Printer", "status": "new",
                                           "priority": "low"}, headers=account).json()
    changed = client.patch(f"/tickets/{ticket['id']}", json={"status": "closed",
                                                             "priority": None},
                           headers=account)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["subject"], body["status"], body["priority"], body["version"]) == (
        "Printer", "closed", None, 2)
    event = publisher.events()[-1].event
    assert isinstance(event, TicketUpserted) and event.version == 2 and event.priority is None
    count = len(publisher.records)
    same = client.patch(f"/tickets/{ticket['id']}", json={"status": "closed"}, headers=account)
    assert same.json()["version"] == 2 and len(publisher.records) == count
    assert client.get(f"/tickets/{ticket['id']}", headers=account).json() == body
    cleared = client.patch(f"/tickets/{ticket['id']}", json={"subject": None}, headers=account)
    assert cleared.status_code == 422 and code(cleared) == "invalid_properties"
    deal = client.post("/deals", json={"name": "D", "stage": "s"}, headers=account).json()
    no_currency = client.patch(f"/deals/{deal['id']}", json={"amount": "5"}, headers=account)
    assert no_currency.status_code == 422 and code(no_currency) == "invalid_properties"
    priced = client.patch(f"/deals/{deal['id']}", json={"amount": "5", "currency": "USD"},
                          headers=account)
    assert priced.status_code == 200, priced.text
    assert priced.json()["amount"] == "5" and priced.json()["version"] == 2
    staged = client.patch(f"/deals/{deal['id']}", json={"stage": "won"}, headers=account)
    assert staged.status_code == 200, staged.text
    assert (staged.json()["amount"], staged.json()["stage"]) == ("5", "won")
    client.delete(f"/deals/{deal['id']}", headers=account)
    gone = client.patch(f"/deals/{deal['id']}", json={"stage": "won"}, headers=account)
    assert gone.status_code == 404
