"""Radicale answers CalDAV for its htpasswd users and refuses a wrong password."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from support import endpoint

PROPFIND_BODY = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/><d:resourcetype/></d:prop></d:propfind>"""


def credentials() -> dict[str, str]:
    return json.loads(Path(endpoint("CONVENE_CALDAV_CREDENTIALS_FILE")).read_text())


async def propfind(user: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=endpoint("CONVENE_CALDAV_URL")) as client:
        return await client.request(
            "PROPFIND", f"/{user}/", content=PROPFIND_BODY, auth=(user, password),
            headers={"Depth": "0", "Content-Type": "application/xml"})


async def test_propfind_for_an_authenticated_user_is_a_multistatus() -> None:
    response = await propfind("alice", credentials()["alice"])
    assert response.status_code == 207
    assert b"multistatus" in response.content
    assert b"/alice/" in response.content


async def test_wrong_password_is_refused() -> None:
    response = await propfind("alice", credentials()["alice"] + "-wrong")
    assert response.status_code == 401
