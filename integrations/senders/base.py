"""What every sender takes and returns: one event to one integration, one attempt.

A sender makes one attempt and says how it went; it never retries, sleeps or touches the store (the delivery
worker does, integrations/worker.py). It must not raise for anything the receiver or the network did: those are
`Attempt(ok=False, ...)` with a one-line `error` that names no secret, credential or endpoint URL (a webhook URL
often is a credential). The worker bounds every attempt by the integration's `timeout_seconds` as well.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from integrations.models import Integration, IntegrationSecrets


@dataclass(frozen=True)
class OutgoingEvent:
    """One event on its way to one integration."""

    event_id: str
    """The `webhook-id`: the same on every retry and replay, so receivers deduplicate on it."""
    delivery_id: str
    event_type: str
    created_at: float
    payload: dict[str, Any]
    attempt: int = 1
    """1 for the first try."""

    def envelope(self) -> dict[str, Any]:
        """The Standard Webhooks payload shape: `type`, `timestamp`, `data`."""
        return {
            "id": self.event_id,
            "type": self.event_type,
            "timestamp": datetime.fromtimestamp(self.created_at, UTC).isoformat(timespec="milliseconds"),
            "data": self.payload,
        }

    def body(self) -> bytes:
        return json.dumps(self.envelope(), separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Attempt:
    """How one attempt went."""

    ok: bool
    status: int | None = None
    """The receiver's HTTP status, when it answered."""
    retry_after: float | None = None
    """Seconds the receiver asked to wait (Retry-After), already parsed."""
    gone: bool = False
    """The receiver answered 410 Gone: the integration is disabled (INACTIVE) and this delivery is dead."""
    error: str | None = None
    """One line for `last_error`: no secret, credential or endpoint URL."""
    retryable: bool = True
    """False for failures a retry cannot fix (4xx other than 408/429, 3xx, a refused address): dead at once."""


class Sender(Protocol):
    """Sends one event to one integration of its type. Built once per process; `aclose` at shutdown."""

    async def send(self, event: OutgoingEvent, integration: Integration, secrets: IntegrationSecrets) -> Attempt: ...

    async def aclose(self) -> None: ...


@dataclass
class SenderContext:
    """What senders may use, given by the composition root: settings (AWS_MCP_WEBHOOK_ALLOW_PRIVATE), the
    server's AWS clients (SigV4 credentials for an alias), its guarded executor and audit log (EVENT_BUS,
    MESSAGE_QUEUE)."""

    settings: Any
    clients: Any = None
    executor: Any = None
    audit: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
