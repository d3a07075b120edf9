"""AWS Ops MCP: the composition root and the entry point.

`build_app` makes everything a tool call needs from the settings, once; `create_server` registers the
tools the service managers (services/) and the generic tools (generic/) declare; `main` parses the
command line, sets up logging and serves stdio or HTTP (http_app.py).
"""

import argparse
import logging
import os
import sys
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
from tooling import Runtime, ToolSpec, register, without_titles

log = logging.getLogger("aws_ops_mcp")
P = TypeVar("P")

INSTRUCTIONS = (
    "Operate AWS across accounts. Every tool takes account (an alias from list_accounts), profile, "
    "role_arn and region. Destructive calls need confirmation: repeat them with confirmation_token."
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
)
"""At DEBUG these log request and response bodies, secret values included: never below WARNING."""


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


class OpsServer(MCPServer):
    def __init__(self, app: App) -> None:
        super().__init__("aws-ops-mcp", instructions=instructions(app.runtime.files), log_level=app.settings.log_level)
        self.app = app
        self.tool_specs: list[ToolSpec] = register(self, app.providers, app.runtime)
        self._listed: list[MCPTool] | None = None

    async def list_tools(self) -> list[MCPTool]:
        """The tools, with schemas compacted once: every client pays for this list in its context window."""
        if self._listed is None:
            self._listed = [
                tool.model_copy(
                    update={
                        "input_schema": without_titles(tool.input_schema),
                        "output_schema": without_titles(tool.output_schema) if tool.output_schema else None,
                    }
                )
                for tool in await super().list_tools()
            ]
        return self._listed


def build_app(settings: Settings, transport: str = "http") -> App:
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
