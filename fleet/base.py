"""What every fleet tool shares: one planner (and its organization cache), one target matrix (and its enabled-regions
cache) and one fan-out (and its per (account, region, service) token buckets), so that fleet queries and inventory
refreshes keep one pace and list the organization once."""

import contextlib
from collections.abc import Awaitable, Callable

from core.invocation import Invocation
from fleet.fanout import Buckets, FanOut
from fleet.matrix import Matrix
from fleet.organization import Organization
from fleet.plan import Planner
from tooling import Runtime


class FleetBase:
    toolset = "fleet"

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.settings = settings
        self.runtime = runtime
        self.executor = runtime.fleet_executor
        self.clients = runtime.clients
        self.guard = runtime.guard
        self.planner = Planner(settings, runtime.clients, Organization())
        self.matrix = Matrix(self.executor, runtime.clients)
        self.fanout = FanOut(Buckets(settings.fleet_rate_per_second), settings.fleet_target_timeout_seconds)


def progress_reporter(invocation: Invocation) -> Callable[[int, int], Awaitable[None]] | None:
    """`targets done / total` to the client, when the call has an MCP context (the SDK sends nothing unless the
    client asked for progress)."""
    ctx = invocation.context
    if ctx is None:
        return None

    async def report(done: int, total: int) -> None:
        with contextlib.suppress(Exception):  # a client gone away does not fail the query
            await ctx.report_progress(done, total, f"{done}/{total} targets")

    return report
