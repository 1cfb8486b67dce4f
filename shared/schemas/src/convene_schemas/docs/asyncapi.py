"""``docs/asyncapi/<service>.yaml``: one AsyncAPI 3.0.0 document per service.

Channels are the topics the service publishes or consumes; operations are ``send`` for
its own topic and ``receive`` (in a consumer group named after the service) for the
others; messages carry the CloudEvents Kafka headers as a header schema, the event's JSON
Schema as payload, and the registry's examples with the headers the envelope really
writes. Kafka bindings give the key, partitions and topic configuration.
"""

from __future__ import annotations

import uuid
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import yaml

from convene_schemas.docs.markdown import doc_of
from convene_schemas.docs.schemas import (
    REF_PREFIX,
    CatalogueSchemas,
    collect_schemas,
    without_closed_objects,
)
from convene_schemas.envelope import CONTENT_TYPE, source_of, to_kafka_message
from convene_schemas.registry import SERVICES, EventSpec, Registry, TopicSpec

KAFKA_BINDING_VERSION = "0.5.0"
EXAMPLE_NAMESPACE = uuid.UUID("5d0c6f53-4d5c-4b7e-9a51-6b0b1c0e7a11")
"""Example event ids are uuid5(namespace, type + example name): stable across runs."""


def _package_version() -> str:
    try:
        return version("convene-schemas")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0"


def channel_id(topic_name: str) -> str:
    """``meetings.events.v1`` -> ``meetingsEventsV1``."""
    words = topic_name.replace("-", ".").split(".")
    return words[0] + "".join(word[:1].upper() + word[1:] for word in words[1:])


def message_id(event: EventSpec) -> str:
    """The component name of an event's message: ``MeetingScheduled.v1``."""
    return f"{event.name}.v{event.schema_version}"


def headers_schema(topic: TopicSpec, event: EventSpec) -> dict[str, Any]:
    """The CloudEvents binary-mode Kafka headers of one event type, as a JSON Schema."""
    model = event.model

    def text(description: str, **extra: Any) -> dict[str, Any]:
        return {"type": "string", "description": description, **extra}

    return {
        "type": "object",
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "ce_subject",
            "ce_accountid",
            "ce_dataversion",
            "content-type",
        ],
        "properties": {
            "ce_specversion": text("CloudEvents spec version.", const="1.0"),
            "ce_id": text("Event id, stable across retries; consumers drop duplicates by it."),
            "ce_source": text("The producing service.", const=source_of(topic.producer)),
            "ce_type": text("The event type.", const=event.type),
            "ce_time": text(
                "When it happened (RFC 3339, UTC): the body's occurred_at.", format="date-time"
            ),
            "ce_subject": text(
                f"The aggregate id (`{model.AGGREGATE_ID_FIELD}`), also the message key."
            ),
            "ce_accountid": text("Extension: the account (tenant) id, the body's account_id."),
            "ce_dataversion": text(
                "Extension: the data schema's major version.", const=str(event.schema_version)
            ),
            "ce_traceparent": text(
                "Extension: W3C trace context, when there is one.",
                pattern="^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            ),
            "content-type": text("The body's media type.", const=CONTENT_TYPE),
        },
    }


def _examples(event: EventSpec) -> list[dict[str, Any]]:
    examples = []
    for example in event.examples:
        instance = event.model.model_validate(example.data, strict=False)
        event_id = str(uuid.uuid5(EXAMPLE_NAMESPACE, f"{event.type}/{example.name}"))
        record = to_kafka_message(instance, event_id=event_id)
        headers = {name: value.decode() for name, value in record.headers}
        examples.append(
            {
                "name": _example_name(example.name),
                "summary": example.name,
                "headers": headers,
                "payload": example.data,
            }
        )
    return examples


