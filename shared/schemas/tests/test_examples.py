"""The registry's examples and the catalogue agree (cf. sentry-kafka-schemas test_examples)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from convene_schemas.base import Event
from convene_schemas.catalogue import all_event_classes
from convene_schemas.registry import SERVICES, Registry, load_registry
from pydantic import BaseModel, ValidationError

pytestmark = pytest.mark.contract

EXAMPLES = [
    pytest.param(event, example, id=f"{event.name}:{example.name}")
    for _, event in load_registry().events()
    for example in event.examples
]
MODELS = [pytest.param(model, id=model.__name__) for model in all_event_classes()]


@pytest.mark.parametrize(("event", "example"), EXAMPLES)
def test_example_validates_as_a_producer_would_send_it(event: Any, example: Any) -> None:
    # Strict JSON validation, unknown fields refused: what a producer may put on the wire.
    instance = event.model.model_validate_json(json.dumps(example.data), strict=True)
    # Examples are canonical: exactly what the model serializes (UTC "Z", every field).
    assert instance.model_dump(mode="json") == example.data


@pytest.mark.parametrize(("event", "example"), EXAMPLES)
def test_example_with_an_extra_field_is_refused(event: Any, example: Any) -> None:
    with pytest.raises(ValidationError, match="extra"):
        event.model.model_validate({**example.data, "unexpected": 1}, strict=False)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_is_in_exactly_one_topic_with_an_example(
    model: type[Event], registry: Registry
) -> None:
    listed_in = [
        topic.name
        for topic, event in registry.events()
        if (event.type, event.schema_version) == (model.EVENT_TYPE, model.SCHEMA_VERSION)
    ]
    assert listed_in == [model.TOPIC], f"{model.__name__} is listed in {listed_in}"
    topic = registry.topic(model.TOPIC)
    assert topic.producer == model.SERVICE
    assert f"com.convene.{model.SERVICE}.{model.__name__}" == model.EVENT_TYPE


def test_every_registry_entry_has_a_model(registry: Registry) -> None:
    entries = [(e.type, e.schema_version) for _, e in registry.events()]
    models = [(m.EVENT_TYPE, m.SCHEMA_VERSION) for m in all_event_classes()]
    assert sorted(entries) == sorted(models)


def test_every_service_publishes_one_topic_with_a_dead_letter_topic(registry: Registry) -> None:
    assert sorted(t.producer for t in registry.topics) == sorted(SERVICES)
    for topic in registry.topics:
        assert topic.name == f"{topic.producer}.events.v1"
        assert topic.dlq.topic == f"{topic.name}.dlq"
        assert topic.partitions == 6


@pytest.mark.parametrize("model", MODELS)
def test_aggregate_id_field_is_a_required_string(model: type[Event]) -> None:
    schema = model.model_json_schema()
    assert model.AGGREGATE_ID_FIELD in schema["required"]
    assert schema["properties"][model.AGGREGATE_ID_FIELD]["type"] == "string"


def _documented(model: type[BaseModel], seen: set[type[BaseModel]]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    missing = [] if (model.__doc__ or "").strip() else [f"{model.__name__} (docstring)"]
    for name, field in model.model_fields.items():
        if not field.description:
            missing.append(f"{model.__name__}.{name}")
        for nested in _models_in(field.annotation):
            missing.extend(_documented(nested, seen))
    return missing


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def test_every_model_and_field_is_documented() -> None:
    seen: set[type[BaseModel]] = set()
    missing = [m for model in all_event_classes() for m in _documented(model, seen)]
    assert not missing, f"add a docstring or Field(description=...) to: {missing}"
