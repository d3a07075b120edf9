"""AWS Ops MCP: the app, its tools and the entry point.

Tools are thin: arguments in, a service manager call, a pydantic model out. Credentials, clients,
threads and the guard live below them (services/, guard/).
"""

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, Field

from config import ConfigError, Settings, check_region, load_settings
from guard.audit import AuditLog
from guard.confirm import ConfirmationTokens
from guard.guard import Guard
from guard.policy import Policy, PolicyError
from services.base import AwsClients, AwsExecutor, SessionEnvironment
from services.commands import AwsCommands
from services.errors import InvalidInput
from services.files import LocalFiles
from services.generic import ApiOptions, ApiResult, GenericApi, OperationMatches, OperationSchema, ValidationReport
from services.invocation import SessionEnvironments, current
from services.route53 import ChangeInfo, HostedZoneList, RecordChange, RecordList, RecordType, Route53Manager
from services.s3 import BucketList, ObjectContent, ObjectDeleted, ObjectList, ObjectWritten, PresignedUrl, S3Manager
from services.secretsmanager import (
    SecretDeleted,
    SecretDescription,
    SecretList,
    SecretsManager,
    SecretValue,
    SecretWritten,
)
from services.sts import (
    AccountInfo,
    AccountList,
    CredentialCheck,
    CredentialInfo,
    ProfileList,
    StsManager,
)
from services.sts import (
    list_accounts as account_aliases,
)
from services.sts import (
    list_profiles as read_profiles,
)
from tooling import Account, ConfirmationToken, Profile, Region, RoleArn, ToolRegistry, target, without_titles

log = logging.getLogger("aws_ops_mcp")
tools = ToolRegistry()


@dataclass
class App:
    """Everything a tool call needs, built once per process from the settings."""

    settings: Settings
    transport: str
    clients: AwsClients
    executor: AwsExecutor
    guard: Guard
    audit: AuditLog
    environments: SessionEnvironments
    sts: StsManager
    secrets: SecretsManager
    route53: Route53Manager
    s3: S3Manager
    api: GenericApi
    commands: AwsCommands


class OpsServer(MCPServer):
    def __init__(self, app: App) -> None:
        super().__init__(
            "aws-ops-mcp",
            instructions=(
                "Operate AWS across accounts. Every tool takes account (an alias from list_accounts), profile, "
                "role_arn and region. Destructive calls need confirmation: repeat them with confirmation_token."
            ),
            log_level=app.settings.log_level,
        )
        self.app = app
        self._listed: list[MCPTool] | None = None

    async def list_tools(self) -> list[MCPTool]:
        """The tools, with schemas compacted once: every client pays for this list in its context window."""
        if self._listed is None:
            self._listed = [
                tool.model_copy(
                    update={
                        "input_schema": without_titles(tool.input_schema),
                        "output_schema": without_titles(tool.output_schema) if tool.output_schema else None,
                    }
                )
                for tool in await super().list_tools()
            ]
        return self._listed


def app_of(ctx: Context) -> App:
    return ctx.mcp_server.app  # type: ignore[attr-defined]


def build_app(settings: Settings, transport: str = "http") -> App:
    policy = Policy.load(settings.policy_file, read_only=settings.read_only)
    clients = AwsClients(settings)
    guard = Guard(
        policy,
        ConfirmationTokens(settings.confirmation_secret, settings.confirmation_ttl_seconds),
        clients,
        auto_approve=settings.auto_approve_destructive,
    )
    executor = AwsExecutor(clients, guard, settings.max_workers)
    files = LocalFiles(settings.files_root, settings.max_file_bytes)
    api = GenericApi(executor, guard, files, settings.max_output_bytes, settings.index_cache_dir)
    return App(
        settings=settings,
        transport=transport,
        clients=clients,
        executor=executor,
        guard=guard,
        audit=AuditLog(settings.audit_log),
        environments=SessionEnvironments(),
        sts=StsManager(executor),
        secrets=SecretsManager(executor),
        route53=Route53Manager(executor),
        s3=S3Manager(executor),
        api=api,
        commands=AwsCommands(api),
    )


CHATTY_LIBRARIES = (
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "mcp",
    "sse_starlette",
    "httpcore",
    "httpcore2",
    "httpx",
    "httpx2",
    "werkzeug",
)
"""At DEBUG these log request and response bodies, secret values included: never below WARNING."""


def create_server(settings: Settings, transport: str = "http") -> OpsServer:
    server = OpsServer(build_app(settings, transport))
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    tools.register(server, server.app)
    return server


