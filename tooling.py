"""How a tool is declared, and what wraps every call: the invocation, the error mapping, the audit line.

A tool is a method of a service manager (or of another tool provider), declared once with the AWS
operations it calls:

    @tool("Delete a secret", calls=("DeleteSecret",), idempotent=True)
    async def delete_secret(self, target: Target, secret_id: SecretId, ...) -> SecretDeleted:
        \"\"\"Schedule a secret for deletion (or delete it at once). Needs confirmation.\"\"\"

From that one declaration `register` derives what a client sees: the read-only and destructive hints
(the classifier over `calls`), the four target parameters in place of `target`, `confirmation_token`
wherever a declared call can be destructive, and a description without the docstring's indentation.
The gate tests read the same `ToolSpec`s, so a new tool needs no hand edit in them.

Every call then runs inside `_invoke`, which (1) records who calls (MCP session, bearer token), (2)
turns every failure into a tool error with code, message and hint, never a traceback, and (3) writes
one audit record.
"""

import inspect
import logging
import time
import typing
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from catalog.classify import OpClass, can_be_destructive, classify
from config import Settings
from core.calls import Target
from core.clients import AwsClients
from core.errors import OpsError, from_exception
from core.executor import AwsExecutor
from core.files import LocalFiles
from core.invocation import Invocation, SessionEnvironments, activate, deactivate, token_fingerprint
from guard.audit import AuditLog, redact_params
from guard.guard import Guard, InputRequired

log = logging.getLogger("aws_ops_mcp")

Account = Annotated[str | None, Field(description="Account alias from list_accounts (case-insensitive)")]
Profile = Annotated[str | None, Field(description="AWS profile to take credentials from")]
RoleArn = Annotated[str | None, Field(description="IAM role ARN to assume for this call")]
Region = Annotated[str | None, Field(description="AWS region, e.g. us-east-1")]
ConfirmationToken = Annotated[
    str | None, Field(description="Token from a confirmation_required error; repeats the call confirmed")
]
TARGET_PARAMETERS = {"account": Account, "profile": Profile, "role_arn": RoleArn, "region": Region}
"""What a `target: Target` parameter becomes in a published signature, in this order."""

ANY_OPERATION = ("*",)
"""`calls` of a tool that can run any AWS operation (the guard classifies each call)."""
ANY_READ = ("*:read",)
"""`calls` of a tool that runs any operation classed read, and refuses the rest."""


@dataclass(frozen=True)
class Runtime:
    """What every tool provider may use, built once per process by the composition root."""

    settings: Settings
    transport: str
    clients: AwsClients
    executor: AwsExecutor
    guard: Guard
    audit: AuditLog
    environments: SessionEnvironments
    files: LocalFiles


@dataclass(frozen=True)
class ToolSpec:
    """One tool as declared: the method, its title, and the AWS operations it may call."""

    fn: Callable[..., Any]
    title: str
    calls: tuple[str, ...]
    idempotent: bool
    changes_state: bool
    service: str = ""

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def operations(self) -> tuple[tuple[str, str], ...]:
        """The declared calls as (service, Operation); "Operation" alone is the provider's service."""
        if self.calls in (ANY_OPERATION, ANY_READ):
            return ()
        return tuple(
            (call.partition(":")[0], call.partition(":")[2]) if ":" in call else (self.service, call)
            for call in self.calls
        )

    @property
    def classes(self) -> frozenset[OpClass]:
        """The classes the declared calls can have (any class for ANY_OPERATION)."""
        if self.calls == ANY_OPERATION:
            return frozenset(OpClass)
        if self.calls == ANY_READ:
            return frozenset({OpClass.READ})
        found = {classify(service, operation) for service, operation in self.operations}
        if any(can_be_destructive(service, operation) for service, operation in self.operations):
            found.add(OpClass.DESTRUCTIVE)
        return frozenset(found)

    @property
    def targeted(self) -> bool:
        return "target" in inspect.signature(self.fn).parameters

    @property
    def confirmable(self) -> bool:
        return OpClass.DESTRUCTIVE in self.classes

    def annotations(self) -> ToolAnnotations:
        classes = self.classes
        reads_only = classes <= {OpClass.READ, OpClass.SENSITIVE} and not self.changes_state
        return ToolAnnotations(
            title=self.title,
            read_only_hint=reads_only,
            destructive_hint=OpClass.DESTRUCTIVE in classes,
            idempotent_hint=self.idempotent,
            open_world_hint=bool(self.calls),
        )

    def description(self) -> str:
        return " ".join(inspect.cleandoc(self.fn.__doc__ or "").split())


