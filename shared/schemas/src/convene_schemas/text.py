"""Text every store and every reader can hold: one rule for API input and for events.

PostgreSQL behind FerretDB cannot keep U+0000 in a string (SQLSTATE 22P05), and no UTF-8
encoder can write an unpaired surrogate (U+D800-U+DFFF, which a JSON ``"\\ud800"`` escape
produces). The other control characters (Unicode category Cc: U+0001-U+001F, U+007F-U+009F)
are never text a person meant, and in a title or a name a line break is a header or an
iCalendar property waiting to be injected. So:

* a **one-line** field (ids, names, titles, addresses, codes: every string by default)
  refuses every control character and every unpaired surrogate;
* a **multi-line** field, annotated :data:`MultilineText`, also takes TAB, LF and CR.

A model gets the rule by deriving from :class:`StorableText`: the event bases
(:class:`~convene_schemas.base.Event`, :class:`~convene_schemas.events.common.ValueObject`)
and the kit's ``RequestModel`` do. The rule joins the model's core schema, so it checks every
string a field holds (in lists, unions and dict keys too) and no field can forget it. A
refusal is the pydantic error type ``disallowed_character`` (the API answers 422 with that
code; a consumer dead-letters the event as ``validation_failed``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, cast

from pydantic import BaseModel, GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

DISALLOWED_CHARACTER = "disallowed_character"
"""The error code (pydantic error type, API error code) of a refused character."""

_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NAMES = {0x00: "NUL", 0x09: "tab", 0x0A: "line feed", 0x0D: "carriage return"}
_MULTILINE_FLAG = "convene_multiline_text"
_WRAPPED_FLAG = "convene_text_rule"


class _Multiline:
    """The marker :data:`MultilineText` carries: it flags the string's core schema, so the
    rule lets TAB, LF and CR through there."""

    def __repr__(self) -> str:
        return "MULTILINE"

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        flagged: dict[str, Any] = {**schema}
        flagged["metadata"] = {**(schema.get("metadata") or {}), _MULTILINE_FLAG: True}
        return cast(CoreSchema, flagged)


MULTILINE = _Multiline()
"""Put in ``Annotated[str, MULTILINE]`` (or use :data:`MultilineText`) to allow line breaks."""

MultilineText = Annotated[str, MULTILINE]
"""A string that may span lines: TAB, LF and CR are allowed, other control characters not."""


def disallowed_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of ``value`` the rule refuses, or None when it may be stored."""
    found = (_MULTI_LINE if multiline else _ONE_LINE).search(value)
    return found.group() if found else None


def storable(value: str, *, multiline: bool = False, replacement: str = " ") -> str:
    """``value`` with every character the rule refuses replaced: for text that comes from
    outside and must be kept rather than refused (a provider event's title, say)."""
    return (_MULTI_LINE if multiline else _ONE_LINE).sub(replacement, value)


def why_disallowed(char: str) -> str:
    """A human sentence saying why ``char`` was refused."""
    code = ord(char)
    shown = f"U+{code:04X}" + (f" ({_NAMES[code]})" if code in _NAMES else "")
    if 0xD800 <= code <= 0xDFFF:
        return f"{shown} is an unpaired surrogate, not a character"
    if char in "\t\n\r":
        return f"{shown} is not allowed here: this field is one line, without tabs or line breaks"
    return f"{shown} is a control character, which text cannot hold"


def _refusal(char: str) -> PydanticCustomError:
    return PydanticCustomError(DISALLOWED_CHARACTER, "{reason}",
                               {"reason": why_disallowed(char), "character": f"U+{ord(char):04X}"})


def check_line(value: str) -> str:
    """``value`` unchanged if it is one line of storable text, else a pydantic
    ``disallowed_character`` error."""
    found = _ONE_LINE.search(value)
    if found is not None:
        raise _refusal(found.group())
    return value


def check_multiline(value: str) -> str:
    """``value`` unchanged if it is storable text (TAB, LF and CR allowed), else a pydantic
    ``disallowed_character`` error."""
    found = _MULTI_LINE.search(value)
    if found is not None:
        raise _refusal(found.group())
    return value


def first_disallowed(value: Any, *, multiline: bool = False) -> str | None:
    """The first refused character anywhere in ``value``: a string, the items of a list,
    tuple or set, the keys (one-line) and values of a dict (for values that no model
    validated: cursors, token claims)."""
    if isinstance(value, str):
        return disallowed_character(value, multiline=multiline)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = first_disallowed(key) or first_disallowed(item, multiline=multiline)
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            found = first_disallowed(item, multiline=multiline)
            if found is not None:
                return found
    return None


# Keys of a core schema that hold no validation schema to walk into.
_NOT_SCHEMAS = frozenset({"serialization", "metadata", "cls", "function", "ref", "schema_ref",
                          "json_schema_input_schema", "default", "examples"})


def _with_text_rule(node: Any, multiline: bool = False) -> Any:
    """``node`` (a pydantic core schema) with every string schema in it wrapped in the rule:
    :func:`check_multiline` under a :data:`MULTILINE` flag, :func:`check_line` otherwise.
    Other models' schemas are referenced, not inlined, here: a :class:`StorableText` model
    wrapped its own."""
    if isinstance(node, (list, tuple)):
        return type(node)(_with_text_rule(item, multiline) for item in node)
    if not isinstance(node, dict):
        return node
    metadata = node.get("metadata") or {}
    if metadata.get(_WRAPPED_FLAG):
        return node
    multiline = multiline or bool(metadata.get(_MULTILINE_FLAG))
    if node.get("type") == "str":
        return core_schema.no_info_after_validator_function(
            check_multiline if multiline else check_line, cast(CoreSchema, node),
            metadata={_WRAPPED_FLAG: True})
    return {key: value if key in _NOT_SCHEMAS else _with_text_rule(value, multiline)
            for key, value in node.items()}


class StorableText(BaseModel):
    """Base of models whose strings must be storable text (see the module docstring).

    The rule is part of the model's core schema: every string schema of its fields (in
    lists, unions and dict keys too) is checked after its own constraints, so the error
    names the exact place (``attendees.0.id``) and no field can forget it. A field whose
    type is another model relies on that model: nested models derive from this class too.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel],
                                     handler: GetCoreSchemaHandler, /) -> CoreSchema:
        return cast(CoreSchema, _with_text_rule(handler(source)))
