"""The fleet inventory: what listings found, per account, region and type, in the state database.

A listing is a partition (account, region, type). A complete one tombstones the rows of its partition it no
longer found (`deleted_at`); a failed one keeps every row and is reported beside each answer it could affect,
with how stale the answer may be. Tombstones stay a week so "what disappeared since" has an answer.
Times are epoch seconds (floats) from `clock`. Blocking: call from worker threads only.
"""

import json
import time
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update

from inventory import cursor as cursors
from inventory.ingest import CHUNK, Counts, chunks, dialect_insert, tombstone, write_chunk
from inventory.models import InventoryPage, InventoryStatus, PartitionOutcome, Resource
from inventory.queries import Filters, count_statement, covering_partitions, page_statement, plan, tags_of
from store.database import Store
from store.tables import inventory_partitions as partitions
from store.tables import inventory_resources as resources
from store.tables import inventory_tags as tags

TOMBSTONE_DAYS = 7
MAX_LIMIT = 1000
CHUNKS_PER_TRANSACTION = 10
"""10,000 rows per commit: a commit (an fsync) per chunk cost more than the writes; much longer would hold
SQLite's one write lock long enough to make a confirmation wait."""
CACHE_MIB = 16
"""SQLite's page cache while listings are written: a chunk's rows land all over the tag index (one place per tag
key and value) and the resources' indexes, more pages than the default 2 MiB holds once the inventory has a few
hundred thousand rows. Only for those transactions: pooled connections keep the default."""
ERROR_CHARS = 2000
"""A listing's error is kept this long at most (botocore messages, never credentials)."""


