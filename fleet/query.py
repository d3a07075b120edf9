"""`fleet_query`: one read operation, every target, each result or error accounted for.

Each target's call runs like any other guarded call (classification and policy for that account, the caller's
role), in a worker thread, but under a per-target invocation of its own: the audit gets one record for the whole
fleet query (targets, counts, denials, duration), not one line of a thousand entries.
"""

import dataclasses
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import jmespath.exceptions
import jmespath.parser
from botocore.model import OperationModel
from pydantic import BaseModel, Field

from catalog.classify import OpClass
from core.calls import AwsCall, ResolvedTarget
from core.errors import NotARead, OpsError
from core.executor import AwsExecutor
from core.invocation import activate, current, deactivate
from fleet.fanout import Attempt, FanOut, TargetError, error_kind
from fleet.regions import DEFAULT_ENABLED
from generic.api import GenericApi, Pagination
from guard.guard import Guard


class TargetResult(BaseModel):
    account: str
    account_name: str | None = None
    region: str
    status: Literal["ok", "error", "planned"]
    kind: str | None = None
    code: str | None = None
    message: str | None = None
    data: Any = None
    seconds: float | None = None


class FleetQueryResult(BaseModel):
    service: str
    operation: str
    dry_run: bool = False
    targets: int
    aws_calls: int = Field(description="Made; dry_run: at least this many")
    counts: dict[str, int]
    duration_ms: float
    results: list[TargetResult]
    shown: int
    handle: str | None = Field(None, description="For fleet_results")
    note: str | None = None


@dataclass(frozen=True)
class Cell:
    """One target of the matrix."""

    account: str
    label: str
    region: str
    target: ResolvedTarget | None
    error: TargetError | None = None
    """Known before any call (the account cannot be reached, the region is not enabled)."""


class Read(NamedTuple):
    """What one target answered: its data (the query applied), whether pages were left, and why the query
    failed on this data, if it did."""

    data: Any
    truncated: bool
    query_problem: str | None = None


class TargetReader:
    """The read each target gets: guard check (read only), the call, pages up to the per-target cap, the
    JMESPath query: all in the worker thread, so a thousand targets' data never costs the event loop."""

    def __init__(
        self,
        executor: AwsExecutor,
        guard: Guard,
        api: GenericApi,
        model: OperationModel,
        params: dict[str, Any],
        max_items: int,
        paginated: bool,
        query: jmespath.parser.ParsedResult | None = None,
    ) -> None:
        self.executor = executor
        self.guard = guard
        self.api = api
        self.model = model
        self.params = params
        self.pagination = Pagination(max_items) if paginated else None
        self.query = query
        self.calls = 0
        self._counting = threading.Lock()  # `calls` goes up in the fan-out's worker threads
        self.decisions: Counter[str] = Counter()

    async def read(self, cell: Cell) -> Read:
        """One target's read, under an invocation of its own."""
        assert cell.target is not None
        parent = current()
        scratch = dataclasses.replace(parent, calls=[], extra={})
        token = activate(scratch)
        try:
            return await self.executor.run_blocking(self._blocking, cell.target, abandon=True)
        finally:
            deactivate(token)
            for call in scratch.calls:
                self.decisions[call["rule"] if call["decision"] == "deny" else "allow"] += 1

    def _blocking(self, target: ResolvedTarget) -> Read:
        service, operation = self.model.service_model.service_name, self.model.name
        call = AwsCall(target, service, operation, self.params, f"fleet {service} {operation}")
        op_class = self.guard.check(call)
        if op_class is not OpClass.READ:
            raise NotARead(f"{service}:{operation} is classed {op_class.value} for account {target.role_account}")
        client = self.executor.clients.client(target, service)
        with self._counting:
            self.calls += 1
        data, next_token, _, _ = self.api.send(client, self.model, self.params, self.pagination)
        truncated = next_token is not None
        if self.query is None:
            return Read(data, truncated)
        try:
            return Read(self.query.search(data), truncated)
        except jmespath.exceptions.JMESPathError as error:
            return Read(None, truncated, _query_problem(error))


def classify_failure(cell: Cell, error: OpsError) -> str:
    return error_kind(error, optional_region=cell.region not in DEFAULT_ENABLED)


async def run_matrix(
    cells: list[Cell],
    reader: TargetReader,
    fanout: FanOut,
    concurrency: int,
    max_items: int,
    on_progress: Callable[[int, int], Awaitable[None]] | None,
) -> list[TargetResult]:
    callable_cells = [cell for cell in cells if cell.error is None]
    attempts = await fanout.run(
        callable_cells,
        reader.read,
        key=lambda cell: (cell.account, cell.region, reader.model.service_model.service_name),
        concurrency=concurrency,
        classify=classify_failure,
        on_progress=on_progress,
    )
    outcome = dict(zip((id(cell) for cell in callable_cells), attempts, strict=True))
    return [_result(cell, outcome.get(id(cell)), max_items) for cell in cells]


def _result(cell: Cell, attempt: Attempt[Read] | None, cap: int) -> TargetResult:
    base = {"account": cell.account, "account_name": cell.label, "region": cell.region}
    error = cell.error or (attempt.error if attempt else None)
    seconds = attempt.seconds if attempt else None
    if error is not None:
        return TargetResult(
            **base, status="error", kind=error.kind, code=error.code, message=error.message, seconds=seconds
        )
    assert attempt is not None and attempt.value is not None
    data, truncated, query_problem = attempt.value
    if query_problem is not None:
        message = f"query failed on this target's data: {query_problem}"
        return TargetResult(
            **base, status="error", kind="error", code="invalid_query", message=message, seconds=seconds
        )
    if truncated:
        message = f"more than {cap} items: the first {cap} are here (AWS_MCP_FLEET_MAX_ITEMS_PER_TARGET)"
        return TargetResult(
            **base,
            status="error",
            kind="output_truncated",
            code="output_truncated",
            message=message,
            data=data,
            seconds=seconds,
        )
    return TargetResult(**base, status="ok", data=data, seconds=seconds)


def _query_problem(error: jmespath.exceptions.JMESPathError) -> str:
    """What went wrong, without the value it went wrong on (a type error's message holds all of it)."""
    if isinstance(error, jmespath.exceptions.JMESPathTypeError):
        expected = " or ".join(error.expected_types)
        return f"{error.function_name}() expects {expected}, got {error.actual_type}"
    return str(error)


def counts(results: list[TargetResult]) -> dict[str, int]:
    tally = Counter("ok" if r.status == "ok" else (r.kind or r.status) for r in results)
    return dict(sorted(tally.items()))


def fit_results(results: list[TargetResult], budget: int) -> int:
    """How many results, in order, fit in `budget` bytes of JSON."""
    used = 0
    for shown, result in enumerate(results):
        used += len(json.dumps(result.model_dump(mode="json"), default=str)) + 2
        if used > budget:
            return shown
    return len(results)


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
