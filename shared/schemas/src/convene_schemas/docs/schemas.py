"""JSON Schemas of the catalogue with shared definitions hoisted to one namespace.

Both generators need every event's schema with nested models referenced by name, and the
nested models defined once: :func:`collect_schemas` gives the event schemas and the
definitions, with refs of the form ``#/components/schemas/<Name>`` (AsyncAPI's place).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from convene_schemas.base import Event
from convene_schemas.registry import Registry

REF_PREFIX = "#/components/schemas/"


@dataclass(frozen=True)
class CatalogueSchemas:
    """Each event model's schema (keyed by class name) and the nested definitions."""

    events: dict[str, dict[str, Any]]
    definitions: dict[str, dict[str, Any]]

    def schema_of(self, model: type[Event]) -> dict[str, Any]:
        """The schema of one event model."""
        return self.events[model.__name__]


def collect_schemas(registry: Registry) -> CatalogueSchemas:
    """Schemas of every event in the registry; a nested model's name must mean one thing."""
    events: dict[str, dict[str, Any]] = {}
    definitions: dict[str, dict[str, Any]] = {}
    for _, event in registry.events():
        model = event.model
        schema = copy.deepcopy(model.model_json_schema(ref_template=REF_PREFIX + "{model}"))
        for name, definition in schema.pop("$defs", {}).items():
            if name in definitions and definitions[name] != definition:
                raise ValueError(f"two different nested models are called {name}")
            definitions[name] = definition
        if model.__name__ in events or model.__name__ in definitions:
            raise ValueError(f"schema name {model.__name__} is used twice")
        events[model.__name__] = schema
    return CatalogueSchemas(events, dict(sorted(definitions.items())))


def ref_name(node: dict[str, Any]) -> str | None:
    """The definition a ``$ref`` node points to, or None."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        return ref[len(REF_PREFIX) :]
    return None


def without_closed_objects(schema: Any) -> Any:
    """A copy without ``additionalProperties: false``: consumers must ignore unknown fields,
    so published schemas leave objects open (producers stay strict in Python)."""
    if isinstance(schema, dict):
        return {
            key: without_closed_objects(value)
            for key, value in schema.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(schema, list):
        return [without_closed_objects(item) for item in schema]
    return schema
