"""The HTTP surface: streamable HTTP at /mcp (and /), SSE at /sse + /messages/, /healthz, /readyz, the
authentication that establishes who calls, and uvicorn with a graceful shutdown (`serve_http`)."""

import asyncio
import hmac
import ipaddress
import logging
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType

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
from core.drain import Drain
from core.invocation import token_fingerprint

log = logging.getLogger("aws_ops_mcp")
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
SHUTDOWN_LINGER_SECONDS = 3.0
"""After the drain: how long uvicorn lets open streams (SSE, streamable HTTP GET) and responses being written
finish before it cancels them."""
UNWIND_SECONDS = 1.0
"""After the deadline: how long interrupted calls get to unwind and answer `interrupted` before the process exits
without those that wait on AWS in a worker thread."""
SHUTDOWN_SECONDS_AFTER_GRACE = UNWIND_SECONDS + SHUTDOWN_LINGER_SECONDS
"""The most a shutdown takes beyond AWS_MCP_SHUTDOWN_GRACE_SECONDS (Kubernetes' terminationGracePeriodSeconds
must cover the preStop pause, the grace and this)."""


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
    drain: Drain = server.app.runtime.drain  # type: ignore[attr-defined]

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "name": server.name, "uptime_seconds": round(time.time() - started, 1)})

    async def readyz(request: Request) -> JSONResponse:
        """Ready while the MCP session manager runs and no drain has begun: after startup, until SIGTERM."""
        if drain.draining:
            return JSONResponse({"status": "draining", "in_flight": drain.in_flight}, status_code=503)
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


class GracefulServer(uvicorn.Server):
    """uvicorn with a drain before its own shutdown. On SIGTERM (or Ctrl-C) the port stays open: /readyz answers
    503 at once and new tool calls get a `shutting_down` error, while the calls in flight get `grace` seconds
    (core/drain.py). Then uvicorn stops as usual: it closes the port, gives open streams SHUTDOWN_LINGER_SECONDS
    and runs the app's lifespan shutdown (the MCP session manager). A second signal cuts the wait short.

    uvicorn re-raises the signal it caught once it has stopped, which would end the process with status 143;
    this server does not record it, so `main` returns and the process exits 0.
    """

    def __init__(self, config: uvicorn.Config, drain: Drain, grace: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.grace = grace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task[None] | None = None

    async def serve(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """The signal handler (main thread, between two steps of the event loop): set flags, schedule the rest."""
        if self._loop is None or self.should_exit:  # not serving yet, or stopping already: as uvicorn does
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True
            return
        if self.drain.draining:
            self._loop.call_soon_threadsafe(self.drain.cut_short)
            return
        self.drain.begin()
        self._loop.call_soon_threadsafe(self._start_draining)

    def _start_draining(self) -> None:
        assert self._loop is not None
        self._draining = self._loop.create_task(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        try:
            log.info("shutting down: %d tool call(s) in flight, waiting up to %g s", self.drain.in_flight, self.grace)
            interrupted = await self.drain.wait(self.grace)
            if interrupted:
                log.warning("shutdown: %d tool call(s) interrupted at the %g s deadline", interrupted, self.grace)
                await asyncio.sleep(UNWIND_SECONDS)
                if self.drain.in_flight:
                    exit_now(f"{self.drain.in_flight} interrupted call(s) still wait on AWS in worker threads")
        finally:
            self.should_exit = True


def exit_now(reason: str) -> None:
    """Exit 0 at once. Only for calls that hold a worker thread on AWS after the deadline: botocore cannot be
    stopped mid-request, their audit lines are written, and waiting for them would outlast the pod's grace."""
    log.warning("shutdown: %s; exiting without them", reason)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


def serve_http(app: Starlette, host: str, port: int, drain: Drain, settings: Settings) -> None:
    """Serve `app` until SIGTERM or Ctrl-C, then drain (GracefulServer)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=int(SHUTDOWN_LINGER_SECONDS)
    )
    GracefulServer(config, drain, settings.shutdown_grace_seconds).run()
