"""AWS Ops MCP: the composition root and the entry point.

`build_app` makes everything a tool call needs from the settings, once; `create_server` registers the
tools the service managers (services/) and the generic tools (generic/) declare; `main` parses the
command line, sets up logging (observability/logs.py) and serves stdio or HTTP (http_app.py).
"""

import argparse
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.request_state import RequestStateSecurity
from mcp_types import ListToolsResult, PaginatedRequestParams, SetLevelRequestParams
from mcp_types import Tool as MCPTool

from config import ConfigError, Settings, load_settings, package_version
from core.clients import AwsClients
from core.executor import AwsExecutor
from core.files import LocalFiles
from core.invocation import SessionEnvironments
from fleet.provider import Fleet
from generic.tools import GenericTools
from guard.audit import AuditLog
from guard.confirm import ConfirmationTokens
from guard.guard import Guard
from guard.policy import Policy, PolicyError
from guard.ratelimit import CallerLimits
from integrations.service import IntegrationService
from integrations.tools import IntegrationTools
from listing import listed
from observability import client_log
from observability.logs import configure_logging, get_logger
from observability.metrics import Metrics
from observability.operations import OperationTimer
from services import MANAGERS
from startup import check_transport, check_variables, startup_line
from store import SpentConfirmations, open_store
from tooling import Runtime, ToolSpec, principal_of_request, published_tools, tool_specs, usable_by

log = get_logger("aws_ops_mcp")
P = TypeVar("P")

INSTRUCTIONS = (
    "Operate AWS across accounts. AWS tools take an optional target: account (an alias from list_accounts), "
    "profile (an AWS profile), role_arn (a role to assume) and region; without one they use the server's default "
    "credentials and region. Destructive calls need confirmation: repeat them with confirmation_token."
)


def instructions(files: LocalFiles) -> str:
    """INSTRUCTIONS and what the model needs to know about local files: the root and its limits, or that there are
    none."""
    if files.root is None:
        local = (
            'Local files are off: {"$path": ...} values and local paths in s3 cp are refused; pass content inline '
            "(blobs as base64)."
        )
    else:
        local = (
            f'Local files: {files.root} is the files root. {{"$path": ...}} values and s3 cp local paths name '
            "files or folders in it, relative to it or absolute inside it (no .., no ~, no symlinks leading out); "
            f"only regular files and folders, at most {files.max_bytes:,} bytes a file or zipped folder; s3 cp "
            "downloads are written there."
        )
    return f"{INSTRUCTIONS} {local}"


PROVIDERS: tuple[type, ...] = (*MANAGERS, GenericTools, Fleet, IntegrationTools)
"""Every class that declares tools, in the order tools/list shows them."""
UNSERVED_METHODS = ("prompts/list", "prompts/get", "resources/list", "resources/templates/list", "resources/read")
"""Handlers the SDK installs whether or not there is anything behind them; while they are installed the server
advertises prompts and resources. This server has neither."""
TOOLSETS: tuple[str, ...] = tuple(dict.fromkeys(spec.toolset for p in PROVIDERS for spec in tool_specs(p)))
"""Every tool set the declarations name, in tools/list order: what AWS_MCP_TOOLSETS may choose from."""


@dataclass
class App:
    """Everything a tool call needs, built once per process from the settings, and the tool providers."""

    runtime: Runtime
    providers: tuple[Any, ...]
    toolsets: tuple[str, ...] = TOOLSETS

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def clients(self) -> AwsClients:
        return self.runtime.clients

    @property
    def guard(self) -> Guard:
        return self.runtime.guard

    def provider(self, kind: type[P]) -> P:
        """The one instance of a provider class (a service manager, the generic tools)."""
        return next(p for p in self.providers if isinstance(p, kind))


