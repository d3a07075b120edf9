"""The fleet inventory's storage: resources per (account, region, type) listing, their tags, tombstones,
and fleet query results too large for one answer. Built on `store/` (its database and tables), nothing else
of the server's: blocking calls, from worker threads only."""

from inventory.models import (
    GLOBAL_REGION,
    TAGGED_TYPE,
    InventoryPage,
    InventoryStatus,
    PartitionOutcome,
    Resource,
)
from inventory.results import FleetResults, ResultNotFound, ResultPage
from inventory.store import Inventory

__all__ = [
    "GLOBAL_REGION",
    "TAGGED_TYPE",
    "FleetResults",
    "Inventory",
    "InventoryPage",
    "InventoryStatus",
    "PartitionOutcome",
    "Resource",
    "ResultNotFound",
    "ResultPage",
]
