"""The fleet tools: `fleet_query` (one read over accounts × regions) and `fleet_results` (page a stored result)."""

import time
from typing import Annotated, Any

from pydantic import BaseModel, Field

from catalog.classify import OpClass
from catalog.models import operation_model, paginator_config
from core.calls import AwsCall, ResolvedTarget
from core.errors import InvalidInput, NotARead, NotFound
from core.invocation import Invocation, current
from core.payload import prepare
from fleet.base import FleetBase, progress_reporter
from fleet.query import (
    Cell,
    FleetQueryResult,
    TargetReader,
    TargetResult,
    counts,
    elapsed_ms,
    fit_results,
    run_matrix,
)
from fleet.regions import GLOBAL_REGION
from fleet.selectors import ACCOUNTS_DESCRIPTION, REGIONS_DESCRIPTION, AccountsSpec, RegionsSpec, region_patterns
from generic.api import GenericApi, compile_query, resolve_names
from inventory.results import FleetResults, ResultNotFound, ResultPage
from tooling import ANY_READ, Runtime, tool

RESULT_TTL_SECONDS = 3600.0
RESULTS_PAGE_LIMIT = 1000

Accounts = Annotated[AccountsSpec, Field(description=ACCOUNTS_DESCRIPTION)]
Regions = Annotated[RegionsSpec, Field(description=REGIONS_DESCRIPTION)]


class FleetResultsPage(BaseModel):
    handle: str
    summary: dict[str, Any]
    results: list[dict[str, Any]]
    offset: int
    total: int
    next_offset: int | None = None


