"""One piece of work per target, many at once, every target accounted for.

Concurrency: `max_concurrency` workers pull targets from one queue, and every AWS call runs on the fleet
executor, whose threads are limited for all fleet calls of the process together (AWS_MCP_FLEET_CONCURRENCY)
and kept apart from the threads other tool calls use, so a fleet query never starves them.
Pacing: a token bucket per (account, region, service) (AWS_MCP_FLEET_RATE_PER_SECOND); when AWS throttles one
despite botocore's own retries, that bucket's rate halves and the target is retried after a jittered back-off,
then reported `throttled`; successes bring the rate back.
Progress: `on_progress(done, total)` at most once a second. Cancellation (the client cancels the request) stops
new calls at once: queued targets never start, calls in flight are abandoned in their threads.
"""

import math
import random
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from core.errors import (
    AwsError,
    CredentialsError,
    NotARead,
    OpsError,
    PolicyDenied,
    RoleNotAllowed,
)

T = TypeVar("T")
R = TypeVar("R")

THROTTLE_CODES = frozenset(
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
        "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown",
        "ProvisionedThroughputExceededException", "PriorRequestNotComplete", "BandwidthLimitExceeded",
    }
)  # fmt: skip
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
        "UnauthorizedAccess", "Forbidden", "AccessDeniedForDependencyException",
    }
)  # fmt: skip
REGION_DISABLED_CODES = frozenset(
    {"AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId", "OptInRequired"}
)
THROTTLE_RETRIES = 3
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
PROGRESS_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class TargetError:
    kind: str
    """access_denied, policy_denied, throttled, region_not_enabled, timeout, credential_error, output_truncated,
    or error (anything else; `code` says what)."""
    code: str
    message: str


def error_kind(error: OpsError, optional_region: bool = False) -> str:
    """The kind of a target's failure. `optional_region`: the region is one an account must opt in to."""
    if isinstance(error, PolicyDenied | RoleNotAllowed | NotARead):
        return "policy_denied"
    if isinstance(error, CredentialsError):
        return "credential_error"
    if isinstance(error, AwsError):
        if error.code in THROTTLE_CODES:
            return "throttled"
        if error.code in ACCESS_DENIED_CODES:
            return "access_denied"
        if optional_region and error.code in REGION_DISABLED_CODES:
            return "region_not_enabled"
    return "error"


class AdaptiveBucket:
    """A token bucket whose rate halves when AWS throttles and creeps back (+5 % a success) up to its ceiling."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = rate
        self.rate = rate
        self._clock = clock
        self._tokens = max(1.0, rate)
        self._stamp = clock()
        self._lock = anyio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(max(1.0, self.rate), self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await anyio.sleep((1 - self._tokens) / self.rate)

    def throttled(self) -> None:
        self.rate = max(self.ceiling / 64, self.rate / 2)

    def succeeded(self) -> None:
        self.rate = min(self.ceiling, self.rate * 1.05)


class Buckets:
    """Per (account, region, service) buckets, for the whole process: two fleet queries share a pace."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[Hashable, AdaptiveBucket] = {}

    def __getitem__(self, key: Hashable) -> AdaptiveBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = AdaptiveBucket(self.rate)
        return bucket


@dataclass
class Attempt(Generic[R]):
    value: R | None = None
    error: TargetError | None = None
    seconds: float = 0.0


class FanOut:
    def __init__(self, buckets: Buckets, timeout: float) -> None:
        self.buckets = buckets
        self.timeout = timeout

    async def run(
        self,
        targets: Sequence[T],
        work: Callable[[T], Awaitable[R]],
        *,
        key: Callable[[T], Hashable],
        concurrency: int,
        classify: Callable[[T, OpsError], str] = lambda _, error: error_kind(error),
        on_progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> list[Attempt[R]]:
        """`work(target)` for every target; results in the targets' order."""
        results: list[Attempt[R]] = [Attempt() for _ in targets]
        queue = iter(range(len(targets)))
        done = 0

        async def worker() -> None:
            nonlocal done
            for index in queue:
                results[index] = await self._one(targets[index], work, key, classify)
                done += 1

        async def report() -> None:
            reported = -1
            while True:
                await anyio.sleep(PROGRESS_EVERY_SECONDS)
                if done != reported and on_progress is not None:
                    reported = done
                    await on_progress(done, len(targets))

        async with anyio.create_task_group() as workers:
            progress = anyio.CancelScope()
            if on_progress is not None:

                async def reporting() -> None:
                    with progress:
                        await report()

                workers.start_soon(reporting)
            async with anyio.create_task_group() as pool:
                for _ in range(max(1, min(concurrency, len(targets)))):
                    pool.start_soon(worker)
            progress.cancel()
        if on_progress is not None and targets:
            await on_progress(done, len(targets))
        return results

    async def _one(
        self,
        target: T,
        work: Callable[[T], Awaitable[R]],
        key: Callable[[T], Hashable],
        classify: Callable[[T, OpsError], str],
    ) -> Attempt[R]:
        bucket = self.buckets[key(target)]
        started = time.perf_counter()
        for attempt in range(THROTTLE_RETRIES + 1):
            await bucket.acquire()
            try:
                with anyio.fail_after(self.timeout):
                    value = await work(target)
            except TimeoutError:
                message = f"no answer within {self.timeout:g} s (AWS_MCP_FLEET_TARGET_TIMEOUT_SECONDS)"
                return Attempt(error=TargetError("timeout", "timeout", message), seconds=_since(started))
            except OpsError as error:
                kind = classify(target, error)
                if kind == "throttled":
                    bucket.throttled()
                    if attempt < THROTTLE_RETRIES:
                        await anyio.sleep(
                            random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))
                        )
                        continue
                return Attempt(error=TargetError(kind, error.code, error.message), seconds=_since(started))
            bucket.succeeded()
            return Attempt(value=value, seconds=_since(started))
        raise AssertionError("unreachable")  # pragma: no cover


def _since(started: float) -> float:
    return math.floor((time.perf_counter() - started) * 1e5) / 1e5
