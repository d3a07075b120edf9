"""Graceful shutdown: the drain between "stop" and "stopped".

Once the drain begins, no new tool call starts (`track` raises `ShuttingDown`, a tool error the client can act
on); the calls in flight get until a deadline to finish (`wait`); a call still running then is interrupted: its
`on_interrupt` runs at once (the audit line, outcome "interrupted") and its cancel scope is cancelled, so its
result, should it still arrive, is not reported as a success (`Interrupted`).

A call blocked in a worker thread on AWS cannot be stopped: the thread runs on, and the audit line written at the
deadline is what stays true. http_app.GracefulServer begins the drain on SIGTERM, keeps the port open meanwhile
(so /readyz can answer 503 and new calls get a clear refusal), and stops uvicorn when `wait` returns.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio

from core.errors import Interrupted, ShuttingDown


class InFlight:
    """One tool call running: its cancel scope, and what to do when the deadline cuts it."""

    def __init__(self, on_interrupt: Callable[[], None]) -> None:
        self.on_interrupt = on_interrupt
        self.scope = anyio.CancelScope()
        self.interrupted = False

    def interrupt(self) -> None:
        if not self.interrupted:
            self.interrupted = True
            self.on_interrupt()
            self.scope.cancel()


class Drain:
    """The tool calls in flight in this process, and whether new ones may start."""

    def __init__(self) -> None:
        self.draining = False
        self._calls: set[InFlight] = set()
        self._settled: anyio.Event | None = None
        self._cut = False

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    def begin(self) -> None:
        """Refuse new calls from now on. Only sets a flag, so a signal handler may call it."""
        self.draining = True

    @contextmanager
    def track(self, on_interrupt: Callable[[], None]) -> Iterator[InFlight]:
        """Run one tool call's body inside this block (in its own task). Raises `ShuttingDown` when draining,
        `Interrupted` when the deadline cut the call (whether or not its body had finished)."""
        if self.draining:
            raise ShuttingDown("this server is shutting down and starts no new calls")
        call = InFlight(on_interrupt)
        self._calls.add(call)
        try:
            with call.scope:
                yield call
        finally:
            self._calls.discard(call)
            if not self._calls and self._settled is not None:
                self._settled.set()
        if call.interrupted:
            raise Interrupted("the server shut down before this call finished")

    async def wait(self, grace: float) -> int:
        """Begin the drain, wait up to `grace` seconds for the calls in flight, then interrupt those left.
        Returns how many were interrupted."""
        self.begin()
        if self._settled is None:
            self._settled = anyio.Event()
        if self._calls and not self._cut:
            with anyio.move_on_after(grace):
                await self._settled.wait()
        left = list(self._calls)
        for call in left:
            call.interrupt()
        return len(left)

    def cut_short(self) -> None:
        """Stop waiting now (a second signal): `wait` interrupts whatever is still running. Event-loop thread."""
        self._cut = True
        if self._settled is not None:
            self._settled.set()
