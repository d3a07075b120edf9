"""A request flood gets 429 before authentication: a per-client-address limit in front of the auth middleware.

Counted in memory per process (`guard.ratelimit.ClientLimits`), so refusing a flood costs no token check and
no round trip to a shared storage. The address is the ASGI client, which uvicorn takes from `X-Forwarded-For`
only when the peer is a trusted proxy (uvicorn's `FORWARDED_ALLOW_IPS`); behind a load balancer that it does not
trust, every request shares the balancer's address, so the default limit is generous.
"""

from collections.abc import Collection

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from guard.ratelimit import ClientLimits


class ClientFlood:
    def __init__(self, app: ASGIApp, limits: ClientLimits, exempt: Collection[str] = ()) -> None:
        self.app = app
        self._limits = limits
        self._exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self._exempt:
            client = scope.get("client")
            wait = await self._limits.check(client[0] if client else "unknown")
            if wait is not None:
                response = JSONResponse(
                    {
                        "error": "rate_limited",
                        "hint": "too many requests from this address; retry after retry_after_seconds",
                        "retry_after_seconds": wait,
                    },
                    status_code=429,
                    headers={"Retry-After": str(wait)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
