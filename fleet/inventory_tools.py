"""The inventory tools: `refresh_inventory` (list resources across accounts × regions into the store),
`query_inventory` (answer from the store in milliseconds) and `inventory_status`.

A refresh runs every (account, region, collector) listing on the fan-out of fleet_query: the same selectors,
limits, progress and per-target errors. Each listing's operations pass the guard as reads for that account
before it starts. A listing that completes replaces its partition (what vanished gets a tombstone, kept 7 days);
one that fails, or passes the per-target cap, keeps the partition's rows and marks it failed, so queries report
it as stale instead of losing resources. `refresh_held` lists every partition the inventory holds again (the
background refresh, fleet/scheduler.py).
"""

import dataclasses
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from catalog.classify import OpClass
from core.calls import Target
from core.errors import InvalidInput
from core.invocation import Invocation, current
from fleet.base import FleetBase, progress_reporter
from fleet.fanout import TargetError
from fleet.listings import Job, Listings, partition_region
from fleet.query import classify_failure, elapsed_ms
from fleet.selectors import ACCOUNTS_DESCRIPTION, REGIONS_DESCRIPTION, AccountsSpec, RegionsSpec, region_patterns
from fleet.write_through import WriteThrough
from inventory.collectors import COLLECTORS, Collector
from inventory.store import Inventory
from tooling import ANY_READ, Runtime, tool

FAILURES_SHOWN = 50


class RefreshFailure(BaseModel):
    account: str
    region: str
    type: str
    kind: str
    code: str
    message: str


class RefreshResult(BaseModel):
    listings: int
    counts: dict[str, int]
    resources: dict[str, int]
    changes: dict[str, int]
    failures: list[dict[str, str]] = Field(description=f"The first {FAILURES_SHOWN}")
    duration_ms: float


class InventoryRows(BaseModel):
    total: int
    rows: list[dict[str, Any]]
    next_cursor: str | None = None
    max_staleness_seconds: float | None = Field(None, description="null: never listed")
    failed_partitions: list[dict[str, Any]] = Field(description="Their rows may be stale")


class InventoryOverview(BaseModel):
    total: int
    counts_by_type: dict[str, int]
    tombstones: int
    oldest_success: str | None = None
    partitions: list[dict[str, Any]]
    types: list[str]


