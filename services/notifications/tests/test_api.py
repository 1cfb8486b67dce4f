"""GET /emails: the mail log of a meeting, for the caller's account only, never a body."""

from __future__ import annotations

import asyncio

import pytest
from convene_kit.testing import GatewayKeys
from convene_notifications.bootstrap import Notifications
from convene_notifications.mailer import PermanentDeliveryError
from fastapi.testclient import TestClient
from notifications_testing import FakeMailer, RecordingPublisher, build, contact, meeting


@pytest.fixture(scope="module")
def key() -> GatewayKeys:
    return GatewayKeys()


def token(key: GatewayKeys, account_id: str = "acc_1") -> str:
    return key.token(account_id=account_id, user_id="usr_1", roles=["team"])


@pytest.fixture
def service(key, store, mailer: FakeMailer, publisher: RecordingPublisher,
            clock) -> Notifications:
    verifier = key.verifier()
    mailer.failures.append(PermanentDeliveryError("5.1.1 no such user", 550))
    return build(store=store, mailer=mailer, publisher=publisher, clock=clock,
                 verifier=verifier)


def get(service: Notifications, meeting_id: str | None, bearer: str | None):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    params = {"meeting_id": meeting_id} if meeting_id else {}
    return TestClient(service.app).get("/emails", params=params, headers=headers)


def test_lists_each_email_of_the_meeting_with_its_state(service, key) -> None:
    event = meeting(attendees=[contact("bounce@globex.example"), contact("luca@initech.example")])
    asyncio.run(service.deps.meeting_emails.send_invitations(event))

    response = get(service, event.meeting_id, token(key))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["recipient"], i["state"], i["kind"], i["sequence"]) for i in items] == [
        ("bounce@globex.example", "failed", "invitation", 0),
        ("luca@initech.example", "sent", "invitation", 0)]
    failed, sent = items
    assert failed["error"] == {"reason": "rejected", "code": 550, "message": "5.1.1 no such user"}
    assert failed["sent_at"] is None
    assert sent["error"] is None and sent["sent_at"].startswith("2026-03-06T09:00:00")
    assert sent["message_id"] == f"<{sent['id']}@convene.test>"
    assert set(sent) == {"id", "meeting_id", "recipient", "kind", "sequence", "state",
                         "message_id", "sent_at", "error"}  # no subject, no body


def test_another_accounts_emails_are_invisible(service, key) -> None:
    event = meeting()
    asyncio.run(service.deps.meeting_emails.send_invitations(event))

    response = get(service, event.meeting_id, token(key, account_id="acc_other"))

    assert response.status_code == 200
    assert response.json() == {"items": []}


def test_a_token_is_required(service) -> None:
    response = get(service, "mtg_1", None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_token"


def test_meeting_id_is_required(service, key) -> None:
    response = get(service, None, token(key))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_a_nul_in_the_meeting_id_is_a_422_not_a_500(service, key) -> None:
    # PostgreSQL behind FerretDB refuses U+0000 (SQLSTATE 22P05): refused before the query.
    response = get(service, "mtg_\x00x", token(key))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "disallowed_character"
    assert error["details"][0]["loc"] == ["query", "meeting_id"]


def test_the_openapi_document_shows_every_error_answer_in_the_error_shape(service) -> None:
    from convene_kit.openapi import undocumented_errors

    document = TestClient(service.app).get("/openapi.json").json()
    assert undocumented_errors(document, {"GET /emails": {401, 422, 503}}) == []
