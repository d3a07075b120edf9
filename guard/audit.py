"""The audit log: one JSON line per tool call, through structlog, with secrets and bodies left out.

A call's parameters are redacted by what botocore's model says of them first: any member whose shape has
the `sensitive` trait (SSE-C keys, UserData, pre-shared keys, SAML assertions, Lambda environments...) is
`***`. Names catch what the model does not mark (MFA codes, passwords in free-form maps, the value of a
tag whose key names a secret), and strings that look like credentials (access key ids, private keys,
`password=...`) are `***` wherever they are. Bodies (messages, DynamoDB attribute values, blobs, documents)
and large values are written as their size and a short hash, `<N bytes sha256:0123456789abcdef>`, and a
line over LINE_LIMIT bytes gives up its parameters for a note of their size and hash.

Listeners (`AuditLog.subscribe`) get every record as written, on the writer's thread or event loop: they must
return at once (integrations/writer.py only queues it) and never see an exception of theirs reach the call.

`AWS_MCP_AUDIT_LOG` names a file (appended, flushed per line); `-` is stdout, for log pipelines;
unset means stderr, beside the server's own logs.
"""

import hashlib
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

import structlog
from botocore.exceptions import BotoCoreError
from botocore.model import Shape

from catalog.models import operation_model
from core.masking import KEYS_IDS_AND_JWTS

log = logging.getLogger("aws_ops_mcp.audit")

REDACTED = "***"
LARGE_VALUE = 1024
"""Strings longer than this many bytes are written as their size and hash."""
LINE_LIMIT = 16 * 1024
"""Bytes in one audit line at most: past it, parameters become a note of their size and hash."""

SECRET_NAMES = re.compile(
    r"secret|password|passphrase|passwd|token|credential|private|access_?key|api_?key|session_?key|plaintext|"
    r"ciphertext|assertion|authentication_?code|mfa_?code|pre_?shared|customer_?key|user_?data|^otp$|^code$|"
    r"certificate_?body|host_?key_?body|^key_?material",
    re.IGNORECASE,
)
"""Member names whose values are never written."""
TOP_LEVEL_SECRET_NAMES = {"value", "parameters"}
"""Secret only as a call's own parameter (ssm PutParameter `Value`), not inside tags or DNS records."""
KEEP_NAMES = re.compile(r"^(secret_?id|name|key|bucket|next_?token|continuation_?token|.*_?id)$", re.I)
"""Identifiers that look secret by name but only point at things (SecretId, NextToken)."""
BODY_NAMES = re.compile(
    r"^(body|message|message_?body|message_?attributes|payload|content|data|blob|zip_?file|item|detail|document)$",
    re.I,
)
"""Members that carry data rather than describe the call: written as size and hash."""
BODY_SHAPES = frozenset({"AttributeValue"})
"""Shapes that carry data whatever the member is called (DynamoDB's Item, Key, ExpressionAttributeValues...)."""
PAIR_NAMES = ("Key", "Name", "ParameterKey", "key", "name")
PAIR_VALUES = ("Value", "ParameterValue", "Values", "value")
"""A structure that pairs a name with a value (tags, environment variables, stack parameters): when the name
looks secret, so is the value."""
SECRET_VALUES = re.compile(KEYS_IDS_AND_JWTS + r"|(?i:\b(?:password|passwd|pwd|secret|api_?key|token)\s*[=:]\s*\S)")
"""Strings that are credentials whatever member holds them: private keys, access key ids, JWTs, `password=`."""


def digest(value: Any) -> str:
    """`<N bytes sha256:0123456789abcdef>`: enough to tell two values apart, nothing to read them by."""
    data = _bytes_of(value)
    if data is None:
        return f"<{type(value).__name__}>"
    return f"<{len(data)} bytes sha256:{hashlib.sha256(data).hexdigest()[:16]}>"


def _bytes_of(value: Any) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    try:
        return json.dumps(value, sort_keys=True, default=_json_bytes).encode()
    except TypeError:
        return None


