"""What the inventory takes and gives back: plain data, no database."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GLOBAL_REGION = "global"
"""The region of resources (and listings) that belong to no region: IAM, S3's one listing per account."""
TAGGED_TYPE = "tagged"
"""The partition type of resources found through the Resource Groups Tagging API."""
STATUSES = ("ok", "failed", "stale")


@dataclass(frozen=True)
class Resource:
    """One AWS resource as a collector saw it. `properties` must be JSON-serialisable."""

    arn: str
    account: str
    region: str
    service: str
    type: str
    name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PartitionOutcome:
    """What one listing changed. A resource that came back from a tombstone counts as added."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class InventoryPage:
    total: int
    """Every row the filter matches, whatever the cursor."""
    rows: list[dict[str, Any]]
    next_cursor: str | None
    max_staleness_seconds: float | None
    """Now minus the oldest last success among the listings that could hold matching rows; None: no listing
    that could has succeeded yet."""
    failed_partitions: list[dict[str, Any]]
    """Those listings whose status is not ok: their rows may be missing or out of date."""


@dataclass(frozen=True)
class InventoryStatus:
    partitions: list[dict[str, Any]]
    counts_by_type: dict[str, int]
    """Live rows (tombstones excluded) per resource type."""
    total: int
    oldest_success: float | None
    tombstones: int
