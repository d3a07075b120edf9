"""The only maker of botocore clients: target → credentials → cached client.

- A call's target (account alias, profile, role ARN, region) resolves to source credentials (the
  profile as botocore resolves it, or the default chain) and, where a role is named, to assumed-role
  credentials cached per (source, role, external id, caller) and refreshed by botocore before they expire:
  one AssumeRole per caller and role per credential lifetime. A caller who is a person (a JWT's subject)
  is the RoleSessionName, and optionally the SourceIdentity, so CloudTrail names them.
- Clients come from one long-lived botocore session, created under a lock (sessions are not
  thread-safe) and cached per (credentials, service, region). A refresh yields new keys and so a
  new client; old clients age out of a bounded LRU.
- Every client sends through one connection pool per (CA bundle, socket options) (`SharedHttpSession`), not
  one of its own: a connection holds no credentials (each request is signed by its own client before it is
  sent), and 1,020 clients of a fleet query otherwise keep 1,020 pools, SSL contexts and idle connections.
- Every session here reads service models through the process's one botocore loader
  (catalog.models.data_loader), so a model the catalog already loaded is not loaded again; the edits
  botocore's clients make to models stay theirs (catalog.models.ClientModels).

Every method blocks: callers run them in worker threads (see core.executor).
"""

import fnmatch
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import Credentials, DeferredRefreshableCredentials, ReadOnlyCredentials
from botocore.exceptions import ProfileNotFound
from botocore.httpsession import URLLib3Session
from dateutil.tz import tzlocal

from catalog.models import share_data_loader
from config import ROLE_ARN_PATTERN, ConfigError, Settings, check_region
from core.calls import ResolvedTarget, SessionEnvironment, Target
from core.client_classes import forget_client_classes, forget_service_hooks, share_client_classes
from core.errors import CredentialsError, InvalidInput, NoCredentials, ProfileMissing, RoleNotAllowed, UnknownAccount
from observability.metrics import Metrics

DEFAULT_REGION = "us-east-1"
CLIENT_CACHE_SIZE = 2048
"""Clients kept (~45 KB each: their class, model and hooks template are shared, core/client_classes.py, and their
connections, SharedHttpSession); a fleet query makes one per (account, region, service), 1,020 for 60 accounts × 17
regions (the fleet bench's server grows ~90 MB for them, EC2's model included), and a cache smaller than that makes
every query build them all again."""
HTTP_HOSTS = 256
"""Hosts (service × region endpoints) whose connections the shared pool keeps; past it the least recently used
host's idle connections are closed (urllib3's PoolManager keeps 10 by default)."""
ROLE_CREDENTIALS_CACHE_SIZE = 4096
"""Assumed-role credentials kept, per (source, role, external id, caller); past it the least recently used go."""


class SharedHttpSession(URLLib3Session):
    """botocore's HTTP session, shared by clients: more hosts kept, and a client's `close()` closes nothing."""

    def _get_pool_manager_kwargs(self, **extra_kwargs: Any) -> dict[str, Any]:
        return super()._get_pool_manager_kwargs(num_pools=HTTP_HOSTS, **extra_kwargs)

    def close(self) -> None:
        """Other clients still send through these connections; they go with the process."""


def checked_region(region: str | None, source: str = "") -> str | None:
    """`region` if botocore knows it, else an `InvalidInput` (`source` says where it came from), before any call:
    botocore would refuse `us-east-1.evil.example` with its own error and send `mars-1` to a host that is none."""
    if not region:
        return None
    try:
        return check_region(region, "region")
    except ConfigError:
        raise InvalidInput(
            f"region {region!r}{source} is not a known AWS region",
            hint="use a region name such as us-east-1 or eu-west-1",
        ) from None


