"""The HTTP surface: streamable HTTP at /mcp (and /), SSE at /sse + /messages/, /healthz, /readyz, /metrics,
RFC 9728 protected-resource metadata when JWTs come from an OAuth issuer, the authentication that establishes who
calls (auth.py verifies the tokens), and serving it: the port bound before anything is announced, and a graceful
shutdown (GracefulServer: the drain of core/drain.py).

Middleware, outermost first: the request log (web/requests.py), the per-address flood limit (web/flood.py),
authentication, the SSE session-end watch; then the routes. DNS-rebinding protection (Host and Origin checks)
is the SDK's, on the MCP routes.
"""

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import uvicorn
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth import Authenticator, Rejected
from config import ConfigError, Settings, is_loopback
from core.drain import Drain
from guard.ratelimit import ClientLimits
from observability.logs import get_logger
from startup import startup_line
from tooling import principal_of_scope
from web.flood import ClientFlood
from web.integrations import PREFIX as API_PREFIX
from web.integrations import http_problem, integrations_app
from web.metrics import MetricsPort, metrics_endpoint
from web.problems import problem_response
from web.requests import RequestLog

if TYPE_CHECKING:
    from sandbox import Sandbox

log = get_logger("aws_ops_mcp")

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
WELL_KNOWN = "/.well-known/"
"""Never behind auth: metadata is public, and without JWTs these paths answer 404, not 401, so that a client
does not start an OAuth flow that cannot work."""
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
SHUTDOWN_LINGER_SECONDS = 3.0
"""After the drain: how long uvicorn lets open streams (SSE, streamable HTTP GET) and responses being written
finish before it cancels them."""
UNWIND_SECONDS = 1.0
"""After the deadline: how long interrupted calls get to unwind and answer `interrupted` before the process exits
without those that wait on AWS in a worker thread."""
SHUTDOWN_SECONDS_AFTER_GRACE = UNWIND_SECONDS + SHUTDOWN_LINGER_SECONDS
"""The most a shutdown takes beyond AWS_MCP_SHUTDOWN_GRACE_SECONDS (Kubernetes' terminationGracePeriodSeconds
must cover the preStop pause, the grace and this)."""


