"""The integrations tool set: `list_integrations` and `integration_health`, for admins only (`roles=("admin",)`:
other roles neither see nor may call them). Reads of the registry the REST API (web/integrations.py) manages."""

from typing import Annotated

from pydantic import BaseModel, Field

from core.errors import NotFound
from integrations.models import Health, IntegrationType, State
from integrations.registry import IntegrationNotFound
from tooling import Runtime, tool

ADMIN_ONLY = ("admin",)


class IntegrationSummary(BaseModel):
    id: str
    name: str
    type: IntegrationType
    state: State
    state_reason: str | None
    enabled: bool
    endpoint: str
    events: list[str]
    consecutive_failures: int
    updated_at: float


class Integrations(BaseModel):
    integrations: list[IntegrationSummary]


class IntegrationTools:
    """The process's one registry (runtime.integrations): the tools read it, the REST API changes it."""

    toolset = "integrations"

    def __init__(self, runtime: Runtime) -> None:
        self.executor = runtime.executor
        self.registry = runtime.integrations.registry

    @tool("List integrations", idempotent=True, roles=ADMIN_ONLY)
    async def list_integrations(self) -> Integrations:
        """Where audit events go (webhooks, REST APIs, EventBridge, SQS/SNS), with each one's state."""
        found = await self.executor.run_blocking(self.registry.all)
        fields = set(IntegrationSummary.model_fields)
        return Integrations(
            integrations=[IntegrationSummary(**integration.model_dump(include=fields)) for integration in found]
        )

    @tool("Integration health", idempotent=True, roles=ADMIN_ONLY)
    async def integration_health(
        self, integration_id: Annotated[str, Field(max_length=64, description="From list_integrations")]
    ) -> Health:
        """An integration's state and its latest health check results."""
        return await self.executor.run_blocking(self._health, integration_id)

    def _health(self, integration_id: str) -> Health:
        try:
            return self.registry.health(integration_id)
        except IntegrationNotFound as missing:
            raise NotFound(str(missing), hint="list_integrations shows the integrations") from None
