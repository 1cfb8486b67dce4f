"""R11: internal team notes never reach an event on a public topic."""

from __future__ import annotations

from typing import Any

import pytest
from convene_schemas.catalogue import all_event_classes
from convene_schemas.events.meetings import MeetingScheduled
from convene_schemas.registry import load_registry
from pydantic import BaseModel, create_model

pytestmark = pytest.mark.contract

PUBLIC_TOPICS = {topic.name for topic in load_registry().topics}


def fields_named_like_notes(
    model: type[BaseModel], path: str = "", seen: frozenset[type] = frozenset()
) -> list[str]:
    """Every field path under ``model`` (nested models, lists and unions included) whose
    name contains "note"."""
    if model in seen:
        return []
    found = []
    for name, field in model.model_fields.items():
        here = f"{path}{name}"
        if "note" in name.lower() or "note" in (field.alias or "").lower():
            found.append(here)
        for nested in _nested_models(field.annotation):
            found.extend(fields_named_like_notes(nested, f"{here}.", seen | {model}))
    return found


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


@pytest.mark.parametrize("model", all_event_classes(), ids=lambda m: m.__name__)
def test_no_event_on_a_public_topic_has_a_notes_field(model: type[BaseModel]) -> None:
    assert model.TOPIC in PUBLIC_TOPICS  # type: ignore[attr-defined]
    assert fields_named_like_notes(model) == [], (
        f"{model.__name__} would publish internal notes (R11): they stay in the meetings "
        "service and never travel on Kafka (docs/events.md, 'Decisions')"
    )


def test_the_guard_finds_a_notes_field_nested_in_a_list() -> None:
    # The guard itself must be able to fail: a nested model with a note field inside a list.
    Leaky = create_model("Leaky", internal_team_notes=(str, ""))
    Wrapper = create_model("Wrapper", items=(list[Leaky] | None, None))  # type: ignore[valid-type]
    Snapshot = create_model("Snapshot", __base__=MeetingScheduled, extra=(Wrapper | None, None))  # type: ignore[valid-type]
    assert fields_named_like_notes(Snapshot) == ["extra.items.internal_team_notes"]
