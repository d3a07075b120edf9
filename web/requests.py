"""One log line per HTTP request: request id, principal, method, path, MCP method and tool, status, duration.

The outermost middleware, so refusals (429, 401, 421) are logged too. The principal is the one the auth
middleware put in the ASGI scope; the MCP method and the tool are read from the JSON-RPC body as it streams
past (nothing is buffered beyond its first HEAD_BYTES): a body that fits is parsed, a longer one is searched
with two anchored patterns. Only names matching NAME are logged; never a header, a parameter or a body.
The request id is the client's `X-Request-Id` when it is a plain token, else a new one; the response
carries it back.
"""

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.invocation import Principal
from observability.logs import get_logger

HEAD_BYTES = 16 * 1024
"""Bytes of a request body kept to find the JSON-RPC method and tool name; a body this size is parsed whole."""
NAME = re.compile(r"[\w./-]{1,128}")
REQUEST_ID = re.compile(r"[\w.:-]{1,64}")
METHOD_FIELD = re.compile(rb'"method"\s*:\s*"([^"\\]{1,128})"')
TOOL_FIELD = re.compile(rb'"params"\s*:\s*\{\s*(?:"_meta"\s*:\s*\{[^{}]*\}\s*,\s*)?"name"\s*:\s*"([^"\\]{1,128})"')
QUIET_PATHS = frozenset({"/healthz", "/readyz"})
"""Probes answer every few seconds: logged at DEBUG unless they fail."""


def rpc_names(body: bytes, complete: bool) -> tuple[str | None, str | None]:
    """The JSON-RPC method of a request body and, for tools/call, the tool's name (None where not found)."""
    method = tool = None
    if complete and len(body) <= HEAD_BYTES:
        try:
            message = json.loads(body)
        except ValueError:
            return None, None
        if isinstance(message, list):
            message = message[0] if message else None
        if isinstance(message, dict):
            method = message.get("method")
            params = message.get("params")
            tool = params.get("name") if method == "tools/call" and isinstance(params, dict) else None
    else:
        found = METHOD_FIELD.search(body)
        method = found.group(1).decode(errors="replace") if found else None
        named = TOOL_FIELD.search(body) if method == "tools/call" else None
        tool = named.group(1).decode(errors="replace") if named else None
    return _name(method), _name(tool)


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and NAME.fullmatch(value) else None


class RequestLog:
    """Logs each HTTP request once it is answered (a stream: once it ends)."""

    def __init__(self, app: ASGIApp, principal_of: Callable[[Mapping[str, Any]], Principal], authenticated: bool):
        self.app = app
        self._principal_of = principal_of
        self._authenticated = authenticated
        """With a token configured, a request the auth middleware did not accept has no principal (not anonymous)."""
        self._log = get_logger("aws_ops_mcp.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        head = bytearray()
        complete = [scope["method"] != "POST"]
        status = [0]

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(head) < HEAD_BYTES:
                head.extend(message.get("body", b"")[: HEAD_BYTES + 1 - len(head)])
                complete[0] = not message.get("more_body", False)
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        except Exception:
            status[0] = status[0] or 500
            raise
        finally:
            self._write(scope, request_id, bytes(head), complete[0], status[0], time.perf_counter() - started)

    def _write(self, scope: Scope, request_id: str, head: bytes, complete: bool, status: int, seconds: float) -> None:
        method, tool = rpc_names(head, complete) if head else (None, None)
        principal = self._principal_of(scope).subject if "user" in scope or not self._authenticated else None
        client = scope.get("client")
        quiet = scope["path"] in QUIET_PATHS and status < 400
        (self._log.debug if quiet else self._log.info)(
            "http_request",
            request_id=request_id,
            principal=principal,
            client=client[0] if client else None,
            method=scope["method"],
            path=scope["path"],
            mcp_method=method,
            tool=tool,
            status=status,
            duration_ms=round(seconds * 1000, 2),
        )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return uuid.uuid4().hex
