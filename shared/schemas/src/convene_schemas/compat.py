"""Compatibility of two JSON Schemas of one event (old snapshot vs current model).

A change is compatible when every message valid under one schema can still be read by
code written for the other: consumers written for the old schema read new messages, and
new consumers replay old messages from the log. The checker reports what breaks that:

``removed_field``        a property the old schema had is gone
``changed_type``         a property's JSON types differ (``string`` -> ``integer``,
                         ``string`` -> ``string | null``, a format changed, ...)
``new_required_field``   a property is required now that was not (new or made required)
``tightened_enum``       an enum lost values, or a free value became an enum/const
``tightened_constraint`` a length/size/range bound got stricter, or a pattern changed

Adding an optional property, widening an enum and loosening a bound are compatible.
The walk follows ``$ref`` into ``$defs`` of each schema, so nested models are checked
too, and it is indifferent to how definitions are named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

IncompatibilityKind = Literal[
    "removed_field",
    "changed_type",
    "new_required_field",
    "tightened_enum",
    "tightened_constraint",
]

_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")

Schema = dict[str, Any]


@dataclass(frozen=True)
class Incompatibility:
    """One incompatible difference, at a field path such as ``attendees[].kind``."""

    path: str
    kind: IncompatibilityKind
    detail: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.kind}: {self.detail}"


def check_compatibility(old: Schema, new: Schema) -> list[Incompatibility]:
    """Every incompatible difference between an ``old`` and a ``new`` JSON Schema."""
    walker = _Walker(old, new)
    walker.compare(old, new, "")
    return walker.found


def _kind(branch: Schema) -> str:
    """The JSON kind of one non-union schema: its type, plus the string format."""
    declared = branch.get("type")
    if isinstance(declared, list):  # normalised by _branches; defensive
        declared = "|".join(sorted(declared))
    if declared is None:
        values = _enum_values(branch)
        if values is not None:
            declared = "|".join(sorted({_json_type(v) for v in values}))
        elif "properties" in branch or "additionalProperties" in branch:
            declared = "object"
        elif "items" in branch:
            declared = "array"
        else:
            declared = "any"
    if declared == "string" and "format" in branch:
        return f"string:{branch['format']}"
    return str(declared)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _enum_values(branch: Schema) -> list[Any] | None:
    if "enum" in branch:
        return list(branch["enum"])
    if "const" in branch:
        return [branch["const"]]
    return None


class _Walker:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.found: list[Incompatibility] = []
        self._open: set[tuple[str, str]] = set()  # definitions being compared (cycles)

    def report(self, path: str, kind: IncompatibilityKind, detail: str) -> None:
        self.found.append(Incompatibility(path, kind, detail))

    @staticmethod
    def _resolve(node: Schema, root: Schema) -> Schema:
        hops = 0
        first_ref = node.get("$ref")
        while "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"only local $refs are supported, got {ref!r}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings}
            hops += 1
            if hops > 50:
                raise ValueError(f"$ref cycle at {ref!r}")
        if first_ref is not None:
            node["__ref__"] = first_ref
        return node

    def _branches(self, node: Schema, root: Schema) -> list[Schema]:
        node = self._resolve(node, root)
        for keyword in ("anyOf", "oneOf"):
            if keyword in node:
                result: list[Schema] = []
                for sub in node[keyword]:
                    result.extend(self._branches(sub, root))
                return result
        if "allOf" in node and len(node["allOf"]) == 1:
            merged = {**self._resolve(node["allOf"][0], root)}
            merged.update({k: v for k, v in node.items() if k != "allOf"})
            return self._branches(merged, root)
        if isinstance(node.get("type"), list):
            return [{**node, "type": t} for t in node["type"]]
        return [node]

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        """Compare two (sub)schemas found at ``path``, recording every incompatibility."""
        old_by_kind = _group(self._branches(old, self.old_root))
        new_by_kind = _group(self._branches(new, self.new_root))
        old_kinds, new_kinds = set(old_by_kind), set(new_by_kind)
        if old_kinds != new_kinds and "any" not in new_kinds:
            self.report(
                path,
                "changed_type",
                f"type {' | '.join(sorted(old_kinds))} became {' | '.join(sorted(new_kinds))}",
            )
        for kind in sorted(old_kinds & new_kinds):
            for old_branch, new_branch in zip(old_by_kind[kind], new_by_kind[kind], strict=False):
                self._compare_branch(old_branch, new_branch, path)

    def _compare_branch(self, old: Schema, new: Schema, path: str) -> None:
        refs = (old.get("__ref__"), new.get("__ref__"))
        if refs[0] is not None and refs[1] is not None:
            if refs in self._open:  # a recursive model: this pair is already being compared
                return
            self._open.add(refs)  # type: ignore[arg-type]
        try:
            self._compare_branch_body(old, new, path)
        finally:
            self._open.discard(refs)

    def _compare_branch_body(self, old: Schema, new: Schema, path: str) -> None:
        self._compare_enum(old, new, path)
        self._compare_bounds(old, new, path)
        if "properties" in old or "properties" in new:
            self._compare_object(old, new, path)
        if "items" in old and "items" in new:
            self.compare(old["items"], new["items"], f"{path}[]")
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self.compare(old_extra, new_extra, f"{path}{{}}")

    def _compare_enum(self, old: Schema, new: Schema, path: str) -> None:
        old_values, new_values = _enum_values(old), _enum_values(new)
        if new_values is None:
            return
        if old_values is None:
            self.report(path, "tightened_enum", f"now restricted to {new_values!r}")
            return
        removed = [v for v in old_values if v not in new_values]
        if removed:
            self.report(path, "tightened_enum", f"values removed: {removed!r}")

    def _compare_bounds(self, old: Schema, new: Schema, path: str) -> None:
        for keyword in _UPPER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                self.report(
                    path, "tightened_constraint", f"{keyword} {old.get(keyword)} -> {new[keyword]}"
                )
        for keyword in _LOWER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                self.report(
                    path, "tightened_constraint", f"{keyword} {old.get(keyword)} -> {new[keyword]}"
                )
        if "pattern" in new and new.get("pattern") != old.get("pattern"):
            self.report(
                path,
                "tightened_constraint",
                f"pattern {old.get('pattern')!r} -> {new['pattern']!r}",
            )

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: dict[str, Schema] = old.get("properties", {})
        new_props: dict[str, Schema] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        prefix = f"{path}." if path else ""
        for name in old_props:
            if name not in new_props:
                self.report(f"{prefix}{name}", "removed_field", "the field is gone")
        for name in sorted(new_required - old_required):
            detail = (
                "an optional field became required"
                if name in old_props
                else "a new field is required"
            )
            self.report(f"{prefix}{name}", "new_required_field", detail)
        for name, old_prop in old_props.items():
            if name in new_props:
                self.compare(old_prop, new_props[name], f"{prefix}{name}")


def _group(branches: list[Schema]) -> dict[str, list[Schema]]:
    grouped: dict[str, list[Schema]] = {}
    for branch in branches:
        grouped.setdefault(_kind(branch), []).append(branch)
    return grouped
