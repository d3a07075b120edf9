"""AWS responses as JSON an assistant can read, within a size budget.

`to_json` turns botocore's values into JSON ones in one walk: timestamps as ISO 8601, blobs as UTF-8
text when they are text and base64 otherwise, streaming bodies read up to a limit, credential secrets
masked, and, unless the read is one that reveals secrets by design, the secrets users put in environments,
tags and URLs too (core/masking.py). `fit` keeps a
value under a byte budget by dropping the tail of its largest lists (then shortening its
longest strings) and says exactly what it dropped, so the caller can narrow the request.
"""

import base64
import datetime
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from botocore.model import Shape
from botocore.response import StreamingBody
from pydantic import BaseModel, Field

from core.masking import MASK, PAIR_SIZE, mask_entry, mask_text, secret_pair

TRUNCATED_TEXT = "…[truncated]"
_MAX_PASSES = 32


class Omission(BaseModel):
    path: str = Field(description="Where in the result, as a JMESPath-like path")
    kept: int = Field(description="Items (or characters, for text) kept")
    total: int = Field(description="Items (or characters) there were")


class Truncation(BaseModel):
    """Present when the result did not fit: what was dropped and how to ask for less."""

    original_bytes: int
    returned_bytes: int
    omitted: list[Omission]
    hint: str


CREDENTIAL_FIELDS = re.compile(r"^(secret_?access_?key|session_?token|secret_?key)$", re.IGNORECASE)
"""Members that hold AWS credential secrets (sts GetSessionToken, iam CreateAccessKey, sso GetRoleCredentials):
masked in every answer, sensitive reads included."""


def to_json(value: Any, body_limit: int, shape: Shape | None = None, reveal: bool = False) -> tuple[Any, int]:
    """A JSON-ready copy of a botocore response value of `shape` (the operation's output shape, when known),
    with secrets masked, and the approximate size of its JSON in bytes (characters and punctuation, before
    escaping): one walk for all. `reveal` is for sensitive reads, whose secrets are what the caller asked
    for: only credential members stay masked."""
    walk = _Walk(body_limit, not reveal)
    converted = walk.json(value, shape)
    return converted, walk.size


class _Walk:
    __slots__ = ("body_limit", "mask", "size")

    def __init__(self, body_limit: int, mask: bool) -> None:
        self.body_limit = body_limit
        self.mask = mask
        self.size = 0

    def json(self, value: Any, shape: Shape | None) -> Any:
        """Cheapest checks first: botocore's answers are dicts, lists and text, whose checks need no ABC."""
        if isinstance(value, str):
            if self.mask and ("PRIVATE KEY-----" in value or "://" in value):
                value = mask_text(value)
            self.size += len(value) + 2
            return value
        if isinstance(value, dict):
            return self.mapping(value, shape)
        if isinstance(value, list | tuple):
            self.size += 2 + len(value)
            member = shape.member if shape is not None and shape.type_name == "list" else None
            return [self.json(item, member) for item in value]
        if value is None or isinstance(value, bool | int | float):
            self.size += 5
            return value
        if isinstance(value, Mapping):
            return self.mapping(value, shape)
        if isinstance(value, set | frozenset):
            return self.json(sorted(value, key=str), shape)
        converted = _scalar(value, self.body_limit)
        if self.mask and isinstance(converted, str):
            converted = mask_text(converted)
        self.size += size_of(converted)
        return converted

    def mapping(self, value: Mapping[Any, Any], shape: Shape | None) -> dict[str, Any]:
        self.size += 2 + 4 * len(value)
        kind = shape.type_name if shape is not None else None
        members: Mapping[str, Shape] = shape.members if kind == "structure" else {}  # type: ignore[union-attr]
        entries: Shape | None = shape.value if kind == "map" else None  # type: ignore[union-attr]
        user_keys = self.mask and kind == "map"
        paired = secret_pair(value) if self.mask and kind != "map" and len(value) <= PAIR_SIZE else ()
        converted = {}
        for key, item in value.items():
            key = str(key)
            self.size += len(key)
            if item and (CREDENTIAL_FIELDS.match(key) or key in paired or (user_keys and mask_entry(key, item))):
                item = MASK
            converted[key] = self.json(item, entries or members.get(key))
        return converted


def _scalar(value: Any, body_limit: int) -> Any:
    """A value that is neither a container, text, a number, a boolean nor None, as JSON."""
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return blob_json(bytes(value))
    if isinstance(value, StreamingBody):
        return stream_json(value, body_limit)
    return str(value)


