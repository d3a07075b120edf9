"""Compact JSON Schemas (draft 2020-12) for AWS operations, built from botocore's input shapes.

The schemas go into a language model's context, so they carry only what helps to build a
valid call: types, required members, enums, bounds, usable patterns and one sentence of
documentation. Conventions shared with the execute tool:

- blobs accept base64 text or `{"$path": "<file under the files root>"}`;
- timestamps are ISO 8601 strings;
- idempotency tokens are marked `"idempotencyToken": true` and never required, because
  botocore fills them in;
- shapes that contain themselves (dynamodb `AttributeValue`) live in `$defs` and are
  referenced with `$ref`.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections import Counter
from functools import lru_cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from catalog.models import operation_model, paginator_config
from catalog.names import resolve_operation

DOC_LIMIT = 200
# Characters of JSON an input schema may take before it is compacted (~10k tokens).
SCHEMA_BUDGET = 40_000
# Longer patterns cost context and rarely help; the service validates anyway.
PATTERN_LIMIT = 200

_SCALAR_TYPES = {
    "string": {"type": "string"},
    "character": {"type": "string"},
    "integer": {"type": "integer"},
    "long": {"type": "integer"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "timestamp": {"type": "string", "format": "date-time"},
}
_BOUND_KEYWORDS = {
    "string": ("minLength", "maxLength"),
    "list": ("minItems", "maxItems"),
    "map": ("minProperties", "maxProperties"),
    "integer": ("minimum", "maximum"),
    "long": ("minimum", "maximum"),
    "float": ("minimum", "maximum"),
    "double": ("minimum", "maximum"),
}
_VACUOUS_AT_ZERO = {"minLength", "minItems", "minProperties"}
_BLOCK_TAG = re.compile(r"</?(?:p|br|li|ul|ol|div|dl|dt|dd|h\d|note|important|table|tr|td)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:)])")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "approx", "no", "ex", "cf", "inc"}


def first_sentence(documentation: str | None, limit: int = DOC_LIMIT) -> str:
    """The first sentence of botocore HTML documentation as plain text, at most `limit` characters."""
    if not documentation:
        return ""
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", documentation))
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACE.sub(" ", html.unescape(text))).strip()
    for end in _SENTENCE_END.finditer(text):
        last_word = text[: end.start()].rsplit(" ", 1)[-1].lower()
        if last_word not in _ABBREVIATIONS and len(last_word) > 1:
            text = text[: end.end()]
            break
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


def operation_schema(service: str, operation: str) -> dict[str, Any]:
    """Everything a caller needs to build one call: input schema, output summary, pagination.

    `service` and `operation` may use any spelling `resolve_operation` accepts.
    """
    return copy.deepcopy(_operation_schema(*resolve_operation(service, operation)))


@lru_cache(maxsize=512)
def _operation_schema(service: str, operation: str) -> dict[str, Any]:
    model = operation_model(service, operation)
    schema: dict[str, Any] = {
        "service": service,
        "operation": operation,
        "description": first_sentence(model.documentation),
        "input_schema": {},
        "output_summary": output_summary(model.output_shape),
        "paginates": False,
    }
    schema["input_schema"], note = _fitted_input_schema(model.input_shape)
    if note:
        schema["input_schema_note"] = note
    pagination = paginator_config(service).get(operation)
    if pagination:
        schema["paginates"] = True
        schema["pagination"] = {
            key: pagination[key]
            for key in ("input_token", "output_token", "result_key", "limit_key")
            if key in pagination
        }
    return schema


def _fitted_input_schema(shape: StructureShape | None) -> tuple[dict[str, Any], str | None]:
    """The input schema within SCHEMA_BUDGET, and a note for the reader when it had to be compacted.

    A few inputs (quicksight CreateDashboard, securityhub BatchImportFindings, mediaconvert
    CreateJob) render to hundreds of kilobytes. They lose nested descriptions first, then
    the detail of deeply nested values, which botocore and the service still validate.
    """
    schema = input_schema(shape)
    if _fits(schema):
        return schema, None
    schema = input_schema(shape, nested_descriptions=False)
    if _fits(schema):
        return schema, "Only top-level members are described, to keep this schema short."
    for depth in range(5, 0, -1):
        schema = input_schema(shape, nested_descriptions=False, max_depth=depth)
        if _fits(schema):
            break
    return schema, (
        f"Only top-level members are described, and values nested more than {depth} levels deep are "
        "shown as plain objects or arrays, to keep this schema short; the service still validates them."
    )


def _fits(schema: dict[str, Any]) -> bool:
    return len(json.dumps(schema, ensure_ascii=False)) <= SCHEMA_BUDGET


def input_schema(
    shape: StructureShape | None, *, nested_descriptions: bool = True, max_depth: int | None = None
) -> dict[str, Any]:
    """JSON Schema for an input shape.

    Without `nested_descriptions` only top-level members carry a description; with `max_depth`,
    lists, maps and structures nested deeper than that are rendered without their contents.
    """
    if shape is None:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    builder = _SchemaBuilder(_shared_structures(shape), nested_descriptions, max_depth)
    schema = builder.build(shape, 0)
    if builder.definitions:
        schema["$defs"] = builder.definitions
    return schema


def _shared_structures(root: Shape) -> set[str]:
    """Structures referenced from more than one place (or from themselves) under `root`.

    Inlining those repeats them once per reference, which for some inputs (glue UpdateJob)
    multiplies the schema many times over; they go to `$defs` instead.
    """
    references: Counter[str] = Counter()
    expanded: set[str] = set()
    pending = [root]
    while pending:
        shape = pending.pop()
        if shape.type_name == "structure":
            references[shape.name] += 1
        if shape.name in expanded:
            continue
        expanded.add(shape.name)
        pending.extend(_children(shape))
    return {name for name, count in references.items() if count > 1}


def _children(shape: Shape) -> list[Shape]:
    if isinstance(shape, StructureShape):
        return list(shape.members.values())
    if isinstance(shape, ListShape):
        return [shape.member]
    if isinstance(shape, MapShape):
        return [shape.value]
    return []


class _SchemaBuilder:
    """Renders one input shape, moving shared and self-containing shapes to `definitions`."""

    def __init__(self, shared: set[str], nested_descriptions: bool, max_depth: int | None) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self._shared = shared
        self._nested_descriptions = nested_descriptions
        self._max_depth = max_depth
        self._expanding: list[str] = []
        self._recursive: set[str] = set()

    def build(self, shape: Shape, depth: int) -> dict[str, Any]:
        name = shape.name
        if name in self.definitions or name in self._expanding:
            self._recursive.add(name)
            return _ref(name)
        if shape.type_name not in ("structure", "list", "map"):
            return self._scalar(shape)
        if self._max_depth is not None and depth > self._max_depth:
            return {"type": "array" if shape.type_name == "list" else "object"}
        self._expanding.append(name)
        try:
            schema = self._container(shape, depth)
        finally:
            self._expanding.pop()
        if name in self._recursive or name in self._shared:
            self.definitions[name] = schema
            return _ref(name)
        return schema

    def _container(self, shape: Shape, depth: int) -> dict[str, Any]:
        if isinstance(shape, StructureShape):
            if getattr(shape, "is_document_type", False):
                return {}
            return self._structure(shape, depth)
        if isinstance(shape, ListShape):
            schema: dict[str, Any] = {"type": "array", "items": self.build(shape.member, depth + 1)}
        elif isinstance(shape, MapShape):
            schema = {"type": "object", "additionalProperties": self.build(shape.value, depth + 1)}
            key_enum = shape.key.metadata.get("enum")
            if key_enum:
                schema["propertyNames"] = {"enum": list(key_enum)}
        else:
            raise TypeError(f"unexpected container shape {shape.name} ({shape.type_name})")
        _add_bounds(schema, shape)
        return schema

    def _structure(self, shape: StructureShape, depth: int) -> dict[str, Any]:
        properties = {}
        for member_name, member in shape.members.items():
            properties[member_name] = self._member(member, depth + 1)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [name for name in shape.required_members if not shape.members[name].metadata.get("idempotencyToken")]
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        if shape.metadata.get("union"):
            schema["minProperties"] = 1
            schema["maxProperties"] = 1
        return schema

    def _member(self, member: Shape, depth: int) -> dict[str, Any]:
        schema = dict(self.build(member, depth))
        if self._nested_descriptions or depth <= 1:
            description = first_sentence(member.documentation)
            if description:
                schema["description"] = description
        if member.metadata.get("idempotencyToken"):
            schema["idempotencyToken"] = True
        return schema

    @staticmethod
    def _scalar(shape: Shape) -> dict[str, Any]:
        if shape.type_name == "blob":
            return _blob_schema()
        schema = dict(_SCALAR_TYPES.get(shape.type_name, {}))
        enum = shape.metadata.get("enum")
        if enum:
            schema["enum"] = list(enum)
        pattern = shape.metadata.get("pattern")
        if pattern and len(pattern) <= PATTERN_LIMIT and _usable_pattern(pattern):
            schema["pattern"] = pattern
        _add_bounds(schema, shape)
        return schema


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _blob_schema() -> dict[str, Any]:
    return {
        "oneOf": [
            {"type": "string", "contentEncoding": "base64"},
            {"type": "object", "properties": {"$path": {"type": "string"}}, "required": ["$path"]},
        ]
    }


def _add_bounds(schema: dict[str, Any], shape: Shape) -> None:
    keywords = _BOUND_KEYWORDS.get(shape.type_name)
    if keywords is None:
        return
    for keyword, key in zip(keywords, ("min", "max"), strict=True):
        value = shape.metadata.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if value == 0 and keyword in _VACUOUS_AT_ZERO:
            continue
        schema[keyword] = value


@lru_cache(maxsize=4096)
def _usable_pattern(pattern: str) -> bool:
    """Whether the pattern is worth keeping.

    botocore ships some Java-only regexes (`\\p{L}`) that a validator cannot compile, and many
    that accept anything: JSON Schema patterns are unanchored, so a pattern that matches the
    empty string and an arbitrary one constrains nothing.
    """
    try:
        compiled = re.compile(pattern)
    except re.error:
        return False
    return not (compiled.search("") and compiled.search("\x00 ~\n"))


def output_summary(shape: StructureShape | None) -> list[dict[str, str]]:
    """Top-level output members as `{"name", "type"}`, lists as `list[<member type>]`."""
    if shape is None:
        return []
    return [{"name": name, "type": type_label(member)} for name, member in shape.members.items()]


def type_label(shape: Shape) -> str:
    if isinstance(shape, ListShape):
        return f"list[{_element_label(shape.member)}]"
    if isinstance(shape, MapShape):
        return f"map[{_element_label(shape.key)}, {_element_label(shape.value)}]"
    if isinstance(shape, StructureShape):
        return shape.name
    if shape.type_name == "blob" and shape.serialization.get("streaming"):
        return "blob (streaming)"
    return shape.type_name


def _element_label(shape: Shape) -> str:
    if isinstance(shape, (ListShape, MapShape)):
        return type_label(shape)
    if isinstance(shape, StructureShape):
        return shape.name
    return shape.type_name
