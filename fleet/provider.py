"""The fleet tool set as one provider, and the background work it owns."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from fleet.inventory_tools import InventoryTools
from fleet.scheduler import Scheduler
from fleet.tools import FleetTools
from tooling import Runtime

DRAIN_POLL_SECONDS = 0.2


class Fleet(InventoryTools, FleetTools):
    """fleet_query, fleet_results, refresh_inventory, query_inventory, inventory_status on one instance, so they share
    `FleetBase`'s caches and token buckets; the inventory's write-through and scheduler run on them too."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.scheduler = Scheduler(
            self.refresh_held,
            self.inventory,
            self.results,
            runtime.store,
            runtime.audit,
            self.settings.inventory_refresh_minutes * 60,
        )
        self._background = False

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """Write-through's worker and the scheduler, while the block runs (the server's lifespan). The scheduler
        stops once the drain begins (a round in progress is cancelled; its unfinished listings keep their rows);
        write-through runs until the block ends, for the calls still finishing. A nested entry (an SSE
        connection's lifespan inside the app's) starts nothing."""
        if self._background:
            yield
            return
        self._background = True
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self.write_through.run)
                group.start_soon(self._schedule_until_drained)
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()
        finally:
            self._background = False

    async def _schedule_until_drained(self) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(self.scheduler.run)
            while not self.runtime.drain.draining:
                await anyio.sleep(DRAIN_POLL_SECONDS)
            group.cancel_scope.cancel()