def request_state_security(settings: Settings) -> RequestStateSecurity:
    """How the SDK seals the `requestState` of 2026-07-28 elicitations (the confirmation token rides in it).

    With AWS_MCP_REQUEST_STATE_KEYS every replica seals with the first key and opens with any, so the user's
    answer may reach another replica than the one that asked; without it, each process has a key of its own.
    Sealed state lives as long as the confirmation token inside it.
    """
    ttl = float(settings.confirmation_ttl_seconds)
    if not settings.request_state_keys:
        return RequestStateSecurity.ephemeral(ttl=ttl)
    return RequestStateSecurity(keys=list(settings.request_state_keys), ttl=ttl)


class OpsServer(MCPServer):
    def __init__(self, app: App) -> None:
        published = published_tools(app.providers, app.runtime, app.toolsets)
        super().__init__(
            "aws-ops-mcp",
            version=package_version(),
            instructions=instructions(app.runtime.files),
            log_level=app.settings.log_level,
            lifespan=self._started,
            subscriptions=False,  # tools/list never changes while a client is connected: nothing to listen to
            request_state_security=request_state_security(app.settings),
            tools=[tool for _, tool in published],
        )
        self.app = app
        self.tool_specs: list[ToolSpec] = [spec for spec, _ in published]
        self._listed: list[MCPTool] | None = None
        self._listed_for: dict[str, list[MCPTool]] = {}
        names = frozenset(spec.name for spec in self.tool_specs)
        self.middleware.append(OperationTimer(app.runtime.metrics, names.__contains__))
        lowlevel = self._lowlevel_server
        for method in UNSERVED_METHODS:
            lowlevel._request_handlers.pop(method, None)  # the SDK has no public way to withdraw a capability
        lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, client_log.set_level)

    @asynccontextmanager
    async def _started(self, _: MCPServer) -> AsyncIterator[dict[str, Any]]:
        """The SDK's server lifespan: entered when the HTTP app starts (http_app.py), when stdio starts, and for
        each SSE connection. A fresh install's search index starts building here, off the event loop, when
        search_operations is published; the inventory's write-through and scheduler run while it lasts (the
        first entry's: an SSE connection's starts nothing more)."""
        if GenericTools.toolset in self.app.toolsets:
            self.app.provider(GenericTools).start_index_build()
        async with AsyncExitStack() as stack:
            if self.app.runtime.transport == "stdio":  # over HTTP, the app's lifespan runs them (http_app.py)
                await stack.enter_async_context(self.app.runtime.integrations.running())
            await stack.enter_async_context(self.app.provider(Fleet).background())
            yield {}

    async def list_tools(self) -> list[MCPTool]:
        """Every tool, with schemas compacted once: every client pays for this list in its context window."""
        if self._listed is None:
            specs = {spec.name: spec for spec in self.tool_specs}
            self._listed = [listed(tool, specs[tool.name]) for tool in await super().list_tools()]
        return self._listed

    async def tools_for(self, role: str) -> list[MCPTool]:
        """The tools a role can use (`tooling.usable_by`: the tool's roles, the classes the policy leaves the role),
        once per role."""
        if role not in self._listed_for:
            classes = self.app.guard.policy.role_classes(role)
            usable = {spec.name for spec in self.tool_specs if usable_by(spec, role, classes)}
            self._listed_for[role] = [tool for tool in await self.list_tools() if tool.name in usable]
        return self._listed_for[role]

    async def _handle_list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        """tools/list per caller: the SDK's `list_tools()` takes no request, so its handler (called per request,
        with the request the transport verified) is where the caller's role is known."""
        principal = principal_of_request(ctx.request, self.app.runtime.transport)
        return ListToolsResult(tools=await self.tools_for(principal.role))


def published_toolsets(settings: Settings) -> tuple[str, ...]:
    """The tool sets AWS_MCP_TOOLSETS names (all when unset); an unknown name stops start-up."""
    if settings.toolsets is None:
        return TOOLSETS
    unknown = [name for name in settings.toolsets if name not in TOOLSETS]
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ConfigError(f"AWS_MCP_TOOLSETS: unknown tool set {names}; the tool sets are {','.join(TOOLSETS)}")
    return tuple(name for name in TOOLSETS if name in settings.toolsets)


