"""Fleet query results too large for one answer: stored under a random handle, paged by the principal who ran
the query and nobody else, forgotten after their time to live."""

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from inventory.ingest import to_json
from store.database import Store
from store.tables import fleet_result_items as items_table
from store.tables import fleet_results

BATCH = 1000
MAX_LIMIT = 1000


class ResultNotFound(KeyError):
    """No such handle for this principal: unknown, expired or someone else's, told apart to nobody."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "result not found"


@dataclass(frozen=True)
class ResultPage:
    summary: dict[str, Any]
    items: list[Any]
    total: int
    next_offset: int | None


class FleetResults:
    """Blocking: call from worker threads only."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def save(self, principal: str, summary: dict[str, Any], items: list[Any], ttl_seconds: float = 3600) -> str:
        """Store a result; its handle (128 random bits, URL-safe)."""
        handle = secrets.token_urlsafe(16)
        now = self._clock()
        with self._store.transaction() as connection:
            connection.execute(
                fleet_results.insert().values(
                    handle=handle,
                    principal=principal,
                    created_at=now,
                    expires_at=now + ttl_seconds,
                    summary=to_json(summary),
                    item_count=len(items),
                )
            )
            for start in range(0, len(items), BATCH):
                rows = [
                    {"handle": handle, "position": start + offset, "item": to_json(item)}
                    for offset, item in enumerate(items[start : start + BATCH])
                ]
                connection.execute(items_table.insert(), rows)
        return handle

    def page(self, handle: str, principal: str, offset: int = 0, limit: int = 100) -> ResultPage:
        """Items [offset, offset + limit) of a result; `ResultNotFound` unless `principal` saved it and it has
        not expired."""
        if offset < 0 or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"offset must be 0 or more and limit between 1 and {MAX_LIMIT}")
        with self._store.reading() as connection:
            found = connection.execute(
                select(fleet_results.c.summary, fleet_results.c.item_count).where(
                    fleet_results.c.handle == handle,
                    fleet_results.c.principal == principal,
                    fleet_results.c.expires_at > self._clock(),
                )
            ).first()
            if found is None:
                raise ResultNotFound(
                    f"no fleet result {handle!r} for you: it expired or never existed; run the query again"
                )
            page = connection.execute(
                select(items_table.c.item)
                .where(
                    items_table.c.handle == handle,
                    items_table.c.position >= offset,
                    items_table.c.position < offset + limit,
                )
                .order_by(items_table.c.position)
            ).scalars()
            items = [json.loads(item) for item in page]
        following = offset + limit
        return ResultPage(
            summary=json.loads(found.summary),
            items=items,
            total=found.item_count,
            next_offset=following if following < found.item_count else None,
        )

    def purge(self) -> int:
        """Forget expired results; returns how many."""
        now = self._clock()
        expired = select(fleet_results.c.handle).where(fleet_results.c.expires_at <= now)
        with self._store.transaction() as connection:
            connection.execute(delete(items_table).where(items_table.c.handle.in_(expired)))
            return connection.execute(delete(fleet_results).where(fleet_results.c.expires_at <= now)).rowcount
