"""Tenancy and identity at the services' doors: another account's token sees none of the
first account's data, and a missing, expired, wrongly signed or unsigned token gets 401."""

from __future__ import annotations

import uuid

import httpx
import pytest
from support import tokens
from support.services import Stack
from support.skeleton import Account, schedule


def claims(account: Account) -> dict:
    return tokens.claims(account.id, account.host["id"])


@pytest.fixture(scope="module")
async def meeting(stack: Stack, account: Account) -> dict:
    created = await schedule(stack, account, f"Tenancy-{uuid.uuid4().hex[:8]}",
                             f"NOTE-{uuid.uuid4().hex}")
    return created["meeting"]


def protected_urls(stack: Stack, account: Account, meeting: dict) -> list[str]:
    contact, host = account.contact["id"], account.host["id"]
    return [
        f"{stack.url('records')}/account",
        f"{stack.url('records')}/contacts/{contact}",
        f"{stack.url('records')}/contacts/{contact}/timeline",
        f"{stack.url('records')}/users/{host}",
        f"{stack.url('meetings')}/meetings/{meeting['id']}",
        f"{stack.url('notifications')}/emails?meeting_id={meeting['id']}",
    ]


def test_another_accounts_token_sees_nothing_and_changes_nothing(
    stack: Stack, account: Account, meeting: dict
) -> None:
    other = stack.token(f"acc_{uuid.uuid4().hex[:12]}", "usr_intruder", roles="team")
    secrets = [account.contact["email"], account.host["email"], meeting["title"], account.id]
    for url in protected_urls(stack, account, meeting):
        response = httpx.get(url, headers={"Authorization": f"Bearer {other}"}, timeout=10)
        if "/emails" in url:  # a list endpoint: empty for the other account
            assert response.status_code == 200 and response.json()["items"] == [], url
        else:
            assert response.status_code == 404, (url, response.text)
            assert response.json()["error"]["code"].endswith("not_found")
        assert not any(secret in response.text for secret in secrets), url

    # Scheduling in the other account with the first account's contact as attendee: refused.
    attempt = httpx.post(f"{stack.url('meetings')}/meetings", headers={
        "Authorization": f"Bearer {other}"}, timeout=10, json={
        "title": "Poach", "start": "2030-01-01T10:00:00", "time_zone": "Europe/Rome",
        "duration_minutes": 30, "host_user_id": account.host["id"],
        "attendees": [{"kind": "contact", "id": account.contact["id"]}]})
    assert attempt.status_code == 422
    assert account.contact["email"] not in attempt.text

    mine = httpx.get(f"{stack.url('meetings')}/meetings/{meeting['id']}", timeout=10,
                     headers={"Authorization": f"Bearer {account.host_token}"})
    assert mine.status_code == 200 and mine.json()["title"] == meeting["title"]


# Every kind of bad token on every operation of every service: tests/security/test_3_tokens.py.
@pytest.mark.parametrize("case", ["missing", "expired", "wrong_key", "alg_none", "wrong_audience"])
def test_bad_tokens_get_401(stack: Stack, account: Account, meeting: dict, case: str) -> None:
    token = tokens.bad_tokens(stack, account.id, account.host["id"])[case]()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for url in protected_urls(stack, account, meeting):
        response = httpx.get(url, headers=headers, timeout=10)
        assert response.status_code == 401, (case, url, response.text)
        assert response.json()["error"]["code"] in ("missing_token", "invalid_token", "token_expired")
        assert response.headers["www-authenticate"].lower().startswith("bearer")
    # The control: a valid token of the same shape is accepted.
    ok = httpx.get(protected_urls(stack, account, meeting)[1], timeout=10,
                   headers={"Authorization": f"Bearer {tokens.signed(stack, claims(account))}"})
    assert ok.status_code == 200
