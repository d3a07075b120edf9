"""The tools for every AWS operation beyond the curated ones: find it, read its schema, run it, or run an AWS
CLI command line. All of them end in `GenericApi`, through the same guard as the curated tools."""

import logging
import threading
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from catalog.classify import classify
from catalog.models import operation_model
from catalog.schema import operation_schema
from catalog.search import OperationIndex
from core.calls import Target
from core.errors import InvalidInput
from generic.api import (
    ApiOptions,
    ApiResult,
    GenericApi,
    Request,
    ValidationReport,
    compile_query,
    pagination_for,
    resolve_names,
)
from generic.commands import AwsCommands
from generic.s3_transfers import S3Transfers
from tooling import ANY_OPERATION, ANY_READ, Runtime, tool

log = logging.getLogger("aws_ops_mcp")

ServiceName = Annotated[str, Field(description="Service, e.g. ec2, s3, secretsmanager (CLI names work too)")]
OperationName = Annotated[str, Field(description="Operation, e.g. DescribeInstances or describe-instances")]
Command = Annotated[
    str, Field(description="One AWS CLI command, with or without `aws`", min_length=1, max_length=20_000)
]


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


class ExecuteOutcome(BaseModel):
    action: Literal["validate", "invoke"]
    validation: ValidationReport | None = None
    response: ApiResult | None = None


class GenericTools:
    """search_operations, get_operation_schema, execute (tool set "generic") and the two AWS CLI tools ("cli")."""

    toolset = "generic"

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.executor = runtime.executor
        self.api = GenericApi(runtime.executor, runtime.guard, runtime.files, settings.max_output_bytes)
        self.transfers = S3Transfers(self.api, runtime.executor, runtime.guard, runtime.files)
        self.commands = AwsCommands(self.api, self.transfers, runtime.guard, runtime.files)
        self._cache_dir = settings.index_cache_dir
        self._index: OperationIndex | None = None
        self._index_lock = threading.Lock()
        self._index_builder: threading.Thread | None = None
        self._builder_lock = threading.Lock()

    def index(self) -> OperationIndex:
        """The search index, loaded (or built and cached) on first use; blocking."""
        with self._index_lock:
            if self._index is None:
                self._index = OperationIndex.load(self._cache_dir)
            return self._index

    def start_index_build(self) -> None:
        """Build the index now, in a background thread, if this botocore version has no cache file yet.

        A first search meanwhile waits in `index()` for what is left of the build. Returns at once;
        only the first call starts a thread.
        """
        with self._builder_lock:
            if self._index_builder is not None:
                return
            self._index_builder = threading.Thread(
                target=self._build_missing_index, name="operation-index-build", daemon=True
            )
        self._index_builder.start()

    def _build_missing_index(self) -> None:
        if OperationIndex.cache_path(self._cache_dir).exists():
            return
        try:
            self.index()
        except Exception:  # the first search_operations tries again and reports the error
            log.warning("operation index not built at start-up", exc_info=True)

    @tool("Search AWS operations", idempotent=True)
    async def search_operations(
        self,
        query: Annotated[str, Field(description="The task in plain words", min_length=1, max_length=500)],
        service_hint: Annotated[str | None, Field(description="Prefer this service, e.g. ec2")] = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> OperationMatches:
        """Find the AWS operation for a task among every service ("list running instances", "who am i"): service,
        operation, one-line description and class (read, sensitive, write, destructive)."""
        hits = await self.executor.in_thread(lambda: self.index().search(query, service_hint, limit))
        return OperationMatches(
            matches=[
                OperationMatch(service=h.service, operation=h.operation, description=h.description, op_class=h.op_class)
                for h in hits
            ]
        )

    @tool("Describe an AWS operation", idempotent=True)
    async def get_operation_schema(self, service: ServiceName, operation: OperationName) -> OperationSchema:
        """The JSON Schema of an operation's input, a summary of its output, whether it paginates and its class.
        Blob members take base64 or {"$path": "<file under the server's files root>"}."""
        service, operation = resolve_names(service, operation)
        schema = await self.executor.in_thread(operation_schema, service, operation)
        return OperationSchema(op_class=classify(service, operation).value, **schema)

    @tool("Run any AWS operation", calls=ANY_OPERATION)
    async def execute(
        self,
        target: Target,
        action: Annotated[Literal["validate", "invoke"], Field(description="validate: check only, no AWS call")],
        service: ServiceName,
        operation: OperationName,
        payload: Annotated[dict[str, Any] | None, Field(description="The operation's parameters (API names)")] = None,
        options: ApiOptions | None = None,
    ) -> ExecuteOutcome:
        """Validate or invoke any AWS operation (see get_operation_schema for its payload). Paginated results take
        options.max_items/next_token; options.query filters with JMESPath. Destructive calls need confirmation."""
        payload = payload or {}
        if action == "validate":
            return ExecuteOutcome(
                action=action, validation=await self.api.validate(target, service, operation, payload)
            )
        service, operation = resolve_names(service, operation)
        options = options or ApiOptions()
        query = compile_query(options.query)
        folder = S3Transfers.body_path(service, operation, payload)
        if folder is not None and await self.executor.run_blocking(self.transfers.files.is_dir, folder):
            if options.query or options.max_items or options.next_token:
                raise InvalidInput("a folder upload takes no query, max_items or next_token")
            resolved = await self.executor.run_blocking(self.api.resolve, target)
            return ExecuteOutcome(action=action, response=await self.transfers.put_folder(resolved, payload, folder))
        pagination = pagination_for(service, operation, payload, options)
        request = Request(target, operation_model(service, operation), payload, pagination, query)
        return ExecuteOutcome(action=action, response=await self.api.run(request))

    @tool("Run a read-only AWS CLI command", calls=ANY_READ, idempotent=True, toolset="cli")
    async def execute_aws_read_command(self, target: Target, command: Command) -> ApiResult:
        """Run an AWS CLI command that only reads, e.g. `ec2 describe-instances --filters Name=instance-state-name,
        Values=running` or `s3 ls s3://bucket/`. Parsed in-process, no shell; anything but a read is refused."""
        return await self.commands.run(command, target, read_only=True)

    @tool("Run an AWS CLI command", calls=ANY_OPERATION, toolset="cli")
    async def execute_aws_write_command(self, target: Target, command: Command) -> ApiResult:
        """Run an AWS CLI command that changes something, e.g. `s3 cp site s3://bucket/ --recursive` or `sqs
        create-queue --queue-name jobs`, through the guard: destructive commands need confirmation. No shell."""
        return await self.commands.run(command, target, read_only=False)