def _json_bytes(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    raise TypeError(type(value).__name__)


def input_shape(operation: str | None) -> Shape | None:
    """The input shape of "service:Operation", or None for an operation botocore does not model."""
    service, _, name = (operation or "").partition(":")
    try:
        return operation_model(service, name).input_shape
    except BotoCoreError:
        return None


def redact_params(params: Mapping[str, Any], operation: str | None) -> Any:
    """The parameters of a call to `operation` ("service:Operation") as the audit may show them."""
    return redact(params, input_shape(operation))


def redact(value: Any, shape: Shape | None = None, name: str = "", depth: int = 0) -> Any:
    """A copy of `value` (of `shape`, as member `name`) with secrets replaced by `***` and bodies by a digest."""
    if _is_secret(shape, name, depth):
        return REDACTED
    if (shape is not None and shape.name in BODY_SHAPES) or BODY_NAMES.match(name):
        return digest(value)
    if isinstance(value, Mapping):
        return _redact_mapping(value, shape, depth)
    if isinstance(value, list | tuple):
        member = shape.member if shape is not None and shape.type_name == "list" else None
        return [redact(item, member, name, depth) for item in value]
    return _redact_scalar(value)


def _is_secret(shape: Shape | None, name: str, depth: int) -> bool:
    if shape is not None and shape.metadata.get("sensitive"):
        return True
    if depth == 1 and name.lower() in TOP_LEVEL_SECRET_NAMES:
        return True
    return bool(name) and bool(SECRET_NAMES.search(name)) and not KEEP_NAMES.match(name)


def _redact_mapping(value: Mapping[Any, Any], shape: Shape | None, depth: int) -> dict[Any, Any]:
    secret_pair = _names_a_secret(value)
    redacted = {}
    for key, item in value.items():
        if secret_pair and key in PAIR_VALUES:
            redacted[key] = REDACTED
            continue
        redacted[key] = redact(item, _member(shape, key), str(key), depth + 1)
    return redacted


def _member(shape: Shape | None, key: Any) -> Shape | None:
    """The shape of `key`'s value in a structure or map of `shape`."""
    if shape is None:
        return None
    if shape.type_name == "structure":
        return shape.members.get(key)
    return shape.value if shape.type_name == "map" else None


def _names_a_secret(value: Mapping[Any, Any]) -> bool:
    """Whether `value` pairs a name with a value and the name looks secret ({"Key": "db-password", ...})."""
    label = next((value[key] for key in PAIR_NAMES if key in value), None)
    return isinstance(label, str) and bool(SECRET_NAMES.search(label))


def _redact_scalar(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return digest(value)
    if isinstance(value, str):
        if SECRET_VALUES.search(value):
            return REDACTED
        return digest(value) if len(value.encode()) > LARGE_VALUE else value
    if isinstance(value, int | float | bool) or value is None:
        return value
    return f"<{type(value).__name__}>"


def within_limit(record: dict[str, Any], limit: int = LINE_LIMIT) -> dict[str, Any]:
    """`record`, or a copy that fits in `limit` bytes: its parameters (and each call's) become a note of
    their size and hash; if that is not enough, so does every field over a 32nd of the limit."""
    if _size(record) <= limit:
        return record
    record = {**record}
    if record.get("params") is not None:
        record["params"] = _omitted(record["params"], limit)
    if isinstance(record.get("calls"), list):
        record["calls"] = [_call_without_params(call, limit) for call in record["calls"]]
    if _size(record) > limit:
        record = {key: _omitted(value, limit) if _size(value) > limit // 32 else value for key, value in record.items()}
    return record


def _call_without_params(call: Any, limit: int) -> Any:
    if isinstance(call, dict) and call.get("params") is not None:
        return {**call, "params": _omitted(call["params"], limit)}
    return call


def _omitted(value: Any, limit: int) -> str:
    return f"{digest(value)} (over the {limit}-byte audit line limit)"


def _size(value: Any) -> int:
    """Bytes `value` takes in a line, with room for what the writer adds (`"event": "audit"`)."""
    return len(json.dumps(value, default=str).encode()) + 32


class AuditLog:
    def __init__(self, destination: str | None) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[dict[str, Any]], None], ...] = ()
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

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener` with every record written from now on (after the line is written)."""
        self._listeners = (*self._listeners, listener)

    def write(self, **record: Any) -> None:
        record = within_limit({"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **record})
        with self._lock:
            self._logger.msg("audit", **record)
        for listener in self._listeners:
            try:
                listener(record)
            except Exception:
                log.exception("an audit listener failed")