def _example_name(text: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return "-".join(words[:8]).lower()


def _message(topic: TopicSpec, event: EventSpec) -> dict[str, Any]:
    model = event.model
    meaning = doc_of(model)
    summary = meaning.split(". ")[0].rstrip(".") + "."
    message: dict[str, Any] = {
        "name": event.name,
        "title": f"{event.name} (v{event.schema_version})",
        "summary": summary,
    }
    if meaning != summary:
        message["description"] = meaning
    return message | {
        "contentType": CONTENT_TYPE,
        "headers": headers_schema(topic, event),
        "payload": {"$ref": REF_PREFIX + model.__name__},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"The {model.AGGREGATE_ID_FIELD}."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": _examples(event),
    }


def _channel(topic: TopicSpec) -> dict[str, Any]:
    return {
        "address": topic.name,
        "title": topic.name,
        "description": f"{' '.join(topic.description.split())} Key: {' '.join(topic.key.split())} "
        f"Messages that can never be processed go to `{topic.dlq.topic}`.",
        "messages": {
            message_id(e): {"$ref": f"#/components/messages/{message_id(e)}"} for e in topic.events
        },
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": {
                    "cleanup.policy": [topic.cleanup_policy],
                    "retention.ms": topic.retention_ms,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _operation(service: str, topic: TopicSpec, action: str) -> dict[str, Any]:
    cid = channel_id(topic.name)
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{cid}"},
        "summary": (
            f"{service} publishes {topic.name}."
            if action == "send"
            else f"{service} consumes {topic.name} (commits after processing)."
        ),
        "messages": [{"$ref": f"#/channels/{cid}/messages/{message_id(e)}"} for e in topic.events],
    }
    if action == "receive":
        operation["bindings"] = {
            "kafka": {
                "groupId": {"type": "string", "enum": [service]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    return operation


def build_document(service: str, registry: Registry, schemas: CatalogueSchemas) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of one service, as plain data."""
    sent, received = registry.produced_by(service), registry.consumed_by(service)
    topics = sorted({t.name: t for t in [*sent, *received]}.values(), key=lambda t: t.name)
    operations: dict[str, Any] = {}
    for action, group in (("send", sent), ("receive", received)):
        for topic in group:
            cid = channel_id(topic.name)
            operations[f"{action}{cid[:1].upper()}{cid[1:]}"] = _operation(service, topic, action)
    events = [e for t in topics for e in t.events]
    needed = {e.model.__name__: schemas.schema_of(e.model) for e in events}
    needed.update(_referenced_definitions(needed, schemas))
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"Convene {service} events",
            "version": _package_version(),
            "description": (
                f"The Kafka events the {service} service publishes and consumes. CloudEvents 1.0, "
                "Kafka protocol binding, binary content mode: attributes in `ce_` headers, the "
                "event's JSON in the body. Consumers must ignore unknown fields. Generated by "
                "`python -m convene_schemas.docs` from shared/schemas; see docs/events.md."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "The development broker (make infra-up).",
            }
        },
        "channels": {channel_id(t.name): _channel(t) for t in topics},
        "operations": operations,
        "components": {
            "messages": {message_id(e): _message(t, e) for t in topics for e in t.events},
            "schemas": without_closed_objects(dict(sorted(needed.items()))),
        },
    }


def _referenced_definitions(roots: dict[str, Any], schemas: CatalogueSchemas) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pending = list(roots.values())
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_PREFIX):
                name = ref[len(REF_PREFIX) :]
                if name in schemas.definitions and name not in found:
                    found[name] = schemas.definitions[name]
                    pending.append(found[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_asyncapi(registry: Registry) -> dict[str, str]:
    """``{service: YAML text}`` for every service that publishes or consumes a topic."""
    schemas = collect_schemas(registry)
    documents = {}
    for service in SERVICES:
        if registry.produced_by(service) or registry.consumed_by(service):
            document = build_document(service, registry, schemas)
            documents[service] = yaml.dump(
                document, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=100
            )
    return documents