class Authenticate:
    """Every path but /healthz, /readyz and /.well-known/ needs a bearer token the authenticator accepts. The
    verified user goes into the ASGI scope (`scope["user"]`, as the SDK's auth middleware does) and the SDK's auth
    context, so tools read the principal from there and the SDK binds sessions to it; nothing downstream re-reads
    headers. A refusal says why in `WWW-Authenticate` (RFC 6750), and points at the protected-resource metadata
    when there is some (RFC 9728)."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, metadata: "ResourceMetadata | None") -> None:
        self.app = app
        self.authenticator = authenticator
        self.metadata = metadata

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["path"].startswith(WELL_KNOWN):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await self._refuse(connection, None)(scope, receive, send)
            return
        try:
            verified = await self.authenticator.authenticate(token.strip())
        except Rejected as rejected:
            await self._refuse(connection, rejected)(scope, receive, send)
            return
        scope["auth"], scope["user"] = AuthCredentials(verified.scopes), AuthenticatedUser(verified)
        await AuthContextMiddleware(self.app)(scope, receive, send)

    def _refuse(self, connection: HTTPConnection, rejected: Rejected | None) -> JSONResponse:
        challenge = ['realm="aws-ops-mcp"']
        body: dict[str, str] = {"error": "unauthorized", "hint": "send Authorization: Bearer <token>"}
        if rejected is not None:
            challenge += [f'error="{rejected.error}"', f'error_description="{rejected.description}"']
            body = {"error": rejected.error, "error_description": rejected.description}
        if self.metadata is not None:
            challenge.append(f'resource_metadata="{self.metadata.url_for(connection)}"')
        headers = {"WWW-Authenticate": "Bearer " + ", ".join(challenge)}
        if rejected is not None and rejected.status == 503:
            headers = {"Retry-After": "10"}
        status = rejected.status if rejected else 401
        if connection.url.path.startswith(API_PREFIX + "/"):  # the REST API answers RFC 9457 problem details
            detail = rejected.description if rejected else "send Authorization: Bearer <token>"
            return problem_response(status, detail, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)


class ResourceMetadata:
    """RFC 9728 protected-resource metadata, served when callers authenticate with JWTs from an OAuth issuer
    (an http(s) AWS_MCP_JWT_ISSUER): it tells a client which authorization server issues tokens for this server.
    The resource is AWS_MCP_RESOURCE_URL, else the URL the request came to (its origin at
    /.well-known/oauth-protected-resource, origin + /mcp at /.well-known/oauth-protected-resource/mcp)."""

    PATH = WELL_KNOWN + "oauth-protected-resource"

    def __init__(self, issuer: str, resource: str | None) -> None:
        self.issuer = issuer
        self.resource = resource

    @classmethod
    def from_settings(cls, settings: Settings) -> "ResourceMetadata | None":
        issuer = settings.jwt_issuer
        if not settings.jwt_enabled or not issuer or not re.match(r"^https?://[^\s/]+", issuer):
            return None
        return cls(issuer, settings.resource_url)

    def paths(self) -> list[str]:
        """The root document, the one for /mcp, and the one RFC 9728 places after AWS_MCP_RESOURCE_URL's path."""
        configured = urlsplit(self.resource).path.rstrip("/") if self.resource else ""
        return list(dict.fromkeys(self.PATH + suffix for suffix in ("", "/mcp", configured)))

    def url_for(self, connection: HTTPConnection) -> str:
        """Where a client refused at `connection`'s path finds the metadata."""
        if self.resource:
            parts = urlsplit(self.resource)
            return f"{parts.scheme}://{parts.netloc}{self.PATH}{parts.path.rstrip('/')}"
        origin = str(connection.base_url).rstrip("/")
        return origin + self.PATH + ("/mcp" if connection.url.path.startswith("/mcp") else "")

    async def endpoint(self, request: Request) -> JSONResponse:
        origin = str(request.base_url).rstrip("/")
        resource = self.resource or origin + request.url.path.removeprefix(self.PATH)
        document = {
            "resource": resource,
            "authorization_servers": [self.issuer],
            "bearer_methods_supported": ["header"],
            "resource_name": "aws-ops-mcp",
        }
        caching = "public, max-age=3600" if self.resource else "no-cache"  # a derived resource follows the Host
        return JSONResponse(document, headers={"Cache-Control": caching})


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


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to serve AWS credentials to the network without a token, unless told to."""
    if settings.authenticated or is_loopback(host) or settings.allow_unauthenticated:
        return
    raise ConfigError(
        f"refusing to listen on {host} without authentication: anyone who can reach this port could act "
        "with this server's AWS credentials. Set MCP_AUTH_TOKEN (or AWS_MCP_JWKS_URL / AWS_MCP_JWT_SECRET with "
        "AWS_MCP_JWT_ISSUER and AWS_MCP_JWT_AUDIENCE), bind 127.0.0.1, or set "
        "AWS_MCP_ALLOW_UNAUTHENTICATED=true if a proxy in front authenticates callers."
    )


def auth_mode(settings: Settings, host: str) -> str:
    """Who may call, as the start-up line says it."""
    modes = []
    if settings.jwks_url or settings.jwt_secret:
        modes.append(f"JWT from {settings.jwt_issuer} ({'JWKS' if settings.jwks_url else 'HS256 secret'})")
    if settings.auth_token:
        modes.append("static token (MCP_AUTH_TOKEN)")
    if modes:
        return " and ".join(modes)
    if is_loopback(host):
        return "none (loopback only)"
    return "none (AWS_MCP_ALLOW_UNAUTHENTICATED: a proxy in front must authenticate callers)"


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
    runtime = server.app.runtime  # type: ignore[attr-defined]
    drain: Drain = runtime.drain
    integrations = runtime.integrations

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
    metadata = ResourceMetadata.from_settings(settings)
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *[Route(path, metadata.endpoint, methods=["GET"]) for path in (metadata.paths() if metadata else [])],
        Route("/metrics", metrics_endpoint(runtime.metrics, principal_of_scope), methods=["GET"]),
        Mount(
            API_PREFIX,
            integrations_app(
                integrations.registry,
                integrations.outbox,
                principal_of_scope,
                integrations.wake,
                allow_private=settings.webhook_allow_private,
                audit=runtime.audit.write,
            ),
        ),
        mcp_route,
        Route("/", mcp_route.endpoint, methods=["GET", "POST", "DELETE"]),  # type: ignore[attr-defined]
        *[r for r in sse.routes if getattr(r, "path", None) in ("/sse", "/messages")],
    ]

    metrics_port = MetricsPort(runtime.metrics, host, settings.metrics_port) if settings.metrics_port else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Integrations start first and stop last, after the drain: the audit lines of the calls it waited for still
        # become events.
        async with integrations.running(), server.session_manager.run():
            if metrics_port is not None:
                metrics_port.start()
            app.state.ready = True
            try:
                yield
            finally:
                app.state.ready = False
                if metrics_port is not None:
                    await metrics_port.stop()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_problem})
    app.state.ready = False
    app.add_middleware(SseSessionEnd, on_end=runtime.environments.end_session)
    authenticator = Authenticator.from_settings(settings)
    if authenticator is not None:
        app.add_middleware(Authenticate, authenticator=authenticator, metadata=metadata)
    app.add_middleware(
        ClientFlood, limits=ClientLimits(settings.ip_rate_limit_per_minute, runtime.metrics), exempt=OPEN_PATHS
    )
    app.add_middleware(RequestLog, principal_of=principal_of_scope, authenticated=authenticator is not None)
    return app


def address(host: str, port: int) -> str:
    """`host:port` as a URL spells it (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (as uvicorn binds one); OSError when the port is taken or not ours to bind.

    Its protocol is named (IPPROTO_TCP, not 0): asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    that say they are TCP, and with it on every response waited ~40 ms for the client's delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class GracefulServer(uvicorn.Server):
    """uvicorn that says when it listens (`on_listening`: the lifespan has started and the socket
    listens) and drains before its own shutdown. On SIGTERM (or Ctrl-C) the port stays open: /readyz answers
    503 at once and new tool calls get a `shutting_down` error, while the calls in flight get `grace` seconds
    (core/drain.py). Then uvicorn stops as usual: it closes the port, gives open streams SHUTDOWN_LINGER_SECONDS
    and runs the app's lifespan shutdown (the MCP session manager). A second signal cuts the wait short.

    uvicorn re-raises the signal it caught once it has stopped, which would end the process with status 143;
    this server does not record it, so `main` returns and the process exits 0.
    """

    def __init__(self, config: uvicorn.Config, drain: Drain, grace: float, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_listening = on_listening
        self.drain = drain
        self.grace = grace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_listening()

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


def serve(
    app: Starlette, listener: socket.socket, on_listening: Callable[[], None], drain: Drain, grace: float
) -> None:
    """Serve `app` on the bound `listener` until SIGINT or SIGTERM, then drain (GracefulServer)."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        log_config=None,  # uvicorn's records go through observability/logs.py's handler, not its own coloured one
        access_log=False,  # RequestLog (web/requests.py) writes one line per request itself
        timeout_graceful_shutdown=int(SHUTDOWN_LINGER_SECONDS),
    )
    GracefulServer(config, drain, grace, on_listening).run(sockets=[listener])


def serve_http(server: Any, host: str, port: int, sandbox: "Sandbox | None" = None) -> int:
    """Bind the port first, so a busy one stops start-up before anything says the server is up; then serve, and
    say so (and print the sandbox's connection help) once uvicorn listens."""
    settings = server.app.settings
    try:
        listener = listen(host, port)
    except OSError as exc:
        print(
            f"aws-ops-mcp: cannot listen on {address(host, port)}: {exc.strerror or exc}. "
            "Stop what holds the port, or pick another with --port.",
            file=sys.stderr,
        )
        return 1

    def listening() -> None:
        serving = f"http://{address(host, port)}/mcp (SSE http://{address(host, port)}/sse)"
        log.info(startup_line(settings, server.app.guard.policy, serving, auth_mode(settings, host)))
        if sandbox is not None:
            sandbox.print_connection_help(host, port, settings.auth_token)

    app = build_http_app(server, settings, host)
    serve(app, listener, listening, server.app.runtime.drain, settings.shutdown_grace_seconds)
    return 0
