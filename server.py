"""AWS Ops MCP: the composition root and the entry point.

`build_app` makes everything a tool call needs from the settings, once; `create_server` registers the
tools the service managers (services/) and the generic tools (generic/) declare; `main` parses the
command line, sets up logging and serves stdio or HTTP (http_app.py).
"""

import argparse
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp_types import Tool as MCPTool

from config import ConfigError, Settings, load_settings
from core.clients import AwsClients
from core.executor import AwsExecutor
from core.files import LocalFiles
from core.invocation import SessionEnvironments
from generic.tools import GenericTools
from guard.audit import AuditLog
from guard.confirm import ConfirmationTokens
from guard.guard import Guard
from guard.policy import Policy, PolicyError
from services import MANAGERS
from tooling import Runtime, ToolSpec, listed, register, tool_specs

log = logging.getLogger("aws_ops_mcp")
P = TypeVar("P")

INSTRUCTIONS = (
    "Operate AWS across accounts. AWS tools take an optional target: account (an alias from list_accounts), "
    "profile (an AWS profile), role_arn (a role to assume) and region; without one they use the server's default "
    "credentials and region. Destructive calls need confirmation: repeat them with confirmation_token."
)
PROVIDERS: tuple[type, ...] = (*MANAGERS, GenericTools)
"""Every class that declares tools, in the order tools/list shows them."""
TOOLSETS: tuple[str, ...] = tuple(dict.fromkeys(spec.toolset for p in PROVIDERS for spec in tool_specs(p)))
"""Every tool set the declarations name, in tools/list order: what AWS_MCP_TOOLSETS may choose from."""

CHATTY_LIBRARIES = (
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "mcp",
    "sse_starlette",
    "httpcore",
    "httpcore2",
    "httpx",
    "httpx2",
    "werkzeug",
)
"""At DEBUG these log request and response bodies, secret values included: never below WARNING."""


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


class OpsServer(MCPServer):
    def __init__(self, app: App) -> None:
        super().__init__(
            "aws-ops-mcp", instructions=INSTRUCTIONS, log_level=app.settings.log_level, lifespan=self._started
        )
        self.app = app
        self.tool_specs: list[ToolSpec] = register(self, app.providers, app.runtime, app.toolsets)
        self._listed: list[MCPTool] | None = None

    @asynccontextmanager
    async def _started(self, _: MCPServer) -> AsyncIterator[dict[str, Any]]:
        """The SDK's server lifespan: entered when the HTTP app starts (http_app.py), when stdio starts, and for
        each SSE connection. A fresh install's search index starts building here, off the event loop, when
        search_operations is published."""
        if GenericTools.toolset in self.app.toolsets:
            self.app.provider(GenericTools).start_index_build()
        yield {}

    async def list_tools(self) -> list[MCPTool]:
        """The tools, with schemas compacted once: every client pays for this list in its context window."""
        if self._listed is None:
            specs = {spec.name: spec for spec in self.tool_specs}
            self._listed = [listed(tool, specs[tool.name]) for tool in await super().list_tools()]
        return self._listed


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
    policy = Policy.load(settings.policy_file, read_only=settings.read_only)
    clients = AwsClients(settings, allowed_role_patterns=tuple(policy.document.allowed_role_arns))
    guard = Guard(
        policy,
        ConfirmationTokens(settings.confirmation_secret, settings.confirmation_ttl_seconds),
        clients,
        auto_approve=settings.auto_approve_destructive,
    )
    runtime = Runtime(
        settings=settings,
        transport=transport,
        clients=clients,
        executor=AwsExecutor(clients, guard, settings.max_workers),
        guard=guard,
        audit=AuditLog(settings.audit_log),
        environments=SessionEnvironments(),
        files=LocalFiles(settings.files_root, settings.max_file_bytes),
    )
    return App(runtime, tuple(provider(runtime) for provider in PROVIDERS), toolsets)


def create_server(settings: Settings, transport: str = "http") -> OpsServer:
    return OpsServer(build_app(settings, transport))


def configure_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level.upper())
    quiet_chatty_libraries()


def quiet_chatty_libraries() -> None:
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="server.py", description="AWS Ops MCP server")
    parser.add_argument("--transport", choices=["http", "stdio"], default="http")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--sandbox", action="store_true", help="serve against an in-process moto with demo data")
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("AWS_MCP_LOG_LEVEL", "INFO"))
    sandbox = None
    try:
        if args.sandbox:
            sandbox = start_sandbox()
        settings = load_settings()
        if settings.audit_log == "-" and args.transport == "stdio":
            raise ConfigError("AWS_MCP_AUDIT_LOG=- writes to stdout, which the stdio transport uses for the protocol")
        if args.transport == "http":
            from http_app import check_exposure

            check_exposure(settings, args.host)
        server = create_server(settings, args.transport)
    except (ConfigError, PolicyError) as exc:
        print(f"aws-ops-mcp: {exc}", file=sys.stderr)
        return 2
    if settings.auto_approve_destructive:
        log.warning("AWS_MCP_AUTO_APPROVE_DESTRUCTIVE=true: destructive operations run WITHOUT confirmation")
    if args.transport == "stdio":
        server.run("stdio")
        return 0
    from http_app import build_http_app, serve_http

    if sandbox is not None:
        sandbox.print_connection_help(args.host, args.port, settings.auth_token)
    serve_http(build_http_app(server, settings, args.host), args.host, args.port, server.app.runtime.drain, settings)
    return 0


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
