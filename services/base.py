"""The one place that touches boto3/botocore: target → credentials → cached client → worker thread → AWS.

- A call's target (account alias, profile, role ARN, region) resolves to source credentials (the
  profile as botocore resolves it, or the default chain) and, where a role is named, to assumed-role
  credentials cached per (source, role, external id) and refreshed by botocore before they expire.
- Clients come from one long-lived botocore session, created under a lock (sessions are not
  thread-safe) and cached per (credentials, service, region). A refresh yields new keys and so a
  new client; old clients age out of a bounded LRU.
- Every blocking call runs in a worker thread through a bounded limiter; the event loop never waits.
"""

import fnmatch
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import Credentials, DeferredRefreshableCredentials, ReadOnlyCredentials
from botocore.exceptions import ProfileNotFound
from dateutil.tz import tzlocal

from config import ROLE_ARN_PATTERN, Settings
from services.errors import CredentialsError, InvalidInput, RoleNotAllowed, UnknownAccount, from_exception

T = TypeVar("T")
DEFAULT_REGION = "us-east-1"
CLIENT_CACHE_SIZE = 512


@dataclass(frozen=True)
class Target:
    """Where a call goes, as the caller gave it. Every field is optional."""

    account: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class SessionEnvironment:
    """Credentials and defaults set by `set_environment` for one MCP session. Never written to disk."""

    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None
    profile: str | None = None

    def static_credentials(self) -> Credentials | None:
        if self.access_key_id and self.secret_access_key:
            return Credentials(self.access_key_id, self.secret_access_key, self.session_token, method="session-env")
        return None


@dataclass(frozen=True)
class ResolvedTarget:
    """A target with the alias expanded and the region decided."""

    region: str
    alias: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    environment: SessionEnvironment | None = field(default=None, compare=False, hash=False)

    @property
    def source(self) -> str:
        """Which credentials the call starts from: a session's keys, a profile, or the default chain."""
        env = self.environment
        if env is not None and env.static_credentials() is not None and self.profile is None:
            return f"session-keys:{env.access_key_id}"
        return f"profile:{self.profile}" if self.profile else "default"

    @property
    def role_account(self) -> str | None:
        return self.role_arn.split(":")[4] if self.role_arn else None

    def describe(self) -> dict[str, str | None]:
        return {"account": self.alias, "profile": self.profile, "role_arn": self.role_arn, "region": self.region}


@dataclass(frozen=True)
class AwsCall:
    """One AWS operation described as data: what curated, generic and CLI tools all hand to the guard."""

    target: ResolvedTarget
    service: str
    operation: str
    params: Mapping[str, Any]
    summary: str = ""

    @property
    def method(self) -> str:
        return botocore.xform_name(self.operation)


class CallGuard(Protocol):
    async def run(self, call: AwsCall, execute: Callable[[], Awaitable[T]]) -> T: ...


