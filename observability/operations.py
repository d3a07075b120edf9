"""`mcp_server_operation_duration_seconds`: every MCP request the server handles, timed by an SDK middleware.

The SDK runs `ServerMiddleware` around each inbound message on every transport (streamable HTTP, SSE,
stdio), before validation and lookup: what the client asked for is `ctx.method` and the raw `ctx.params`.
Labels follow OpenTelemetry's MCP semantic conventions (`mcp.method.name`, `gen_ai.tool.name`, `error.type`)
in Prometheus spelling, and stay bounded: a method outside the specification is `other`, a tool name this
server did not register is `unknown`.
"""

import time
from collections.abc import Callable

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult
from mcp_types.methods import SPEC_CLIENT_METHODS
from pydantic import ValidationError

from observability.metrics import Metrics


class OperationTimer:
    """Times each MCP request into `Metrics.operation_duration`; notifications are not timed."""

    def __init__(self, metrics: Metrics, is_tool: Callable[[str], bool]) -> None:
        self._histogram = metrics.operation_duration
        self._is_tool = is_tool

    async def __call__(self, ctx: ServerRequestContext, call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:
            return await call_next(ctx)
        method = ctx.method if ctx.method in SPEC_CLIENT_METHODS else "other"
        tool = ""
        if method == "tools/call":
            name = ctx.params.get("name") if ctx.params else None
            tool = name if isinstance(name, str) and self._is_tool(name) else "unknown"
        started = time.perf_counter()
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            self._observe(method, tool, str(exc.error.code), started)
            raise
        except ValidationError:
            self._observe(method, tool, str(INVALID_PARAMS), started)
            raise
        except Exception as exc:
            self._observe(method, tool, type(exc).__qualname__, started)
            raise
        self._observe(method, tool, _tool_error(result), started)
        return result

    def _observe(self, method: str, tool: str, error: str, started: float) -> None:
        self._histogram.labels(method, tool, error).observe(time.perf_counter() - started)


def _tool_error(result: object) -> str:
    """`tool_error` for a tool result that reports an error, as the conventions name it."""
    if isinstance(result, CallToolResult) and result.is_error:
        return "tool_error"
    if isinstance(result, dict) and result.get("isError") is True:
        return "tool_error"
    return ""
