"""What tools/list shows of each tool, as small as it can be and still mean the same: every client pays for
the list in its context window, in every conversation."""

from typing import Any

from mcp_types import Tool as MCPTool
from mcp_types import ToolAnnotations

from tooling import ToolSpec

_SCHEMA_MAPS = frozenset({"properties", "$defs", "patternProperties"})
"""Keywords whose keys are names (a property may be called "title"), not keywords."""
INPUT_DROPS = frozenset({"title"})
OUTPUT_DROPS = frozenset({"title", "description"})
"""Output schemas lose their descriptions too: the model reads results, not their schema."""


def listed(tool: MCPTool, spec: ToolSpec) -> MCPTool:
    """A tool as tools/list shows it, as small as it can be: every client pays for the list in its context
    window, in every conversation. Schemas are compacted; output schemas keep their top level only (result
    fields, their types, what is required; nested models become plain objects) and no descriptions: the model
    reads results, not their schema, and a client that validates structured content against the outline still
    validates every result, since the full schema's results all fit it. Annotations keep only the hints that
    differ from MCP's defaults (the title is the tool's own)."""
    output = tool.output_schema
    if output is not None:
        output = _outline(compact_schema(output, drop=OUTPUT_DROPS))
    return tool.model_copy(
        update={
            "input_schema": compact_input_schema(tool.input_schema),
            "output_schema": output,
            "annotations": _non_default_hints(spec.annotations()),
        }
    )


MCP_DEFAULT_HINTS = {
    "read_only_hint": False,
    "destructive_hint": True,
    "idempotent_hint": False,
    "open_world_hint": True,
}


def _non_default_hints(annotations: ToolAnnotations) -> ToolAnnotations:
    hints = {name: getattr(annotations, name) for name in MCP_DEFAULT_HINTS}
    if hints["read_only_hint"]:
        hints["destructive_hint"] = True  # meaningless for a read-only tool: leave it at the default
    return ToolAnnotations(**{name: value for name, value in hints.items() if value != MCP_DEFAULT_HINTS[name]})


def _outline(schema: dict[str, Any]) -> dict[str, Any]:
    """The top level of a schema: references to models in `$defs` become plain (nullable) objects; references to
    anything else (an enum, a constrained string) are inlined, since a value they allow is not an object."""
    defs = schema.get("$defs", {})

    def resolved(reference: str) -> Any:
        target = defs.get(reference.rpartition("/")[2], {})
        return None if target.get("type", "object") == "object" else walk(target)

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return resolved(node["$ref"]) or {"type": "object"}
        options = node.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            models = [o for o in options if "$ref" in o and resolved(o["$ref"]) is None]
            if len(options) == 2 and models:
                return {"type": ["object", "null"]}
        return {key: walk(value) for key, value in node.items() if key != "$defs"}

    return walk(schema)


def compact_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`compact_schema`, and optional parameters lose their `null` type: leaving them out says the same."""
    compacted = compact_schema(schema)
    required = set(compacted.get("required", []))
    for name, prop in compacted.get("properties", {}).items():
        kind = prop.get("type")
        if name not in required and isinstance(kind, list) and len(kind) == 2 and "null" in kind:
            prop["type"] = next(t for t in kind if t != "null")
    return compacted


def compact_schema(schema: Any, drop: frozenset[str] = INPUT_DROPS, in_map: bool = False) -> Any:
    """A JSON Schema as small as it can be and still mean the same: every client pays for tools/list in its
    context window. The keywords in `drop` go (pydantic's generated `title`s are read by no client);
    `"default": null` goes; an optional
    `{"anyOf": [{"type": T, ...}, {"type": "null"}]}` becomes `{"type": [T, "null"], ...}`.

    Keys of `properties` and `$defs` are names, not keywords: a property called "title" stays.
    """
    if isinstance(schema, list):
        return [compact_schema(item, drop) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if in_map:
        return {name: compact_schema(value, drop) for name, value in schema.items()}
    compacted = {
        key: compact_schema(value, drop, key in _SCHEMA_MAPS)
        for key, value in schema.items()
        if key not in drop and not (key == "default" and value is None)
    }
    return _nullable_type(compacted)


def _nullable_type(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return schema
    other = next(option for option in options if option != {"type": "null"})
    if not isinstance(other.get("type"), str) or set(other) & set(schema):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**other, "type": [other["type"], "null"], **rest}