def blob_json(data: bytes) -> Any:
    """Text when the bytes are printable UTF-8, else {"base64": ...}."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(char.isprintable() or char in "\n\r\t" for char in text):
        return text
    return {"base64": base64.b64encode(data).decode("ascii")}


def stream_json(body: StreamingBody, limit: int) -> Any:
    """A streaming body read up to `limit` bytes; the rest is left unread and the stream closed."""
    try:
        data = body.read(limit + 1)
    finally:
        body.close()
    if len(data) <= limit:
        return blob_json(data)
    return {"truncated_body": blob_json(data[:limit]), "bytes_shown": limit, "note": "the body is longer"}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def size_of(value: Any) -> int:
    return len(dumps(value).encode("utf-8"))


def fit(value: Any, limit: int, hint: str) -> tuple[Any, Truncation | None]:
    """`value` within `limit` bytes of JSON, and what was left out (None when nothing was). Trims in place."""
    original = size_of(value)
    if original <= limit:
        return value, None
    omitted: list[Omission] = []
    for _ in range(_MAX_PASSES):
        overflow = size_of(value) - limit
        if overflow <= 0:
            break
        longest_list = _largest(value, _list_size)
        if longest_list is not None and _shrink_list(value, longest_list, overflow, omitted):
            continue
        longest_text = _largest(value, _text_length)
        if longest_text is None or not _shorten_string(longest_text, overflow, omitted):
            break
    if size_of(value) > limit:
        value = {"note": "the result is too large to show"}
    return value, Truncation(
        original_bytes=original, returned_bytes=size_of(value), omitted=_merged(omitted), hint=hint
    )


def _merged(omitted: list[Omission]) -> list[Omission]:
    """One entry a path: what was kept in the end, out of what there was at first."""
    by_path: dict[str, Omission] = {}
    for omission in omitted:
        earlier = by_path.get(omission.path)
        by_path[omission.path] = (
            omission if earlier is None else Omission(path=omission.path, kept=omission.kept, total=earlier.total)
        )
    return list(by_path.values())


def _children(value: Any, path: str) -> list[tuple[str, Any, Any, Any]]:
    """(path, parent, key, child) for each child of a container."""
    if isinstance(value, dict):
        return [(f"{path}.{key}" if path else str(key), value, key, child) for key, child in value.items()]
    if isinstance(value, list):
        return [(f"{path}[{index}]", value, index, child) for index, child in enumerate(value)]
    return []


def _largest(value: Any, measure: Callable[[Any], int | None]) -> tuple[str, Any, Any] | None:
    """(path, parent, key) of the part of `value` that measures largest (parent None: `value` itself).

    `measure` gives None for parts that are not candidates.
    """
    best: tuple[int, str, Any, Any] | None = None
    stack: list[tuple[str, Any, Any, Any]] = [("@", None, None, value)]
    while stack:
        path, parent, key, node = stack.pop()
        size = measure(node)
        if size is not None and (best is None or size > best[0]):
            best = (size, path, parent, key)
        stack.extend(_children(node, "" if parent is None else path))
    return best[1:] if best else None


def _list_size(node: Any) -> int | None:
    return size_of(node) if isinstance(node, list) and len(node) > 1 else None


def _text_length(node: Any) -> int | None:
    return len(node) if isinstance(node, str) and len(node) > len(TRUNCATED_TEXT) * 2 else None


def _shrink_list(root: Any, where: tuple[str, Any, Any], overflow: int, omitted: list[Omission]) -> bool:
    path, parent, key = where
    items = root if parent is None else parent[key]
    total = len(items)
    sizes = [size_of(item) + 1 for item in items]
    drop, freed = 0, 0
    while drop < total - 1 and freed < overflow:
        drop += 1
        freed += sizes[total - drop]
    if drop == 0:
        return False
    del items[total - drop :]
    omitted.append(Omission(path=path, kept=len(items), total=total))
    return True


def _shorten_string(where: tuple[str, Any, Any], overflow: int, omitted: list[Omission]) -> bool:
    path, parent, key = where
    if parent is None:
        return False
    text: str = parent[key]
    encoded = text.encode("utf-8")
    target = max(0, len(encoded) - overflow - len(TRUNCATED_TEXT.encode("utf-8")) - 8)
    kept = encoded[:target].decode("utf-8", errors="ignore")
    parent[key] = kept + TRUNCATED_TEXT
    omitted.append(Omission(path=path, kept=len(kept), total=len(text)))
    return True
