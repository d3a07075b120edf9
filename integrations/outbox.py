"""The transactional outbox: events and their deliveries in the shared store, claimed and settled by workers.

`enqueue` writes an event and one delivery per integration on the caller's connection, so they commit together
with whatever else that transaction writes (a state change, or nothing). Delivery is at-least-once: a worker
claims due rows with a conditional update (`claimed_until`, `claimed_by`; `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so concurrent replicas skip each other's rows instead of waiting), sends, and settles each row
(`finish`). A worker that dies holding claims (kill -9, a lost node) leaves them to expire: another worker, or
the restarted one, takes them then, and the receiver may see that event twice, with the same `webhook-id`.
Order is not kept, not even per integration: retries and parallel sends overtake one another.

Blocking (SQLAlchemy): worker threads only.
"""

import base64
import binascii
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, and_, delete, insert, or_, select, tuple_, update

from integrations.models import Delivery, EventType, Retry
from integrations.registry import IntegrationNotFound
from integrations.senders.base import Attempt, OutgoingEvent
from store.database import Store
from store.tables import integration_deliveries, integration_events, integrations

KEEP_SECONDS = 30 * 86400
"""Delivered and dead deliveries (and events left with none) are purged after this long."""
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
DELIVERY_STATUSES = (PENDING, DELIVERED, DEAD)
REPLAYABLE = frozenset({DELIVERED, DEAD})
PAGE_LIMIT = 200


def new_id() -> str:
    return uuid.uuid4().hex


