"""The audit log: one JSON line per tool call, through structlog, with secrets redacted.

`AWS_MCP_AUDIT_LOG` names a file (appended, flushed per line); `-` is stdout, for log pipelines;
unset means stderr, beside the server's own logs.
"""

import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

import structlog

REDACTED = "***"
SECRET_KEYS = re.compile(
    r"secret|password|passphrase|token|credential|private|access_?key|plaintext|ciphertext|"
    r"^body$|^zipfile$|^blob$|^code$|^content|^data$|certificate_?body|^key_?material",
    re.IGNORECASE,
)
"""Parameter names whose values are never logged."""
TOP_LEVEL_SECRET_KEYS = {"value", "parameters"}
"""Secret only as a call's own parameter (ssm PutParameter `Value`), not inside tags or DNS records."""
KEEP_KEYS = re.compile(r"^(secret_?id|secretid|name|key|bucket|next_?token|continuation_?token|.*_?id)$", re.I)
"""Identifiers that look secret by name but only point at things (SecretId, NextToken)."""


def redact(value: Any, key: str = "", depth: int = 0) -> Any:
    """A copy of `value` with secret-looking members replaced by `***` and blobs by their size."""
    if key and SECRET_KEYS.search(key) and not KEEP_KEYS.match(key):
        return REDACTED
    if depth == 1 and key.lower() in TOP_LEVEL_SECRET_KEYS:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redact(v, str(k), depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, key, depth) for item in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return f"<{type(value).__name__}>"


class AuditLog:
    def __init__(self, destination: str | None) -> None:
        self._lock = threading.Lock()
        self._file: IO[str]
        if destination in (None, ""):
            self._file = sys.stderr
        elif destination == "-":
            self._file = sys.stdout
        else:
            self._file = open(destination, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives with the app
        self._logger = structlog.wrap_logger(
            structlog.WriteLogger(self._file),
            processors=[structlog.processors.JSONRenderer(sort_keys=False)],
        )

    def write(self, **record: Any) -> None:
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
        with self._lock:
            self._logger.msg("audit", **record)