class Inventory:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def record_partition(
        self,
        account: str,
        region: str,
        type: str,
        resources_: Iterable[Resource],
        *,
        complete: bool,
        error: str | None = None,
        listed_since: float | None = None,
    ) -> PartitionOutcome:
        """Write one listing's resources. `complete`: the listing finished, so rows of this partition it did not
        return are tombstoned; otherwise (it failed part-way) nothing is tombstoned and the partition is marked
        failed with `error`, its last success unchanged. `listed_since`: when the listing began (`now()`); rows
        written after that (a write-through, another listing) were created while it ran, and a listing that
        began before them is no proof that they are gone."""
        now = self._clock()
        counts = Counts()
        seen: set[str] = set()
        pending = chunks(resources_)
        while batch := list(islice(pending, CHUNKS_PER_TRANSACTION)):
            with self._store.transaction(durable=False, cache_mib=CACHE_MIB) as connection:
                for chunk in batch:
                    written = write_chunk(connection, chunk, now, (region, type))
                    counts.added += written.added
                    counts.updated += written.updated
                    counts.unchanged += written.unchanged
                    seen.update(prepared.resource.arn for prepared in chunk)
        in_partition = and_(
            resources.c.account == account,
            resources.c.partition_region == region,
            resources.c.partition_type == type,
            resources.c.deleted_at.is_(None),
        )
        with self._store.transaction(durable=False) as connection:
            deleted = 0
            if complete:
                listed = (
                    in_partition if listed_since is None else and_(in_partition, resources.c.last_seen < listed_since)
                )
                live = connection.execute(select(resources.c.arn).where(listed)).scalars().all()
                gone = [arn for arn in live if arn not in seen]
                for start in range(0, len(gone), CHUNK):
                    deleted += tombstone(connection, gone[start : start + CHUNK], now)
            count = connection.execute(select(func.count()).select_from(resources).where(in_partition)).scalar_one()
            self._save_partition(connection, (account, region, type), now, complete, error, count)
        return PartitionOutcome(counts.added, counts.updated, counts.unchanged, deleted)

    def now(self) -> float:
        """The inventory's clock: what `listed_since` is measured on."""
        return self._clock()

    def holds(self, account: str, region: str, type: str) -> bool:
        """Whether a listing of this partition was ever recorded (write-through serves only those)."""
        with self._store.reading() as connection:
            found = connection.execute(
                select(partitions.c.status).where(
                    partitions.c.account == account, partitions.c.region == region, partitions.c.type == type
                )
            ).first()
        return found is not None

    def partition_keys(self) -> list[tuple[str, str, str]]:
        """Every (account, region, type) a listing was recorded for, in order."""
        with self._store.reading() as connection:
            rows = connection.execute(
                select(partitions.c.account, partitions.c.region, partitions.c.type).order_by(
                    partitions.c.account, partitions.c.region, partitions.c.type
                )
            )
            return [(row.account, row.region, row.type) for row in rows]

    def upsert(self, resources_: Iterable[Resource]) -> None:
        """Write-through after one of the server's own writes: rows keep the partition that lists them (a new
        one gets its own region and type until a listing claims it)."""
        now = self._clock()
        pending = chunks(resources_)
        while batch := list(islice(pending, CHUNKS_PER_TRANSACTION)):
            with self._store.transaction(durable=False, cache_mib=CACHE_MIB) as connection:
                for chunk in batch:
                    write_chunk(connection, chunk, now, None)

    def mark_deleted(self, arns: Iterable[str]) -> None:
        """Write-through after one of the server's own deletions: tombstones, as a complete listing would."""
        now = self._clock()
        pending = iter(dict.fromkeys(arns))
        while batch := list(islice(pending, CHUNK)):
            with self._store.transaction(durable=False) as connection:
                tombstone(connection, batch, now)

    def purge_tombstones(self, older_than_seconds: float = TOMBSTONE_DAYS * 86400) -> int:
        """Forget rows deleted longer ago than that; returns how many."""
        cutoff = self._clock() - older_than_seconds
        old = select(resources.c.arn).where(resources.c.deleted_at < cutoff)
        with self._store.transaction(durable=False) as connection:
            connection.execute(delete(tags).where(tags.c.arn.in_(old)))
            return connection.execute(delete(resources).where(resources.c.deleted_at < cutoff)).rowcount

    def mark_stale(self, older_than_seconds: float) -> int:
        """Mark ok partitions whose last success is older than that as stale; returns how many."""
        cutoff = self._clock() - older_than_seconds
        with self._store.transaction(durable=False) as connection:
            return connection.execute(
                update(partitions)
                .where(partitions.c.status == "ok", partitions.c.last_success < cutoff)
                .values(status="stale")
            ).rowcount

    def query(
        self,
        *,
        type: str | None = None,
        account: str | None = None,
        region: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        name_contains: str | None = None,
        changed_since: float | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> InventoryPage:
        """One page of resources in arn order. Every tag must match (a None value: the key with any value).
        `changed_since`: rows changed, revived or deleted since then, tombstones included; otherwise tombstones only
        with `include_deleted`. `total` counts every match; `next_cursor` resumes after this page, however
        many rows are written meanwhile. ValueError for a cursor this query did not hand out."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        filters = Filters.of(
            tags,
            type=type,
            account=account,
            region=region,
            name_contains=name_contains,
            changed_since=changed_since,
            include_deleted=include_deleted,
        )
        fingerprint = cursors.fingerprint(filters.as_dict())
        after = None if cursor is None else cursors.decode(cursor, fingerprint)
        query = plan(filters)
        with self._store.reading() as connection:
            rows = [dict(row._mapping) for row in connection.execute(page_statement(query, after, limit + 1))]
            total = connection.execute(count_statement(query)).scalar_one()
            covering = [dict(row._mapping) for row in connection.execute(covering_partitions(filters))]
            more = len(rows) > limit
            rows = rows[:limit]
            found_tags = tags_of(connection, [row["arn"] for row in rows])
        for row in rows:
            row["tags"] = found_tags[row["arn"]]
            row["properties"] = json.loads(row["properties"])
        next_cursor = cursors.encode(rows[-1]["arn"], fingerprint) if more else None
        return InventoryPage(
            total=total,
            rows=rows,
            next_cursor=next_cursor,
            max_staleness_seconds=_staleness(covering, self._clock()),
            failed_partitions=[_failure(partition) for partition in covering if partition["status"] != "ok"],
        )

    def status(self) -> InventoryStatus:
        with self._store.reading() as connection:
            listed = [
                dict(row._mapping)
                for row in connection.execute(
                    select(partitions).order_by(partitions.c.account, partitions.c.region, partitions.c.type)
                )
            ]
            counts = dict(
                connection.execute(
                    select(resources.c.type, func.count())
                    .where(resources.c.deleted_at.is_(None))
                    .group_by(resources.c.type)
                    .order_by(resources.c.type)
                ).all()
            )
            tombstones = connection.execute(
                select(func.count()).select_from(resources).where(resources.c.deleted_at.is_not(None))
            ).scalar_one()
        successes = [partition["last_success"] for partition in listed if partition["last_success"] is not None]
        return InventoryStatus(
            partitions=listed,
            counts_by_type=counts,
            total=sum(counts.values()),
            oldest_success=min(successes, default=None),
            tombstones=tombstones,
        )

    def analyze(self) -> None:
        """Refresh the planner's statistics after a bulk load (SQLite has none until its first ANALYZE;
        PostgreSQL's index-only counts need the visibility map VACUUM builds)."""
        names = [table.name for table in (resources, tags, partitions)]
        if self._store.backend == "sqlite":
            with self._store.transaction() as connection:
                for name in names:
                    connection.exec_driver_sql(f"ANALYZE {name}")
            return
        with self._store.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM: no transaction
            for name in names:
                connection.exec_driver_sql(f"VACUUM (ANALYZE) {name}")

    def _save_partition(
        self,
        connection: Connection,
        key: tuple[str, str, str],
        now: float,
        complete: bool,
        error: str | None,
        count: int,
    ) -> None:
        account, region, type_ = key
        values: dict[str, Any] = {
            "status": "ok" if complete else "failed",
            "error": None if complete else (error or "the listing did not finish")[:ERROR_CHARS],
            "last_attempt": now,
            "resource_count": count,
        }
        if complete:
            values["last_success"] = now
        row = {"account": account, "region": region, "type": type_, "last_success": None, **values}
        statement = dialect_insert(connection)(partitions).values(row)
        connection.execute(statement.on_conflict_do_update(index_elements=list(partitions.primary_key), set_=values))


def _staleness(covering: list[dict[str, Any]], now: float) -> float | None:
    successes = [partition["last_success"] for partition in covering if partition["last_success"] is not None]
    return max(0.0, now - min(successes)) if successes else None


def _failure(partition: dict[str, Any]) -> dict[str, Any]:
    return {name: partition[name] for name in ("account", "region", "type", "status", "error", "last_success")}
