"""How tools are declared and what wraps every call: the invocation, the error mapping, the audit line.

Tools are plain async functions declared with `@tools.tool(...)`; `ToolRegistry.register` adds them
to a server with a wrapper that (1) records who calls (MCP session, bearer token), (2) turns every
failure into a tool error with code, message and hint, never a traceback, and (3) writes one audit
record per call.
"""

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from guard.audit import redact
from guard.guard import InputRequired
from services.base import Target
from services.errors import OpsError, from_exception
from services.invocation import Invocation, activate, deactivate, token_fingerprint

log = logging.getLogger("aws_ops_mcp")

Account = Annotated[str | None, Field(description="Account alias from list_accounts (case-insensitive)")]
Profile = Annotated[str | None, Field(description="AWS profile to take credentials from")]
RoleArn = Annotated[str | None, Field(description="IAM role ARN to assume for this call")]
Region = Annotated[str | None, Field(description="AWS region, e.g. us-east-1")]
ConfirmationToken = Annotated[
    str | None, Field(description="Token from a confirmation_required error; repeats the call confirmed")
]


def target(account: str | None, profile: str | None, role_arn: str | None, region: str | None) -> Target:
    return Target(account=account, profile=profile, role_arn=role_arn, region=region)


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Any]
    title: str
    annotations: ToolAnnotations


class ToolRegistry:
    def __init__(self) -> None:
        self.specs: list[ToolSpec] = []

    def tool(
        self,
        title: str,
        *,
        read_only: bool = False,
        destructive: bool = False,
        idempotent: bool = False,
        open_world: bool = True,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        annotations = ToolAnnotations(
            title=title,
            read_only_hint=read_only,
            destructive_hint=destructive,
            idempotent_hint=idempotent,
            open_world_hint=open_world,
        )

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.specs.append(ToolSpec(fn, title, annotations))
            return fn

        return decorate

    def register(self, server: MCPServer, app: Any) -> None:
        for spec in self.specs:
            server.add_tool(
                _wrap(spec.fn, app),
                name=spec.fn.__name__,
                title=spec.title,
                description=(spec.fn.__doc__ or "").strip(),
                annotations=spec.annotations,
                structured_output=True,
            )


_SCHEMA_MAPS = frozenset({"properties", "$defs", "patternProperties"})


def without_titles(schema: Any, in_map: bool = False) -> Any:
    """A JSON Schema without pydantic's generated `title`s (a sixth of tools/list, read by no client).

    Keys of `properties` and `$defs` are names, not keywords: a property called "title" stays.
    """
    if isinstance(schema, dict):
        if in_map:
            return {name: without_titles(value) for name, value in schema.items()}
        return {key: without_titles(value, key in _SCHEMA_MAPS) for key, value in schema.items() if key != "title"}
    if isinstance(schema, list):
        return [without_titles(item) for item in schema]
    return schema


def session_key(ctx: Context | None, transport: str) -> str | None:
    """The MCP session a call belongs to, or None on stateless HTTP (2026-07-28 requests)."""
    if transport == "stdio":
        return "stdio"
    if ctx is None:
        return None
    headers = ctx.headers or {}
    if session_id := headers.get("mcp-session-id"):
        return f"http:{session_id}"
    request = ctx.request_context.request
    query = getattr(request, "query_params", None)
    if query is not None and (session_id := query.get("session_id")):
        return f"sse:{session_id}"
    return None


def caller_of(ctx: Context | None, session: str | None) -> str:
    """The session when there is one; else the bearer token's fingerprint; else anonymous."""
    if session:
        return session
    authorization = (ctx.headers or {}).get("authorization", "") if ctx is not None else ""
    if authorization.lower().startswith("bearer "):
        return token_fingerprint(authorization[7:].strip())
    return "anonymous"


def error_result(error: OpsError) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=error.text())],
        structured_content={"error": error.payload()},
        is_error=True,
    )


def _wrap(fn: Callable[..., Any], app: Any) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs.get("ctx")
        session = session_key(ctx, app.transport)
        invocation = Invocation(
            tool=fn.__name__,
            caller=caller_of(ctx, session),
            session_key=session,
            environment=app.environments.get(session),
            confirmation_token=kwargs.get("confirmation_token"),
            context=ctx,
        )
        token = activate(invocation)
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await fn(*args, **kwargs)
        except InputRequired as pending:
            outcome = "input_required"
            return pending.result
        except Exception as exc:
            error = from_exception(exc)
            if error.code == "internal_error":
                log.exception("tool %s failed unexpectedly", fn.__name__)
            outcome = error.code
            return error_result(error)
        finally:
            deactivate(token)
            app.audit.write(**audit_record(invocation, outcome, time.perf_counter() - started))

    return guarded


def audit_record(invocation: Invocation, outcome: str, seconds: float) -> dict[str, Any]:
    """One line per tool call; the last AWS call's decision is lifted to the top for easy filtering."""
    calls = [{**call, "params": redact(call["params"])} for call in invocation.calls]
    last = calls[-1] if calls else {}
    record = {
        "transaction_id": uuid.uuid4().hex,
        "caller": invocation.caller,
        "session": invocation.session_key,
        "tool": invocation.tool,
        "target": last.get("target"),
        "operation": last.get("operation"),
        "class": last.get("class"),
        "decision": last.get("decision"),
        "rule": last.get("rule"),
        "confirmation": last.get("confirmation"),
        "params": last.get("params"),
        "outcome": outcome,
        "duration_ms": round(seconds * 1000, 2),
    }
    if "warning" in last:
        record["warning"] = last["warning"]
    if len(calls) > 1:
        record["calls"] = calls
    return record