def tool(
    title: str, *, calls: Iterable[str] = (), idempotent: bool = False, changes_state: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a method as a tool. `calls`: the AWS operations it makes, as botocore names ("DeleteSecret",
    or "service:Operation" outside the provider's own service), or ANY_OPERATION / ANY_READ. A tool that
    calls nothing but changes this server's state (set_environment) says `changes_state=True`."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__tool_spec__ = ToolSpec(fn, title, tuple(calls), idempotent, changes_state)  # type: ignore[attr-defined]
        return fn

    return decorate


def tool_specs(provider: type) -> Iterator[ToolSpec]:
    """The tools a provider class declares, in declaration order, with its service filled in."""
    for klass in reversed(provider.__mro__):
        for member in vars(klass).values():
            spec: ToolSpec | None = getattr(member, "__tool_spec__", None)
            if spec is not None:
                yield ToolSpec(**{**spec.__dict__, "service": getattr(provider, "service", "")})


def register(server: MCPServer, providers: Iterable[object], runtime: Runtime) -> list[ToolSpec]:
    """Add every tool the providers declare to `server`, each bound to its provider instance."""
    registered = []
    for provider in providers:
        for spec in tool_specs(type(provider)):
            server.add_tool(
                _published(spec, getattr(provider, spec.name), runtime),
                name=spec.name,
                title=spec.title,
                description=spec.description(),
                annotations=spec.annotations(),
                structured_output=True,
            )
            registered.append(spec)
    return registered


def _published(spec: ToolSpec, method: Callable[..., Any], runtime: Runtime) -> Callable[..., Any]:
    """The function the SDK sees: the method's own parameters, with the target parameters and the
    confirmation token in place of `target`, and a `ctx` the SDK fills in."""
    hints = typing.get_type_hints(spec.fn, include_extras=True)
    own = [p for name, p in inspect.signature(spec.fn).parameters.items() if name not in ("self", "target")]
    extra: dict[str, Any] = {}
    if spec.confirmable:
        extra["confirmation_token"] = ConfirmationToken
    if spec.targeted:
        extra.update(TARGET_PARAMETERS)
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("ctx", keyword, annotation=Context),
        *(p.replace(kind=keyword, annotation=hints.get(p.name, p.annotation)) for p in own),
        *(inspect.Parameter(name, keyword, default=None, annotation=kind) for name, kind in extra.items()),
    ]

    async def published(ctx: Context, **arguments: Any) -> Any:
        token = arguments.pop("confirmation_token", None)
        if spec.targeted:
            arguments["target"] = Target(**{name: arguments.pop(name, None) for name in TARGET_PARAMETERS})
        return await _invoke(spec.name, method, arguments, ctx, token, runtime)

    published.__name__ = spec.name
    published.__doc__ = spec.description()
    published.__signature__ = inspect.Signature(parameters, return_annotation=hints["return"])  # type: ignore[attr-defined]
    published.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": hints["return"]}
    return published


async def _invoke(
    name: str,
    method: Callable[..., Any],
    arguments: dict[str, Any],
    ctx: Context | None,
    confirmation_token: str | None,
    runtime: Runtime,
) -> Any:
    session = session_key(ctx, runtime.transport)
    invocation = Invocation(
        tool=name,
        caller=caller_of(ctx, session),
        session_key=session,
        environment=runtime.environments.get(session),
        confirmation_token=confirmation_token,
        context=ctx,
    )
    token = activate(invocation)
    started = time.perf_counter()
    outcome = "ok"
    try:
        return await method(**arguments)
    except InputRequired as pending:
        outcome = "input_required"
        return pending.result
    except Exception as exc:
        error = from_exception(exc)
        if error.code == "internal_error":
            log.exception("tool %s failed unexpectedly", name)
        outcome = error.code
        return error_result(error)
    finally:
        deactivate(token)
        runtime.audit.write(**audit_record(invocation, outcome, time.perf_counter() - started))


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


def audit_record(invocation: Invocation, outcome: str, seconds: float) -> dict[str, Any]:
    """One line per tool call; the last AWS call's decision is lifted to the top for easy filtering."""
    calls = [{**call, "params": redact_params(call["params"], call["operation"])} for call in invocation.calls]
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
