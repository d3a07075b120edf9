"""Every botocore operation through one path: search, schema, validate without a call, invoke through the guard.

The `execute` tool and the AWS CLI tools both end in `GenericApi.run`: one `AwsCall` per AWS
operation, through the same guard and executor as the curated tools. Paginated operations go
through botocore's paginators (`max_items`, `next_token`); results become JSON, are filtered
by JMESPath and capped at AWS_MCP_MAX_OUTPUT_BYTES with a note on what was left out.
"""

import mimetypes
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jmespath
import jmespath.exceptions
from botocore import serialize, xform_name
from botocore.client import BaseClient
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel
from botocore.validate import ParamValidator
from pydantic import BaseModel, Field

from catalog.models import operation_model, paginator_config
from catalog.names import CatalogError, resolve_operation
from catalog.schema import operation_schema
from catalog.search import OperationIndex
from guard.audit import redact
from guard.classify import classify
from guard.guard import Guard
from services.base import AwsCall, AwsExecutor, ResolvedTarget, ServiceManager, Target
from services.errors import PARAMETER_VALUE, InvalidInput
from services.files import LocalFiles
from services.output import Truncation, dumps, fit, mask_credentials, to_json
from services.payload import Prepared, path_reference, prepare

DEFAULT_MAX_ITEMS = 100
MAX_ITEMS_LIMIT = 10_000
MAX_FOLDER_FILES = 1_000
SUMMARY_LIMIT = 300


class ApiOptions(BaseModel):
    query: str | None = Field(None, description="JMESPath applied to the result, e.g. Buckets[].Name")
    max_items: int | None = Field(
        None, ge=1, le=MAX_ITEMS_LIMIT, description=f"Items from a paginated operation (default {DEFAULT_MAX_ITEMS})"
    )
    next_token: str | None = Field(None, description="next_token of the previous result, to continue")
    confirmation_token: str | None = Field(None, description="Token from a confirmation_required error")


class OperationMatch(BaseModel):
    service: str
    operation: str
    description: str
    op_class: str = Field(description="read, sensitive, write or destructive")


class OperationMatches(BaseModel):
    matches: list[OperationMatch]


class OperationSchema(BaseModel):
    service: str
    operation: str
    description: str
    op_class: str = Field(description="read, sensitive, write or destructive")
    input_schema: dict[str, Any]
    input_schema_note: str | None = None
    output_summary: list[dict[str, str]]
    paginates: bool


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
        raise InvalidInput(
            str(error), code="unknown_operation", hint="search_operations finds operations by what they do"
        ) from None


def compile_query(query: str | None) -> jmespath.parser.ParsedResult | None:
    if not query:
        return None
    try:
        return jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as error:
        raise InvalidInput(
            f"options.query is not valid JMESPath: {error}", hint="e.g. Reservations[].Instances[].InstanceId"
        ) from None


def describe_call(service: str, operation: str, params: dict[str, Any]) -> str:
    """One line for confirmations and errors, with secret-looking values masked."""
    text = f"{service} {operation} {dumps(redact(params))}"
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


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


