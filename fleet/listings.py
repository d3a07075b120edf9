"""One inventory listing: a collector run in one (account, region) cell, its partition written.

`refresh_inventory`, the background refresh and write-through all list this way: each operation the collector
may call passes the guard as a read for the cell's account first, under a scratch invocation (the caller's
principal, a record of its own), then the listing runs in a worker thread of the fleet executor and its partition
is recorded, with the time it began, so it tombstones nothing written while it ran.
"""

import dataclasses
from typing import Any

from catalog.classify import OpClass
from core.calls import AwsCall, ResolvedTarget
from core.clients import AwsClients
from core.errors import NotARead
from core.executor import AwsExecutor
from core.invocation import activate, current, deactivate
from fleet.query import Cell
from guard.guard import Guard
from inventory.collectors import CollectContext, Collector, Truncated
from inventory.models import GLOBAL_REGION, PartitionOutcome
from inventory.store import Inventory

Job = tuple[Cell, Collector]
Listed = tuple[int, PartitionOutcome, bool]
"""How many resources, what changed, whether the listing was cut at the cap."""


def partition_region(cell: Cell, collector: Collector) -> str:
    return GLOBAL_REGION if collector.scope == "global" else cell.region


class Listings:
    def __init__(
        self, executor: AwsExecutor, guard: Guard, clients: AwsClients, inventory: Inventory, max_items: int
    ) -> None:
        self.executor = executor
        self.guard = guard
        self.clients = clients
        self.inventory = inventory
        self.max_items = max_items

    async def run(self, job: Job) -> Listed:
        """The fan-out's work for one job; failures come back as `OpsError`s."""
        scratch = dataclasses.replace(current(), calls=[], extra={})
        token = activate(scratch)
        try:
            return await self.executor.run_blocking(self._list, *job, abandon=True)
        finally:
            deactivate(token)

    def record_failures(self, failed: list[tuple[str, str, str, str]]) -> None:
        """(account, region, type, error) of listings that failed before writing anything: marked failed."""
        for account, region, type_, error in failed:
            self.inventory.record_partition(account, region, type_, [], complete=False, error=error)

    def _list(self, cell: Cell, collector: Collector) -> Listed:
        target: ResolvedTarget = cell.target  # type: ignore[assignment]
        for operation in collector.operations:
            call = AwsCall(target, collector.service, operation, {}, f"inventory {collector.type}")
            if self.guard.check(call) is not OpClass.READ:
                raise NotARead(f"{collector.service}:{operation} is not a read for account {cell.account}")
        region = partition_region(cell, collector)
        context = CollectContext(cell.account, region, lambda service: self._client(target, service), self.max_items)
        started = self.inventory.now()
        try:
            listed = collector.collect(context)
        except Truncated as cut:
            outcome = self.inventory.record_partition(
                cell.account,
                region,
                collector.type,
                cut.resources,
                complete=False,
                error="more resources than the cap",
                listed_since=started,
            )
            return len(cut.resources), outcome, True
        outcome = self.inventory.record_partition(
            cell.account, region, collector.type, listed, complete=True, listed_since=started
        )
        return len(listed), outcome, False

    def _client(self, target: ResolvedTarget, service: str) -> Any:
        return self.clients.client(target, service)
