"""What meetings' API refuses at its edge, found by a fuzzer: text the store cannot hold, times
no consumer can represent, bodies that are not JSON; and an honest OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from convene_kit.openapi import undocumented_errors

NOW_ISO = "2026-04-01T10:00:00"


async def setup(harness, records) -> dict[str, str]:
    acc, host, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.settings(acc))
    await harness.deliver(records.user(acc, host))
    await harness.deliver(records.contact(acc, ct))
    await harness.deliver(records.calendar(acc, host))
    return {"acc": acc, "host": host, "ct": ct}


def request(ids: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"title": "Renewal", "start": NOW_ISO, "time_zone": "Europe/Rome",
            "duration_minutes": 45, "attendees": [{"kind": "contact", "id": ids["ct"]}], **extra}


@pytest.fixture
async def ids(harness, records) -> dict[str, str]:
    return await setup(harness, records)


def error(response) -> dict[str, Any]:
    return response.json()["error"]


@pytest.mark.parametrize(("field", "value", "where"), [
    ("title", "nul\u0000title", ["body", "title"]),
    ("title", "two\nlines", ["body", "title"]),
    ("location", {"kind": "custom", "value": "Room 1\u0000"}, ["body", "location", "value"]),
    ("attendee_description", "<p>a</p>\u0007", ["body", "attendee_description"]),
    ("attendees", [{"kind": "contact", "id": "ct_\u0000"}], ["body", "attendees", 0, "id"]),
])
async def test_text_the_store_cannot_hold_is_a_422_not_a_500(client, harness, mint, ids, field,
                                                             value, where) -> None:
    response = await client.post("/meetings", json=request(ids, **{field: value}),
                                 headers=mint(ids["acc"], ids["host"]))
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "disallowed_character"
    assert [d["loc"] for d in error(response)["details"]] == [where]
    assert "control character" in error(response)["message"] or "one line" in error(
        response)["message"]
    assert harness.publisher.events() == []


async def test_line_breaks_are_kept_where_a_field_spans_lines(client, mint, ids) -> None:
    response = await client.post("/meetings", headers=mint(ids["acc"], ids["host"]),
                                 json=request(ids, location={"kind": "in_person",
                                                             "value": "Via Roma 1\r\n20121 Milano"},
                                              attendee_description="<p>a</p>\n\t<p>b</p>",
                                              internal_note="line one\nline two"))
    assert response.status_code == 201, response.text
    assert response.json()["meeting"]["location"]["value"] == "Via Roma 1\r\n20121 Milano"


@pytest.mark.parametrize("path", ["/meetings/a%00b", "/meetings/a%00b/cancel",
                                  "/meetings?host_user_id=u%00x", "/meetings?cursor=%0A"])
async def test_a_nul_or_control_character_in_the_path_or_query_is_a_422(client, mint, ids,
                                                                       path) -> None:
    method = "POST" if path.endswith("/cancel") else "GET"
    response = await client.request(method, path, headers=mint(ids["acc"], ids["host"]))
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "disallowed_character"
    assert error(response)["details"][0]["loc"][0] in ("path", "query")


async def test_a_patch_is_held_to_the_same_rule(client, harness, mint, ids) -> None:
    headers = mint(ids["acc"], ids["host"])
    meeting = (await client.post("/meetings", json=request(ids), headers=headers)).json()
    patched = await client.patch(f"/meetings/{meeting['meeting']['id']}", headers=headers,
                                 json={"title": "nul\u0000", "internal_note": "ok\nok"})
    assert patched.status_code == 422 and error(patched)["code"] == "disallowed_character"
    outcome = await client.post(f"/meetings/{meeting['meeting']['id']}/outcome",
                                headers=headers, json={"outcome": "done\u0000"})
    assert outcome.status_code == 422 and error(outcome)["code"] == "disallowed_character"


@pytest.mark.parametrize(("start", "zone", "minutes"), [
    ("9999-12-31T23:59:00", "Europe/Rome", 30),  # the fuzzer's: its .ics would need year 10000
    ("9999-12-31T23:59:00-05:00", "UTC", 30),  # an offset past datetime.max in UTC
    ("8999-12-31T23:00:00Z", "UTC", 7 * 24 * 60),  # a start in range, its end not
    ("1900-01-01T00:30:00", "Asia/Tokyo", 30),  # a wall time in range, its instant not
])
async def test_a_meeting_outside_the_supported_range_is_refused(client, harness, mint, ids,
                                                                start, zone, minutes) -> None:
    response = await client.post("/meetings", headers=mint(ids["acc"], ids["host"]),
                                 json=request(ids, start=start, time_zone=zone,
                                              duration_minutes=minutes))
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "date_out_of_range"
    assert "9000-01-01T00:00:00Z" in error(response)["message"]
    assert harness.publisher.events() == []


async def test_a_reschedule_outside_the_supported_range_is_refused(client, mint, ids) -> None:
    headers = mint(ids["acc"], ids["host"])
    meeting = (await client.post("/meetings", json=request(ids), headers=headers)).json()
    moved = await client.post(f"/meetings/{meeting['meeting']['id']}/reschedule", headers=headers,
                              json={"start": "9999-12-31T23:59:00", "time_zone": "Europe/Rome",
                                    "duration_minutes": 30})
    assert moved.status_code == 422 and error(moved)["code"] == "date_out_of_range"


async def test_a_body_that_is_not_json_is_a_415(client, mint, ids) -> None:
    import json

    for content_type in ("text/plain", None):
        headers = mint(ids["acc"], ids["host"])
        if content_type:
            headers["Content-Type"] = content_type
        response = await client.post("/meetings", content=json.dumps(request(ids)),
                                     headers=headers)
        assert response.status_code == 415, response.text
        assert error(response)["code"] == "unsupported_media_type"


async def test_options_on_a_meeting_lists_every_method(client, mint, ids) -> None:
    headers = mint(ids["acc"], ids["host"])
    options = await client.options("/meetings/mtg_1", headers=headers)
    assert options.status_code == 204
    assert options.headers["allow"] == "GET, PATCH, OPTIONS"
    wrong = await client.delete("/meetings/mtg_1", headers=headers)
    assert wrong.status_code == 405 and error(wrong)["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, PATCH, OPTIONS"
    assert (await client.options("/meetings", headers=headers)).headers["allow"] == (
        "GET, POST, OPTIONS")


async def test_the_openapi_document_shows_every_error_answer_in_the_error_shape(client) -> None:
    document = (await client.get("/openapi.json")).json()
    change = {404, 409}
    assert undocumented_errors(document, expected={
        "POST /meetings": {401, 415, 422, 503},
        "GET /meetings": {401, 422},
        "GET /meetings/{meeting_id}": {401, 404, 422},
        "PATCH /meetings/{meeting_id}": {401, 415, 422, *change},
        "POST /meetings/{meeting_id}/reschedule": {401, 415, 422, *change},
        "POST /meetings/{meeting_id}/cancel": {401, 422, *change},
        "POST /meetings/{meeting_id}/outcome": {401, 415, 422, *change},
        "POST /meetings/{meeting_id}/confirm": {401, 403, 422, *change},
        "GET /metrics": {500},
    }) == []
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
