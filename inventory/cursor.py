"""Page cursors: the last arn of a page, bound to the filter it was read with.

Opaque to callers but not secret: a cursor only says where to resume, so a checksum (no key, so every replica
reads every other's cursors) is enough to refuse one that was edited, truncated or taken from another query.
"""

import base64
import hashlib
import json
from typing import Any

CHECK_BYTES = 8


def fingerprint(filters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode(after_arn: str, filters_fingerprint: str) -> str:
    body = json.dumps([after_arn, filters_fingerprint], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_check(body) + body).decode().rstrip("=")


def decode(cursor: str, filters_fingerprint: str) -> str:
    """The arn to resume after; ValueError when the cursor is not one this query handed out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        check, body = raw[:CHECK_BYTES], raw[CHECK_BYTES:]
        if check != _check(body):
            raise ValueError
        after_arn, filters = json.loads(body)
        if not isinstance(after_arn, str):
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValueError("invalid cursor: pass next_cursor exactly as the previous page returned it") from None
    if filters != filters_fingerprint:
        raise ValueError("invalid cursor: it belongs to a query with other filters; start again without a cursor")
    return after_arn


def _check(body: bytes) -> bytes:
    return hashlib.sha256(b"inventory-cursor\0" + body).digest()[:CHECK_BYTES]
