"""The HTTP boundary every service shares: text the store cannot hold, times out of range,
bodies that are not JSON, the Allow header, and an OpenAPI document that shows every error
answer in the one error shape."""

from __future__ import annotations

import json

import pytest
from convene_kit.boundary import RequestModel, unchecked_bodies
from convene_kit.http import create_app
from convene_kit.openapi import undocumented_errors
from convene_kit.settings import ServiceSettings
from convene_schemas.base import SupportedDatetime
from convene_schemas.text import MultilineText
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

reading = APIRouter(prefix="/meetings")
changing = APIRouter(prefix="/meetings")


class Place(RequestModel):  # a nested model applies the rule to its own strings
    label: str
    notes: MultilineText = ""


class MeetingIn(RequestModel):
    title: str = Field(min_length=1)
    start: SupportedDatetime | None = None
    description: MultilineText = ""
    tags: list[str] = []
    place: Place | None = None


@reading.get("/{meeting_id}")
async def read(meeting_id: str, cursor: str | None = None) -> dict[str, str]:
    return {"id": meeting_id}


@changing.patch("/{meeting_id}", responses={404: {"description": "meeting_not_found"}})
async def change(meeting_id: str, body: MeetingIn) -> dict[str, str]:
    return {"title": body.title}


@changing.post("", status_code=201)
async def create(body: MeetingIn) -> dict[str, str]:
    return {"title": body.title}


def client() -> TestClient:
    app = create_app(ServiceSettings(service_name="kittest"), routers=[reading, changing])
    return TestClient(app, raise_server_exceptions=False)