class InventoryTools(FleetBase):
    """refresh_inventory, query_inventory, inventory_status (tool set "fleet")."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.inventory = Inventory(runtime.store)
        self.listings = Listings(self.executor, self.guard, self.clients, self.inventory, self.settings.fleet_max_items)
        self.write_through = WriteThrough(
            self.executor, self.clients, self.inventory, self.listings, self.fanout, runtime.audit
        )
        runtime.executor.on_success(self.write_through.observe)

    @tool("Refresh the resource inventory", calls=ANY_READ, idempotent=True)
    async def refresh_inventory(
        self,
        accounts: Annotated[AccountsSpec, Field(description=ACCOUNTS_DESCRIPTION)],
        regions: Annotated[RegionsSpec, Field(description=REGIONS_DESCRIPTION)],
        types: Annotated[list[str] | None, Field(description="Default all: see inventory_status")] = None,
        max_concurrency: Annotated[int | None, Field(ge=1, le=1024)] = None,
    ) -> RefreshResult:
        """List resources into the inventory (core types, everything tagged); a failed listing keeps its rows."""
        started = time.perf_counter()
        chosen = self._collectors(types)
        try:
            patterns = region_patterns(regions)
        except ValueError as problem:
            raise InvalidInput(f"regions: {problem}") from None
        invocation = current()
        fleet = await self.executor.run_blocking(self.planner.accounts, accounts, invocation)
        jobs: list[Job] = []
        for collector in chosen:
            scoped = ("*",) if collector.scope == "global" else patterns
            jobs += [(cell, collector) for cell in await self.matrix.cells(fleet, scoped, _cell_service(collector))]
        concurrency = min(max_concurrency or self.settings.fleet_concurrency, self.settings.fleet_concurrency)
        return await self._refresh(jobs, concurrency, invocation, started)

    async def refresh_held(self, invocation: Invocation) -> RefreshResult:
        """List again every partition the inventory holds (the background refresh), each account reached as a
        refresh names it: through the alias whose account it is, else by its id (AWS_MCP_ORG_ROLE_NAME)."""
        started = time.perf_counter()
        held: dict[str, dict[str, set[str]]] = {}
        for account, region, type_ in await self.executor.run_blocking(self.inventory.partition_keys):
            if type_ in COLLECTORS:
                held.setdefault(account, {}).setdefault(type_, set()).add(region)
        jobs: list[Job] = []
        if held:
            aliases = await self.executor.run_blocking(self._aliases_by_account, invocation)
            names = [aliases.get(account, account) for account in held]
            fleet = await self.executor.run_blocking(self.planner.accounts, names, invocation)
            for account, reached in zip(held, fleet, strict=True):
                reached = dataclasses.replace(reached, account_id=reached.account_id or account)
                for type_, regions in held[account].items():
                    collector = COLLECTORS[type_]
                    scoped = ("*",) if collector.scope == "global" else tuple(sorted(regions))
                    cells = await self.matrix.cells([reached], scoped, _cell_service(collector))
                    jobs += [(cell, collector) for cell in cells if partition_region(cell, collector) in regions]
        return await self._refresh(jobs, self.settings.fleet_concurrency, invocation, started)

    async def _refresh(
        self, jobs: list[Job], concurrency: int, invocation: Invocation, started: float
    ) -> RefreshResult:
        """Run the listings on the fan-out; failures recorded, the audit summary on `invocation`."""
        callable_jobs = [job for job in jobs if job[0].error is None]
        attempts = await self.fanout.run(
            callable_jobs,
            self.listings.run,
            key=lambda job: (job[0].account, job[0].region, job[1].service),
            concurrency=concurrency,
            classify=lambda job, error: classify_failure(job[0], error),
            on_progress=progress_reporter(invocation),
        )
        outcome = dict(zip(map(id, callable_jobs), attempts, strict=True))
        failures: list[RefreshFailure] = []
        counts: dict[str, int] = {}
        resources: dict[str, int] = {}
        changes = {"added": 0, "updated": 0, "unchanged": 0, "deleted": 0}
        failed: list[tuple[str, str, str, str]] = []
        for job in jobs:
            cell, collector = job
            attempt = outcome.get(id(job))
            error = cell.error or (attempt.error if attempt is not None else None)
            if error is None and attempt is not None and attempt.value is not None:
                listed, written, truncated = attempt.value
                resources[collector.type] = resources.get(collector.type, 0) + listed
                for name in changes:
                    changes[name] += getattr(written, name)
                if truncated:
                    error = TargetError("output_truncated", "output_truncated", f"more than {listed} resources")
            if error is None:
                counts["ok"] = counts.get("ok", 0) + 1
                continue
            counts[error.kind] = counts.get(error.kind, 0) + 1
            region = partition_region(cell, collector)
            failures.append(RefreshFailure(account=cell.account, region=region, type=collector.type, **error.__dict__))
            if error.kind != "output_truncated":  # a listing cut at the cap was recorded as failed already
                failed.append((cell.account, region, collector.type, f"{error.code}: {error.message}"))
        if failed:
            await self.executor.run_blocking(self.listings.record_failures, failed)
        invocation.extra = {
            "class": OpClass.READ.value,
            "fleet": {"listings": len(jobs), "counts": counts, "resources": resources, "changes": changes},
        }
        return RefreshResult(
            listings=len(jobs),
            counts=dict(sorted(counts.items())),
            resources=dict(sorted(resources.items())),
            changes=changes,
            failures=[failure.model_dump() for failure in failures[:FAILURES_SHOWN]],
            duration_ms=elapsed_ms(started),
        )

    def _aliases_by_account(self, invocation: Invocation) -> dict[str, str]:
        """The configured aliases by the account each reaches (its role's, else its credentials' identity: one
        GetCallerIdentity per credentials, cached); an alias that cannot say is left out."""
        found: dict[str, str] = {}
        for alias in sorted(self.settings.accounts):
            try:
                target = self.clients.resolve(Target(account=alias), invocation.environment, None)
                account = target.role_account or self.clients.reached_account(target)
            except Exception:  # noqa: BLE001 - an alias without working credentials: reached by id, or reported
                continue
            found.setdefault(account, alias)
        return found

    @tool("Query the resource inventory", idempotent=True, changes_state=False)
    async def query_inventory(
        self,
        type: Annotated[str | None, Field(description="e.g. ec2:instance")] = None,
        account: Annotated[str | None, Field(pattern=r"^\d{12}$")] = None,
        region: str | None = None,
        tags: Annotated[
            dict[str, str | None] | None,
            Field(description="All must match; null: any value"),
        ] = None,
        name_contains: Annotated[str | None, Field(max_length=256)] = None,
        changed_since: Annotated[datetime | None, Field(description="Deleted ones included")] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Field(max_length=2048)] = None,
    ) -> InventoryRows:
        """Resources from the inventory: exact total, a page, a cursor, staleness."""
        since = None
        if changed_since is not None:
            since = (changed_since if changed_since.tzinfo else changed_since.replace(tzinfo=UTC)).timestamp()
        arguments = {
            "type": type,
            "account": account,
            "region": region,
            "tags": tags,
            "name_contains": name_contains,
            "changed_since": since,
            "limit": limit,
            "cursor": cursor,
        }
        page = await self.executor.run_blocking(self._query, arguments)
        return InventoryRows(
            total=page.total,
            rows=page.rows,
            next_cursor=page.next_cursor,
            max_staleness_seconds=page.max_staleness_seconds,
            failed_partitions=page.failed_partitions,
        )

    @tool("Show the inventory's state", idempotent=True, changes_state=False)
    async def inventory_status(self) -> InventoryOverview:
        """Resources per type, listings and their status, the oldest data, the known types."""
        status = await self.executor.run_blocking(self.inventory.status)
        oldest = None
        if status.oldest_success is not None:
            oldest = datetime.fromtimestamp(status.oldest_success, UTC).isoformat()
        return InventoryOverview(
            total=status.total,
            counts_by_type=status.counts_by_type,
            tombstones=status.tombstones,
            oldest_success=oldest,
            partitions=status.partitions,
            types=list(COLLECTORS),
        )

    def _query(self, arguments: dict[str, Any]) -> Any:
        try:
            return self.inventory.query(**arguments)
        except ValueError as problem:
            raise InvalidInput(str(problem), hint="start again without cursor") from None

    def _collectors(self, types: list[str] | None) -> list[Collector]:
        if not types:
            return list(COLLECTORS.values())
        unknown = [name for name in types if name not in COLLECTORS]
        if unknown:
            raise InvalidInput(f"unknown resource type {', '.join(map(repr, unknown))}; types: {', '.join(COLLECTORS)}")
        return [COLLECTORS[name] for name in dict.fromkeys(types)]


def _cell_service(collector: Collector) -> str:
    """The service whose regions a collector's cells cover; a global collector gets one cell per account."""
    return "iam" if collector.scope == "global" else collector.service