def enqueue(
    connection: Connection,
    event_type: EventType | str,
    payload: dict[str, Any],
    integration_ids: Iterable[str],
    now: float | None = None,
) -> tuple[str, list[str]]:
    """Write an event and a pending delivery of it to each integration, on `connection` (the caller's
    transaction: the event is sent if and only if what caused it is committed): (event id, delivery ids).
    With no integration, nothing is written."""
    integration_ids = list(dict.fromkeys(integration_ids))
    if not integration_ids:
        return "", []
    now = time.time() if now is None else now
    event_id = new_id()
    kind = event_type.value if isinstance(event_type, EventType) else event_type
    connection.execute(
        insert(integration_events).values(
            id=event_id, type=kind, created_at=now, payload=json.dumps(payload, default=str)
        )
    )
    delivery_ids = [new_id() for _ in integration_ids]
    connection.execute(
        insert(integration_deliveries),
        [
            {
                "id": delivery_id,
                "integration_id": integration_id,
                "event_id": event_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for delivery_id, integration_id in zip(delivery_ids, integration_ids, strict=True)
        ],
    )
    return event_id, delivery_ids


def backoff_seconds(retry: Retry, attempts: int, rng: random.Random | None = None) -> float:
    """Full jitter: a random wait in [0, min(max_delay, initial × multiplier^(attempts-1))]."""
    ceiling = min(retry.max_delay_seconds, retry.initial_delay_seconds * retry.multiplier ** max(attempts - 1, 0))
    return (rng or random).uniform(0, ceiling)


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds until `claimed_until`."""

    delivery_id: str
    integration_id: str
    attempts: int
    claimed_until: float
    event: OutgoingEvent


class DeliveryNotFound(KeyError):
    def __str__(self) -> str:
        return f"no delivery with id {self.args[0]!r} for this integration"


class NotReplayable(ValueError):
    """Only a finished delivery (delivered or dead) is queued again; a pending one is still being tried."""


class BadCursor(ValueError):
    def __str__(self) -> str:
        return "cursor: not a cursor this API returned"


class DeliveryPage(BaseModel):
    deliveries: list[Delivery] = Field(description="The newest first")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; absent on the last")


class Outbox:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def test(self, integration_id: str, requested_by: str) -> tuple[str, str]:
        """An `integration.test` event for this integration only: (event id, delivery id)."""
        with self._store.transaction() as connection:
            name = connection.execute(
                select(integrations.c.name).where(integrations.c.id == integration_id)
            ).scalar_one_or_none()
            if name is None:
                raise IntegrationNotFound(integration_id)
            payload = {
                "type": EventType.TEST.value,
                "integration": {"id": integration_id, "name": name},
                "requested_by": requested_by,
                "summary": f"A test event for the integration {name}",
            }
            event_id, (delivery_id,) = enqueue(connection, EventType.TEST, payload, [integration_id], self._clock())
        return event_id, delivery_id

    def deliveries(
        self, integration_id: str, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> DeliveryPage:
        """One page of an integration's deliveries, the newest first, keyed on (created_at, id)."""
        limit = max(1, min(limit, PAGE_LIMIT))
        statement = (
            select(integration_deliveries, integration_events.c.type.label("event_type"))
            .join(integration_events, integration_events.c.id == integration_deliveries.c.event_id)
            .where(integration_deliveries.c.integration_id == integration_id)
            .order_by(integration_deliveries.c.created_at.desc(), integration_deliveries.c.id.desc())
            .limit(limit + 1)
        )
        if status is not None:
            statement = statement.where(integration_deliveries.c.status == status)
        if cursor is not None:
            created_at, delivery_id = _decode(cursor)
            key = tuple_(integration_deliveries.c.created_at, integration_deliveries.c.id)
            statement = statement.where(key < tuple_(created_at, delivery_id))
        with self._store.reading() as connection:
            if not _exists(connection, integration_id):
                raise IntegrationNotFound(integration_id)
            rows = connection.execute(statement).mappings().all()
        page = [_delivery(row) for row in rows[:limit]]
        more = len(rows) > limit
        return DeliveryPage(deliveries=page, next_cursor=_encode(page[-1]) if more else None)

    def delivery(self, integration_id: str, delivery_id: str) -> Delivery:
        table = integration_deliveries
        statement = (
            select(table, integration_events.c.type.label("event_type"))
            .join(integration_events, integration_events.c.id == table.c.event_id)
            .where(table.c.id == delivery_id, table.c.integration_id == integration_id)
        )
        with self._store.reading() as connection:
            row = connection.execute(statement).mappings().first()
        if row is None:
            raise DeliveryNotFound(delivery_id)
        return _delivery(row)

    def replay(self, integration_id: str, delivery_id: str) -> Delivery:
        """A delivered or dead delivery pending again, due now, its attempts reset; the event (and so the
        webhook-id) is the same, so a receiver that deduplicates sees a repeat."""
        now = self._clock()
        matches = (integration_deliveries.c.id == delivery_id) & (
            integration_deliveries.c.integration_id == integration_id
        )
        with self._store.transaction() as connection:
            if not _exists(connection, integration_id):
                raise IntegrationNotFound(integration_id)
            status = connection.execute(select(integration_deliveries.c.status).where(matches)).scalar_one_or_none()
            if status is None:
                raise DeliveryNotFound(delivery_id)
            if status not in REPLAYABLE:
                raise NotReplayable(f"delivery {delivery_id} is {status}: only delivered or dead deliveries replay")
            connection.execute(
                update(integration_deliveries)
                .where(matches)
                .values(
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    claimed_until=None,
                    claimed_by=None,
                    delivered_at=None,
                )
            )
            row = (
                connection.execute(
                    select(integration_deliveries, integration_events.c.type.label("event_type"))
                    .join(integration_events, integration_events.c.id == integration_deliveries.c.event_id)
                    .where(matches)
                )
                .mappings()
                .one()
            )
        return _delivery(row)

    def due_among(self, integration_ids: Sequence[str]) -> list[str]:
        """Those of `integration_ids` with a delivery due now that nobody holds: one index seek each
        (ix_integration_deliveries_lane), however long a dead receiver's backlog."""
        now = self._clock()
        table = integration_deliveries
        with self._store.reading() as connection:
            return [
                integration_id
                for integration_id in integration_ids
                if connection.execute(
                    select(table.c.id).where(table.c.integration_id == integration_id, _due(now)).limit(1)
                ).first()
            ]

    def next_due(self) -> float | None:
        """When the earliest pending delivery comes due (a held one counts when its claim expires)."""
        table = integration_deliveries
        with self._store.reading() as connection:
            return connection.execute(
                select(table.c.next_attempt_at).where(table.c.status == "pending").order_by(table.c.next_attempt_at)
            ).scalar()

    def claim(self, integration_id: str, worker: str, limit: int, lease_seconds: float) -> list[Claimed]:
        """Up to `limit` due deliveries of one integration, held by `worker` for `lease_seconds`."""
        now = self._clock()
        until = now + lease_seconds
        table = integration_deliveries
        with self._store.transaction() as connection:
            due = (
                select(table.c.id)
                .where(table.c.integration_id == integration_id, _due(now))
                .order_by(table.c.next_attempt_at)
                .limit(limit)
            )
            if self._store.backend == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list(connection.execute(due).scalars())
            if not ids:
                return []
            rows = (
                connection.execute(
                    update(table)
                    .where(table.c.id.in_(ids), _due(now))
                    .values(claimed_until=until, claimed_by=worker)
                    .returning(table.c.id, table.c.event_id, table.c.attempts)
                )
                .mappings()
                .all()
            )
            events = {
                row["id"]: row
                for row in connection.execute(
                    select(integration_events).where(integration_events.c.id.in_({row["event_id"] for row in rows}))
                ).mappings()
            }
        return [
            Claimed(
                delivery_id=row["id"],
                integration_id=integration_id,
                attempts=row["attempts"],
                claimed_until=until,
                event=OutgoingEvent(
                    event_id=row["event_id"],
                    delivery_id=row["id"],
                    event_type=events[row["event_id"]]["type"],
                    created_at=events[row["event_id"]]["created_at"],
                    payload=json.loads(events[row["event_id"]]["payload"]),
                    attempt=row["attempts"] + 1,
                ),
            )
            for row in rows
        ]

    def finish(self, claimed: Claimed, worker: str, attempt: Attempt, retry: Retry) -> tuple[str, float | None]:
        """Settle one attempt: delivered; pending again after a back-off (the receiver's Retry-After when
        longer); or dead once the attempt was not retryable or the last `retry.max_attempts` allows.
        Returns the status written ("" when another worker holds the row now: its outcome will count) and, when
        pending again, the time of the next attempt."""
        now = self._clock()
        attempts = claimed.attempts + 1
        table = integration_deliveries
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status": attempt.status,
            "last_error": attempt.error,
            "claimed_until": None,
            "claimed_by": None,
        }
        if attempt.ok:
            values.update(status="delivered", delivered_at=now, last_error=None)
        elif attempt.retryable and attempts < retry.max_attempts:
            wait = max(backoff_seconds(retry, attempts), attempt.retry_after or 0.0)
            values.update(status="pending", next_attempt_at=now + wait)
        else:
            values.update(status="dead")
        statement = update(table).where(table.c.id == claimed.delivery_id, table.c.status == "pending")
        if not attempt.ok:  # a delivery counts whoever holds it; a failure only from the holder
            statement = statement.where(table.c.claimed_by == worker)
        with self._store.transaction() as connection:
            changed = connection.execute(statement.values(**values)).rowcount
        if not changed:
            return "", None
        return values["status"], values.get("next_attempt_at")

    def release(self, delivery_ids: Sequence[str], worker: str) -> None:
        """Give back claims not sent (a shutdown): due again at once for any worker."""
        if not delivery_ids:
            return
        table = integration_deliveries
        with self._store.transaction() as connection:
            connection.execute(
                update(table)
                .where(table.c.id.in_(list(delivery_ids)), table.c.claimed_by == worker, table.c.status == "pending")
                .values(claimed_until=None, claimed_by=None)
            )

    def purge(self, keep_seconds: float = KEEP_SECONDS) -> int:
        """Delete settled deliveries older than `keep_seconds`, and the events left with none."""
        cutoff = self._clock() - keep_seconds
        table = integration_deliveries
        with self._store.transaction(durable=False) as connection:
            removed = connection.execute(
                delete(table).where(table.c.status != "pending", table.c.created_at < cutoff)
            ).rowcount
            orphaned = select(table.c.id).where(table.c.event_id == integration_events.c.id).exists()
            connection.execute(delete(integration_events).where(integration_events.c.created_at < cutoff, ~orphaned))
        return removed


def _due(now: float) -> Any:
    table = integration_deliveries
    return and_(
        table.c.status == "pending",
        table.c.next_attempt_at <= now,
        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
    )


def _exists(connection: Connection, integration_id: str) -> bool:
    return connection.execute(select(integrations.c.id).where(integrations.c.id == integration_id)).first() is not None


def _delivery(row: Any) -> Delivery:
    return Delivery(**{name: row[name] for name in Delivery.model_fields})


def _encode(delivery: Delivery) -> str:
    return base64.urlsafe_b64encode(json.dumps([delivery.created_at, delivery.id]).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[float, str]:
    try:
        created_at, delivery_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError):
        raise BadCursor(cursor) from None
    if not isinstance(created_at, int | float) or not math.isfinite(created_at) or not isinstance(delivery_id, str):
        raise BadCursor(cursor)
    return float(created_at), delivery_id