class AwsClients:
    """Credentials and clients for every target, cached; all methods are blocking and thread-safe."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        allowed_role_patterns: tuple[str, ...] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        """Cache hits and misses and AssumeRole calls are counted here; `on` hooks AWS calls in."""
        self.allowed_role_patterns = allowed_role_patterns
        """Patterns every assumed role must also match (the policy file's global allowed_role_arns)."""
        self._clock = clock or (lambda: datetime.now(tzlocal()))
        self._lock = threading.RLock()
        self._session = self._pinned(share_data_loader(botocore.session.Session(), makes_clients=True))
        share_client_classes(self._session)
        self._profile_sessions: dict[str, botocore.session.Session] = {}
        self._role_credentials: OrderedDict[tuple[str, str, str | None, str], DeferredRefreshableCredentials] = (
            OrderedDict()
        )
        self._clients: OrderedDict[tuple[str, str | None, str, str], BaseClient] = OrderedDict()
        self._config = Config(
            retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_pool_connections=settings.max_workers,
            user_agent_extra="aws-ops-mcp",
        )
        self._http_sessions: dict[tuple[Any, ...], SharedHttpSession] = {}
        self._account_ids: dict[str, str] = {}
        self.assume_role_calls = 0

    def on(self, event_name: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler (`before-send`, `after-call.*`...) on clients created from now on."""
        self._session.register(event_name, handler)
        forget_service_hooks(self._session)
        if event_name.startswith("creating-client-class"):
            forget_client_classes(self._session)

    def resolve(
        self, target: Target, environment: SessionEnvironment | None = None, session_name: str | None = None
    ) -> ResolvedTarget:
        """Expand the alias and pick the region; fails fast on unknown aliases and malformed ARNs.
        `session_name`: the caller's name in CloudTrail (Principal.session_name), None for the server's."""
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
            checked_region(target.region)
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
            session_name=session_name,
        )

    def check_role_allowed(self, role_arn: str) -> None:
        for patterns in (self.settings.allowed_role_arns, self.allowed_role_patterns):
            if patterns and not any(fnmatch.fnmatchcase(role_arn, pattern) for pattern in patterns):
                raise RoleNotAllowed(f"assuming {role_arn} is not allowed; allowed: {', '.join(patterns)}")

    def assumed_roles(self, target: ResolvedTarget) -> tuple[str, ...]:
        """Every role the target's credentials assume, in order: those of its profile's chain
        (`role_arn` with `source_profile`, as botocore follows them), then its own role ARN."""
        roles = list(self._profile_roles(target.profile)) if target.profile else []
        if target.role_arn:
            roles.append(target.role_arn)
        return tuple(roles)

    def reached_account(self, target: ResolvedTarget) -> str:
        """The account a call with this target acts in: the last assumed role's account, else the
        credentials' identity (GetCallerIdentity once per credentials, cached). Blocking."""
        roles = self.assumed_roles(target)
        if roles:
            return roles[-1].split(":")[4]
        return self.account_id(target)

    def credentials(self, target: ResolvedTarget) -> Credentials:
        for role in self.assumed_roles(target):
            self.check_role_allowed(role)
        source = self._source_credentials(target)
        if not target.role_arn:
            return source
        key = (target.source, target.role_arn, target.external_id, self.session_name(target))
        with self._lock:
            credentials = self._role_credentials.get(key)
            self.metrics.cache_lookup("credentials", credentials is not None)
            if credentials is None:
                credentials = DeferredRefreshableCredentials(
                    refresh_using=lambda: self._assume_role(source, target),
                    method="assume-role",
                    time_fetcher=self._clock,
                )
                self._role_credentials[key] = credentials
                if len(self._role_credentials) > ROLE_CREDENTIALS_CACHE_SIZE:
                    self._role_credentials.popitem(last=False)
            else:
                self._role_credentials.move_to_end(key)
        return credentials

    def session_name(self, target: ResolvedTarget) -> str:
        """The RoleSessionName of a role assumed for this target's caller: theirs, else AWS_MCP_ROLE_SESSION_NAME."""
        return target.session_name or self.settings.role_session_name

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
            self.metrics.cache_lookup("client", client is not None)
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
            self._share_connections(client)
            self._clients[key] = client
            if len(self._clients) > CLIENT_CACHE_SIZE:
                self._clients.popitem(last=False)
            return client

    def _share_connections(self, client: BaseClient) -> None:
        """Swap the client's own HTTP session (no connection opened yet) for the shared one with its settings.

        Its pool holds a connection per thread that can call AWS at once, per host: the server's workers and the
        fleet's (server.py's executor); several clients in one region reach the same host."""
        endpoint = client._endpoint
        own = endpoint.http_session
        key = (own._verify, tuple(own._socket_options))
        shared = self._http_sessions.get(key)
        if shared is None:
            shared = SharedHttpSession(
                verify=own._verify,
                proxies=self._config.proxies,
                timeout=(self._config.connect_timeout, self._config.read_timeout),
                max_pool_connections=self.settings.max_workers + self.settings.fleet_concurrency,
                socket_options=own._socket_options,
                client_cert=self._config.client_cert,
                proxies_config=self._config.proxies_config,
            )
            self._http_sessions[key] = shared
        endpoint.http_session = shared

    def account_id(self, target: ResolvedTarget) -> str:
        """The account the target's credentials act in (GetCallerIdentity, cached per credentials)."""
        frozen = self.frozen_credentials(target)
        with self._lock:
            cached = self._account_ids.get(frozen.access_key)
        self.metrics.cache_lookup("account_id", cached is not None)
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
            raise ProfileMissing(str(exc)) from exc
        if credentials is None:
            where = f"profile {target.profile!r}" if target.profile else "the default credential chain"
            raise NoCredentials(f"no AWS credentials found in {where}")
        return credentials

    def _profile_session(self, profile: str) -> botocore.session.Session:
        with self._lock:
            session = self._profile_sessions.get(profile)
            if session is None:
                session = self._pinned(botocore.session.Session(profile=profile))
                if profile not in session.available_profiles:
                    raise ProfileMissing(f"profile {profile!r} is not in the AWS config or credentials files")
                share_data_loader(session, makes_clients=True)
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

    def _profile_roles(self, profile: str) -> list[str]:
        """The role ARNs a profile's chain assumes, the first-assumed first; a cycle stops the walk."""
        profiles = self._profile_session(profile).full_config.get("profiles", {})
        chain: list[str] = []
        seen: set[str] = set()
        name: str | None = profile
        while name is not None and name not in seen:
            seen.add(name)
            config = profiles.get(name, {})
            if config.get("role_arn"):
                chain.append(config["role_arn"])
            name = config.get("source_profile") if config.get("role_arn") else None
        return list(reversed(chain))

    def _profile_region(self, profile: str) -> str | None:
        region = self._profile_session(profile).get_config_variable("region")
        return checked_region(region, f" (profile {profile!r} in the AWS config file)")

    def _assume_role(self, source: Credentials, target: ResolvedTarget) -> dict[str, Any]:
        """Called by botocore's refreshable credentials on first use and before expiry."""
        assert target.role_arn
        sts = self._client_for(source.get_frozen_credentials(), "sts", target.region)
        request: dict[str, Any] = {
            "RoleArn": target.role_arn,
            "RoleSessionName": self.session_name(target),
            "DurationSeconds": self.settings.role_duration_seconds,
        }
        if target.external_id:
            request["ExternalId"] = target.external_id
        if self.settings.source_identity and target.session_name:
            request["SourceIdentity"] = target.session_name
        with self._lock:
            self.assume_role_calls += 1
        self.metrics.assume_role_calls.inc()
        issued = sts.assume_role(**request)["Credentials"]
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": issued["Expiration"].isoformat(),
        }
