"""The base of every curated service manager."""

from typing import Any

from core.calls import AwsCall, ResolvedTarget, Target
from core.executor import send
from core.invocation import current
from tooling import Runtime


class ServiceManager:
    """Base of the curated service managers: what to call, how to shape the answer, and the tools.

    Subclasses set `service` (botocore's name) and `toolset` (the tool set AWS_MCP_TOOLSETS names), declare
    their tools with `@tool(..., calls=(...))` beside the models they return, and build calls with `call()`;
    they never see credentials or clients, and every call they make passes the guard.
    """

    service: str = ""
    toolset: str = ""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.executor = runtime.executor

    def resolve(self, target: Target | ResolvedTarget) -> ResolvedTarget:
        """The target with its alias expanded and region decided; may read profile files, so blocking."""
        if isinstance(target, ResolvedTarget):
            return target
        invocation = current()
        return self.executor.clients.resolve(target, invocation.environment, invocation.principal.session_name)

    async def call(self, target: Target | ResolvedTarget, operation: str, summary: str = "", **params: Any) -> dict:
        """One guarded call of this service's `operation`; None parameters are left out."""
        kept = {name: value for name, value in params.items() if value is not None}
        _, response = await self.executor.build_and_run(
            lambda: AwsCall(self.resolve(target), self.service, operation, kept, summary), send
        )
        return response
