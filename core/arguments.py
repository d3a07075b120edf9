"""A tool's arguments checked against the model of its published signature, and every refusal told in the
caller's terms: which argument, what it expects, which JSON type it got. Never the value sent, which may be a
secret in the wrong place or a megabyte, and never pydantic's report, which quotes it.

An argument the tool does not take is refused too: a misspelt `confirmation_token` or `region` ignored
silently would run the call somewhere else than the caller meant.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from core.errors import InvalidArguments

MAX_PROBLEMS = 5
"""Problems named in one error at most; the rest are counted."""
MAX_NAME = 40
"""Characters of a caller's key (an unknown argument, a map key) an error repeats at most."""
QUOTES_INPUT = frozenset({"value_error", "assertion_error", "union_tag_invalid", "union_tag_not_found"})
"""Error types whose message may quote what was sent (a validator's own text, a discriminator's value)."""
JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "an object"),
)
ACCEPTED = {
    "string": ("a string",),
    "integer": ("an integer",),
    "number": ("a number", "an integer"),
    "boolean": ("a boolean",),
    "object": ("an object",),
    "array": ("a list",),
    "null": ("null",),
}
"""The JSON types (as `json_type` names them) each JSON schema type accepts."""
SCHEMA_TYPES = {
    "string": ("a string", "strings"),
    "integer": ("an integer", "integers"),
    "number": ("a number", "numbers"),
    "boolean": ("true or false", "booleans"),
    "object": ("an object", "objects"),
    "array": ("a list", "lists"),
    "null": ("null", "nulls"),
}


def check_arguments(
    tool: str,
    schema: Mapping[str, Any],
    validate: Callable[[dict[str, Any]], dict[str, Any]],
    sent: Mapping[str, Any],
) -> dict[str, Any]:
    """The arguments `validate` (the SDK's check of the tool's argument model) makes of `sent`, or
    `InvalidArguments` naming every problem: unknown arguments first, then each argument the model refused."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems: list[str] = []
    unknown = [name for name in sent if name not in properties]
    refused = set(unknown)
    if unknown:
        names = ", ".join(repr(_bounded(name)) for name in unknown[:MAX_PROBLEMS])
        more = f" and {len(unknown) - MAX_PROBLEMS} more" if len(unknown) > MAX_PROBLEMS else ""
        plural = "s" if len(unknown) > 1 else ""
        problems.append(f"unknown argument{plural} {names}{more} ({tool} takes {', '.join(properties)})")
    try:
        validated = validate(dict(sent))
    except ValidationError as invalid:
        errors = invalid.errors(include_url=False, include_context=False)
        refused.update(str(error["loc"][0]) for error in errors if error["loc"])
        problems += _problems(errors, schema, sent)
    if not problems:
        return validated
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"and {len(problems) - MAX_PROBLEMS} more problems")
    raise InvalidArguments("; ".join(shown), frozenset(refused))


def _problems(errors: Sequence[ErrorDetails], schema: Mapping[str, Any], sent: Mapping[str, Any]) -> Iterator[str]:
    """One line per problem, grouped by argument. A union (accounts: a list, "all" or an object) gives pydantic
    one error per branch: the argument is then named once, with what it accepts."""
    by_argument: dict[str, list[ErrorDetails]] = {}
    for error in errors:
        by_argument.setdefault(str(error["loc"][0]) if error["loc"] else "", []).append(error)
    definitions = schema.get("$defs", {})
    for name, found in by_argument.items():
        field = schema.get("properties", {}).get(name, {})
        expected = describe(field, definitions)
        if any(error["type"] == "missing" and len(error["loc"]) == 1 for error in found):
            yield f"{name}: required, {expected}"
        elif name in sent and (_is_union(field) or json_type(sent[name]) not in _accepted(field, definitions)):
            yield f"{name}: expected {expected}, got {json_type(sent[name])}"
        else:
            yield from (_problem(error) for error in found)


def _problem(error: ErrorDetails) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{_bounded(str(part))}" for part in error["loc"])
    message = "not valid" if error["type"] in QUOTES_INPUT else error["msg"][:1].lower() + error["msg"][1:]
    if error["type"].endswith(("_type", "_parsing")):
        message += f", got {json_type(error.get('input'))}"
    return f"{path.lstrip('.')}: {message}"


def describe(schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> str:
    """What a JSON schema accepts, in words: "a list of strings, 'all' or an object"."""
    if "$ref" in schema:
        return describe(definitions.get(schema["$ref"].rpartition("/")[2], {}), definitions)
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return _either([repr(value) for value in schema["enum"]])
    branches = [branch for branch in schema.get("anyOf", ()) if branch.get("type") != "null"]
    if branches:
        return _either([describe(branch, definitions) for branch in branches])
    kind = schema.get("type")
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        items = schema["items"]
        plural = SCHEMA_TYPES.get(items.get("type", ""), (None, None))[1]
        return f"a list of {plural}" if plural else "a list"
    return SCHEMA_TYPES.get(kind, ("any value", ""))[0] if isinstance(kind, str) else "any value"


def json_type(value: Any) -> str:
    """The JSON type of a value sent, as an error names it: never the value."""
    if value is None:
        return "null"
    return next((name for kind, name in JSON_TYPES if isinstance(value, kind)), "a value")


def _accepted(schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> set[str]:
    """The JSON types (as `json_type` names them) a schema accepts at its top level; every type for `Any`."""
    if "$ref" in schema:
        return _accepted(definitions.get(schema["$ref"].rpartition("/")[2], {}), definitions)
    if "anyOf" in schema:
        return set().union(*(_accepted(branch, definitions) for branch in schema["anyOf"]))
    if "const" in schema or "enum" in schema:
        return {json_type(value) for value in schema.get("enum", [schema.get("const")])}
    kind = schema.get("type")
    if not isinstance(kind, str):
        return {name for _, name in JSON_TYPES} | {"null", "a value"}
    return set(ACCEPTED.get(kind, ()))


def _is_union(schema: Mapping[str, Any]) -> bool:
    return len([branch for branch in schema.get("anyOf", ()) if branch.get("type") != "null"]) > 1


def _either(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def _bounded(name: str) -> str:
    return name if len(name) <= MAX_NAME else f"{name[:MAX_NAME]}…"
