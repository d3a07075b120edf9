"""Writing listings into the inventory: one chunk of resources per transaction, change detection by digest.

A chunk's transaction reads the rows it is about to write (by arn), then writes only what differs: new and
changed rows through one INSERT ... ON CONFLICT DO UPDATE executemany, unchanged ones through one UPDATE of
last_seen, tags deleted and inserted only for arns whose tags changed. Short transactions keep SQLite's one
write lock free for the other writers (spent confirmations) between chunks.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, false, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from inventory import bulk
from inventory.models import TAGGED_TYPE, Resource
from store.tables import inventory_resources as resources
from store.tables import inventory_tags as tags

CHUNK = 1000
"""Resources per transaction (and per IN list)."""


class Prepared(NamedTuple):
    """A resource with its canonical JSON and digest (tags' 16 hex digits, then name and properties' 16). A tuple:
    one per row listed, cheaper to build than a frozen dataclass."""

    resource: Resource
    properties: str
    digest: str

    @property
    def tags_digest(self) -> str:
        return self.digest[:16]


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
"""Built once: json.dumps with any option builds a new encoder per call, a third of the ingest's time."""


def to_json(value: Any) -> str:
    """Canonical JSON: equal values, equal text (hence equal digests). Non-JSON values (datetimes) as strings."""
    return _ENCODER.encode(value)


def prepare(resource: Resource) -> Prepared:
    properties = _ENCODER.encode(resource.properties)
    name = "\x01" if resource.name is None else resource.name
    tags_text = "\0".join([f"{key}\1{value}" for key, value in sorted(resource.tags.items())])  # no \0 in tags
    return Prepared(resource, properties, _hash(tags_text) + _hash(f"{name}\0{properties}"))


def chunks(resources_: Iterable[Resource], size: int = CHUNK) -> Iterator[list[Prepared]]:
    """Prepared resources in chunks, each arn once per chunk (the last one given wins)."""
    chunk: dict[str, Prepared] = {}
    for resource in resources_:
        chunk[resource.arn] = prepare(resource)
        if len(chunk) >= size:
            yield list(chunk.values())
            chunk = {}
    if chunk:
        yield list(chunk.values())


def dialect_insert(connection: Connection) -> Any:
    return sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert


def write_chunk(connection: Connection, chunk: list[Prepared], now: float, partition: tuple[str, str] | None) -> Counts:
    """Upsert `chunk`. `partition` (region, type) is the listing's: it claims the rows it lists (a "tagged"
    listing claims only rows nobody else holds). None (a write-through) keeps an existing row's partition and
    gives a new row the partition of its own region and type."""
    counts = Counts()
    existing = {
        row[0]: row
        for row in bulk.select_in(
            connection, resources, EXISTING_COLUMNS, "arn", [prepared.resource.arn for prepared in chunk]
        )
    }
    writes: list[tuple[bool, tuple[Any, ...]]] = []
    new_tags: list[Prepared] = []
    replaced_tags: list[str] = []
    revived_tags: list[str] = []
    touched: list[str] = []
    claimed: list[str] = []
    for prepared in chunk:
        resource = prepared.resource
        old = existing.get(resource.arn)
        if old is None:
            counts.added += 1
            new_tags.append(prepared)
            writes.append((partition is not None, _row(prepared, now, partition)))
            continue
        _, old_digest, deleted_at, partition_type = old
        if deleted_at is not None:
            counts.added += 1
            if old_digest[:16] != prepared.tags_digest:
                replaced_tags.append(resource.arn)
                new_tags.append(prepared)
            else:
                revived_tags.append(resource.arn)
        elif old_digest != prepared.digest:
            counts.updated += 1
            if old_digest[:16] != prepared.tags_digest:
                replaced_tags.append(resource.arn)
                new_tags.append(prepared)
        else:
            counts.unchanged += 1
            if partition is not None and _claims(partition, partition_type):
                claimed.append(resource.arn)
            else:
                touched.append(resource.arn)
            continue
        claim = partition is not None and (deleted_at is not None or _claims(partition, partition_type))
        writes.append((claim, _row(prepared, now, partition)))
    if writes:
        _upsert_rows(connection, writes)
    if replaced_tags:
        connection.execute(tags.delete().where(tags.c.arn.in_(replaced_tags)))
    if new_tags:
        _insert_tags(connection, new_tags)
    if revived_tags:
        connection.execute(update(tags).where(tags.c.arn.in_(revived_tags)).values(live=true()))
    if touched:
        connection.execute(update(resources).where(resources.c.arn.in_(touched)).values(last_seen=now))
    if claimed and partition is not None:
        connection.execute(
            update(resources)
            .where(resources.c.arn.in_(claimed))
            .values(last_seen=now, partition_region=partition[0], partition_type=partition[1])
        )
    return counts


def tombstone(connection: Connection, arns: list[str], now: float) -> int:
    """Mark live rows deleted (changed_at too: a disappearance is a change); returns how many were live."""
    if not arns:
        return 0
    marked = connection.execute(
        update(resources)
        .where(resources.c.arn.in_(arns), resources.c.deleted_at.is_(None))
        .values(deleted_at=now, changed_at=now)
    ).rowcount
    connection.execute(update(tags).where(tags.c.arn.in_(arns)).values(live=false()))
    return marked


def _claims(partition: tuple[str, str], current_type: str) -> bool:
    return partition[1] != TAGGED_TYPE or current_type == TAGGED_TYPE


def _row(prepared: Prepared, now: float, partition: tuple[str, str] | None) -> tuple[Any, ...]:
    """In the order of ROW_COLUMNS."""
    resource = prepared.resource
    region, type_ = partition if partition is not None else (resource.region, resource.type)
    return (
        resource.arn,
        resource.account,
        resource.region,
        resource.service,
        resource.type,
        resource.name,
        prepared.properties,
        prepared.digest,
        region,
        type_,
        now,
        now,
        now,
        None,
    )


ROW_COLUMNS = (
    "arn",
    "account",
    "region",
    "service",
    "type",
    "name",
    "properties",
    "digest",
    "partition_region",
    "partition_type",
    "first_seen",
    "last_seen",
    "changed_at",
    "deleted_at",
)
assert set(ROW_COLUMNS) == set(resources.c.keys())
EXISTING_COLUMNS = ("arn", "digest", "deleted_at", "partition_type")
"""What a chunk reads of the rows it is about to write, in this order."""
CLAIMING_UPDATE = tuple(name for name in ROW_COLUMNS if name not in ("arn", "first_seen"))
KEEPING_UPDATE = tuple(name for name in CLAIMING_UPDATE if name not in ("partition_region", "partition_type"))
TAG_COLUMNS = ("arn", "key", "value", "live")


def _upsert_rows(connection: Connection, writes: list[tuple[bool, tuple[Any, ...]]]) -> None:
    """New, changed and revived rows. first_seen stays; the partition moves only for rows the listing claims."""
    for claim, update_columns in ((True, CLAIMING_UPDATE), (False, KEEPING_UPDATE)):
        rows = [row for claims, row in writes if claims is claim]
        bulk.upsert(connection, resources, ROW_COLUMNS, rows, ("arn",), update_columns)


def _insert_tags(connection: Connection, prepared: list[Prepared]) -> None:
    rows = [(item.resource.arn, key, value, True) for item in prepared for key, value in item.resource.tags.items()]
    bulk.upsert(connection, tags, TAG_COLUMNS, rows, ("arn", "key"), ("value", "live"))


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