class AwsClients:
    """Credentials and clients for every target, cached; all methods are blocking and thread-safe."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(tzlocal()))
        self._lock = threading.RLock()
        self._session = self._pinned(botocore.session.Session())
        self._profile_sessions: dict[str, botocore.session.Session] = {}
        self._role_credentials: dict[tuple[str, str, str | None], DeferredRefreshableCredentials] = {}
        self._clients: OrderedDict[tuple[str, str | None, str, str], BaseClient] = OrderedDict()
        self._config = Config(
            retries={"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_pool_connections=settings.max_workers,
            user_agent_extra="aws-ops-mcp",
        )
        self._account_ids: dict[str, str] = {}
        self.assume_role_calls = 0

    def on(self, event_name: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler (`before-send`, `after-call.*`...) on clients created from now on."""
        self._session.register(event_name, handler)

    def resolve(self, target: Target, environment: SessionEnvironment | None = None) -> ResolvedTarget:
        """Expand the alias and pick the region; fails fast on unknown aliases and malformed ARNs."""
        alias = None
        if target.account:
            alias = self.settings.account(target.account)
            if alias is None:
                known = ", ".join(sorted(self.settings.accounts)) or "none are configured"
                raise UnknownAccount(
                    f"unknown account alias {target.account!r}; known aliases: {known}",
                    hint="list_accounts shows the aliases; ACCOUNT_<NAME>_ROLE_ARN defines one",
                )
        role_arn = target.role_arn or (alias.role_arn if alias else None)
        if role_arn and not ROLE_ARN_PATTERN.match(role_arn):
            raise InvalidInput(
                f"role_arn {role_arn!r} is not a role ARN", hint="use arn:aws:iam::<12-digit account>:role/<name>"
            )
        env = environment
        profile = target.profile or (alias.profile if alias else None) or (env.profile if env else None)
        region = (
            target.region
            or (alias.region if alias else None)
            or (env.region if env else None)
            or (self._profile_region(profile) if profile else None)
            or self.settings.region
            or DEFAULT_REGION
        )
        return ResolvedTarget(
            region=region,
            alias=alias.name if alias else None,
            profile=profile,
            role_arn=role_arn,
            external_id=alias.external_id if alias and alias.role_arn == role_arn else None,
            environment=env,
        )

    def check_role_allowed(self, role_arn: str, extra_patterns: tuple[str, ...] = ()) -> None:
        for patterns in (self.settings.allowed_role_arns, extra_patterns):
            if patterns and not any(fnmatch.fnmatchcase(role_arn, pattern) for pattern in patterns):
                raise RoleNotAllowed(f"assuming {role_arn} is not allowed; allowed: {', '.join(patterns)}")

    def credentials(self, target: ResolvedTarget) -> Credentials:
        source = self._source_credentials(target)
        if not target.role_arn:
            return source
        self.check_role_allowed(target.role_arn)
        key = (target.source, target.role_arn, target.external_id)
        with self._lock:
            credentials = self._role_credentials.get(key)
            if credentials is None:
                credentials = DeferredRefreshableCredentials(
                    refresh_using=lambda: self._assume_role(source, target),
                    method="assume-role",
                    time_fetcher=self._clock,
                )
                self._role_credentials[key] = credentials
        return credentials

    def frozen_credentials(self, target: ResolvedTarget) -> ReadOnlyCredentials:
        """The current keys for a target, refreshing assumed roles near expiry."""
        credentials = self.credentials(target)
        frozen = credentials.get_frozen_credentials()
        if not frozen.access_key or not frozen.secret_key:
            raise CredentialsError("the resolved credentials are incomplete", hint="check the profile or environment")
        return frozen

    def client(self, target: ResolvedTarget, service: str) -> BaseClient:
        frozen = self.frozen_credentials(target)
        return self._client_for(frozen, service, target.region)

    def _client_for(self, frozen: ReadOnlyCredentials, service: str, region: str) -> BaseClient:
        key = (frozen.access_key, frozen.token, service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
            client = self._session.create_client(
                service,
                region_name=region,
                endpoint_url=self.settings.endpoint_url,
                aws_access_key_id=frozen.access_key,
                aws_secret_access_key=frozen.secret_key,
                aws_session_token=frozen.token,
                config=self._config,
            )
            self._clients[key] = client
            if len(self._clients) > CLIENT_CACHE_SIZE:
                self._clients.popitem(last=False)
            return client

    def account_id(self, target: ResolvedTarget) -> str:
        """The account the target's credentials act in (GetCallerIdentity, cached per credentials)."""
        frozen = self.frozen_credentials(target)
        with self._lock:
            cached = self._account_ids.get(frozen.access_key)
        if cached is None:
            cached = self._client_for(frozen, "sts", target.region).get_caller_identity()["Account"]
            with self._lock:
                self._account_ids[frozen.access_key] = cached
        return cached

    def _source_credentials(self, target: ResolvedTarget) -> Credentials:
        env = target.environment
        if target.profile is None and env is not None and (static := env.static_credentials()) is not None:
            return static
        session = self._profile_session(target.profile) if target.profile else self._session
        try:
            credentials = session.get_credentials()
        except ProfileNotFound as exc:
            raise CredentialsError(str(exc), code="profile_not_found", hint="list_profiles shows the profiles") from exc
        if credentials is None:
            where = f"profile {target.profile!r}" if target.profile else "the default credential chain"
            raise CredentialsError(
                f"no AWS credentials found in {where}",
                code="no_credentials",
                hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use a profile or account alias, or set_environment",
            )
        return credentials

    def _profile_session(self, profile: str) -> botocore.session.Session:
        with self._lock:
            session = self._profile_sessions.get(profile)
            if session is None:
                session = self._pinned(botocore.session.Session(profile=profile))
                if profile not in session.available_profiles:
                    raise CredentialsError(
                        f"profile {profile!r} is not in the AWS config or credentials files",
                        code="profile_not_found",
                        hint="list_profiles shows the profiles this server can read",
                    )
                session.register_component("data_loader", self._session.get_component("data_loader"))
                self._profile_sessions[profile] = session
            return session

    def _pinned(self, session: botocore.session.Session) -> botocore.session.Session:
        """Make AWS_ENDPOINT_URL apply to the clients botocore creates by itself, too.

        A profile with role_arn/source_profile, SSO, or web identity makes botocore create its own
        STS/SSO clients through `session.create_client` while resolving credentials; without this they
        would ignore an endpoint that came from `.env` (and reach AWS from the sandbox or the tests).
        """
        endpoint = self.settings.endpoint_url
        if endpoint is not None:
            create = session.create_client
            session.create_client = lambda *args, **kwargs: create(*args, **{"endpoint_url": endpoint, **kwargs})
        return session

    def _profile_region(self, profile: str) -> str | None:
        return self._profile_session(profile).get_config_variable("region")

    def _assume_role(self, source: Credentials, target: ResolvedTarget) -> dict[str, Any]:
        """Called by botocore's refreshable credentials on first use and before expiry."""
        assert target.role_arn
        sts = self._client_for(source.get_frozen_credentials(), "sts", target.region)
        request: dict[str, Any] = {
            "RoleArn": target.role_arn,
            "RoleSessionName": self.settings.role_session_name,
            "DurationSeconds": self.settings.role_duration_seconds,
        }
        if target.external_id:
            request["ExternalId"] = target.external_id
        with self._lock:
            self.assume_role_calls += 1
        issued = sts.assume_role(**request)["Credentials"]
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": issued["Expiration"].isoformat(),
        }


