"""The compatibility checker reports what breaks readers, and only that."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from convene_schemas.compat import check_compatibility
from convene_schemas.events.common import ValueObject
from convene_schemas.events.meetings import MeetingScheduled
from convene_schemas.events.records import ContactUpserted
from pydantic import BaseModel, Field, create_model

pytestmark = pytest.mark.contract


def kinds(old: type[BaseModel], new: type[BaseModel]) -> set[tuple[str, str]]:
    return {
        (i.path, i.kind)
        for i in check_compatibility(old.model_json_schema(), new.model_json_schema())
    }


def test_identical_schemas_are_compatible() -> None:
    assert (
        check_compatibility(
            MeetingScheduled.model_json_schema(), MeetingScheduled.model_json_schema()
        )
        == []
    )


def test_a_new_optional_field_is_compatible() -> None:
    Newer = create_model(
        "ContactUpserted",
        __base__=ContactUpserted,
        company_name=(str | None, Field(None, description="x")),
    )
    assert kinds(ContactUpserted, Newer) == set()


def test_a_removed_field_is_reported() -> None:
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in ContactUpserted.model_fields.items()
        if name != "language"
    }
    Older = create_model("ContactUpserted", **fields)
    assert kinds(ContactUpserted, Older) == {("language", "removed_field")}


def test_a_changed_type_is_reported() -> None:
    Changed = create_model(
        "ContactUpserted", __base__=ContactUpserted, version=(str, Field(description="x"))
    )
    assert ("version", "changed_type") in kinds(ContactUpserted, Changed)


def test_making_a_field_nullable_is_a_type_change() -> None:
    Nullable = create_model(
        "ContactUpserted", __base__=ContactUpserted, contact_id=(str | None, None)
    )
    assert ("contact_id", "changed_type") in kinds(ContactUpserted, Nullable)


def test_a_new_required_field_is_reported() -> None:
    Stricter = create_model(
        "ContactUpserted", __base__=ContactUpserted, company_id=(str, Field(description="x"))
    )
    assert kinds(ContactUpserted, Stricter) == {("company_id", "new_required_field")}


def test_an_optional_field_made_required_is_reported() -> None:
    Stricter = create_model(
        "ContactUpserted",
        __base__=ContactUpserted,
        owner_user_id=(str | None, Field(description="x")),
    )
    assert kinds(ContactUpserted, Stricter) == {("owner_user_id", "new_required_field")}


def test_a_tightened_enum_is_reported_and_a_widened_one_is_not() -> None:
    reasons = ContactUpserted.model_fields["email_invalid_reason"]
    Fewer = create_model(
        "ContactUpserted",
        __base__=ContactUpserted,
        email_invalid_reason=(
            Literal["missing", "malformed"] | None,
            Field(None, description=reasons.description),
        ),
    )
    More = create_model(
        "ContactUpserted",
        __base__=ContactUpserted,
        email_invalid_reason=(
            Literal["missing", "malformed", "bounced", "role_account"] | None,
            Field(None, description=reasons.description),
        ),
    )
    assert kinds(ContactUpserted, Fewer) == {("email_invalid_reason", "tightened_enum")}
    assert kinds(ContactUpserted, More) == set()


class _AttendeeV1(ValueObject):
    email: str | None = None
    kind: Literal["contact", "user"]


class _AttendeeV2(ValueObject):
    kind: Literal["contact"]
    name: str


class _MeetingV1(BaseModel):
    attendees: list[_AttendeeV1]
    host: _AttendeeV1 | None = None


class _MeetingV2(BaseModel):
    attendees: list[_AttendeeV2]
    host: _AttendeeV2 | None = None


def test_changes_inside_nested_definitions_are_reported_with_their_path() -> None:
    found = kinds(_MeetingV1, _MeetingV2)
    assert found == {
        ("attendees[].email", "removed_field"),
        ("attendees[].name", "new_required_field"),
        ("attendees[].kind", "tightened_enum"),
        ("host.email", "removed_field"),
        ("host.name", "new_required_field"),
        ("host.kind", "tightened_enum"),
    }


def test_the_snapshot_catalogue_nested_change_is_caught() -> None:
    # A real nested model of the catalogue: drop a field of Attendee inside MeetingScheduled.
    old = MeetingScheduled.model_json_schema()
    new = MeetingScheduled.model_json_schema()
    del new["$defs"]["Attendee"]["properties"]["time_zone"]
    new["$defs"]["Location"]["properties"]["kind"]["enum"].remove("custom")
    found = {(i.path, i.kind) for i in check_compatibility(old, new)}
    assert found == {
        ("attendees[].time_zone", "removed_field"),
        ("location.kind", "tightened_enum"),
    }


def test_tightened_bounds_are_reported_and_loosened_ones_are_not() -> None:
    old = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 500}}}
    tighter = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 100}}}
    looser = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 1000}}}
    assert [i.kind for i in check_compatibility(old, tighter)] == ["tightened_constraint"]
    assert check_compatibility(old, looser) == []


def test_renaming_a_definition_is_not_a_change() -> None:
    old = {
        "$defs": {"A": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}},
    }
    new = {
        "$defs": {"B": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/B"}},
    }
    assert check_compatibility(old, new) == []


def test_recursive_definitions_terminate() -> None:
    node = {
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/N"}}},
    }
    old = {"$defs": {"N": node}, "$ref": "#/$defs/N"}
    new_node = {
        "type": "object",
        "properties": {
            "children": {"type": "array", "items": {"$ref": "#/$defs/N"}},
            "name": {"type": "string"},
        },
        "required": ["name"],
    }
    new = {"$defs": {"N": new_node}, "$ref": "#/$defs/N"}
    assert [(i.path, i.kind) for i in check_compatibility(old, new)] == [
        ("name", "new_required_field")
    ]


def test_incompatibilities_read_well() -> None:
    (problem,) = check_compatibility(
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {"type": "object", "properties": {}},
    )
    assert str(problem) == "a: removed_field: the field is gone"
