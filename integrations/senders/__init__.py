"""Senders by integration type: `Senders.send` dispatches on `integration.type`.

`FACTORIES` maps each outbound type to a function `SenderContext -> Sender`; a type without a sender in this
build answers a non-retryable failure naming it, so its deliveries go dead (and can be replayed) rather than
spin. See `base.py` for the contract.
"""

from collections.abc import Callable

from integrations.models import Integration, IntegrationSecrets, IntegrationType
from integrations.senders.aws import event_bus_sender, message_queue_sender
from integrations.senders.base import Attempt, OutgoingEvent, Sender, SenderContext
from integrations.senders.rest import RestApiSender
from integrations.senders.webhook import WebhookSender

FACTORIES: dict[IntegrationType, Callable[[SenderContext], Sender]] = {
    IntegrationType.WEBHOOK: WebhookSender,
    IntegrationType.REST_API: RestApiSender,
    IntegrationType.EVENT_BUS: event_bus_sender,
    IntegrationType.MESSAGE_QUEUE: message_queue_sender,
}


class Senders:
    def __init__(self, context: SenderContext) -> None:
        self._senders = {kind: factory(context) for kind, factory in FACTORIES.items()}

    async def send(self, event: OutgoingEvent, integration: Integration, secrets: IntegrationSecrets) -> Attempt:
        sender = self._senders.get(integration.type)
        if sender is None:
            return Attempt(ok=False, error=f"no sender for {integration.type.value} in this server", retryable=False)
        return await sender.send(event, integration, secrets)

    async def aclose(self) -> None:
        for sender in self._senders.values():
            await sender.aclose()


__all__ = ["FACTORIES", "Attempt", "OutgoingEvent", "Sender", "SenderContext", "Senders"]
