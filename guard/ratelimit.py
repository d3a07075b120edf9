"""Rate limits: tool calls per principal, and HTTP requests per client address before authentication.

Both are one-minute moving windows on the `limits` package's asyncio API, so a shared storage never blocks the
event loop:

- `CallerLimits`: `AWS_MCP_RATE_LIMIT_PER_MINUTE` tool calls per principal (0: no limit), or the policy's limit
  for the principal's role when it names one. The windows live in `AWS_MCP_RATE_LIMIT_STORAGE`: `memory://` (per
  process) by default, or any storage URI `limits` knows (`redis://host:6379`, `memcached://...`) for limits
  that hold exactly across replicas (the storage's driver must be installed). A refused call is a
  `RateLimited` tool error saying when to retry; the tool layer audits it.
- `ClientLimits`: `AWS_MCP_IP_RATE_LIMIT_PER_MINUTE` HTTP requests per client address, counted in memory before
  the bearer token is even read, so a flood costs neither token checks nor a round trip to a shared storage.

A storage that fails (a Redis outage) lets calls through, with a warning at most once a minute: a limit is a
brake, not a gate.
"""

import logging
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from config import ConfigError
from core.errors import RateLimited
from core.invocation import Principal
from observability.metrics import Metrics

log = logging.getLogger("aws_ops_mcp")

MEMORY = "memory://"


def async_storage_uri(uri: str) -> str:
    """The asyncio variant of a `limits` storage URI: `redis://h` → `async+redis://h`."""
    return uri if uri.startswith("async+") else f"async+{uri}"


class MovingWindows:
    """One-minute moving windows keyed by strings, in one `limits` storage."""

    def __init__(self, storage_uri: str = MEMORY, variable: str = "AWS_MCP_RATE_LIMIT_STORAGE") -> None:
        try:
            storage = storage_from_string(async_storage_uri(storage_uri))
        except ConfigurationError as exc:
            safe = _without_password(storage_uri)
            reason = str(exc).replace(async_storage_uri(storage_uri), safe).replace(storage_uri, safe)
            raise ConfigError(f"{variable}={safe!r}: {reason}") from None
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[int, RateLimitItem] = {}
        self._warned = 0.0

    async def hit(self, key: str, per_minute: int) -> float | None:
        """Count one hit on `key`: None within the limit, else the seconds until the window has room again."""
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        try:
            if await self._limiter.hit(item, key):
                return None
            stats = await self._limiter.get_window_stats(item, key)
        except Exception as exc:  # noqa: BLE001 - a storage outage must not stop every call
            self._warn(exc)
            return None
        return max(stats.reset_time - time.time(), 0.0)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned >= 60 or not self._warned:
            self._warned = now
            log.warning("rate-limit storage failed (%s); calls are not limited until it answers", type(exc).__name__)


def retry_after(seconds: float) -> int:
    """Whole seconds to wait, at least one (what `Retry-After` and `retry_after_seconds` say)."""
    return max(1, math.ceil(seconds))


class CallerLimits:
    """Tool calls per principal: the role's limit from the policy, else the server-wide one."""

    def __init__(
        self,
        per_minute: int,
        storage_uri: str,
        metrics: Metrics,
        role_limit: Callable[[str], int | None] | None = None,
    ) -> None:
        self.per_minute = per_minute
        self._role_limit = role_limit
        self._windows = MovingWindows(storage_uri)
        self._refused = metrics.rate_limited.labels("principal")

    def limit_for(self, role: str) -> int:
        """Calls a minute for `role` (0: no limit): the policy's limit for the role when it sets one."""
        override = self._role_limit(role) if self._role_limit is not None else None
        return self.per_minute if override is None else override

    async def check(self, principal: Principal) -> None:
        """Count one call of `principal`, or raise `RateLimited`."""
        limit = self.limit_for(principal.role)
        if limit <= 0:
            return
        wait = await self._windows.hit(f"principal:{principal.subject}", limit)
        if wait is not None:
            self._refused.inc()
            raise RateLimited(
                f"rate limit: {principal.subject} may make {limit} tool calls a minute",
                retry_after_seconds=retry_after(wait),
            )


class ClientLimits:
    """HTTP requests per client address, in this process's memory."""

    def __init__(self, per_minute: int, metrics: Metrics) -> None:
        self.per_minute = per_minute
        self._windows = MovingWindows(MEMORY)
        self._refused = metrics.rate_limited.labels("client_ip")

    async def check(self, address: str) -> int | None:
        """Count one request from `address`: None when it may go on, else the seconds to wait."""
        if self.per_minute <= 0:
            return None
        wait = await self._windows.hit(f"client:{address}", self.per_minute)
        if wait is None:
            return None
        self._refused.inc()
        return retry_after(wait)


def _without_password(uri: str) -> str:
    """A storage URI safe to print: `redis://user:secret@host` → `redis://user:***@host`."""
    scheme, separator, rest = uri.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return uri
    return f"{scheme}{separator}{credentials.split(':', 1)[0]}:***@{host}"
