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
from mcp.server.request_state import RequestStateSecurity
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
from store import SpentConfirmations, open_store
from tooling import Runtime, ToolSpec, listed, register

log = logging.getLogger("aws_ops_mcp")
P = TypeVar("P")

INSTRUCTIONS = (
    "Operate AWS across accounts. AWS tools take an optional target: account (an alias from list_accounts), "
    "profile (an AWS profile), role_arn (a role to assume) and region; without one they use the server's default "
    "credentials and region. Destructive calls need confirmation: repeat them with confirmation_token."
)
PROVIDERS: tuple[type, ...] = (*MANAGERS, GenericTools)
"""Every class that declares tools, in the order tools/list shows them."""

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
    "alembic",
)
"""At DEBUG these log request and response bodies, secret values included: never below WARNING. (Alembic logs no
secrets, but narrates every start-up at INFO; store/ logs the one line that matters, a migration.)"""


@dataclass
class App:
    """Everything a tool call needs, built once per process from the settings, and the tool providers."""

    runtime: Runtime
    providers: tuple[Any, ...]

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
        super().__init__(
            "aws-ops-mcp",
            instructions=INSTRUCTIONS,
            log_level=app.settings.log_level,
            lifespan=self._started,
            request_state_security=request_state_security(app.settings),
        )
        self.app = app
        self.tool_specs: list[ToolSpec] = register(self, app.providers, app.runtime)
        self._listed: list[MCPTool] | None = None

    @asynccontextmanager
    async def _started(self, _: MCPServer) -> AsyncIterator[dict[str, Any]]:
        """The SDK's server lifespan: entered when the HTTP app starts (http_app.py), when stdio starts, and for
        each SSE connection. A fresh install's search index starts building here, off the event loop."""
        self.app.provider(GenericTools).start_index_build()
        yield {}

    async def list_tools(self) -> list[MCPTool]:
        """The tools, with schemas compacted once: every client pays for this list in its context window."""
        if self._listed is None:
            specs = {spec.name: spec for spec in self.tool_specs}
            self._listed = [listed(tool, specs[tool.name]) for tool in await super().list_tools()]
        return self._listed


def build_app(settings: Settings, transport: str = "http") -> App:
    policy = Policy.load(settings.policy_file, read_only=settings.read_only)
    clients = AwsClients(settings, allowed_role_patterns=tuple(policy.document.allowed_role_arns))
    store = open_store(settings)  # migrated here, before anything is served
    tokens = ConfirmationTokens(
        settings.confirmation_secret, settings.confirmation_ttl_seconds, spent=SpentConfirmations(store)
    )
    guard = Guard(policy, tokens, clients, auto_approve=settings.auto_approve_destructive)
    runtime = Runtime(
        settings=settings,
        transport=transport,
        clients=clients,
        executor=AwsExecutor(clients, guard, settings.max_workers),
        guard=guard,
        audit=AuditLog(settings.audit_log),
        environments=SessionEnvironments(),
        files=LocalFiles(settings.files_root, settings.max_file_bytes),
        store=store,
    )
    return App(runtime, tuple(provider(runtime) for provider in PROVIDERS))


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
            from sandbox import Sandbox

            sandbox = Sandbox.start()
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
    import uvicorn

    from http_app import build_http_app

    if sandbox is not None:
        sandbox.print_connection_help(args.host, args.port, settings.auth_token)
    uvicorn.run(build_http_app(server, settings, args.host), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