# --- STS and credentials ---------------------------------------------------------------------------


@tools.tool("Show credentials (masked)", read_only=True, idempotent=True, open_world=False)
async def get_credentials(
    ctx: Context,
    profile: Profile = None,
    include_session_token: Annotated[bool, Field(description="Also show the session token, masked")] = False,
) -> CredentialInfo:
    """Where the server's AWS credentials come from (env, profile, role, SSO, web identity...), with the access
    key id masked to its first and last 4 characters. Secrets are never shown."""
    return await app_of(ctx).sts.get_credentials(target(None, profile, None, None), include_session_token)


class EnvironmentSet(BaseModel):
    set: list[str] = Field(description="Names of the settings that were applied (values are never echoed)")
    scope: Literal["process", "session"]


@tools.tool("Set credentials for this session", idempotent=True, open_world=False)
async def set_environment(
    ctx: Context,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    region: Region = None,
    profile: Profile = None,
) -> EnvironmentSet:
    """Use these AWS credentials, region or profile from now on, in memory only. Over HTTP it applies to the
    calling MCP session only. Returns the names of what was set, never the values."""
    app = app_of(ctx)
    session = current().session_key
    if session is None:
        raise InvalidInput(
            "this connection has no MCP session (stateless HTTP), so there is nowhere to keep credentials",
            hint="pass profile, role_arn or account on each call, or connect over SSE or a session-based transport",
        )
    if bool(access_key_id) != bool(secret_access_key):
        raise InvalidInput("access_key_id and secret_access_key go together", hint="pass both, or neither")
    if region:
        try:
            check_region(region, "region")
        except ConfigError as exc:
            raise InvalidInput(str(exc)) from None
    previous = app.environments.get(session) or SessionEnvironment()
    values = {
        "access_key_id": access_key_id,
        "secret_access_key": secret_access_key,
        "session_token": session_token,
        "region": region,
        "profile": profile,
    }
    given = {name: value for name, value in values.items() if value}
    if access_key_id and not session_token:
        given["session_token"] = None
    merged = SessionEnvironment(**{**previous.__dict__, **given})
    app.environments.set(session, merged)
    if app.transport == "stdio":
        variables = {
            "access_key_id": ["AWS_ACCESS_KEY_ID"],
            "secret_access_key": ["AWS_SECRET_ACCESS_KEY"],
            "session_token": ["AWS_SESSION_TOKEN"],
            "region": ["AWS_REGION", "AWS_DEFAULT_REGION"],
            "profile": ["AWS_PROFILE"],
        }
        for name, value in given.items():
            for variable in variables[name]:
                if value is None:
                    os.environ.pop(variable, None)
                else:
                    os.environ[variable] = value
    return EnvironmentSet(
        set=sorted(name for name, value in given.items() if value),
        scope="process" if app.transport == "stdio" else "session",
    )


@tools.tool("List AWS profiles", read_only=True, idempotent=True, open_world=False)
async def list_profiles(ctx: Context) -> ProfileList:
    """Profiles in the AWS config and credentials files, with region and kind (static keys, role, SSO)."""
    return await app_of(ctx).executor.in_thread(read_profiles)


@tools.tool("List account aliases", read_only=True, idempotent=True, open_world=False)
async def list_accounts(ctx: Context) -> AccountList:
    """The account aliases this server knows: the values the `account` parameter of every tool accepts."""
    return account_aliases(app_of(ctx).settings)


@tools.tool("Who am I", read_only=True, idempotent=True)
async def get_account_info(
    ctx: Context, account: Account = None, profile: Profile = None, role_arn: RoleArn = None, region: Region = None
) -> AccountInfo:
    """The AWS account, ARN and user id the call acts as (sts GetCallerIdentity)."""
    return await app_of(ctx).sts.get_account_info(target(account, profile, role_arn, region))


@tools.tool("Check credentials", read_only=True, idempotent=True)
async def validate_credentials(
    ctx: Context, account: Account = None, profile: Profile = None, role_arn: RoleArn = None, region: Region = None
) -> CredentialCheck:
    """Whether the credentials for this target work: valid with account and ARN, or the AWS error."""
    return await app_of(ctx).sts.validate_credentials(target(account, profile, role_arn, region))


# --- Secrets Manager ---------------------------------------------------------------------------------

SecretId = Annotated[str, Field(description="Secret name or ARN")]


