"""The HTTP surface: streamable HTTP at /mcp (and /), SSE at /sse + /messages/, /healthz, /readyz, bearer auth."""

import hmac
import ipaddress
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from config import ConfigError, Settings

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


class BearerAuth:
    """Every path but /healthz and /readyz needs `Authorization: Bearer <token>`; compared in constant time."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not hmac.compare_digest(supplied, self._expected):
            response = JSONResponse(
                {"error": "unauthorized", "hint": "send Authorization: Bearer <MCP_AUTH_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="aws-ops-mcp"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to serve AWS credentials to the network without a token, unless told to."""
    if settings.auth_token or is_loopback(host) or settings.allow_unauthenticated:
        return
    raise ConfigError(
        f"refusing to listen on {host} without authentication: anyone who can reach this port could act "
        "with this server's AWS credentials. Set MCP_AUTH_TOKEN, bind 127.0.0.1, or set "
        "AWS_MCP_ALLOW_UNAUTHENTICATED=true if a proxy in front authenticates callers."
    )


def transport_security(host: str) -> TransportSecuritySettings | None:
    """DNS-rebinding protection for loopback binds (a browser page must not reach a local server)."""
    if not is_loopback(host):
        return None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )


def build_http_app(server: MCPServer, settings: Settings, host: str) -> Starlette:
    security = transport_security(host)
    streamable = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=host)
    sse = server.sse_app(sse_path="/sse", message_path="/messages/", transport_security=security, host=host)
    started = time.time()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "name": server.name, "uptime_seconds": round(time.time() - started, 1)})

    async def readyz(request: Request) -> JSONResponse:
        """Ready while the MCP session manager runs: after startup, until shutdown begins."""
        if request.app.state.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready"}, status_code=503)

    mcp_route = next(r for r in streamable.routes if getattr(r, "path", None) == "/mcp")
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        mcp_route,
        Route("/", mcp_route.endpoint, methods=["GET", "POST", "DELETE"]),  # type: ignore[attr-defined]
        *[r for r in sse.routes if getattr(r, "path", None) in ("/sse", "/messages")],
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            app.state.ready = True
            try:
                yield
            finally:
                app.state.ready = False

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ready = False
    if settings.auth_token:
        app.add_middleware(BearerAuth, token=settings.auth_token)
    return app
