"""The HTTP surface: streamable HTTP at /mcp (and /), SSE at /sse + /messages/, /healthz, /readyz, the
authentication that establishes who calls, and serving it: the port bound before anything is announced."""

import hmac
import ipaddress
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import uvicorn
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config import ConfigError, Settings
from core.invocation import token_fingerprint

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


class StaticTokenVerifier:
    """`MCP_AUTH_TOKEN`: one shared bearer token, compared in constant time. Its principal is
    `token:<fingerprint>`, never the token itself."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()
        self._subject = token_fingerprint(token)

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.strip().encode(), self._expected):
            return None
        return AccessToken(
            token=token,
            client_id=self._subject,
            scopes=[],
            subject=self._subject,
            claims={"auth": "static-token", "role": "admin"},
        )


class Authenticate:
    """Every path but /healthz and /readyz needs a bearer token the verifier accepts. The verified user goes
    into the ASGI scope (`scope["user"]`, as the SDK's auth middleware does) and the SDK's auth context, so
    tools read the principal from there and the SDK binds sessions to it; nothing downstream re-reads headers."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self._backend = BearerAuthBackend(verifier)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        verified = await self._backend.authenticate(HTTPConnection(scope))
        if verified is None:
            response = JSONResponse(
                {"error": "unauthorized", "hint": "send Authorization: Bearer <MCP_AUTH_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="aws-ops-mcp"'},
            )
            await response(scope, receive, send)
            return
        scope["auth"], scope["user"] = verified
        await AuthContextMiddleware(self.app)(scope, receive, send)


class SseSessionEnd:
    """Calls `on_end("sse:<id>")` when an SSE stream closes, so per-session state goes with its session.

    The SDK names the session only in the stream's first event (`endpoint`: /messages/?session_id=<id>).
    """

    SESSION_ID = re.compile(rb"session_id=([0-9a-f]{32})")

    def __init__(self, app: ASGIApp, on_end: Callable[[str], None]) -> None:
        self.app = app
        self.on_end = on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/sse":
            await self.app(scope, receive, send)
            return
        found: list[str] = []

        async def watching(message: Message) -> None:
            match = self.SESSION_ID.search(message.get("body", b"")) if not found else None
            if match and message["type"] == "http.response.body":
                found.append(match.group(1).decode())
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            if found:
                self.on_end(f"sse:{found[0]}")


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


def auth_mode(settings: Settings, host: str) -> str:
    """Who may call, as the start-up line says it."""
    if settings.auth_token:
        return "static token (MCP_AUTH_TOKEN)"
    if is_loopback(host):
        return "none (loopback only)"
    return "none (AWS_MCP_ALLOW_UNAUTHENTICATED: a proxy in front must authenticate callers)"


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
    app.add_middleware(SseSessionEnd, on_end=server.app.runtime.environments.end_session)  # type: ignore[attr-defined]
    if settings.auth_token:
        app.add_middleware(Authenticate, verifier=StaticTokenVerifier(settings.auth_token))
    return app


def address(host: str, port: int) -> str:
    """`host:port` as a URL spells it (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (as uvicorn binds one); OSError when the port is taken or not ours to bind."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class AnnouncingServer(uvicorn.Server):
    """uvicorn, calling `on_listening` once it serves: the lifespan has started and the socket listens."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_listening()


def serve(app: Starlette, listener: socket.socket, on_listening: Callable[[], None]) -> None:
    """Serve `app` on the bound `listener` until SIGINT or SIGTERM."""
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    AnnouncingServer(config, on_listening).run(sockets=[listener])
