"""Health checks in the background: every few seconds, claim the checks that are due and run them.

`registry.claim_due_checks` claims each due check with a conditional update, so with several replicas on one store
one runs it; `registry.record_health` keeps the result, schedules the next check and moves the state machine
(`failure_threshold` failures in a row → ERROR, `success_threshold` successes → ACTIVE).

A check is an HTTP request (the check's `endpoint`, else the integration's for WEBHOOK and REST_API) on the
pinned-address client deliveries use (no redirects; link-local and metadata addresses refused, private ones unless
allowed), or, for EVENT_BUS and MESSAGE_QUEUE, a cheap guarded read of the destination (`AwsRoute.probe`). The
store is reached from worker threads only; results hold no URL, header or body, so no secret a URL or a header
carries reaches the store or the API.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import httpx2

from integrations.aws import AwsRoute
from integrations.models import HealthCheck, HealthResult, Integration, IntegrationType
from integrations.network import AddressRefused, pinned_client
from integrations.registry import IntegrationNotFound, IntegrationRegistry

log = logging.getLogger("aws_ops_mcp.integrations.health")

POLL_SECONDS = 2.0
HOLD_SECONDS = 120.0
"""How long a claim keeps other replicas off a check: past the longest check (a 60 s timeout) with room. A replica
that dies mid-check leaves it to the others after this."""
CONCURRENCY = 8
USER_AGENT = "aws-ops-mcp-health-check"


class HealthChecker:
    """The background loop: `start()`/`stop()` from the app's lifespan, or `run(stop)` in a task group."""

    def __init__(
        self,
        registry: IntegrationRegistry,
        route: AwsRoute,
        *,
        allow_private: bool,
        poll_seconds: float = POLL_SECONDS,
        concurrency: int = CONCURRENCY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.route = route
        self.allow_private = allow_private
        self.poll_seconds = poll_seconds
        self._slots = anyio.Semaphore(concurrency)
        self._clock = clock
        self._stop: anyio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop = anyio.Event()
        self._task = asyncio.get_running_loop().create_task(self.run(self._stop), name="integration-health-checks")

    async def stop(self) -> None:
        """Checks under way are cancelled; their claims lapse after HOLD_SECONDS and the checks run again."""
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await self._task
            self._stop = self._task = None

    async def run(self, stop: anyio.Event) -> None:
        async with anyio.create_task_group() as group:

            async def stop_when_told() -> None:
                await stop.wait()
                group.cancel_scope.cancel()

            group.start_soon(stop_when_told)
            while True:
                try:
                    await self.run_due()
                except Exception:  # a store outage must not end the loop: logged, then retried
                    log.exception("health checks: claiming or recording failed")
                await anyio.sleep(self.poll_seconds)

    async def run_due(self) -> int:
        """Claim the checks due now and run them, at most CONCURRENCY at once; how many ran."""
        claimed = await anyio.to_thread.run_sync(self.registry.claim_due_checks, HOLD_SECONDS)
        async with anyio.create_task_group() as group:
            for integration, _secrets in claimed:
                group.start_soon(self._check_and_record, integration)
        return len(claimed)

    async def _check_and_record(self, integration: Integration) -> None:
        async with self._slots:
            result = await self.check(integration)
        with contextlib.suppress(IntegrationNotFound):  # deleted while it was checked
            await anyio.to_thread.run_sync(self.registry.record_health, integration.id, result)

    async def check(self, integration: Integration) -> HealthResult:
        """One health check of `integration`, never raising: a failure is an unhealthy result saying why."""
        check = integration.health_check or HealthCheck()
        checked_at = self._clock()
        started = time.perf_counter()
        if check.endpoint is None and integration.type in (IntegrationType.EVENT_BUS, IntegrationType.MESSAGE_QUEUE):
            outcome = await self.route.probe(integration, check.timeout_seconds)
            return HealthResult(
                checked_at=checked_at,
                healthy=outcome.ok,
                status=outcome.status,
                latency_ms=_ms(started),
                error=outcome.error,
            )
        status, error = await self._http(check.endpoint or integration.endpoint, check)
        healthy = error is None and status in check.expected_status
        if error is None and not healthy:
            error = f"HTTP {status}; expected {', '.join(map(str, check.expected_status))}"
        return HealthResult(checked_at=checked_at, healthy=healthy, status=status, latency_ms=_ms(started), error=error)

    async def _http(self, url: str, check: HealthCheck) -> tuple[int | None, str | None]:
        """(status, None) when the endpoint answered, else (None, why not). The body is not read."""
        headers = {"User-Agent": USER_AGENT, **check.headers}
        content = check.body.encode() if check.body is not None else None
        try:
            with anyio.fail_after(check.timeout_seconds):
                async with (
                    pinned_client(self.allow_private) as client,
                    client.stream(
                        check.method, url, headers=headers, content=content, timeout=check.timeout_seconds
                    ) as response,
                ):
                    return response.status_code, None
        except TimeoutError:
            return None, f"no answer within {check.timeout_seconds:g} s"
        except AddressRefused as refused:
            return None, str(refused)
        except httpx2.HTTPError as failure:
            return None, f"the request failed ({type(failure).__name__})"
        except httpx2.InvalidURL:
            return None, "the health check endpoint is not a URL the server can request"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
