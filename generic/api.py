"""The engine under `execute`, the AWS CLI tools and the high-level s3 commands: any botocore operation as
one guarded call (`GenericApi.call`), and its presentation (`GenericApi.present`).

`call` prepares the payload (base64 blobs, `{"$path"}` files), passes the guard and makes the call,
paginated with botocore's paginators (`max_items`, `next_token`), in one worker-thread hop; it gives
back masked JSON and the next token. `present` applies JMESPath and the AWS_MCP_MAX_OUTPUT_BYTES cap
and says what was left out. A fan-out needs the first without the second.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import jmespath
import jmespath.exceptions
from botocore import serialize, xform_name
from botocore.client import BaseClient
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel
from botocore.validate import ParamValidator
from pydantic import BaseModel, ConfigDict, Field

from catalog.classify import OpClass
from catalog.models import operation_model, paginator_config
from catalog.names import CatalogError, resolve_operation
from core.calls import AwsCall, ResolvedTarget, Target
from core.errors import PARAMETER_VALUE, InvalidInput, UnknownOperation
from core.executor import AwsExecutor
from core.files import LocalFiles
from core.invocation import current
from core.output import Truncation, dumps, fit, to_json
from core.payload import Prepared, prepare
from guard.audit import redact_params
from guard.guard import Guard

DEFAULT_MAX_ITEMS = 100
MAX_ITEMS_LIMIT = 10_000
SUMMARY_LIMIT = 300
QUERY_PROBLEM_LIMIT = 500


class ApiOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(None, description="JMESPath applied to the result, e.g. Buckets[].Name")
    max_items: int | None = Field(
        None, ge=1, le=MAX_ITEMS_LIMIT, description=f"Items from a paginated operation (default {DEFAULT_MAX_ITEMS})"
    )
    next_token: str | None = Field(None, description="next_token of the previous result, to continue")


class ValidationReport(BaseModel):
    valid: bool
    service: str
    operation: str
    op_class: str
    policy: Literal["allow", "deny"]
    policy_rule: str
    needs_confirmation: bool
    errors: list[str] = Field(description="What is wrong, each naming the field")
    filled_idempotency_tokens: list[str] = Field(description="Idempotency token members invoke would generate")
    http_request: str | None = Field(None, description="Method and path the request would use")
    local_files: list[str] = []


class ApiResult(BaseModel):
    service: str
    operation: str
    op_class: str
    target: dict[str, str | None]
    result: Any
    next_token: str | None = Field(None, description="More items exist: repeat with options.next_token set to this")
    truncation: Truncation | None = None
    idempotency_tokens: dict[str, str] | None = None
    local_files: list[str] | None = None


@dataclass(frozen=True)
class Pagination:
    max_items: int
    starting_token: str | None = None
    page_size: int | None = None

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"MaxItems": self.max_items}
        if self.starting_token:
            config["StartingToken"] = self.starting_token
        if self.page_size:
            config["PageSize"] = self.page_size
        return config


def resolve_names(service: str, operation: str) -> tuple[str, str]:
    try:
        return resolve_operation(service, operation)
    except CatalogError as error:
        raise UnknownOperation(str(error)) from None


def compile_query(query: str | None, parameter: str = "options.query") -> jmespath.parser.ParsedResult | None:
    """`parameter`: the query's name in the tool's arguments, for the error."""
    if not query:
        return None
    try:
        return jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as error:
        problem = str(error)
    except RecursionError:
        problem = "it nests too deeply"
    if len(problem) > QUERY_PROBLEM_LIMIT:
        problem = problem[: QUERY_PROBLEM_LIMIT - 1] + "…"
    raise InvalidInput(
        f"{parameter} is not valid JMESPath: {problem}", hint="e.g. Reservations[].Instances[].InstanceId"
    )


def describe_call(service: str, operation: str, params: dict[str, Any]) -> str:
    """One line for confirmations and errors, secret-looking values masked: the parameters with long lists
    summarised by their counts, then every removal the call makes, listed, so a short line never hides one."""
    shown = redact_params(params, f"{service}:{operation}")
    text = f"{service} {operation} {dumps(_summarised(shown))}"
    if len(text) > SUMMARY_LIMIT:
        text = text[: SUMMARY_LIMIT - 1] + "…"
    removals = list(_removals(shown))
    if removals:
        listed = "; ".join(_clipped(dumps(removal), REMOVAL_LIMIT) for removal in removals[:MAX_LISTED_REMOVALS])
        more = len(removals) - MAX_LISTED_REMOVALS
        text += f" — removes {len(removals)}: {listed}" + (f"; and {more} more" if more > 0 else "")
    return text


REMOVAL_LIMIT = 160
MAX_LISTED_REMOVALS = 50
REMOVING_ACTIONS = frozenset({"DELETE", "DELETE_IF_EXISTS", "REMOVE"})
REMOVING_KEYS = frozenset({"DeleteRequest", "Delete"})


def _removals(value: Any) -> Any:
    """The parts of a payload that remove something: `{"Action": "DELETE", ...}` entries (Route53 batches and
    the like) and DynamoDB `DeleteRequest`/`Delete` items."""
    if isinstance(value, dict):
        if str(value.get("Action", "")).upper() in REMOVING_ACTIONS:
            yield value
            return
        for key, item in value.items():
            if key in REMOVING_KEYS:
                yield {key: item}
            else:
                yield from _removals(item)
    elif isinstance(value, list):
        for item in value:
            yield from _removals(item)


def _summarised(value: Any) -> Any:
    """Lists of more than three items become their count and first two."""
    if isinstance(value, dict):
        return {key: _summarised(item) for key, item in value.items()}
    if isinstance(value, list):
        if len(value) > 3:
            return [f"{len(value)} items", *(_summarised(item) for item in value[:2]), "…"]
        return [_summarised(item) for item in value]
    return value


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fill_idempotency_tokens(model: OperationModel, params: dict[str, Any]) -> dict[str, str]:
    """Generate the idempotency tokens the model marks and the caller left out (botocore would too)."""
    filled = {name: str(uuid.uuid4()) for name in model.idempotent_members if name not in params}
    params.update(filled)
    return filled


def check_params(model: OperationModel, params: dict[str, Any]) -> tuple[list[str], str | None]:
    """botocore's validation and serialization, without a client or a network: (errors, "METHOD /path")."""
    report = ParamValidator().validate(params, model.input_shape) if model.input_shape else None
    if report is not None and report.has_errors():
        lines = PARAMETER_VALUE.sub("value: <redacted>, type:", report.generate_report()).splitlines()
        return [line for line in lines if line.strip()], None
    try:
        serializer = serialize.create_serializer(model.service_model.resolved_protocol, include_validation=False)
        request = serializer.serialize_to_request(params, model)
    except (ParamValidationError, ValueError, TypeError, KeyError) as error:
        return [f"the parameters cannot be serialized: {type(error).__name__}"], None
    return [], f"{request['method']} {request['url_path']}"


