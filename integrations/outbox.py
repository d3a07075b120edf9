"""The transactional outbox: an event and its deliveries written in the caller's transaction, the deliveries of an
integration read page by page, and a finished delivery queued again (replay).

Blocking (SQLAlchemy): worker threads only. A delivery is `pending` (due at `next_attempt_at`), `delivered` or
`dead` (its retries ran out); the delivery worker claims pending ones on these same tables.
"""

import base64
import binascii
import json
import math
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, insert, select, tuple_, update

from integrations.models import Delivery, EventType
from integrations.registry import IntegrationNotFound
from store.database import Store
from store.tables import integration_deliveries, integration_events, integrations

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
REPLAYABLE = frozenset({DELIVERED, DEAD})
PAGE_LIMIT = 200


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


def enqueue(
    connection: Connection,
    event_type: EventType | str,
    payload: dict[str, Any],
    integration_ids: Iterable[str],
    now: float | None = None,
) -> tuple[str, list[str]]:
    """The event and one pending delivery per integration, due now, in the caller's transaction: the event is
    sent if and only if what caused it is committed. Returns the event id (the webhook-id) and the delivery ids."""
    created = time.time() if now is None else now
    event_id = uuid.uuid4().hex
    kind = event_type.value if isinstance(event_type, EventType) else event_type
    connection.execute(
        insert(integration_events).values(id=event_id, type=kind, created_at=created, payload=json.dumps(payload))
    )
    delivery_ids = []
    for integration_id in dict.fromkeys(integration_ids):
        delivery_id = uuid.uuid4().hex
        connection.execute(
            insert(integration_deliveries).values(
                id=delivery_id,
                integration_id=integration_id,
                event_id=event_id,
                status=PENDING,
                attempts=0,
                next_attempt_at=created,
                created_at=created,
            )
        )
        delivery_ids.append(delivery_id)
    return event_id, delivery_ids


class Outbox:
    """The outbox as the API reads and changes it: deliveries of one integration, replays, test events."""

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
