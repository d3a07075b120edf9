"""Runs `AwsCall`s: through the guard, then in a worker thread, so the event loop never waits on AWS.

One worker-thread hop per AWS call: building the call (parsing, reading local files), the guard's
check and the call itself run together; only a destructive call goes back to the event loop in
between, for the guard to ask the user. The guard is a protocol here: core knows nothing of
policies or confirmations.

Worker threads are shared through a capacity limiter; `nested` hands a fan-out its own, smaller
limiter whose threads are still counted against the shared one, so one fan-out never starves
other callers.

Observers (`on_success`) hear of every call that returned, on the event loop, after it returned:
the inventory's write-through starts there. They share one list with nested executors.
"""

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
from botocore.client import BaseClient

from catalog.classify import OpClass
from core.calls import AwsCall
from core.clients import AwsClients
from core.errors import from_exception
from core.invocation import ensure_invocation
from observability.logs import get_logger

T = TypeVar("T")
log = get_logger(__name__)

CallObserver = Callable[[AwsCall, OpClass, Any], None]
"""`observer(call, op_class, result)`: called on the event loop after a call succeeded; must not block or raise."""


class CallGuard(Protocol):
    def check(self, call: AwsCall) -> OpClass:
        """Decide on the call (blocking-safe, synchronous); raise to refuse it."""
        ...

    async def confirm(self, call: AwsCall) -> None:
        """Get the go-ahead for a destructive call that `check` allowed; raise to refuse it."""
        ...


class Detour(Exception):
    """Raised by a `build` function to leave the single-call path; reaches the caller unmapped."""


class _Confirm:
    """The guard wants the user's go-ahead before the call runs."""


_CONFIRM = _Confirm()


class AwsExecutor:
    """Runs `AwsCall`s: guard, client, worker thread."""

    def __init__(self, clients: AwsClients, guard: CallGuard, max_workers: int, *, parent: "AwsExecutor | None" = None):
        self.clients = clients
        self.guard = guard
        self._limiter = anyio.CapacityLimiter(max_workers)
        self._parent = parent
        self._observers: list[CallObserver] = parent._observers if parent is not None else []

    def on_success(self, observer: CallObserver) -> None:
        """Tell `observer` of every call that succeeds from now on, through this executor or any nested in it."""
        self._observers.append(observer)

    def nested(self, max_workers: int) -> "AwsExecutor":
        """An executor whose calls take a place in its own limiter and in this one's."""
        return AwsExecutor(self.clients, self.guard, max_workers, parent=self)

    async def in_thread(self, fn: Callable[..., T], *args: Any, abandon: bool = False) -> T:
        """`abandon`: on cancellation return at once and leave the thread to finish (its result is dropped); a
        fan-out's timeout or cancellation must not wait for a blocked AWS request."""
        async with AsyncExitStack() as places:
            executor: AwsExecutor | None = self._parent
            while executor is not None:
                await places.enter_async_context(executor._limiter)
                executor = executor._parent
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter, abandon_on_cancel=abandon)

    async def execute(self, call: AwsCall) -> dict[str, Any]:
        """The call as botocore makes it, its response without ResponseMetadata."""
        return await self.run(call, lambda client: send(call, client))

    async def run(self, call: AwsCall, work: Callable[[BaseClient], T]) -> T:
        """Pass `call` through the guard, then run `work` with the target's client in a worker thread.

        `work` makes the call its own way (paginated, streamed, presigned); it must not make others.
        """
        _, result = await self.build_and_run(lambda: call, lambda _, client: work(client))
        return result

    async def build_and_run(
        self, build: Callable[[], AwsCall], work: Callable[[AwsCall, BaseClient], T]
    ) -> tuple[AwsCall, T]:
        """Build the call, check it with the guard and run `work`, in one worker-thread hop.

        `build` may block (parse a command, read local files, resolve a profile). Failures come back
        as `OpsError`s.
        """

        ensure_invocation()  # on the event loop, so the worker thread's copy of the context shares it

        def first() -> tuple[AwsCall, OpClass, T | _Confirm]:
            call = build()
            op_class = self.guard.check(call)
            if op_class is OpClass.DESTRUCTIVE:
                return call, op_class, _CONFIRM
            return call, op_class, work(call, self.clients.client(call.target, call.service))

        call, op_class, result = await self.run_blocking(first)
        if isinstance(result, _Confirm):
            await self.guard.confirm(call)
            result = await self.run_blocking(lambda: work(call, self.clients.client(call.target, call.service)))
        self._succeeded(call, op_class, result)
        return call, result

    def _succeeded(self, call: AwsCall, op_class: OpClass, result: Any) -> None:
        for observer in self._observers:
            try:
                observer(call, op_class, result)
            except Exception:  # an observer's failure never fails the call that already succeeded
                log.exception("an observer of %s failed", call.qualified)

    async def presign(self, call: AwsCall, expires_in: int) -> str:
        """A presigned URL is signed locally, but it grants whatever the call would do: guard it the same."""
        return await self.run(
            call,
            lambda client: client.generate_presigned_url(call.method, Params=dict(call.params), ExpiresIn=expires_in),
        )

    async def run_blocking(self, fn: Callable[..., T], *args: Any, abandon: bool = False) -> T:
        """Run blocking work in a worker thread; failures come back as `OpsError`s."""
        try:
            return await self.in_thread(fn, *args, abandon=abandon)
        except Detour:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a tool error, see errors.from_exception
            raise from_exception(exc) from None


def send(call: AwsCall, client: BaseClient) -> dict[str, Any]:
    """Make the call as botocore does; its response without ResponseMetadata. Blocking."""
    response = getattr(client, call.method)(**call.params)
    response.pop("ResponseMetadata", None)
    return response