class FleetTools(FleetBase):
    """fleet_query and fleet_results (tool set "fleet")."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.api = GenericApi(self.executor, self.guard, runtime.files, self.settings.max_output_bytes)
        self.results = FleetResults(runtime.store)

    @tool("Query the fleet", calls=ANY_READ, idempotent=True)
    async def fleet_query(
        self,
        service: Annotated[str, Field(description="e.g. ec2")],
        operation: Annotated[str, Field(description="A read, e.g. DescribeInstances")],
        accounts: Accounts,
        regions: Regions,
        payload: Annotated[dict[str, Any] | None, Field(description="Parameters (API names)")] = None,
        query: Annotated[str | None, Field(description="JMESPath per target")] = None,
        max_concurrency: Annotated[int | None, Field(ge=1, le=1024)] = None,
        dry_run: bool = False,
    ) -> FleetQueryResult:
        """One read in many accounts × regions: each target's data or error kind. fleet_results pages large
        answers."""
        started = time.perf_counter()
        service, operation = resolve_names(service, operation)
        model = operation_model(service, operation)
        try:
            patterns = region_patterns(regions)
        except ValueError as problem:
            raise InvalidInput(f"regions: {problem}") from None
        compiled = compile_query(query, "query")
        invocation = current()
        params = await self.executor.run_blocking(self._prepared, model, payload or {})
        op_class = self.guard.classify(AwsCall(ResolvedTarget(region=GLOBAL_REGION), service, operation, params))
        if op_class is not OpClass.READ:
            raise NotARead(
                f"{service}:{operation} is classed {op_class.value}: fleet_query runs reads only",
                hint="run writes per account with execute, which asks before destroying",
            )
        fleet = await self.executor.run_blocking(self.planner.accounts, accounts, invocation)
        cells = await self.matrix.cells(fleet, patterns, service)
        concurrency = min(max_concurrency or self.settings.fleet_concurrency, self.settings.fleet_concurrency)
        summary: dict[str, Any] = {
            "service": service,
            "operation": operation,
            "accounts": len({cell.account for cell in cells}),
            "regions": sorted({cell.region for cell in cells}),
            "targets": len(cells),
            "dry_run": dry_run,
        }
        invocation.extra = {"operation": f"{service}:{operation}", "class": op_class.value, "fleet": summary}
        if dry_run:
            results = [self._planned(cell) for cell in cells]
            planned = self._answer(service, operation, results, started, invocation, summary, 0, dry_run=True)
            return await self._store_if_large(planned, invocation)
        reader = TargetReader(
            self.executor,
            self.guard,
            self.api,
            model,
            params,
            self.settings.fleet_max_items,
            operation in paginator_config(service),
            compiled,
        )
        results = await run_matrix(
            cells,
            reader,
            self.fanout,
            concurrency,
            self.settings.fleet_max_items,
            progress_reporter(invocation),
        )
        denied = {rule: n for rule, n in reader.decisions.items() if rule != "allow"}
        summary.update(aws_calls=reader.calls, denied=denied)
        return await self._store_if_large(
            self._answer(service, operation, results, started, invocation, summary, reader.calls), invocation
        )

    @tool("Page a stored fleet result", idempotent=True, changes_state=False)
    async def fleet_results(
        self,
        handle: Annotated[str, Field(min_length=8, max_length=64)],
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> FleetResultsPage:
        """The rest of a fleet_query result, from `offset` (kept an hour, for its caller only)."""
        subject = current().principal.subject
        budget = self.settings.max_output_bytes
        page = await self.executor.run_blocking(self._page, handle, subject, offset)
        results = [TargetResult.model_validate(item) for item in page.items]
        shown = max(1, fit_results(results, budget - 2_000)) if results else 0
        following = offset + shown
        return FleetResultsPage(
            handle=handle,
            summary=page.summary,
            results=[result.model_dump(mode="json") for result in results[:shown]],
            offset=offset,
            total=page.total,
            next_offset=following if following < page.total else None,
        )

    def _save(self, subject: str, answer: FleetQueryResult) -> str:
        """In a worker thread: a thousand targets' data is megabytes of JSON to make and write."""
        summary = answer.model_dump(mode="json", exclude={"results"})
        items = [result.model_dump(mode="json") for result in answer.results]
        return self.results.save(subject, summary, items, RESULT_TTL_SECONDS)

    def _page(self, handle: str, subject: str, offset: int) -> ResultPage:
        try:
            return self.results.page(handle, subject, offset, RESULTS_PAGE_LIMIT)
        except ResultNotFound:
            raise NotFound(
                f"no fleet result {handle!r} for this caller (results are kept an hour)", hint="run fleet_query again"
            ) from None

    def _prepared(self, model: Any, payload: dict[str, Any]) -> dict[str, Any]:
        return dict(prepare(model.input_shape, payload, self.runtime.files).params)

    @staticmethod
    def _planned(cell: Cell) -> TargetResult:
        if cell.error is not None:
            return TargetResult(
                account=cell.account, account_name=cell.label, region=cell.region, status="error",
                kind=cell.error.kind, code=cell.error.code, message=cell.error.message,
            )  # fmt: skip
        return TargetResult(account=cell.account, account_name=cell.label, region=cell.region, status="planned")

    def _answer(
        self,
        service: str,
        operation: str,
        results: list[TargetResult],
        started: float,
        invocation: Invocation,
        summary: dict[str, Any],
        calls: int,
        dry_run: bool = False,
    ) -> FleetQueryResult:
        tally = counts(results)
        summary["counts"] = tally
        planned = sum(1 for result in results if result.status == "planned")
        return FleetQueryResult(
            service=service,
            operation=operation,
            dry_run=dry_run,
            targets=len(results),
            aws_calls=planned if dry_run else calls,
            counts=tally,
            duration_ms=elapsed_ms(started),
            results=results,
            shown=len(results),
        )

    async def _store_if_large(self, answer: FleetQueryResult, invocation: Invocation) -> FleetQueryResult:
        budget = self.settings.max_output_bytes - 2_000
        shown = fit_results(answer.results, budget)
        if shown == len(answer.results):
            return answer
        handle = await self.executor.run_blocking(self._save, invocation.principal.subject, answer)
        invocation.extra["fleet"]["stored"] = handle
        return answer.model_copy(
            update={
                "results": answer.results[:shown],
                "shown": shown,
                "handle": handle,
                "note": (
                    f"{shown} of {len(answer.results)} results fit in this answer (AWS_MCP_MAX_OUTPUT_BYTES); "
                    f"fleet_results(handle={handle!r}, offset={shown}) returns the rest. Narrow with query "
                    "(JMESPath per target) to see more at once."
                ),
            }
        )
