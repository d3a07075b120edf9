"""The HTTP surface: streamable HTTP at /mcp (and /), SSE at /sse + /messages/, /healthz, /readyz, /metrics, and
the authentication that establishes who calls.

Middleware, outermost first: the request log (web/requests.py), the per-address flood limit (web/flood.py),
authentication, the SSE session-end watch; then the routes. DNS-rebinding protection (Host and Origin checks)
is the SDK's, on the MCP routes.
"""

import hmac
import ipaddress
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

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
from guard.ratelimit import ClientLimits
from tooling import principal_of_scope
from web.flood import ClientFlood
from web.metrics import MetricsPort, metrics_endpoint
from web.requests import RequestLog

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


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


def transport_security(host: str, settings: Settings) -> TransportSecuritySettings | None:
    """DNS-rebinding protection: a browser page must not reach the server under a name it does not serve.

    On for loopback binds (loopback names allowed) and wherever `AWS_MCP_ALLOWED_HOSTS` or
    `AWS_MCP_ALLOWED_ORIGINS` names what an ingress forwards (`host:port`, `host:*` for any port). A request
    with another `Host` gets 421, one with another `Origin` 403; a request without `Origin` (not a browser)
    passes the origin check.
    """
    loopback = is_loopback(host)
    if not loopback and not settings.allowed_hosts and not settings.allowed_origins:
        return None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*(LOOPBACK_HOSTS if loopback else []), *settings.allowed_hosts],
        allowed_origins=[*(LOOPBACK_ORIGINS if loopback else []), *settings.allowed_origins],
    )


def build_http_app(server: MCPServer, settings: Settings, host: str) -> Starlette:
    security = transport_security(host, settings)
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

    runtime = server.app.runtime  # type: ignore[attr-defined]
    mcp_route = next(r for r in streamable.routes if getattr(r, "path", None) == "/mcp")
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint(runtime.metrics, principal_of_scope), methods=["GET"]),
        mcp_route,
        Route("/", mcp_route.endpoint, methods=["GET", "POST", "DELETE"]),  # type: ignore[attr-defined]
        *[r for r in sse.routes if getattr(r, "path", None) in ("/sse", "/messages")],
    ]

    metrics_port = MetricsPort(runtime.metrics, host, settings.metrics_port) if settings.metrics_port else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            if metrics_port is not None:
                metrics_port.start()
            app.state.ready = True
            try:
                yield
            finally:
                app.state.ready = False
                if metrics_port is not None:
                    await metrics_port.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ready = False
    app.add_middleware(SseSessionEnd, on_end=runtime.environments.end_session)
    if settings.auth_token:
        app.add_middleware(Authenticate, verifier=StaticTokenVerifier(settings.auth_token))
    app.add_middleware(
        ClientFlood, limits=ClientLimits(settings.ip_rate_limit_per_minute, runtime.metrics), exempt=OPEN_PATHS
    )
    app.add_middleware(RequestLog, principal_of=principal_of_scope, authenticated=bool(settings.auth_token))
    return app
