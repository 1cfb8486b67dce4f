"""What records' API refuses at its edge, found by a fuzzer: text the store cannot hold (NUL
gave 500 from PostgreSQL behind FerretDB), times no component can represent (year 9999 with
an offset overflowed), bodies that are not JSON; and an honest OpenAPI document."""

from __future__ import annotations

import json

import pytest
from convene_kit.openapi import undocumented_errors
from fastapi.testclient import TestClient


def error(response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize(("path", "body", "loc"), [
    ("/contacts", {"first_name": "nul\u0000name"}, ["body", "first_name"]),
    ("/contacts", {"email": "zoe\u0000@client.example"}, ["body", "email"]),
    ("/companies", {"name": "Acme\nInc"}, ["body", "name"]),
    ("/deals", {"name": "D", "stage": "s\u001b[31m"}, ["body", "stage"]),
    ("/users", {"email": "a@acme.example", "name": "A\u0000", "time_zone": "UTC",
                "language": "en"}, ["body", "name"]),
    ("/associations", {"from_record": {"kind": "contact", "id": "ct_\u0000"},
                       "to_record": {"kind": "deal", "id": "deal_1"}},
     ["body", "from_record", "id"]),
])
def test_text_the_store_cannot_hold_is_a_422_not_a_500(client: TestClient, account, publisher,
                                                       path, body, loc) -> None:
    published = len(publisher.records)
    response = client.post(path, json=body, headers=account)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "disallowed_character"
    assert [d["loc"] for d in error(response)["details"]] == [loc]
    assert len(publisher.records) == published


def test_an_unpaired_surrogate_is_refused_too(client: TestClient, account) -> None:
    # JSON's "\ud800" parses into a string no UTF-8 encoder (BSON's included) can write.
    response = client.post("/contacts", content=b'{"first_name": "x\\ud800"}',
                           headers={**account, "Content-Type": "application/json"})
    assert response.status_code == 422 and error(response)["code"] == "disallowed_character"
    assert "surrogate" in error(response)["message"]


@pytest.mark.parametrize("path", [
    "/contacts/a%00b", "/contacts/a%00b/timeline", "/deals/x%00/associations",
    "/associations/a%00b", "/contacts?email=a%00b@client.example", "/tasks?owner_user_id=%00",
])
def test_a_nul_in_the_path_or_query_is_a_422(client: TestClient, account, path) -> None:
    response = client.get(path, headers=account)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "disallowed_character"


@pytest.mark.parametrize(("path", "body"), [
    ("/deals", {"name": "D", "stage": "s", "close_at": "9999-12-31T23:59:00-05:00"}),
    ("/deals", {"name": "D", "stage": "s", "close_at": "1899-12-31T23:59:59Z"}),
    ("/tasks", {"title": "T", "owner_user_id": "usr_1", "due_at": "9999-12-31T23:00:00Z"}),
])
def test_a_record_time_outside_the_supported_range_is_refused(client: TestClient, account,
                                                              path, body) -> None:
    response = client.post(path, json=body, headers=account)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "date_out_of_range"


@pytest.mark.parametrize("params", [
    {"due_after": "9999-12-31T23:00:00-05:00"},  # overflowed while turning it into UTC
    {"due_before": "0001-01-01T00:00:00+01:00"},
])
def test_a_due_bound_outside_the_supported_range_is_refused(client: TestClient, account,
                                                            params) -> None:
    response = client.get("/tasks", params=params, headers=account)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "date_out_of_range"


def test_a_report_range_outside_the_supported_range_is_refused(client: TestClient,
                                                               account) -> None:
    response = client.get("/reports/meetings", headers=account, params={
        "from": "0001-01-01T00:00:00+01:00", "to": "2026-01-01T00:00:00Z", "group_by": "host"})
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "date_out_of_range"


def test_a_body_that_is_not_json_is_a_415(client: TestClient, account) -> None:
    response = client.post("/contacts", content=json.dumps({"first_name": "Zoe"}),
                           headers={**account, "Content-Type": "text/plain"})
    assert response.status_code == 415 and error(response)["code"] == "unsupported_media_type"
    patched = client.patch("/contacts/ct_1", content=b"first_name=Zoe",
                           headers={**account,
                                    "Content-Type": "application/x-www-form-urlencoded"})
    assert patched.status_code == 415


def test_options_lists_every_method_of_a_record(client: TestClient, account) -> None:
    options = client.options("/deals/deal_1", headers=account)
    assert options.status_code == 204
    assert options.headers["allow"] == "GET, PATCH, DELETE, OPTIONS"


def test_the_openapi_document_shows_every_error_answer_in_the_error_shape(
        client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    expected: dict[str, set[str | int]] = {
        "POST /account": {409}, "GET /account": {404}, "GET /account/settings": {404},
        "PATCH /account/settings": {403, 404, 409, 422},
        "POST /users": {403, 404, 409, 422}, "GET /users/{user_id}": {404},
        "PATCH /users/{user_id}": {403, 404, 409, 422},
        "POST /contacts": {404}, "GET /contacts": {400, 422},
        "GET /contacts/{contact_id}": {404}, "PATCH /contacts/{contact_id}": {404, 409},
        "DELETE /contacts/{contact_id}": {404, 409},
        "POST /contacts/{contact_id}/restore": {404, 409},
        "GET /contacts/{contact_id}/timeline": {400, 404},
        "GET /contacts/{contact_id}/associations": {404},
        "POST /associations": {404, 409, 422}, "GET /associations/{association_id}": {404},
        "DELETE /associations/{association_id}": {404, 409},
        "GET /reports/meetings": {422},
    }
    for kind in ("companies", "deals", "tickets", "tasks"):
        one = f"/{kind}/{{record_id}}"
        expected |= {f"POST /{kind}": {404, 422}, f"GET /{kind}": {400, 422},
                     f"GET {one}": {404}, f"PATCH {one}": {404, 409, 422},
                     f"DELETE {one}": {404, 409}, f"POST {one}/restore": {404, 409},
                     f"GET {one}/associations": {404}}
        if kind != "tasks":
            expected[f"GET {one}/timeline"] = {400, 404}
    assert undocumented_errors(document, expected) == []