@dataclass(frozen=True)
class Request:
    """One AWS operation to run, as the generic tools describe it."""

    target: Target | ResolvedTarget
    model: OperationModel
    payload: dict[str, Any]
    pagination: "Pagination | None" = None
    query: jmespath.parser.ParsedResult | None = None
    base64_blobs: bool = True
    """False when blobs already hold raw text or bytes (what the AWS CLI parser produces)."""
    summary: str | None = None


@dataclass(frozen=True)
class Response:
    """A guarded call's outcome before presentation: JSON with credential secrets masked."""

    request: Request
    call: AwsCall
    data: Any
    next_token: str | None = None
    idempotency_tokens: dict[str, str] = field(default_factory=dict)
    local_files: list[str] = field(default_factory=list)
    approximate_bytes: int = 0


class GenericApi:
    """Any operation of any service botocore knows, through the guard."""

    def __init__(self, executor: AwsExecutor, guard: Guard, files: LocalFiles, max_output_bytes: int) -> None:
        self.executor = executor
        self.guard = guard
        self.files = files
        self.max_output_bytes = max_output_bytes

    def resolve(self, target: Target | ResolvedTarget) -> ResolvedTarget:
        """Blocking: a profile's region may come from its config file."""
        if isinstance(target, ResolvedTarget):
            return target
        invocation = current()
        return self.executor.clients.resolve(target, invocation.environment, invocation.principal.session_name)

    async def call(self, request: Request | Callable[[], Request], executor: AwsExecutor | None = None) -> Response:
        """Prepare the payload (see core.payload), pass the guard and make the call, in one worker-thread hop.

        `request` may be a function that makes the request (parsing a command line, say): it runs in that
        same hop. `executor` is a nested one for a fan-out.
        """
        made: list[tuple[Request, Prepared]] = []

        def build() -> AwsCall:
            wanted = request() if callable(request) else request
            service, operation = wanted.model.service_model.service_name, wanted.model.name
            prepared = prepare(wanted.model.input_shape, wanted.payload, self.files, base64_blobs=wanted.base64_blobs)
            made.append((wanted, prepared))
            params = prepared.params
            summary = wanted.summary or describe_call(service, operation, params)
            return AwsCall(self.resolve(wanted.target), service, operation, params, summary)

        def send(call: AwsCall, client: BaseClient) -> tuple[Any, str | None, dict[str, str], int]:
            wanted = made[0][0]
            reveal = self.guard.classify(call) is OpClass.SENSITIVE
            return self.send(client, wanted.model, call.params, wanted.pagination, reveal)

        call, (data, next_token, filled, size) = await (executor or self.executor).build_and_run(build, send)
        wanted, prepared = made[0]
        return Response(wanted, call, data, next_token, filled, prepared.files, size)

    def present(self, response: Response) -> ApiResult:
        """The result as the model sees it: JMESPath applied, cut to the output cap with a note."""
        request = response.request
        result = response.data
        truncation = None
        if request.query is not None:
            result = request.query.search(result)
        if request.query is not None or response.approximate_bytes * 4 > self.max_output_bytes:
            hint = _narrowing_hint(request.pagination, response.next_token)
            result, truncation = fit(result, self.max_output_bytes, hint)
        call = response.call
        return ApiResult(
            service=call.service,
            operation=call.operation,
            op_class=self.guard.classify(call).value,
            target=call.target.describe(),
            result=result,
            next_token=response.next_token,
            truncation=truncation,
            idempotency_tokens=response.idempotency_tokens or None,
            local_files=response.local_files or None,
        )

    async def run(self, request: Request | Callable[[], Request]) -> ApiResult:
        """`call`, then `present`."""
        return self.present(await self.call(request))

    async def validate(self, target: Target, service: str, operation: str, payload: dict[str, Any]) -> ValidationReport:
        """What invoke would do, without an AWS call: validation, serialization, class, policy."""
        service, operation = resolve_names(service, operation)
        model = operation_model(service, operation)
        return await self.executor.run_blocking(self._validate, target, model, payload)

    def _validate(self, target: Target, model: OperationModel, payload: dict[str, Any]) -> ValidationReport:
        service, operation = model.service_model.service_name, model.name
        errors: list[str] = []
        try:
            prepared = prepare(model.input_shape, payload, self.files)
        except InvalidInput as error:
            errors.append(error.message)
            prepared = Prepared(params=dict(payload) if isinstance(payload, dict) else {})
        params = dict(prepared.params)
        filled = fill_idempotency_tokens(model, params)
        http_request = None
        if not errors:
            errors, http_request = check_params(model, params)
        op_class, decision = self.guard.decide(AwsCall(self.resolve(target), service, operation, prepared.params))
        return ValidationReport(
            valid=not errors and decision.allowed,
            service=service,
            operation=operation,
            op_class=op_class.value,
            policy="allow" if decision.allowed else "deny",
            policy_rule=decision.rule,
            needs_confirmation=self.guard.needs_confirmation(op_class),
            errors=errors,
            filled_idempotency_tokens=sorted(filled),
            http_request=http_request,
            local_files=prepared.files,
        )

    def send(
        self,
        client: BaseClient,
        model: OperationModel,
        params: dict[str, Any],
        pagination: "Pagination | None",
        reveal: bool = False,
    ) -> tuple[Any, str | None, dict[str, str], int]:
        """In a worker thread: the call (or its pages), its response as masked JSON, the next token, the
        idempotency tokens filled and the JSON's approximate size. `reveal`: a sensitive read, whose secrets
        are its answer (see core.output.to_json)."""
        params = dict(params)
        filled = fill_idempotency_tokens(model, params)
        method = xform_name(model.name)
        next_token = None
        if pagination is None:
            response = getattr(client, method)(**params)
        else:
            pages = client.get_paginator(method).paginate(**params, PaginationConfig=pagination.config())
            response = pages.build_full_result()
            next_token = pages.resume_token
            if next_token:
                response.pop("NextToken", None)
        response.pop("ResponseMetadata", None)
        data, size = to_json(response, self.max_output_bytes, model.output_shape, reveal)
        return data, next_token, filled, size


