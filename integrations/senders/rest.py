"""REST_API: the event as a JSON POST, authenticated per `auth`.

API_KEY sends the key in `auth.header_name`; BASIC and BEARER_TOKEN the Authorization header; AWS_SIG_V4 signs
the request with botocore's SigV4Auth for `auth.aws_service` in `auth.aws_region`, with the credentials the
server's own AwsClients hold for `auth.aws_account` (an alias; none: the server's default credentials). Getting
them may assume a role, so it runs in a worker thread.
"""

import base64
from typing import Any

import anyio
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from core.calls import Target
from core.errors import OpsError, UnknownAccount
from integrations.models import AuthType, Integration, IntegrationSecrets
from integrations.network import pinned_client
from integrations.senders.base import Attempt, OutgoingEvent, SenderContext
from integrations.senders.http import post_json

USER_AGENT = "aws-ops-mcp-integrations"


class RestApiSender:
    def __init__(self, context: SenderContext) -> None:
        self.clients = context.clients
        self.client = pinned_client(context.settings.webhook_allow_private)

    async def send(self, event: OutgoingEvent, integration: Integration, secrets: IntegrationSecrets) -> Attempt:
        body = event.body()
        headers = {
            "user-agent": USER_AGENT,
            "x-event-id": event.event_id,
            "x-event-type": event.event_type,
            "content-type": "application/json",
        }
        auth = integration.auth
        keys = secrets.auth
        if auth.type is AuthType.API_KEY:
            headers[auth.header_name] = keys.get("api_key", "")
        elif auth.type is AuthType.BASIC:
            pair = f"{auth.username or ''}:{keys.get('password', '')}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif auth.type is AuthType.BEARER_TOKEN:
            headers["authorization"] = f"Bearer {keys.get('token', '')}"
        elif auth.type is AuthType.AWS_SIG_V4:
            try:
                headers = await anyio.to_thread.run_sync(self._sigv4, integration, body, headers)
            except UnknownAccount as exc:
                return Attempt(ok=False, error=f"AWS_SIG_V4: {exc.code}", retryable=False)
            except OpsError as exc:
                return Attempt(ok=False, error=f"AWS_SIG_V4: no credentials ({exc.code})")
        return await post_json(self.client, integration.endpoint, body, headers, integration.timeout_seconds)

    def _sigv4(self, integration: Integration, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        """The headers with SigV4's (Authorization, X-Amz-Date, X-Amz-Security-Token). Blocking."""
        auth = integration.auth
        target = self.clients.resolve(Target(account=auth.aws_account, region=auth.aws_region))
        frozen = self.clients.frozen_credentials(target)
        request = AWSRequest(method="POST", url=integration.endpoint, data=body, headers=dict(headers))
        credentials = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
        SigV4Auth(credentials, auth.aws_service, auth.aws_region or target.region).add_auth(request)
        signed: dict[str, Any] = dict(request.headers.items())
        return {name: str(value) for name, value in signed.items()}

    async def aclose(self) -> None:
        await self.client.aclose()
