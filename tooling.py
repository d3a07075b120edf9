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

Every call then runs inside `_invoke`, which (1) records who calls (the principal the transport verified,
the MCP session the SDK validated), (2) runs the call under the process's drain (core/drain.py: refused once
shutdown begins, interrupted at its deadline), (3) applies the caller's rate limit, (4) checks the arguments
against the tool's input schema (the SDK's check deferred to here: `ArgumentsAsSent`), (5) turns every failure into
a tool error with code, message and hint, never a traceback nor a value sent, (6) counts the call in the metrics and
(7) writes one audit record, whose outcome is "ok" only for a call that returned.

Each tool belongs to one tool set (`toolset`: the provider's class attribute, or `@tool(..., toolset=...)`);
AWS_MCP_TOOLSETS publishes only some of them (server.py).
"""

import getpass
import inspect
import logging
import time
import typing
import uuid
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.connection import Connection
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from catalog.classify import OpClass, can_be_destructive, classify
from config import ROLES, Settings
from core.arguments import check_arguments
from core.calls import Target
from core.clients import AwsClients
from core.drain import Drain, InFlight
from core.errors import InvalidArguments, OpsError, ToolNotAllowed, from_exception
from core.executor import AwsExecutor
from core.files import LocalFiles
from core.invocation import ANONYMOUS, Invocation, Principal, SessionEnvironments, activate, deactivate
from guard.audit import AuditLog, digest, redact, redact_params
from guard.guard import Guard, InputRequired
from guard.ratelimit import CallerLimits
from observability.client_log import tell_client
from observability.metrics import Metrics
from store import Store

if TYPE_CHECKING:  # built by server.py; integrations/ sits above this layer (its MCP tools use @tool)
    from integrations.service import IntegrationService

log = logging.getLogger("aws_ops_mcp")

Account = str | None
Profile = str | None
RoleArn = str | None
Region = str | None
ConfirmationToken = Annotated[str | None, Field(description="From a confirmation_required error")]
TARGET_PARAMETERS = {"account": Account, "profile": Profile, "role_arn": RoleArn, "region": Region}
"""What a `target: Target` parameter becomes in a published signature, in this order. Their names say what they
are and the server instructions say it once more: a description repeated on every tool would cost a few
kilobytes of every conversation's context."""

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
    metrics: Metrics
    limits: CallerLimits
    store: Store
    """The state database (store/): blocking, so only from worker threads."""
    fleet_executor: AwsExecutor
    """The executor of fan-outs: AWS_MCP_FLEET_CONCURRENCY threads for every fleet call together, apart from
    `executor`'s AWS_MCP_MAX_WORKERS, so a fleet query never starves other calls."""
    integrations: "IntegrationService"
    """Integrations (integrations/service.py): the registry, the outbox, the event writer and delivery worker."""
    drain: Drain = field(default_factory=Drain)


@dataclass(frozen=True)
class ToolSpec:
    """One tool as declared: the method, its title, and the AWS operations it may call."""

    fn: Callable[..., Any]
    title: str
    calls: tuple[str, ...]
    idempotent: bool
    changes_state: bool
    service: str = ""
    toolset: str = ""
    roles: tuple[str, ...] | None = None
    """The only roles that may see and call the tool; None: every role whose classes cover its calls."""

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
    title: str,
    *,
    calls: Iterable[str] = (),
    idempotent: bool = False,
    changes_state: bool = False,
    toolset: str = "",
    roles: Iterable[str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a method as a tool. `calls`: the AWS operations it makes, as botocore names ("DeleteSecret",
    or "service:Operation" outside the provider's own service), or ANY_OPERATION / ANY_READ. A tool that
    calls nothing but changes this server's state (set_environment) says `changes_state=True`. `toolset`:
    the tool set it belongs to, when not its provider's (the provider class's `toolset` attribute). `roles`:
    the only roles that see it in tools/list and may call it (`roles=("admin",)`); others get `tool_not_allowed`."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = ToolSpec(
            fn, title, tuple(calls), idempotent, changes_state, toolset=toolset, roles=_roles(roles) if roles else None
        )
        fn.__tool_spec__ = spec  # type: ignore[attr-defined]
        return fn

    return decorate


def _roles(roles: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(roles)
    unknown = [role for role in chosen if role not in ROLES]
    if unknown:
        raise ValueError(f"@tool(roles=...): {unknown} are not roles ({', '.join(ROLES)})")
    return chosen


def tool_specs(provider: type) -> Iterator[ToolSpec]:
    """The tools a provider class declares, in declaration order, with its service and tool set filled in."""
    for klass in reversed(provider.__mro__):
        for member in vars(klass).values():
            spec: ToolSpec | None = getattr(member, "__tool_spec__", None)
            if spec is not None:
                yield ToolSpec(
                    **{
                        **spec.__dict__,
                        "service": getattr(provider, "service", ""),
                        "toolset": spec.toolset or getattr(provider, "toolset", ""),
                    }
                )


def published_tools(
    providers: Iterable[object], runtime: Runtime, toolsets: Container[str] | None = None
) -> list[tuple[ToolSpec, Tool]]:
    """The SDK tools for what the providers declare, each bound to its provider instance: all of them, or those of
    the given tool sets (for `MCPServer(tools=...)`)."""
    published = []
    for provider in providers:
        for spec in tool_specs(type(provider)):
            if toolsets is None or spec.toolset in toolsets:
                published.append((spec, _tool(spec, getattr(provider, spec.name), runtime)))
    return published


class ArgumentsAsSent(FuncMetadata):
    """The SDK's metadata of a tool, its argument check deferred to `_invoke` (core/arguments.py, same model):
    the SDK's own check answers with pydantic's report, which quotes the value sent (a secret given the wrong
    type), before anything is audited, and lets unknown arguments through unnoticed. The SDK calls the published
    function with `ctx`, `sent` (the arguments as sent) and `check` (which checks them)."""

    tool: str
    input_schema: dict[str, Any]

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        return {"sent": arguments_to_validate, "check": self.checked}

    def checked(self, sent: dict[str, Any]) -> dict[str, Any]:
        """The arguments the model makes of `sent` (JSON text pre-parsed, as the SDK does), or `InvalidArguments`."""
        return check_arguments(self.tool, self.input_schema, super().validate_arguments, sent)


def _tool(spec: ToolSpec, method: Callable[..., Any], runtime: Runtime) -> Tool:
    """The SDK's tool for a declared method: input schema and argument model from the published signature."""
    tool = Tool.from_function(
        _published(spec, method, runtime),
        name=spec.name,
        title=spec.title,
        description=spec.description(),
        annotations=spec.annotations(),
        structured_output=True,
    )
    deferred = ArgumentsAsSent(**dict(tool.fn_metadata), tool=spec.name, input_schema=tool.parameters)
    return tool.model_copy(update={"fn_metadata": deferred})


def _published(spec: ToolSpec, method: Callable[..., Any], runtime: Runtime) -> Callable[..., Any]:
    """The function the SDK sees: the method's own parameters, with the target parameters and the
    confirmation token in place of `target`, and a `ctx` the SDK fills in. The SDK derives the input schema from
    this signature; `ArgumentsAsSent` says what it is called with."""
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

    async def published(ctx: Context, sent: dict[str, Any], check: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
        return await _invoke(spec, method, sent, check, ctx, runtime)

    published.__name__ = spec.name
    published.__doc__ = spec.description()
    published.__signature__ = inspect.Signature(parameters, return_annotation=hints["return"])  # type: ignore[attr-defined]
    published.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": hints["return"]}
    return published


def _call_arguments(spec: ToolSpec, arguments: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Checked arguments → the method's keyword arguments (the target parameters as one `Target`) and the
    confirmation token."""
    token = arguments.pop("confirmation_token", None)
    if spec.targeted:
        arguments["target"] = Target(**{name: arguments.pop(name, None) for name in TARGET_PARAMETERS})
    return arguments, token


async def _invoke(
    spec: ToolSpec,
    method: Callable[..., Any],
    sent: dict[str, Any],
    check: Callable[[dict[str, Any]], dict[str, Any]],
    ctx: Context | None,
    runtime: Runtime,
) -> Any:
    name = spec.name
    principal = principal_of(ctx, runtime.transport)
    session = validated_session(ctx, runtime)
    invocation = Invocation(
        tool=name,
        principal=principal,
        session_key=session,
        environment=runtime.environments.get(principal, session),
        context=ctx,
    )
    token = activate(invocation)
    started = time.perf_counter()
    with runtime.metrics.tool_call(name) as outcome:
        outcome[0] = "cancelled"  # until the call ends otherwise: a call cut short is never "ok"
        flight: InFlight | None = None
        record: dict[str, Any] = {}

        def interrupted() -> None:
            """The drain's deadline cut the call: its audit line now, while the process still runs."""
            runtime.audit.write(**audit_record(invocation, "interrupted", time.perf_counter() - started))

        try:
            with runtime.drain.track(interrupted) as flight:
                if spec.roles is not None and principal.role not in spec.roles:
                    raise ToolNotAllowed(f"{name} is for the {' or '.join(spec.roles)} role, not {principal.role}")
                await runtime.limits.check(principal)
                try:
                    arguments, invocation.confirmation_token = _call_arguments(spec, check(sent))
                except InvalidArguments as invalid:
                    invocation.extra["params"] = refused_params(sent, invalid.refused)
                    raise
                result = await method(**arguments)
            outcome[0] = "ok"
        except InputRequired as pending:
            outcome[0] = "input_required"
            result = pending.result
        except Exception as exc:
            error = from_exception(exc)
            if error.code == "internal_error":
                log.exception("tool %s failed unexpectedly", name)
            outcome[0] = error.code
            result = error_result(error)
        finally:
            deactivate(token)
            if flight is None or not flight.interrupted:
                record = audit_record(invocation, outcome[0], time.perf_counter() - started)
                runtime.audit.write(**record)
    if record.get("warning"):
        await tell_client(ctx, "warning", f"{name}: {record['warning']}")
    if outcome[0] == "internal_error":
        await tell_client(ctx, "error", f"{name} failed on a server error; the server log has the details")
    return result


LOCAL_USER = Principal(f"local:{getpass.getuser()}", "stdio")
"""Over stdio the caller is whoever started the process."""


def principal_of(ctx: Context | None, transport: str) -> Principal:
    """The caller of a tool call, as the transport established it (see `principal_of_request`)."""
    return principal_of_request(ctx.request_context.request if ctx is not None else None, transport)


def principal_of_request(request: Any, transport: str) -> Principal:
    """The caller as the transport established it: the user the HTTP auth middleware verified (never a
    header read here), the local user over stdio, or anonymous on an open loopback server. The verifier
    (auth.py) put the role and the CloudTrail name in the access token's claims; a verified user without a
    role is a viewer."""
    if transport == "stdio":
        return LOCAL_USER
    return principal_of_scope(getattr(request, "scope", None))


def principal_of_scope(scope: Mapping[str, Any] | None) -> Principal:
    """The caller the HTTP auth middleware put in an ASGI scope (`scope["user"]`), else anonymous."""
    user = scope.get("user") if scope is not None else None
    if isinstance(user, AuthenticatedUser):
        claims = user.access_token.claims or {}
        return Principal(
            user.access_token.subject or user.username,
            claims.get("auth", "bearer"),
            claims.get("role", "viewer"),
            claims.get("session_name"),
        )
    return ANONYMOUS


def usable_by(spec: ToolSpec, role: str, classes: frozenset[OpClass]) -> bool:
    """Whether a caller of `role`, who may make calls of `classes`, can use the tool: the tool is for that role
    (`@tool(roles=...)`) and every class its declared calls can have is among `classes` (a tool that makes no AWS
    call is everyone's unless it names its roles). A viewer sees no tool that writes, not even `execute`, whose
    reads `execute_aws_read_command` also makes."""
    return (spec.roles is None or role in spec.roles) and spec.classes <= classes


SESSION_KEY = "aws_ops_mcp.session"
SSE_MESSAGES = "/messages"


def validated_session(ctx: Context | None, runtime: "Runtime") -> str | None:
    """The MCP session of the call when the SDK validated one (stateful streamable HTTP, SSE, stdio), else None.

    Streamable HTTP: a session is a connection that outlives the request, to which the SDK routes a request
    only after checking its `Mcp-Session-Id` (and that the principal who created it is the one calling);
    its state is dropped when the connection closes. SSE: the SDK delivers a POST to /messages/ only for a
    live `session_id` whose owner is the caller; http_app drops the state when the stream ends. A stateless
    request gets a fresh connection with no session id, whatever headers it sends: no session.
    """
    if runtime.transport == "stdio":
        return "stdio"
    connection = _connection(ctx)
    if connection is not None and connection.session_id:
        key = f"http:{connection.session_id}"
        if not connection.state.get(SESSION_KEY):
            connection.state[SESSION_KEY] = key
            connection.exit_stack.callback(runtime.environments.end_session, key)
        return key
    request = ctx.request_context.request if ctx is not None else None
    if getattr(getattr(request, "url", None), "path", "").startswith(SSE_MESSAGES):
        session_id = request.query_params.get("session_id")  # type: ignore[union-attr]
        return f"sse:{session_id}" if session_id else None
    return None


def _connection(ctx: Context | None) -> Connection | None:
    """The SDK's per-connection object behind a request (the one thing that outlives a request in a session)."""
    session = ctx.request_context.session if ctx is not None else None
    return getattr(session, "_connection", None)


def error_result(error: OpsError) -> CallToolResult:
    """An error in the text content only: structured content must match the tool's output schema, which
    describes success, and clients that validate it (MCP Inspector) would hide the error behind that."""
    return CallToolResult(content=[TextContent(type="text", text=error.text())], is_error=True)


def refused_params(sent: Mapping[str, Any], refused: Container[str]) -> Any:
    """What the audit shows of a call refused for its arguments (no AWS call: the arguments stand in for the
    parameters): redacted, and each argument at fault as a digest only, since a value in the wrong place may be a
    secret in the wrong place (a password given as `name`)."""
    return redact({name: digest(value) if name in refused else value for name, value in sent.items()})


def audit_record(invocation: Invocation, outcome: str, seconds: float) -> dict[str, Any]:
    """One line per tool call; the last AWS call's decision is lifted to the top for easy filtering."""
    calls = [{**call, "params": redact_params(call["params"], call["operation"])} for call in invocation.calls]
    last = calls[-1] if calls else {}
    record = {
        "transaction_id": uuid.uuid4().hex,
        "principal": invocation.principal.subject,
        "auth": invocation.principal.auth,
        "role": invocation.principal.role,
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
    record.update(invocation.extra)
    return record
