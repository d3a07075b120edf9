"""Log messages to the client (`notifications/message`), and `logging/setLevel`, which sets their threshold.

What the server tells a client this way concerns that client's own calls only: a destructive call that ran
without confirmation (AWS_MCP_AUTO_APPROVE_DESTRUCTIVE) is a warning; a tool call that failed on a server bug is
an error (the details stay in the server log). Sessions of the handshake era (protocol ≤ 2025-11-25) choose the
threshold with `logging/setLevel`, per connection (default: warning); 2026-07-28 clients opt in per request
instead, and the SDK applies that too. The SDK marks the logging feature deprecated as of 2026-07-28: the
warning it raises for that is silenced here, where the feature is served on purpose.
"""

import contextlib
import warnings
from typing import Any, get_args

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import EmptyResult, LoggingLevel, SetLevelRequestParams

warnings.filterwarnings("ignore", message="The logging capability is deprecated", category=MCPDeprecationWarning)

LEVELS: tuple[str, ...] = get_args(LoggingLevel)
"""From least to most severe (RFC 5424's order, as the specification lists them)."""
STATE_KEY = "aws_ops_mcp.log_level"
DEFAULT_LEVEL = "warning"
LOGGER = "aws-ops-mcp"


async def set_level(ctx: ServerRequestContext, params: SetLevelRequestParams) -> EmptyResult:
    """`logging/setLevel`: messages below `level` are no longer sent on this connection."""
    connection = getattr(ctx.session, "_connection", None)
    if connection is not None:
        connection.state[STATE_KEY] = params.level
    return EmptyResult()


async def tell_client(ctx: Any, level: LoggingLevel, message: str) -> None:
    """Send `message` to the client of the tool call `ctx` (an MCP `Context`) if its threshold allows it.
    Best effort: a client that has gone away is not an error of the call."""
    session = ctx.request_context.session if ctx is not None else None
    if session is None:
        return
    connection = getattr(session, "_connection", None)
    threshold = connection.state.get(STATE_KEY, DEFAULT_LEVEL) if connection is not None else DEFAULT_LEVEL
    if LEVELS.index(level) < LEVELS.index(threshold):
        return
    with contextlib.suppress(Exception):  # the call's result matters more than its log line
        await session.send_log_message(level, message, logger=LOGGER, related_request_id=ctx.request_id)