class AwsExecutor:
    """Runs `AwsCall`s: through the guard, then in a worker thread."""

    def __init__(self, clients: AwsClients, guard: CallGuard, max_workers: int) -> None:
        self.clients = clients
        self.guard = guard
        self._limiter = anyio.CapacityLimiter(max_workers)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def execute(self, call: AwsCall) -> dict[str, Any]:
        return await self.run(call, lambda client: _response(getattr(client, call.method)(**call.params)))

    async def run(self, call: AwsCall, work: Callable[[BaseClient], T]) -> T:
        """Pass `call` through the guard, then run `work` with the target's client in a worker thread.

        `work` makes the call its own way (paginated, streamed, presigned); it must not make others.
        """
        return await self.guard.run(
            call, lambda: self.run_blocking(lambda: work(self.clients.client(call.target, call.service)))
        )

    async def presign(self, call: AwsCall, expires_in: int) -> str:
        """A presigned URL is signed locally, but it grants whatever the call would do: guard it the same."""
        return await self.run(
            call,
            lambda client: client.generate_presigned_url(call.method, Params=dict(call.params), ExpiresIn=expires_in),
        )

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking AWS work in a worker thread; failures come back as `OpsError`s."""
        try:
            return await self.in_thread(fn, *args)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a tool error, see errors.from_exception
            raise from_exception(exc) from None


def _response(response: dict[str, Any]) -> dict[str, Any]:
    response.pop("ResponseMetadata", None)
    return response


class ServiceManager:
    """Base of the curated service managers: what to call and how to shape the answer.

    Subclasses set `service` (botocore's name) and build calls with `call()`; they never see
    credentials or clients, and every call they make passes the guard.
    """

    service: str = ""

    def __init__(self, executor: AwsExecutor) -> None:
        self.executor = executor

    def resolve(self, target: Target) -> ResolvedTarget:
        from services.invocation import current

        return self.executor.clients.resolve(target, current().environment)

    async def call(self, target: Target | ResolvedTarget, operation: str, summary: str = "", **params: Any) -> dict:
        resolved = target if isinstance(target, ResolvedTarget) else self.resolve(target)
        call = AwsCall(resolved, self.service, operation, {k: v for k, v in params.items() if v is not None}, summary)
        return await self.executor.execute(call)
