"""WEBHOOK: Standard Webhooks (https://www.standardwebhooks.com/), signed with the `standardwebhooks` package.

`webhook-id` is the event id (the same on every retry and replay), `webhook-timestamp` the attempt's time
(receivers refuse stale ones), `webhook-signature` one `v1,<base64 HMAC-SHA256 of id.timestamp.body>` per live
signing secret, space-separated: during a rotation's overlap the old and new secrets both sign.
"""

import time
from datetime import UTC, datetime

from standardwebhooks import Webhook

from integrations.models import Integration, IntegrationSecrets
from integrations.network import pinned_client
from integrations.senders.base import Attempt, OutgoingEvent, SenderContext
from integrations.senders.http import post_json

USER_AGENT = "aws-ops-mcp-webhooks"


def signed_headers(event_id: str, body: bytes, secrets: list[str], now: float | None = None) -> dict[str, str]:
    timestamp = datetime.fromtimestamp(int(time.time() if now is None else now), UTC)
    data = body.decode()
    signatures = " ".join(Webhook(secret).sign(event_id, timestamp, data) for secret in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }


class WebhookSender:
    def __init__(self, context: SenderContext) -> None:
        self.client = pinned_client(context.settings.webhook_allow_private)

    async def send(self, event: OutgoingEvent, integration: Integration, secrets: IntegrationSecrets) -> Attempt:
        if not secrets.signing:
            return Attempt(ok=False, error="the integration has no signing secret", retryable=False)
        body = event.body()
        headers = {"user-agent": USER_AGENT, **signed_headers(event.event_id, body, secrets.signing)}
        return await post_json(self.client, integration.endpoint, body, headers, integration.timeout_seconds)

    async def aclose(self) -> None:
        await self.client.aclose()
