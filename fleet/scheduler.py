"""The server's own periodic work: the inventory's optional background refresh, and housekeeping.

Background refresh (AWS_MCP_INVENTORY_REFRESH_MINUTES; 0, the default, is off): one interval after start-up and
then an interval after each round ends, every partition the inventory holds is listed again (`refresh`), as the
server's own principal `system:inventory` (the viewer role: reads only, the policy applies as to anyone), on the
fleet fan-out: the same threads and token buckets as the fleet tools. Each round is one audit record, like a
`refresh_inventory` call. Replicas take turns: a round runs only where `RoundLock` is taken (a PostgreSQL
advisory lock; on SQLite, one process, an in-process lock), and a replica that does not get it skips the round.

Housekeeping (always, a minute after start-up and then every HOUSEKEEPING_SECONDS; a few indexed deletes): the
inventory's tombstones older than 7 days and expired fleet results are purged, and with the background refresh
on, partitions without a successful listing for STALE_AFTER_ROUNDS intervals are marked stale.
"""

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from core.errors import from_exception
from core.invocation import Invocation, Principal, activate, deactivate
from guard.audit import AuditLog
from inventory.results import FleetResults
from inventory.store import Inventory
from observability.logs import get_logger
from store.database import Store
from store.locks import RoundLock
from tooling import audit_record

log = get_logger(__name__)

SYSTEM = Principal("system:inventory", "system", role="viewer")
"""Who the background refresh is, in the audit and to the policy."""
REFRESH_LOCK = "inventory/background-refresh"
HOUSEKEEPING_SECONDS = 600.0
HOUSEKEEPING_DELAY_SECONDS = 60.0
STALE_AFTER_ROUNDS = 3
ROUNDS_KEPT = 100


@dataclass(frozen=True)
class Round:
    """One background refresh round as this process saw it (monotonic seconds; a round that ran: while it held
    the lock)."""

    started: float
    finished: float
    ran: bool
    """False: another replica held the lock, so this one skipped the round."""
    outcome: str


class Scheduler:
    def __init__(
        self,
        refresh: Callable[[Invocation], Awaitable[Any]],
        inventory: Inventory,
        results: FleetResults,
        store: Store,
        audit: AuditLog,
        refresh_seconds: float,
    ) -> None:
        self.refresh = refresh
        self.inventory = inventory
        self.results = results
        self.store = store
        self.audit = audit
        self.refresh_seconds = refresh_seconds
        self.rounds: deque[Round] = deque(maxlen=ROUNDS_KEPT)

    async def run(self) -> None:
        """Until cancelled."""
        now = time.monotonic()
        next_refresh = now + self.refresh_seconds if self.refresh_seconds else math.inf
        next_housekeeping = now + HOUSEKEEPING_DELAY_SECONDS
        while True:
            await anyio.sleep(max(0.0, min(next_refresh, next_housekeeping) - time.monotonic()))
            if time.monotonic() >= next_housekeeping:
                await self.housekeep()
                next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
            if time.monotonic() >= next_refresh:
                await self.refresh_round()
                next_refresh = time.monotonic() + self.refresh_seconds

    async def refresh_round(self) -> bool:
        """One round, if this replica gets the lock; whether it ran."""
        started = time.monotonic()
        lock = RoundLock(self.store, REFRESH_LOCK)
        try:
            taken = await anyio.to_thread.run_sync(lock.try_acquire)
        except Exception as exc:  # noqa: BLE001 - the database is down: this round is skipped, the next one tries
            log.warning("background inventory refresh skipped: %s", from_exception(exc).message)
            taken = False
        if not taken:
            self.rounds.append(Round(started, time.monotonic(), False, "skipped"))
            return False
        started = time.monotonic()
        outcome = "cancelled"
        try:
            outcome = await self._audited_refresh()
        finally:
            finished = time.monotonic()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lock.release)
            self.rounds.append(Round(started, finished, True, outcome))
        return True

    async def _audited_refresh(self) -> str:
        invocation = Invocation(tool="refresh_inventory", principal=SYSTEM)
        token = activate(invocation)
        started = time.perf_counter()
        outcome = "cancelled"  # until the round ends otherwise (the drain or shutdown cut it)
        try:
            await self.refresh(invocation)
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - a failed round is logged and audited; the next one runs anyway
            error = from_exception(exc)
            outcome = error.code
            log.warning("background inventory refresh failed: %s: %s", error.code, error.message)
        finally:
            deactivate(token)
            invocation.extra = {**invocation.extra, "background": True}
            self.audit.write(**audit_record(invocation, outcome, time.perf_counter() - started))
        return outcome

    async def housekeep(self) -> None:
        """Purge what expired; mark partitions the background refresh should have listed by now stale."""
        try:
            tombstones = await anyio.to_thread.run_sync(self.inventory.purge_tombstones)
            results = await anyio.to_thread.run_sync(self.results.purge)
            stale = 0
            if self.refresh_seconds:
                stale = await anyio.to_thread.run_sync(
                    self.inventory.mark_stale, STALE_AFTER_ROUNDS * self.refresh_seconds
                )
        except Exception as exc:  # noqa: BLE001 - housekeeping runs again in HOUSEKEEPING_SECONDS
            log.warning("inventory housekeeping failed: %s", from_exception(exc).message)
            return
        if tombstones or results or stale:
            log.info(
                "inventory housekeeping: %d tombstones and %d fleet results purged, %d partitions stale",
                tombstones,
                results,
                stale,
            )