@tools.tool("List secrets", read_only=True, idempotent=True)
async def list_secrets(
    ctx: Context,
    name_prefix: Annotated[str | None, Field(description="Only secrets whose name starts with this")] = None,
    max_results: Annotated[int | None, Field(ge=1, le=100, description="Page size (default 50)")] = None,
    next_token: Annotated[str | None, Field(description="next_token of the previous page")] = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> SecretList:
    """List Secrets Manager secrets (names and metadata, never values), a page at a time."""
    return await app_of(ctx).secrets.list_secrets(
        target(account, profile, role_arn, region), name_prefix, max_results, next_token
    )


@tools.tool("Describe a secret", read_only=True, idempotent=True)
async def describe_secret(
    ctx: Context,
    secret_id: SecretId,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> SecretDescription:
    """A secret's metadata: versions, rotation, KMS key, tags. Never its value."""
    return await app_of(ctx).secrets.describe_secret(target(account, profile, role_arn, region), secret_id)


@tools.tool("Read a secret value", read_only=True, idempotent=True)
async def get_secret_value(
    ctx: Context,
    secret_id: SecretId,
    version_stage: Annotated[str | None, Field(description="AWSCURRENT (default) or AWSPREVIOUS")] = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> SecretValue:
    """Read a secret's value. Sensitive: the policy may refuse it."""
    return await app_of(ctx).secrets.get_secret_value(
        target(account, profile, role_arn, region), secret_id, version_stage
    )


@tools.tool("Create a secret")
async def create_secret(
    ctx: Context,
    name: Annotated[str, Field(description="Secret name, e.g. prod/db/password")],
    secret_string: Annotated[str, Field(description="The secret value (text or JSON)")],
    description: str | None = None,
    tags: dict[str, str] | None = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> SecretWritten:
    """Create a secret with a value."""
    return await app_of(ctx).secrets.create_secret(
        target(account, profile, role_arn, region), name, secret_string, description, tags
    )


@tools.tool("Update a secret value")
async def update_secret(
    ctx: Context,
    secret_id: SecretId,
    secret_string: Annotated[str, Field(description="The new value; the old one stays as AWSPREVIOUS")],
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> SecretWritten:
    """Store a new value for a secret (a new version becomes AWSCURRENT)."""
    return await app_of(ctx).secrets.update_secret(target(account, profile, role_arn, region), secret_id, secret_string)


@tools.tool("Delete a secret", destructive=True, idempotent=True)
async def delete_secret(
    ctx: Context,
    secret_id: SecretId,
    recovery_window_days: Annotated[int, Field(ge=7, le=30, description="Days it stays restorable")] = 30,
    force_delete_without_recovery: Annotated[bool, Field(description="Delete at once, unrecoverable")] = False,
    confirmation_token: ConfirmationToken = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> SecretDeleted:
    """Schedule a secret for deletion (or delete it at once). Needs confirmation."""
    return await app_of(ctx).secrets.delete_secret(
        target(account, profile, role_arn, region), secret_id, recovery_window_days, force_delete_without_recovery
    )


# --- Route53 -----------------------------------------------------------------------------------------

Zone = Annotated[str, Field(description="Hosted zone id (Z123...) or domain name (example.com)")]


@tools.tool("List hosted zones", read_only=True, idempotent=True)
async def list_hosted_zones(
    ctx: Context,
    max_items: Annotated[int | None, Field(ge=1, le=100)] = None,
    next_token: Annotated[str | None, Field(description="next_token of the previous page")] = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> HostedZoneList:
    """List Route53 hosted zones with id, name, public/private and record count."""
    return await app_of(ctx).route53.list_hosted_zones(
        target(account, profile, role_arn, region), max_items, next_token
    )


@tools.tool("List DNS records", read_only=True, idempotent=True)
async def list_records(
    ctx: Context,
    zone: Zone,
    name: Annotated[str | None, Field(description="Start at this record name")] = None,
    type: Annotated[RecordType | None, Field(description="Start at this type (needs name)")] = None,
    max_items: Annotated[int | None, Field(ge=1, le=300)] = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> RecordList:
    """List a hosted zone's DNS records, in Route53 order, from an optional (name, type) starting point."""
    return await app_of(ctx).route53.list_records(
        target(account, profile, role_arn, region), zone, name, type, max_items
    )


@tools.tool("Change DNS records", destructive=True)
async def change_records(
    ctx: Context,
    zone: Zone,
    changes: Annotated[list[RecordChange], Field(min_length=1, description="Changes applied as one atomic batch")],
    comment: str | None = None,
    confirmation_token: ConfirmationToken = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ChangeInfo:
    """Create, upsert or delete DNS records in one atomic batch. Batches with a DELETE need confirmation."""
    return await app_of(ctx).route53.change_records(target(account, profile, role_arn, region), zone, changes, comment)


@tools.tool("Get a DNS change status", read_only=True, idempotent=True)
async def get_change(
    ctx: Context,
    change_id: Annotated[str, Field(description="change_id returned by change_records")],
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ChangeInfo:
    """Whether a Route53 change is still PENDING or INSYNC."""
    return await app_of(ctx).route53.get_change(target(account, profile, role_arn, region), change_id)


# --- S3 ----------------------------------------------------------------------------------------------

BucketName = Annotated[str, Field(description="Bucket name")]
Key = Annotated[str, Field(description="Object key")]


@tools.tool("List buckets", read_only=True, idempotent=True)
async def list_buckets(
    ctx: Context, account: Account = None, profile: Profile = None, role_arn: RoleArn = None, region: Region = None
) -> BucketList:
    """List the account's S3 buckets."""
    return await app_of(ctx).s3.list_buckets(target(account, profile, role_arn, region))


@tools.tool("List objects", read_only=True, idempotent=True)
async def list_objects(
    ctx: Context,
    bucket: BucketName,
    prefix: str | None = None,
    delimiter: Annotated[str | None, Field(description="'/' groups keys into folders")] = None,
    max_keys: Annotated[int | None, Field(ge=1, le=1000)] = None,
    continuation_token: Annotated[str | None, Field(description="next_continuation_token of the last page")] = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ObjectList:
    """List objects in a bucket under an optional prefix, a page at a time."""
    return await app_of(ctx).s3.list_objects(
        target(account, profile, role_arn, region), bucket, prefix, delimiter, max_keys, continuation_token
    )


@tools.tool("Read an object", read_only=True, idempotent=True)
async def get_object(
    ctx: Context,
    bucket: BucketName,
    key: Key,
    max_bytes: Annotated[int | None, Field(ge=1, le=10_000_000, description="Read at most this much")] = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ObjectContent:
    """Read an object: text when it is UTF-8, else base64; cut at max_bytes (default 1 MB) with truncated=true."""
    return await app_of(ctx).s3.get_object(target(account, profile, role_arn, region), bucket, key, max_bytes)


@tools.tool("Write an object", idempotent=True)
async def put_object(
    ctx: Context,
    bucket: BucketName,
    key: Key,
    body: Annotated[str, Field(description="Text content to store")],
    content_type: str | None = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ObjectWritten:
    """Store text as an object (replacing any object with that key)."""
    return await app_of(ctx).s3.put_object(target(account, profile, role_arn, region), bucket, key, body, content_type)


@tools.tool("Delete an object", destructive=True, idempotent=True)
async def delete_object(
    ctx: Context,
    bucket: BucketName,
    key: Key,
    version_id: str | None = None,
    confirmation_token: ConfirmationToken = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ObjectDeleted:
    """Delete an object (or one version of it). Needs confirmation."""
    return await app_of(ctx).s3.delete_object(target(account, profile, role_arn, region), bucket, key, version_id)


@tools.tool("Presign a URL", read_only=True, idempotent=False, open_world=False)
async def presign_url(
    ctx: Context,
    bucket: BucketName,
    key: Key,
    method: Literal["get", "put"] = "get",
    expires_in: Annotated[int, Field(ge=1, le=604800, description="Seconds the URL stays valid")] = 3600,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> PresignedUrl:
    """A presigned URL to download (get) or upload (put) one object without credentials."""
    return await app_of(ctx).s3.presign_url(target(account, profile, role_arn, region), bucket, key, method, expires_in)


# --- Any AWS operation -----------------------------------------------------------------------------

ServiceName = Annotated[str, Field(description="Service, e.g. ec2, s3, secretsmanager (CLI names work too)")]
OperationName = Annotated[str, Field(description="Operation, e.g. DescribeInstances or describe-instances")]
Command = Annotated[
    str, Field(description="One AWS CLI command, with or without `aws`", min_length=1, max_length=20_000)
]


@tools.tool("Search AWS operations", read_only=True, idempotent=True, open_world=False)
async def search_operations(
    ctx: Context,
    query: Annotated[str, Field(description="The task in plain words", min_length=1, max_length=500)],
    service_hint: Annotated[str | None, Field(description="Prefer this service, e.g. ec2")] = None,
    limit: Annotated[int, Field(ge=1, le=50)] = 10,
) -> OperationMatches:
    """Find the AWS operation for a task among every service ("list running instances", "who am i"): service,
    operation, one-line description and class (read, sensitive, write, destructive)."""
    return await app_of(ctx).api.search(query, service_hint, limit)


@tools.tool("Describe an AWS operation", read_only=True, idempotent=True, open_world=False)
async def get_operation_schema(ctx: Context, service: ServiceName, operation: OperationName) -> OperationSchema:
    """The JSON Schema of an operation's input, a summary of its output, whether it paginates and its class.
    Blob members take base64 or {"$path": "<file under the server's files root>"}."""
    return await app_of(ctx).api.schema(service, operation)


class ExecuteOutcome(BaseModel):
    action: Literal["validate", "invoke"]
    validation: ValidationReport | None = None
    response: ApiResult | None = None


@tools.tool("Run any AWS operation", destructive=True)
async def execute(
    ctx: Context,
    action: Annotated[Literal["validate", "invoke"], Field(description="validate: check only, no AWS call")],
    service: ServiceName,
    operation: OperationName,
    payload: Annotated[dict[str, Any] | None, Field(description="The operation's parameters (API names)")] = None,
    options: ApiOptions | None = None,
    confirmation_token: ConfirmationToken = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ExecuteOutcome:
    """Validate or invoke any AWS operation (see get_operation_schema for its payload). Paginated results take
    options.max_items/next_token; options.query filters with JMESPath. Destructive calls need confirmation."""
    api = app_of(ctx).api
    where = target(account, profile, role_arn, region)
    if action == "validate":
        return ExecuteOutcome(action=action, validation=await api.validate(where, service, operation, payload or {}))
    options = options or ApiOptions()
    if options.confirmation_token and not confirmation_token:
        current().confirmation_token = options.confirmation_token
    return ExecuteOutcome(action=action, response=await api.invoke(where, service, operation, payload or {}, options))


@tools.tool("Run a read-only AWS CLI command", read_only=True, idempotent=True)
async def execute_aws_read_command(
    ctx: Context,
    command: Command,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ApiResult:
    """Run an AWS CLI command that only reads, e.g. `ec2 describe-instances --filters Name=instance-state-name,
    Values=running` or `s3 ls s3://bucket/`. Parsed in-process, no shell; anything but a read is refused."""
    where = target(account, profile, role_arn, region)
    return await app_of(ctx).commands.run(command, where, read_only=True)


@tools.tool("Run an AWS CLI command", destructive=True)
async def execute_aws_write_command(
    ctx: Context,
    command: Command,
    confirmation_token: ConfirmationToken = None,
    account: Account = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
    region: Region = None,
) -> ApiResult:
    """Run an AWS CLI command that changes something, e.g. `s3 cp site s3://bucket/ --recursive` or `sqs
    create-queue --queue-name jobs`, through the guard: destructive commands need confirmation. No shell."""
    where = target(account, profile, role_arn, region)
    return await app_of(ctx).commands.run(command, where, read_only=False)


# --- Entry point ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="server.py", description="AWS Ops MCP server")
    parser.add_argument("--transport", choices=["http", "stdio"], default="http")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--sandbox", action="store_true", help="serve against an in-process moto with demo data")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("AWS_MCP_LOG_LEVEL", "INFO").upper())
    sandbox = None
    try:
        if args.sandbox:
            from sandbox import Sandbox

            sandbox = Sandbox.start()
        settings = load_settings()
        if settings.audit_log == "-" and args.transport == "stdio":
            raise ConfigError("AWS_MCP_AUDIT_LOG=- writes to stdout, which the stdio transport uses for the protocol")
        if args.transport == "http":
            from http_app import check_exposure

            check_exposure(settings, args.host)
        server = create_server(settings, args.transport)
    except (ConfigError, PolicyError) as exc:
        print(f"aws-ops-mcp: {exc}", file=sys.stderr)
        return 2
    if settings.auto_approve_destructive:
        log.warning("AWS_MCP_AUTO_APPROVE_DESTRUCTIVE=true: destructive operations run WITHOUT confirmation")
    if args.transport == "stdio":
        server.run("stdio")
        return 0
    import uvicorn

    from http_app import build_http_app

    if sandbox is not None:
        sandbox.print_connection_help(args.host, args.port, settings.auth_token)
    uvicorn.run(build_http_app(server, settings, args.host), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
