"""Write-through: after one of the server's own writes succeeds, the inventory partitions it may have changed are
listed again, so `query_inventory` shows the change without a refresh.

`observe` runs on the event loop right after the call returned (`AwsExecutor.on_success`) and only queues: it
names the partitions (`writes_to`) and returns, so the tool call is neither slowed nor failed by it. The worker
(`run`, started with the server's background work) lists each queued partition again with the write's own
resolved target (the caller's role, profile or session keys) and the writer's principal: every operation passes
the guard as a read, on the fleet fan-out and its token buckets. Only partitions the inventory already holds
(someone refreshed them) are listed, so a server whose inventory nobody uses pays nothing.

The queue coalesces (writes gather for GATHER_SECONDS, so a burst into one partition lists it once) and is
bounded: past `QUEUE_LIMIT` partitions waiting, new ones are dropped with a warning, and the next refresh catches
up. A listing that fails is logged (its error code and message, never parameters) and leaves the partition as it
was. Each listing made is one audit record, as the writer (`refresh_inventory`, `"background": true`, and
`write_through`: the partition listed and the write that caused it), like the calls a person makes.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import anyio

from catalog.classify import OpClass
from core.calls import AwsCall, ResolvedTarget
from core.clients import AwsClients
from core.errors import from_exception
from core.executor import AwsExecutor
from core.invocation import Invocation, Principal, activate, current, deactivate
from fleet.fanout import FanOut
from fleet.listings import Job, Listings, partition_region
from fleet.query import Cell, classify_failure
from guard.audit import AuditLog
from inventory.collectors import COLLECTORS, writes_to
from inventory.store import Inventory
from observability.logs import get_logger
from tooling import audit_record

log = get_logger(__name__)

QUEUE_LIMIT = 256
"""Partitions waiting at most."""
LISTINGS_AT_ONCE = 4
GATHER_SECONDS = 0.2
"""How long the worker lets writes gather once the first comes: a burst of writes (a script, a loop of the
model's) into one partition is then listed once, not once per write."""
WRITES = frozenset({OpClass.WRITE, OpClass.DESTRUCTIVE})


@dataclass(frozen=True)
class Pending:
    target: ResolvedTarget
    type: str
    principal: Principal
    cause: str
    """The write that queued it ("secretsmanager:CreateSecret"); the first, when several coalesced."""


class WriteThrough:
    def __init__(
        self,
        executor: AwsExecutor,
        clients: AwsClients,
        inventory: Inventory,
        listings: Listings,
        fanout: FanOut,
        audit: AuditLog,
    ) -> None:
        self.executor = executor
        self.audit = audit
        self.clients = clients
        self.inventory = inventory
        self.listings = listings
        self.fanout = fanout
        self._queue: OrderedDict[tuple[ResolvedTarget, str], Pending] = OrderedDict()
        self._wake: anyio.Event | None = None
        self._active = 0
        self._idle = threading.Event()
        self._idle.set()

    def observe(self, call: AwsCall, op_class: OpClass, result: Any) -> None:
        """Queue the partitions a successful write may have changed. Event loop; never blocks. Nothing while the
        worker does not run (outside a served app: scripts, benchmarks)."""
        if self._wake is None or op_class not in WRITES:
            return
        types = writes_to(call.service, call.operation, call.params, result)
        if not types:
            return
        principal = current().principal
        for type_ in types:
            key = (call.target, type_)
            if key in self._queue:
                continue
            if len(self._queue) >= QUEUE_LIMIT:
                log.warning("inventory write-through queue full: %s after %s not listed again", type_, call.qualified)
                continue
            self._queue[key] = Pending(call.target, type_, principal, call.qualified)
        self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or being listed (any thread; tests wait on it); False on timeout."""
        return self._idle.wait(timeout)

    async def run(self) -> None:
        """The worker, until cancelled: at most LISTINGS_AT_ONCE listings at a time."""
        self._wake = anyio.Event()
        places = anyio.Semaphore(LISTINGS_AT_ONCE)
        try:
            async with anyio.create_task_group() as group:
                while True:
                    await self._wake.wait()
                    await anyio.sleep(GATHER_SECONDS)
                    self._wake = anyio.Event()
                    while self._queue:
                        await places.acquire()  # taken before popping: writes keep coalescing meanwhile
                        if not self._queue:
                            places.release()
                            break
                        _, pending = self._queue.popitem(last=False)
                        self._active += 1
                        group.start_soon(self._one, pending, places)
                    self._settle()
        finally:
            self._wake = None
            self._queue.clear()
            self._idle.set()

    async def _one(self, pending: Pending, places: anyio.Semaphore) -> None:
        try:
            await self._relist(pending)
        except Exception as exc:  # noqa: BLE001 - write-through never fails anything: the error is logged
            error = from_exception(exc)
            log.warning("inventory write-through of %s failed: %s: %s", pending.type, error.code, error.message)
        finally:
            self._active -= 1
            places.release()
            self._settle()

    def _settle(self) -> None:
        if not self._queue and not self._active:
            self._idle.set()

    async def _relist(self, pending: Pending) -> None:
        invocation = Invocation(tool="refresh_inventory", principal=pending.principal)
        token = activate(invocation)
        started = time.perf_counter()
        listed: str | None = None  # the listing's outcome, once one is made
        try:
            account = await self.executor.run_blocking(self.clients.reached_account, pending.target)
            collector = COLLECTORS[pending.type]
            cell = Cell(account, account, pending.target.region, pending.target)
            region = partition_region(cell, collector)
            if not await self.executor.run_blocking(self.inventory.holds, account, region, collector.type):
                return
            listed = "cancelled"
            job: Job = (cell, collector)
            (attempt,) = await self.fanout.run(
                [job],
                self.listings.run,
                key=lambda _: (account, cell.region, collector.service),
                concurrency=1,
                classify=lambda _, error: classify_failure(cell, error),
            )
            listed = "ok" if attempt.error is None else attempt.error.code
        finally:
            deactivate(token)
            if listed is not None:
                where = {"account": account, "region": region}
                self._audit(invocation, pending, where, listed, time.perf_counter() - started)
        if attempt.error is not None:
            log.warning(
                "inventory write-through: listing %s in %s/%s failed: %s: %s",
                collector.type,
                account,
                region,
                attempt.error.code,
                attempt.error.message,
            )

    def _audit(
        self, invocation: Invocation, pending: Pending, where: dict[str, str], outcome: str, seconds: float
    ) -> None:
        cause = {"type": pending.type, **where, "after": pending.cause}
        invocation.extra = {**invocation.extra, "background": True, "write_through": cause}
        self.audit.write(**audit_record(invocation, outcome, seconds))
