"""The inventory's read statements, shaped for their indexes.

A tag filter drives the query from `inventory_tags` (index key, value, live, arn): its rows come in arn order,
so a page is an index range plus one primary-key lookup per row returned, and a count that needs nothing but
tags and liveness (the `live` column copies the resource's) never touches `inventory_resources`. Without tags
the query reads `inventory_resources`; a type filter counts over (type, deleted_at, arn) alone.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, func, select, true

from inventory.models import GLOBAL_REGION, TAGGED_TYPE
from store.tables import inventory_partitions as partitions
from store.tables import inventory_resources as resources
from store.tables import inventory_tags as tags

ROW_COLUMNS = (
    "arn",
    "account",
    "region",
    "service",
    "type",
    "name",
    "properties",
    "first_seen",
    "last_seen",
    "changed_at",
    "deleted_at",
)


@dataclass(frozen=True)
class Filters:
    type: str | None = None
    account: str | None = None
    region: str | None = None
    tags: tuple[tuple[str, str | None], ...] = ()
    name_contains: str | None = None
    changed_since: float | None = None
    include_deleted: bool = False

    @classmethod
    def of(cls, tags_: Mapping[str, str | None] | None, **others: Any) -> "Filters":
        return cls(tags=tuple(sorted((tags_ or {}).items())), **others)

    @property
    def live_only(self) -> bool:
        return self.changed_since is None and not self.include_deleted

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Plan:
    source: FromClause
    order: ColumnElement[Any]
    """The arn column to order and resume on: the driving table's, so its index gives the order."""
    conditions: list[ColumnElement[bool]]
    tag_only: FromClause | None
    """What a count may read instead of `source`: the tag joins alone, when no condition needs a resource row."""
    tag_conditions: list[ColumnElement[bool]]


def plan(filters: Filters) -> Plan:
    conditions = resource_conditions(filters)
    if not filters.tags:
        if filters.live_only:
            conditions.append(resources.c.deleted_at.is_(None))
        return Plan(resources, resources.c.arn, conditions, None, [])
    ordered = sorted(filters.tags, key=lambda pair: pair[1] is None)  # a key=value pair drives, when there is one
    aliases = [tags.alias(f"t{number}") for number in range(len(ordered))]
    tag_conditions: list[ColumnElement[bool]] = []
    joined: FromClause = aliases[0]
    for alias, (key, value) in zip(aliases, ordered, strict=True):
        tag_conditions.append(alias.c.key == key)
        if value is not None:
            tag_conditions.append(alias.c.value == value)
        if alias is not aliases[0]:
            joined = joined.join(alias, alias.c.arn == aliases[0].c.arn)
    if filters.live_only:
        tag_conditions.append(aliases[0].c.live == true())
    source = joined.join(resources, resources.c.arn == aliases[0].c.arn)
    return Plan(source, aliases[0].c.arn, conditions + tag_conditions, None if conditions else joined, tag_conditions)


def resource_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.type is not None:
        conditions.append(resources.c.type == filters.type)
    if filters.account is not None:
        conditions.append(resources.c.account == filters.account)
    if filters.region is not None:
        conditions.append(resources.c.region == filters.region)
    if filters.name_contains:
        conditions.append(resources.c.name.icontains(filters.name_contains, autoescape=True))
    if filters.changed_since is not None:
        conditions.append(resources.c.changed_at >= filters.changed_since)  # a tombstone's changed_at = deleted_at
    return conditions


def page_statement(query: Plan, after: str | None, limit: int) -> Select[Any]:
    conditions = list(query.conditions)
    if after is not None:
        conditions.append(query.order > after)
    columns = [resources.c[name] for name in ROW_COLUMNS]
    return select(*columns).select_from(query.source).where(and_(*conditions)).order_by(query.order).limit(limit)


def count_statement(query: Plan) -> Select[Any]:
    if query.tag_only is not None:
        return select(func.count()).select_from(query.tag_only).where(and_(*query.tag_conditions))
    return select(func.count()).select_from(query.source).where(and_(*query.conditions))


def covering_partitions(filters: Filters) -> Select[Any]:
    """The listings whose rows could match: S3 lists every region's buckets in "global", the tagging API
    finds every type in "tagged"."""
    conditions: list[ColumnElement[bool]] = []
    if filters.account is not None:
        conditions.append(partitions.c.account == filters.account)
    if filters.region is not None:
        conditions.append(partitions.c.region.in_([filters.region, GLOBAL_REGION]))
    if filters.type is not None:
        conditions.append(partitions.c.type.in_([filters.type, TAGGED_TYPE]))
    return (
        select(partitions)
        .where(and_(true(), *conditions))
        .order_by(partitions.c.account, partitions.c.region, partitions.c.type)
    )


def tags_of(connection: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {arn: {} for arn in arns}
    if arns:
        statement = select(tags.c.arn, tags.c.key, tags.c.value).where(tags.c.arn.in_(arns))
        for row in connection.execute(statement):
            found[row.arn][row.key] = row.value
    return found
