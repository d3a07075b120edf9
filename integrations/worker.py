"""The delivery worker: claims due deliveries from the outbox, sends them, settles them. One per process.

Each integration has a lane: at most `concurrency` sends in flight (1-4) and `rate_limit_per_minute` sends
started in any minute, per server process. The worker only claims what a lane can send at once, so nothing
sits claimed while waiting; a claim lasts the integration's `timeout_seconds` + LEASE_MARGIN_SECONDS, after
which another worker may take the row (the holder died). Every attempt is bounded by `timeout_seconds`, runs on
the event loop as a task of its own and touches the store only through worker threads: a slow or dead receiver
takes a lane's slots, never a tool call's.

After each attempt: the outbox row is settled (outbox.finish), the registry counts the outcome
(record_outcome: ACTIVE ⇄ ERROR), and a 410 Gone sets the integration INACTIVE. On shutdown the sends in
flight are cancelled and their claims given back, so a restarted or another replica resumes them at once.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup

from integrations.models import Integration, IntegrationSecrets, State
from integrations.outbox import Claimed, Outbox
from integrations.registry import IntegrationNotFound, IntegrationRegistry
from integrations.senders import Attempt, Senders
from observability.metrics import Metrics
from store.database import StoreUnavailable

log = logging.getLogger("aws_ops_mcp.integrations")

POLL_SECONDS = 1.0
"""How often the outbox is looked at without a wake-up (rows other replicas wrote, expired claims)."""
LEASE_MARGIN_SECONDS = 5.0
PURGE_EVERY_SECONDS = 3600.0


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lane:
    """One integration's share of this worker: sends in flight and sends started in the last minute."""

    in_flight: int = 0
    started: deque[float] = field(default_factory=deque)

    def room(self, integration: Integration, now: float) -> int:
        while self.started and self.started[0] <= now - 60:
            self.started.popleft()
        return max(
            0, min(integration.concurrency - self.in_flight, integration.rate_limit_per_minute - len(self.started))
        )

    def next_room(self, integration: Integration) -> float | None:
        """When the rate limit frees a send, if that is what holds the lane."""
        if len(self.started) >= integration.rate_limit_per_minute and self.started:
            return self.started[0] + 60
        return None


class DeliveryWorker:
    def __init__(
        self,
        registry: IntegrationRegistry,
        outbox: Outbox,
        senders: Senders,
        metrics: Metrics,
        name: str | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.registry = registry
        self.outbox = outbox
        self.senders = senders
        self.metrics = metrics
        self.name = name or worker_name()
        self.poll_seconds = poll_seconds
        self._lanes: dict[str, Lane] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._next_purge = 0.0

    def wake(self) -> None:
        """Look at the outbox now (new events were written). Thread-safe."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        async with anyio.create_task_group() as group:
            task_status.started()
            while True:
                pause = self.poll_seconds
                try:
                    pause = min(pause, await self._dispatch(group))
                except StoreUnavailable as exc:
                    log.warning("integrations: the outbox is unreachable: %s", exc)
                except Exception:
                    log.exception("integrations: the delivery worker failed; it carries on at the next poll")
                with anyio.move_on_after(max(pause, 0.01)):
                    await self._wake.wait()
                self._wake.clear()

    async def _dispatch(self, group: TaskGroup) -> float:
        """Start every send the lanes have room for; how long until the rate limit frees one, if sooner."""
        now = time.time()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY_SECONDS
            await anyio.to_thread.run_sync(self.outbox.purge)
        receiving = {
            integration.id: (integration, secrets)
            for integration, secrets in await anyio.to_thread.run_sync(self.registry.receiving)
        }
        for gone in [key for key, lane in self._lanes.items() if key not in receiving and not lane.in_flight]:
            del self._lanes[gone]
        pause = self.poll_seconds
        rooms: dict[str, int] = {}
        for integration_id, (integration, _) in receiving.items():
            lane = self._lanes.setdefault(integration_id, Lane())
            if room := lane.room(integration, time.time()):
                rooms[integration_id] = room
            elif (freed := lane.next_room(integration)) is not None:
                pause = min(pause, freed - time.time())
        # Only lanes with room look for due rows (an index seek each): a dead receiver's backlog is not scanned
        # on every wake. INACTIVE and DEPRECATED integrations are not receiving: their deliveries wait, pending.
        due = await anyio.to_thread.run_sync(self.outbox.due_among, list(rooms)) if rooms else []
        for integration_id in due:
            integration, secrets = receiving[integration_id]
            lane, room = self._lanes[integration_id], rooms[integration_id]
            lease = integration.timeout_seconds + LEASE_MARGIN_SECONDS
            claimed = await anyio.to_thread.run_sync(self.outbox.claim, integration_id, self.name, room, lease)
            for delivery in claimed:
                lane.in_flight += 1
                lane.started.append(time.time())
                group.start_soon(self._deliver, delivery, integration, secrets, lane)
        return pause

    async def _deliver(
        self, claimed: Claimed, integration: Integration, secrets: IntegrationSecrets, lane: Lane
    ) -> None:
        settled = False
        try:
            attempt = await self._attempt(claimed, integration, secrets)
            status, retry_at = await anyio.to_thread.run_sync(
                self.outbox.finish, claimed, self.name, attempt, integration.retry
            )
            settled = True
            self.metrics.integration_deliveries.labels(integration.type.value, _outcome(status)).inc()
            if status == "dead":
                log.warning(
                    "integrations: delivery %s to %s (%s) is dead after %d attempt(s): %s",
                    claimed.delivery_id,
                    integration.id,
                    integration.type.value,
                    claimed.attempts + 1,
                    attempt.error,
                )
            await self._count(integration, attempt)
            if retry_at is not None and self._loop is not None:
                self._loop.call_later(max(retry_at - time.time(), 0.0), self.wake)  # sooner than the next poll
        except StoreUnavailable as exc:
            log.warning("integrations: delivery %s not settled, its claim will expire: %s", claimed.delivery_id, exc)
        except Exception:
            log.exception("integrations: delivery %s not settled, its claim will expire", claimed.delivery_id)
        finally:
            lane.in_flight -= 1
            if not settled:
                with anyio.CancelScope(shield=True):
                    await self._release(claimed)
            self.wake()

    async def _attempt(self, claimed: Claimed, integration: Integration, secrets: IntegrationSecrets) -> Attempt:
        try:
            with anyio.fail_after(integration.timeout_seconds + 1):
                return await self.senders.send(claimed.event, integration, secrets)
        except TimeoutError:
            return Attempt(ok=False, error="timed out")
        except Exception as exc:
            log.exception(
                "integrations: the %s sender failed on delivery %s", integration.type.value, claimed.delivery_id
            )
            return Attempt(ok=False, error=f"the sender failed ({type(exc).__name__})")

    async def _count(self, integration: Integration, attempt: Attempt) -> None:
        try:
            if attempt.gone:
                await anyio.to_thread.run_sync(
                    self.registry.set_state, integration.id, State.INACTIVE, "the receiver answered 410 Gone"
                )
            else:
                await anyio.to_thread.run_sync(self.registry.record_outcome, integration.id, attempt.ok, attempt.error)
        except IntegrationNotFound:
            pass  # deleted while its delivery was in flight

    async def _release(self, claimed: Claimed) -> None:
        with contextlib.suppress(StoreUnavailable):  # else the claim expires by itself
            await anyio.to_thread.run_sync(self.outbox.release, [claimed.delivery_id], self.name)


def _outcome(status: str) -> str:
    return {"delivered": "delivered", "pending": "retry", "dead": "dead"}.get(status, "superseded")
