"""Integrations as the server runs them: the registry, the outbox, the event writer, the delivery worker and the
health checker.

Built once per process by the composition root (server.py `build_app`), subscribed to the audit log at once;
`running()` starts the writer thread, the worker and the health checks and stops them: the HTTP app's lifespan
(http_app.py) or, over stdio, the MCP server's. A registry state change announces itself
(`integration.state_changed`) in the transaction that makes it.
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from sqlalchemy import Connection

from config import Settings
from guard.audit import AuditLog
from integrations.aws import AwsRoute
from integrations.events import Event, Filter, state_change_payload
from integrations.health import HealthChecker
from integrations.models import EventType
from integrations.outbox import Outbox, enqueue
from integrations.registry import IntegrationRegistry, Transition, receiving_in
from integrations.senders import SenderContext, Senders
from integrations.worker import DeliveryWorker
from integrations.writer import EventWriter
from observability.metrics import Metrics
from store.database import Store

STOP_SECONDS = 5.0
"""At shutdown, how long queued events may take to reach the outbox."""


class IntegrationService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        audit: AuditLog,
        metrics: Metrics,
        clients: Any = None,
        executor: Any = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.filter = Filter(settings)
        self.registry = IntegrationRegistry(store, on_transition=self._announce)
        self.outbox = Outbox(store)
        self.sender_context = SenderContext(settings, clients, executor, audit=audit)
        self.health = HealthChecker(
            self.registry, AwsRoute(executor, audit), allow_private=settings.webhook_allow_private
        )
        self.worker: DeliveryWorker | None = None
        self.writer = EventWriter(store, self.filter, metrics, settings.integration_queue_size, self.wake)
        audit.subscribe(self.writer.offer)

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The writer and the worker, for as long as the server serves; stopped promptly on the way out."""
        senders = Senders(self.sender_context)
        self.worker = DeliveryWorker(self.registry, self.outbox, senders, self.metrics)
        self.writer.start()
        try:
            async with anyio.create_task_group() as group:
                await group.start(self.worker.run)
                group.start_soon(self.health.run, anyio.Event())  # until the group is cancelled
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.writer.stop, STOP_SECONDS)
                await senders.aclose()
            self.worker = None

    def _announce(self, connection: Connection, transition: Transition) -> None:
        """The registry's hook, inside the transaction that changes the state."""
        event = Event(
            EventType.STATE_CHANGED,
            state_change_payload(
                transition.integration_id,
                transition.name,
                transition.old.value,
                transition.new.value,
                transition.reason,
            ),
        )
        targets = [
            integration.id
            for integration, _ in receiving_in(connection, time.time())
            if self.filter.accepts(integration, event)
        ]
        enqueue(connection, event.type.value, event.payload, targets)
        self.wake()