class GenericApi(ServiceManager):
    """Any operation of any service botocore knows."""

    def __init__(self, executor: AwsExecutor, guard: Guard, files: LocalFiles, max_output_bytes: int, cache_dir: Path):
        super().__init__(executor)
        self.guard = guard
        self.files = files
        self.max_output_bytes = max_output_bytes
        self._cache_dir = cache_dir
        self._index: OperationIndex | None = None
        self._index_lock = threading.Lock()

    # --- discovery ---------------------------------------------------------------------------------

    def index(self) -> OperationIndex:
        """The search index, loaded (or built and cached) on first use; blocking."""
        with self._index_lock:
            if self._index is None:
                self._index = OperationIndex.load(self._cache_dir)
            return self._index

    async def search(self, query: str, service_hint: str | None, limit: int) -> OperationMatches:
        hits = await self.executor.in_thread(lambda: self.index().search(query, service_hint, limit))
        return OperationMatches(
            matches=[
                OperationMatch(service=h.service, operation=h.operation, description=h.description, op_class=h.op_class)
                for h in hits
            ]
        )

    async def schema(self, service: str, operation: str) -> OperationSchema:
        service, operation = resolve_names(service, operation)
        schema = await self.executor.in_thread(operation_schema, service, operation)
        return OperationSchema(op_class=classify(service, operation).value, **schema)

    # --- validate and invoke ---------------------------------------------------------------------

    async def validate(self, target: Target, service: str, operation: str, payload: dict[str, Any]) -> ValidationReport:
        service, operation = resolve_names(service, operation)
        resolved = self.resolve(target)
        model = operation_model(service, operation)
        errors: list[str] = []
        try:
            prepared = await self.executor.in_thread(lambda: prepare(model.input_shape, payload, self.files))
        except InvalidInput as error:
            errors.append(error.message)
            prepared = Prepared(params=dict(payload) if isinstance(payload, dict) else {})
        params = dict(prepared.params)
        filled = fill_idempotency_tokens(model, params)
        http_request = None
        if not errors:
            errors, http_request = check_params(model, params)
        op_class, decision = self.guard.decide(AwsCall(resolved, service, operation, prepared.params))
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

    async def invoke(
        self, target: Target, service: str, operation: str, payload: dict[str, Any], options: ApiOptions
    ) -> ApiResult:
        service, operation = resolve_names(service, operation)
        query = compile_query(options.query)
        resolved = self.resolve(target)
        model = operation_model(service, operation)
        folder = self._folder_upload(service, operation, payload)
        if folder is not None:
            return await self._put_folder(resolved, payload, folder, options)
        pagination = self.pagination(service, operation, payload, options)
        return await self.run(resolved, model, payload, pagination, query)

    def pagination(
        self, service: str, operation: str, params: dict[str, Any], options: ApiOptions
    ) -> Pagination | None:
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

    async def run(
        self,
        target: ResolvedTarget,
        model: OperationModel,
        payload: dict[str, Any],
        pagination: Pagination | None,
        query: jmespath.parser.ParsedResult | None,
        *,
        base64_blobs: bool = True,
        summary: str | None = None,
    ) -> ApiResult:
        """Prepare the payload (see services.payload), then one guarded call; the result as JSON, fitted."""
        prepared = await self.executor.in_thread(
            lambda: prepare(model.input_shape, payload, self.files, base64_blobs=base64_blobs)
        )
        params = prepared.params
        service, operation = model.service_model.service_name, model.name
        call = AwsCall(target, service, operation, params, summary or describe_call(service, operation, params))
        response, next_token, filled = await self.executor.run(
            call, lambda client: self._call(client, model, params, pagination)
        )
        result = query.search(response) if query is not None else response
        fitted, truncation = fit(result, self.max_output_bytes, _narrowing_hint(pagination, next_token))
        return ApiResult(
            service=service,
            operation=operation,
            op_class=self.guard.classify(call).value,
            target=target.describe(),
            result=fitted,
            next_token=next_token,
            truncation=truncation,
            idempotency_tokens=filled or None,
            local_files=prepared.files or None,
        )

    def _call(
        self, client: BaseClient, model: OperationModel, params: dict[str, Any], pagination: Pagination | None
    ) -> tuple[Any, str | None, dict[str, str]]:
        """In a worker thread: the call (or its pages), its response as JSON, the next token, tokens filled."""
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
        return mask_credentials(to_json(response, self.max_output_bytes)), next_token, filled

    # --- S3 PutObject of a folder ---------------------------------------------------------------

    def _folder_upload(self, service: str, operation: str, payload: dict[str, Any]) -> str | None:
        if (service, operation) != ("s3", "PutObject") or not isinstance(payload, dict):
            return None
        path = path_reference(payload.get("Body"))
        return path if path is not None and self.files.is_dir(path) else None

    async def _put_folder(
        self, target: ResolvedTarget, payload: dict[str, Any], folder: str, options: ApiOptions
    ) -> ApiResult:
        """Every file of the folder as its own PutObject under the Key prefix, each through the guard."""
        if options.query or options.max_items or options.next_token:
            raise InvalidInput("a folder upload takes no query, max_items or next_token")
        files = await self.executor.in_thread(lambda: list(self.files.files_under(folder)))
        if len(files) > MAX_FOLDER_FILES:
            raise InvalidInput(
                f"folder {folder!r} holds {len(files)} files; at most {MAX_FOLDER_FILES} upload in one call",
                hint="upload sub-folders one at a time",
            )
        model = operation_model("s3", "PutObject")
        prefix = str(payload.get("Key") or "")
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        uploaded = []
        base = folder.rstrip("/")
        for file in files:
            item = {**payload, "Key": prefix + file.relative, "Body": {"$path": f"{base}/{file.relative}"}}
            guessed, _ = mimetypes.guess_type(file.relative)
            if "ContentType" not in payload and guessed:
                item["ContentType"] = guessed
            response = await self.run(target, model, item, None, None)
            uploaded.append({"key": item["Key"], "size": file.size, "etag": response.result.get("ETag")})
        return ApiResult(
            service="s3",
            operation="PutObject",
            op_class=classify("s3", "PutObject").value,
            target=target.describe(),
            result={"bucket": payload.get("Bucket"), "uploaded": uploaded, "count": len(uploaded)},
            local_files=[folder],
        )


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