def pagination_for(service: str, operation: str, params: dict[str, Any], options: ApiOptions) -> Pagination | None:
    """Page with botocore's paginator unless the caller pages by hand with the operation's own parameters."""
    config = paginator_config(service).get(operation)
    if config is None:
        if options.max_items or options.next_token:
            raise InvalidInput(
                f"{service} {operation} does not paginate: max_items and next_token do not apply",
                hint="use the operation's own parameters (see get_operation_schema)",
            )
        return None
    manual = _manual_paging_keys(config) & set(params)
    if manual:
        if options.next_token or options.max_items:
            raise InvalidInput(
                f"{', '.join(sorted(manual))} pages by hand; options.max_items/next_token page for you",
                hint="use one or the other",
            )
        return None
    return Pagination(options.max_items or DEFAULT_MAX_ITEMS, options.next_token)


def _manual_paging_keys(config: dict[str, Any]) -> set[str]:
    tokens = config.get("input_token")
    keys = set(tokens if isinstance(tokens, list) else [tokens])
    if config.get("limit_key"):
        keys.add(config["limit_key"])
    return {key for key in keys if key}


def _narrowing_hint(pagination: Pagination | None, next_token: str | None) -> str:
    hint = "Narrow the request: options.query (JMESPath) to keep only the fields you need, or filters in the payload"
    if pagination is not None:
        hint += ", or a lower options.max_items"
        if next_token:
            hint += "; items dropped here are not covered by next_token, so page with max_items at most the kept count"
    return hint + "."
