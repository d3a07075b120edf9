"""Audit records → events in the outbox, without ever holding up a tool call.

`offer` is an audit listener: it maps the record to events (integrations/events.py, a few dictionary reads) and
puts them on a bounded in-memory queue without waiting. One thread drains the queue in batches and writes each
event with its deliveries in one transaction (integrations/outbox.py), choosing the integrations in that same
transaction. The queue holds AWS_MCP_INTEGRATION_QUEUE_SIZE events: when the store is slower than the events
come (or unreachable), it fills, and an event that finds it full is dropped, counted in
`aws_mcp_integration_events_dropped_total` and logged (one line per OVERFLOW_LOG_SECONDS with the count). That
is the only place an event can be lost; once in the outbox it is delivered or dead-lettered. A batch the store
refuses is retried every second until it is written or the server stops.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from integrations.events import Event, Filter, events_for
from integrations.outbox import enqueue
from integrations.registry import receiving_in
from observability.metrics import Metrics
from store.database import Store, StoreUnavailable

log = logging.getLogger("aws_ops_mcp.integrations")

BATCH = 200
OVERFLOW_LOG_SECONDS = 10.0
RETRY_SECONDS = 1.0


class EventWriter:
    def __init__(
        self,
        store: Store,
        accepts: Filter,
        metrics: Metrics,
        size: int,
        on_written: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._filter = accepts
        self._metrics = metrics
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=size)
        self._on_written = on_written
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._overflow_lock = threading.Lock()
        self._unlogged_drops = 0
        self._last_drop_log = 0.0
        self.dropped = 0

    def offer(self, record: dict[str, Any]) -> None:
        """The audit listener: never blocks, never raises."""
        for event in events_for(record):
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self._overflowed()

    def _overflowed(self) -> None:
        self._metrics.integration_events_dropped.inc()
        with self._overflow_lock:
            self.dropped += 1
            self._unlogged_drops += 1
            now = time.monotonic()
            if now - self._last_drop_log < OVERFLOW_LOG_SECONDS:
                return
            count, self._unlogged_drops, self._last_drop_log = self._unlogged_drops, 0, now
        log.error(
            "integrations: %d event(s) dropped, the queue of %d is full (the state database is slow or down); "
            "raise AWS_MCP_INTEGRATION_QUEUE_SIZE or look at the database",
            count,
            self._queue.maxsize,
        )

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="integration-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued (for up to `timeout` seconds), then end the thread. Blocking."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        left = self._queue.qsize()
        if left:
            log.error("integrations: %d event(s) not written to the outbox at shutdown", left)

    def _run(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write_until_done(batch)

    def _write_until_done(self, batch: list[Event]) -> None:
        while True:
            try:
                if self.write(batch):
                    self._on_written()
                return
            except StoreUnavailable as exc:
                log.warning("integrations: %d event(s) wait for the state database: %s", len(batch), exc)
            except Exception:
                log.exception("integrations: %d event(s) could not be written", len(batch))
                return
            if self._stopping.wait(RETRY_SECONDS):
                log.error("integrations: %d event(s) not written to the outbox at shutdown", len(batch))
                return

    def write(self, batch: list[Event]) -> int:
        """Each event and its deliveries, in one transaction: the number of deliveries written. Blocking."""
        written = 0
        with self._store.transaction() as connection:
            now = self._clock()
            receiving = [integration for integration, _ in receiving_in(connection, now)]
            for event in batch:
                targets = [integration.id for integration in receiving if self._filter.accepts(integration, event)]
                written += len(enqueue(connection, event.type.value, event.payload, targets, now)[1])
        return written
