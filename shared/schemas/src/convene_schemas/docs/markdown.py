"""``docs/events.md``: the event catalogue for people.

Hand-written prose lives in ``events_template.md`` beside this module; the generated
catalogue replaces its ``{{catalogue}}`` line, so the prose survives regeneration.
"""

from __future__ import annotations

import inspect
import json
from importlib import resources
from typing import Any

from convene_schemas.base import Event
from convene_schemas.docs.schemas import CatalogueSchemas, collect_schemas, ref_name
from convene_schemas.events.meetings import ATTENDEE_VISIBLE_FIELDS
from convene_schemas.registry import EventSpec, Registry, TopicSpec
from convene_schemas.snapshots import snapshot_file_name


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _anchor(name: str) -> str:
    return name.lower()


def doc_of(model: type[Any]) -> str:
    """A model's docstring as one paragraph (empty if it has none of its own)."""
    return " ".join(inspect.cleandoc(model.__doc__ or "").split())


def type_text(node: dict[str, Any]) -> str:
    """A JSON Schema node as a short type description with links to shared types."""
    name = ref_name(node)
    if name is not None:
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in node:
        return " or ".join(type_text(branch) for branch in node["anyOf"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " | ".join(f"`{value}`" for value in node["enum"])
    kind = node.get("type", "any")
    if kind == "array":
        text = f"array of {type_text(node.get('items', {}))}"
    elif kind == "string" and node.get("format") == "date-time":
        text = "UTC instant (RFC 3339)"
    elif kind == "object" and isinstance(node.get("additionalProperties"), dict):
        text = f"map of string to {type_text(node['additionalProperties'])}"
    else:
        text = str(kind)
    return text + _bounds(node)


def _bounds(node: dict[str, Any]) -> str:
    marks = []
    for key, symbol in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">")):
        if key in node:
            marks.append(f"{symbol} {node[key]}")
    if "minLength" in node and node["minLength"] > 0:
        marks.append(f"length >= {node['minLength']}")
    if "maxLength" in node:
        marks.append(f"length <= {node['maxLength']}")
    if "minItems" in node:
        marks.append(f">= {node['minItems']} items")
    if "maxItems" in node:
        marks.append(f"<= {node['maxItems']} items")
    if "pattern" in node:
        marks.append(f"pattern `{node['pattern']}`")
    return f" ({', '.join(marks)})" if marks else ""


def fields_table(schema: dict[str, Any]) -> list[str]:
    """The rows of a fields table (field, type, required, description) for an object schema."""
    required = set(schema.get("required", ()))
    lines = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, node in schema.get("properties", {}).items():
        if name in required:
            needed = "yes"
        else:
            needed = f"no (default `{json.dumps(node['default'])}`)" if "default" in node else "no"
        description = node.get("description", "")
        lines.append(f"| `{name}` | {_cell(type_text(node))} | {needed} | {_cell(description)} |")
    return lines


def _topic_section(topic: TopicSpec, schemas: CatalogueSchemas) -> list[str]:
    lines = [
        f"## Topic `{topic.name}`",
        "",
        _cell(topic.description),
        "",
        "| | |",
        "|---|---|",
        f"| key | {_cell(topic.key)} |",
        f"| partitions | {topic.partitions} |",
        f"| cleanup policy | {topic.cleanup_policy} |",
        f"| retention.ms | {topic.retention_ms} |",
        f"| producer | {topic.producer} |",
        f"| consumers | {', '.join(topic.consumers)} |",
        f"| dead-letter topic | `{topic.dlq.topic}` ({topic.dlq.partitions} partition(s), "
        f"retention.ms {topic.dlq.retention_ms}) |",
        "",
    ]
    for event in topic.events:
        lines.extend(_event_section(event, schemas))
    return lines


def _event_section(event: EventSpec, schemas: CatalogueSchemas) -> list[str]:
    model: type[Event] = event.model
    example = json.dumps(event.examples[0].data, indent=2, ensure_ascii=False)
    return [
        f"### {event.name}",
        "",
        f"- type: `{event.type}`",
        f"- schema version: {event.schema_version} "
        f"(snapshot `shared/schemas/snapshots/{snapshot_file_name(model)}`)",
        f"- key / `ce_subject`: `{model.AGGREGATE_ID_FIELD}`",
        "",
        doc_of(model),
        "",
        *fields_table(schemas.schema_of(model)),
        "",
        "<details><summary>Example: " + _cell(event.examples[0].name) + "</summary>",
        "",
        "```json",
        example,
        "```",
        "",
        "</details>",
        "",
    ]


def _types_section(schemas: CatalogueSchemas) -> list[str]:
    lines = ["## Shared types", ""]
    for name, schema in schemas.definitions.items():
        lines.extend([f"### {name}", ""])
        if schema.get("description"):
            lines.extend([_cell(schema["description"]), ""])
        if "properties" in schema:
            lines.extend([*fields_table(schema), ""])
        else:
            lines.extend([f"{_cell(type_text(schema))}", ""])
    return lines


def _overview(registry: Registry) -> list[str]:
    lines = ["## Topics", "", "| topic | producer | consumers | events |", "|---|---|---|---|"]
    for topic in registry.topics:
        events = ", ".join(f"[{e.name}](#{_anchor(e.name)})" for e in topic.events)
        lines.append(
            f"| `{topic.name}` | {topic.producer} | {', '.join(topic.consumers)} | {events} |"
        )
    return [*lines, ""]


def render_events_md(registry: Registry) -> str:
    """The whole ``docs/events.md``: the template's prose with the catalogue inserted."""
    schemas = collect_schemas(registry)
    catalogue = _overview(registry)
    for topic in registry.topics:
        catalogue.extend(_topic_section(topic, schemas))
    catalogue.extend(_types_section(schemas))
    template = (
        resources.files("convene_schemas.docs").joinpath("events_template.md").read_text("utf-8")
    )
    visible = ", ".join(f"`{name}`" for name in sorted(ATTENDEE_VISIBLE_FIELDS))
    text = template.replace("{{attendee_visible_fields}}", visible)
    text = text.replace("{{catalogue}}", "\n".join(catalogue).rstrip())
    return text.rstrip() + "\n"