def error(response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize(("body", "loc"), [
    ({"title": "nul\u0000title"}, ["body", "title"]),
    ({"title": "two\nlines"}, ["body", "title"]),
    ({"title": "t", "description": "bell\u0007"}, ["body", "description"]),
    ({"title": "t", "tags": ["ok", "del\u007f"]}, ["body", "tags", 1]),
    ({"title": "t", "place": {"label": "c1\u0085"}}, ["body", "place", "label"]),
    ({"title": "t", "place": {"label": "ok", "notes": "nul\u0000"}}, ["body", "place", "notes"]),
])
def test_a_string_the_store_cannot_hold_is_a_422_with_its_own_code(body, loc) -> None:
    response = client().post("/meetings", json=body)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "disallowed_character"
    assert [d["loc"] for d in error(response)["details"]] == [loc]
    assert error(response)["message"].startswith(".".join(map(str, loc)) + ": U+")
    assert "\u0000" not in response.text  # the input is not echoed


def test_line_breaks_and_tabs_pass_where_a_field_spans_lines() -> None:
    body = {"title": "t", "description": "a\r\n\tb", "place": {"label": "x", "notes": "1\n2"}}
    assert client().post("/meetings", json=body).status_code == 201


def test_an_unpaired_surrogate_is_a_disallowed_character() -> None:
    response = client().post("/meetings", content=b'{"title": "\\udc00"}',
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and error(response)["code"] == "disallowed_character"


def test_several_kinds_of_refusal_are_a_validation_error() -> None:
    response = client().post("/meetings", json={"title": "", "description": "\u0000"})
    assert error(response)["code"] == "validation_error"
    assert {d["type"] for d in error(response)["details"]} == {"string_too_short",
                                                                "disallowed_character"}


@pytest.mark.parametrize("start", ["9999-12-31T23:59:00-05:00", "9000-01-01T00:00:00Z",
                                   "1899-12-31T23:59:59Z", "9999-12-31T23:59:00"])
def test_a_time_outside_the_supported_range_is_a_422_date_out_of_range(start: str) -> None:
    response = client().post("/meetings", json={"title": "t", "start": start})
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "date_out_of_range"
    assert "1900-01-01T00:00:00Z" in error(response)["message"]


@pytest.mark.parametrize("url", ["/meetings/a%00b", "/meetings/a%0Ab", "/meetings/x?cursor=%00",
                                 "/meetings/x?cursor=a%0D%0Ab", "/nowhere/%00"])
def test_a_control_character_in_the_path_or_query_is_a_422(url: str) -> None:
    response = client().get(url)
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "disallowed_character"
    assert error(response)["details"][0]["loc"][0] in ("path", "query")
    assert response.headers["x-correlation-id"]


def test_utf8_and_reserved_characters_in_the_path_are_fine() -> None:
    response = client().get("/meetings/caf%C3%A9%20%26?cursor=%E2%9C%93%09")
    assert response.status_code == 422  # the tab in the query
    response = client().get("/meetings/caf%C3%A9%20%26?cursor=%E2%9C%93")
    assert response.status_code == 200 and response.json() == {"id": "café &"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_a_body_that_is_not_json_is_a_415(content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client().post("/meetings", content=json.dumps({"title": "t"}), headers=headers)
    assert response.status_code == 415, response.text
    assert error(response)["code"] == "unsupported_media_type"


def test_a_json_body_that_is_not_utf8_is_the_documented_422_not_a_400() -> None:
    response = client().post("/meetings", content=b'{"title": "\xa1l\x86"}',
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert error(response)["code"] == "validation_error"
    assert error(response)["details"][0]["type"] == "json_invalid"
    syntax = client().post("/meetings", content=b'{"title": ',
                           headers={"Content-Type": "application/json"})
    assert syntax.status_code == 422 and error(syntax)["details"][0]["type"] == "json_invalid"


def test_json_media_types_with_parameters_or_suffixes_are_json() -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client().post("/meetings", content=json.dumps({"title": "t"}),
                                 headers={"Content-Type": content_type})
        assert response.status_code == 201, (content_type, response.text)


def test_options_and_405_name_every_method_of_the_path_across_routers() -> None:
    c = client()
    options = c.options("/meetings/m-1")
    assert options.status_code == 204 and options.headers["allow"] == "GET, PATCH, OPTIONS"
    wrong = c.delete("/meetings/m-1")
    assert wrong.status_code == 405 and error(wrong)["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, PATCH, OPTIONS"
    assert c.options("/meetings").headers["allow"] == "POST, OPTIONS"
    assert c.options("/healthz").headers["allow"] == "GET, OPTIONS"
    assert c.options("/nowhere").status_code == 404


def test_the_openapi_document_shows_every_error_answer_in_the_error_shape() -> None:
    document = client().get("/openapi.json").json()
    assert undocumented_errors(document, {
        "PATCH /meetings/{meeting_id}": {404, 415, 422, 500, 503},
        "GET /meetings/{meeting_id}": {422},
        "GET /readyz": {503},
    }) == []
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert error_body["required"] == ["error"]
    assert set(document["components"]["schemas"]["ErrorDetail"]["properties"]) == {
        "code", "message", "details"}


def test_metrics_are_documented_as_prometheus_text_not_json() -> None:
    c = client()
    operation = c.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/plain"]
    assert c.get("/metrics").headers["content-type"].startswith("text/plain")


def test_undocumented_errors_finds_what_a_document_leaves_out() -> None:
    document = {"paths": {"/x/{id}": {"patch": {
        "parameters": [{"name": "id"}], "requestBody": {}, "security": [{"HTTPBearer": []}],
        "responses": {"200": {}, "422": {"content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/HTTPValidationError"}}}}}}}}}
    assert undocumented_errors(document, {"PATCH /x/{id}": {404}, "GET /y": {404}}) == [
        "PATCH /x/{id}: 401 is not documented", "PATCH /x/{id}: 404 is not documented",
        "PATCH /x/{id}: 415 is not documented", "PATCH /x/{id}: 500 is not documented",
        "PATCH /x/{id}: 503 is not documented",
        "PATCH /x/{id}: 422 is not the kit's error shape", "GET /y: no such operation"]


class Plain(BaseModel):
    title: str


class Wrapper(RequestModel):
    inner: list[Plain]


sneaky = APIRouter()


@sneaky.post("/plain")
async def plain(body: Plain) -> None:
    return None


@sneaky.post("/wrapped")
async def wrapped(body: Wrapper | None = None) -> None:
    return None


def test_an_app_whose_body_skips_the_text_rule_is_not_built() -> None:
    assert unchecked_bodies([sneaky, changing]) == ["POST /plain (Plain)",
                                                    "POST /wrapped (Plain)"]
    with pytest.raises(TypeError, match="POST /plain"):
        create_app(ServiceSettings(service_name="kittest"), routers=[sneaky])