def build_app(settings: Settings, transport: str = "http") -> App:
    toolsets = published_toolsets(settings)
    metrics = Metrics(package_version())
    policy = Policy.load(settings.policy_file, read_only=settings.read_only)
    clients = AwsClients(settings, allowed_role_patterns=tuple(policy.document.allowed_role_arns), metrics=metrics)
    metrics.watch_aws(clients.on)
    store = open_store(settings)  # migrated here, before anything is served
    tokens = ConfirmationTokens(
        settings.confirmation_secret, settings.confirmation_ttl_seconds, spent=SpentConfirmations(store)
    )
    guard = Guard(policy, tokens, clients, auto_approve=settings.auto_approve_destructive, metrics=metrics)
    limits = CallerLimits(settings.rate_limit_per_minute, settings.rate_limit_storage, metrics, policy.rate_limit)
    threads = AwsExecutor(clients, guard, settings.max_workers + settings.fleet_concurrency)
    audit = AuditLog(settings.audit_log)
    integrations = IntegrationService(settings, store, audit, metrics, clients, threads.nested(settings.max_workers))
    runtime = Runtime(
        settings=settings,
        transport=transport,
        clients=clients,
        executor=threads.nested(settings.max_workers),
        guard=guard,
        audit=audit,
        environments=SessionEnvironments(),
        files=LocalFiles(settings.files_root, settings.max_file_bytes),
        metrics=metrics,
        limits=limits,
        store=store,
        fleet_executor=threads.nested(settings.fleet_concurrency),
        integrations=integrations,
    )
    return App(runtime, tuple(provider(runtime) for provider in PROVIDERS), toolsets)


def create_server(settings: Settings, transport: str = "http") -> OpsServer:
    return OpsServer(build_app(settings, transport))


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="server.py", description="AWS Ops MCP server")
    parser.add_argument("--transport", choices=["http", "stdio"], default="http")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--sandbox", action="store_true", help="serve against an in-process moto with demo data")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    # From the process environment first (the sandbox and settings errors log); again once .env is read.
    configure_logging(os.environ.get("AWS_MCP_LOG_LEVEL", "INFO"), os.environ.get("AWS_MCP_LOG_FORMAT") or None)
    sandbox = None
    try:
        if args.sandbox:
            sandbox = start_sandbox()
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        check_variables(settings, args.transport)
        check_transport(settings, args.transport, args.host)
        server = create_server(settings, args.transport)
    except (ConfigError, PolicyError) as exc:
        print(f"aws-ops-mcp: {exc}", file=sys.stderr)
        return 2
    if settings.auto_approve_destructive:
        log.warning("AWS_MCP_AUTO_APPROVE_DESTRUCTIVE=true: destructive operations run WITHOUT confirmation")
    if args.transport == "stdio":
        log.info(
            startup_line(
                settings, server.app.guard.policy, "stdio", "none (stdio: the client that started this process)"
            )
        )
        server.run("stdio")
        return 0
    from http_app import serve_http

    return serve_http(server, args.host, args.port, sandbox)


def start_sandbox() -> Any:
    """moto with demo data (sandbox.py). Its packages are in requirements-sandbox.txt, not in the runtime set:
    the production image has neither, and says so instead of failing on an import."""
    try:
        from sandbox import Sandbox
    except ImportError as missing:
        raise ConfigError(
            f"--sandbox needs the sandbox packages ({missing.name or missing} is not installed): "
            "pip install -r requirements-sandbox.txt (make run does), or the image's sandbox target "
            "(docker build --target sandbox)"
        ) from None
    return Sandbox.start()


if __name__ == "__main__":
    sys.exit(main())
