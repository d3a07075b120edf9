"""Settings: one object read from the environment and `.env` (12-factor).

Every field's alias is the environment variable it comes from; `.env.example` and README list
them all (a test keeps the three in step). `ACCOUNT_<NAME>_*` variables become account aliases.
Invalid settings raise `ConfigError` naming the variable, and the server refuses to start. Variables named like
this server's that it does not read (`AWS_MCP_READONLY`) are kept as `Settings.unknown_variables`, each with the
setting it most resembles: server.py warns about them, and refuses to start on a look-alike of a setting that
restricts the server (`UnknownVariable.loosens`).
"""

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ACCOUNT_FIELDS = ("ROLE_ARN", "PROFILE", "REGION", "EXTERNAL_ID")
ACCOUNT_VARIABLE = re.compile(rf"^ACCOUNT_([A-Za-z0-9_]+?)_({'|'.join(ACCOUNT_FIELDS)})$")
TRUE_WORDS = {"1", "true", "yes", "on"}
Role = Literal["viewer", "operator", "admin"]
"""What a caller may do: viewer (reads, no sensitive reads), operator (writes and destructive calls, confirmed),
admin (everything). Lowest first."""
ROLES: tuple[str, ...] = get_args(Role)


PYPROJECT = Path(__file__).resolve().parent / "pyproject.toml"
PROJECT_VERSION = re.compile(r'^\[project\]$(?:(?!^\[).)*?^version\s*=\s*"([^"]+)"', re.M | re.S)


@cache
def package_version() -> str:
    """The `[project]` version in pyproject.toml (the image holds the file too), read with one regex: neither
    importlib.metadata (it scans every installed distribution) nor tomllib (tens of milliseconds to import)."""
    try:
        match = PROJECT_VERSION.search(PYPROJECT.read_text(encoding="utf-8"))
    except OSError:
        match = None
    return match.group(1) if match else "0+unknown"


MIN_REQUEST_STATE_KEY_BYTES = 32
"""The MCP SDK's floor for a request-state sealing key (AES-256-GCM under an HKDF of the key)."""


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


REGION_PATTERN = re.compile(r"[a-z]+(-[a-z]+)+-\d+")
"""The shape of every region name; anything else is refused without reading botocore's data."""
COMMON_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "us-gov-east-1",
        "us-gov-west-1",
    }
)
"""Regions accepted without reading botocore's 1.25 MB endpoints.json (a test keeps them a subset of it)."""


@cache
def known_regions() -> frozenset[str]:
    """Every region in botocore's partition data (aws, aws-cn, aws-us-gov, ...)."""
    import botocore.loaders

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def comma_list(value: str) -> tuple[str, ...]:
    """`a, b,,c` → ("a", "b", "c"): how every list-valued variable is written."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def check_region(region: str, variable: str) -> str:
    """Accept a region botocore knows; its partition data is read only for names outside COMMON_REGIONS."""
    if not REGION_PATTERN.fullmatch(region) or (region not in COMMON_REGIONS and region not in known_regions()):
        raise ConfigError(f"{variable}={region!r} is not a known AWS region (for example us-east-1, eu-west-1)")
    return region


def check_role_arn(role_arn: str, variable: str) -> str:
    if not ROLE_ARN_PATTERN.match(role_arn):
        raise ConfigError(f"{variable}={role_arn!r} is not a role ARN (arn:aws:iam::123456789012:role/name)")
    return role_arn


@dataclass(frozen=True)
class UnknownVariable:
    """A variable named like this server's (`AWS_MCP_*`, `MCP_*`, `ACCOUNT_*`) that it does not read: a typo."""

    name: str
    source: str
    """"environment", or the path of the .env file it came from."""
    suggestion: str | None = None
    """The known variable it resembles most, if any resembles it."""
    loosens: str | None = None
    """Set when the suggestion is a setting that restricts the server and is itself unset: what the server would
    then do that the look-alike was meant to prevent."""

    def warning(self) -> str:
        guess = f"did you mean {self.suggestion}?" if self.suggestion else ".env.example lists every setting"
        return f"{self.name} ({self.source}) is not a setting this server reads: {guess}"

    def refusal(self) -> str:
        return (
            f"{self.name} ({self.source}) looks like {self.suggestion}, which is not set: {self.loosens}. "
            f"Rename it to {self.suggestion} (or remove it) and start again."
        )


class AccountAlias(BaseModel):
    """A named target: a role to assume and/or a profile to start from, with a default region."""

    name: str
    role_arn: str | None = None
    profile: str | None = None
    region: str | None = None
    external_id: str | None = None


class Settings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    region: str | None = Field(None, alias="AWS_REGION", description="Default region when a call names none.")
    endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL", description="Send every AWS call here.")
    auth_token: str | None = Field(None, alias="MCP_AUTH_TOKEN", description="Bearer token the HTTP endpoints need.")
    static_token_role: Role = Field("admin", alias="AWS_MCP_STATIC_TOKEN_ROLE")
    allow_unauthenticated: bool = Field(False, alias="AWS_MCP_ALLOW_UNAUTHENTICATED")
    jwks_url: str | None = Field(None, alias="AWS_MCP_JWKS_URL", description="JWT signing keys (RS256/ES256...).")
    jwt_secret: str | None = Field(None, alias="AWS_MCP_JWT_SECRET", min_length=32, description="HS256 key.")
    jwt_issuer: str | None = Field(None, alias="AWS_MCP_JWT_ISSUER")
    jwt_audience: tuple[str, ...] = Field((), alias="AWS_MCP_JWT_AUDIENCE")
    jwt_role_claim: str = Field("role", alias="AWS_MCP_JWT_ROLE_CLAIM", min_length=1)
    jwt_role_map: dict[str, Role] = Field(default_factory=dict, alias="AWS_MCP_JWT_ROLE_MAP")
    jwt_default_role: Role | None = Field(None, alias="AWS_MCP_JWT_DEFAULT_ROLE")
    resource_url: str | None = Field(None, alias="AWS_MCP_RESOURCE_URL")
    source_identity: bool = Field(False, alias="AWS_MCP_SOURCE_IDENTITY")
    allowed_role_arns: tuple[str, ...] = Field((), alias="AWS_MCP_ALLOWED_ROLE_ARNS")
    role_session_name: str = Field("aws-ops-mcp", alias="AWS_MCP_ROLE_SESSION_NAME", pattern=r"^[\w+=,.@-]{2,64}$")
    role_duration_seconds: int = Field(3600, alias="AWS_MCP_ROLE_DURATION_SECONDS", ge=900, le=43200)
    retry_mode: Literal["standard", "adaptive", "legacy"] = Field("standard", alias="AWS_MCP_RETRY_MODE")
    max_attempts: int = Field(3, alias="AWS_MCP_MAX_ATTEMPTS", ge=1, le=20)
    connect_timeout: float = Field(5.0, alias="AWS_MCP_CONNECT_TIMEOUT", gt=0)
    read_timeout: float = Field(30.0, alias="AWS_MCP_READ_TIMEOUT", gt=0)
    max_workers: int = Field(32, alias="AWS_MCP_MAX_WORKERS", ge=1, le=512)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="AWS_MCP_LOG_LEVEL")
    log_format: Literal["json", "console"] | None = Field(None, alias="AWS_MCP_LOG_FORMAT")
    rate_limit_per_minute: int = Field(0, alias="AWS_MCP_RATE_LIMIT_PER_MINUTE", ge=0)
    rate_limit_storage: str = Field("memory://", alias="AWS_MCP_RATE_LIMIT_STORAGE", pattern=r"^[a-z0-9+]+://")
    ip_rate_limit_per_minute: int = Field(6000, alias="AWS_MCP_IP_RATE_LIMIT_PER_MINUTE", ge=0)
    metrics_port: int | None = Field(None, alias="AWS_MCP_METRICS_PORT", ge=1, le=65535)
    allowed_hosts: tuple[str, ...] = Field((), alias="AWS_MCP_ALLOWED_HOSTS")
    allowed_origins: tuple[str, ...] = Field((), alias="AWS_MCP_ALLOWED_ORIGINS")
    policy_file: Path | None = Field(None, alias="AWS_MCP_POLICY_FILE")
    read_only: bool = Field(False, alias="AWS_MCP_READ_ONLY")
    confirmation_secret: str | None = Field(None, alias="AWS_MCP_CONFIRMATION_SECRET", min_length=16)
    confirmation_ttl_seconds: int = Field(300, alias="AWS_MCP_CONFIRMATION_TTL_SECONDS", ge=10, le=86400)
    auto_approve_destructive: bool = Field(False, alias="AWS_MCP_AUTO_APPROVE_DESTRUCTIVE")
    audit_log: str | None = Field(None, alias="AWS_MCP_AUDIT_LOG")
    files_root: Path | None = Field(None, alias="AWS_MCP_FILES_ROOT")
    max_file_bytes: int = Field(50 * 1024 * 1024, alias="AWS_MCP_MAX_FILE_BYTES", ge=1)
    max_output_bytes: int = Field(50_000, alias="AWS_MCP_MAX_OUTPUT_BYTES", ge=2_000, le=10_000_000)
    cache_dir: Path | None = Field(None, alias="AWS_MCP_CACHE_DIR")
    state_dir: Path | None = Field(None, alias="AWS_MCP_STATE_DIR")
    database_url: str | None = Field(None, alias="AWS_MCP_DATABASE_URL", repr=False)
    request_state_keys: tuple[str, ...] = Field((), alias="AWS_MCP_REQUEST_STATE_KEYS", repr=False)
    toolsets: tuple[str, ...] | None = Field(None, alias="AWS_MCP_TOOLSETS", description="Tool sets to publish.")
    shutdown_grace_seconds: float = Field(30.0, alias="AWS_MCP_SHUTDOWN_GRACE_SECONDS", ge=0, le=3600)
    org_role_name: str | None = Field(None, alias="AWS_MCP_ORG_ROLE_NAME", pattern=r"^[\w+=,.@-]{1,64}$")
    org_source: str | None = Field(None, alias="AWS_MCP_ORG_SOURCE", pattern=r"^[\w+=,.@-]{1,128}$")
    fleet_concurrency: int = Field(64, alias="AWS_MCP_FLEET_CONCURRENCY", ge=1, le=1024)
    fleet_max_items: int = Field(1000, alias="AWS_MCP_FLEET_MAX_ITEMS_PER_TARGET", ge=1, le=100_000)
    fleet_target_timeout_seconds: float = Field(60.0, alias="AWS_MCP_FLEET_TARGET_TIMEOUT_SECONDS", gt=0, le=3600)
    fleet_rate_per_second: float = Field(20.0, alias="AWS_MCP_FLEET_RATE_PER_SECOND", gt=0, le=10_000)
    webhook_allow_private: bool = Field(False, alias="AWS_MCP_WEBHOOK_ALLOW_PRIVATE")
    integration_queue_size: int = Field(10_000, alias="AWS_MCP_INTEGRATION_QUEUE_SIZE", ge=10, le=1_000_000)
    inventory_refresh_minutes: float = Field(0.0, alias="AWS_MCP_INVENTORY_REFRESH_MINUTES", ge=0, le=10_080)
    accounts: dict[str, AccountAlias] = Field(default_factory=dict, exclude=True)
    unknown_variables: tuple[UnknownVariable, ...] = Field((), exclude=True)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        return None if value is None else check_region(value, "AWS_REGION")

    @field_validator("allowed_role_arns", "jwt_audience", "allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _split_patterns(cls, value: object) -> object:
        return comma_list(value) if isinstance(value, str) else value

    @field_validator("toolsets", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        """Comma-separated, case-insensitive; server.py checks the names against the declared tool sets."""
        if isinstance(value, str):
            names = tuple(dict.fromkeys(comma_list(value.lower())))
            if not names:
                raise ValueError("names no tool set")
            return names
        return value

    @field_validator("jwt_role_map", mode="before")
    @classmethod
    def _role_map(cls, value: object) -> object:
        """`group=role,other-group=role`: claim values and the role each grants."""
        if not isinstance(value, str):
            return value
        mapping = {}
        for entry in comma_list(value):
            name, equals, role = entry.rpartition("=")
            if not equals or not name.strip():
                raise ValueError(f"{entry!r} is not <claim value>=<role>")
            mapping[name.strip()] = role.strip()
        return mapping

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not re.match(r"^https?://[^\s/]+$", origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], port * for any)")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            if not re.match(r"^[^\s/:]+(:(\d+|\*))?$|^\[[0-9a-fA-F:.]+\](:(\d+|\*))?$", host):
                raise ValueError(f"{host!r} is not a host (host[:port], port * for any)")
        return value

    @field_validator("request_state_keys", mode="before")
    @classmethod
    def _key_ring(cls, value: object) -> object:
        """Comma-separated; the first seals, every one unseals. The message never echoes a key."""
        if isinstance(value, str):
            value = comma_list(value)
        if isinstance(value, tuple | list):
            for position, key in enumerate(value, start=1):
                if isinstance(key, str) and len(key.encode()) < MIN_REQUEST_STATE_KEY_BYTES:
                    raise ValueError(
                        f"key {position} is {len(key.encode())} bytes; each needs at least "
                        f"{MIN_REQUEST_STATE_KEY_BYTES} (generate one: openssl rand -hex 32)"
                    )
            if len(set(value)) != len(value):
                raise ValueError("a key is listed twice")
        return value

    @field_validator("endpoint_url", "jwks_url", "resource_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("jwks_url")
    @classmethod
    def _https_unless_loopback(cls, value: str | None) -> str | None:
        """Keys fetched over plain HTTP could be swapped on the way: only a loopback JWKS may skip TLS."""
        if value is not None and value.startswith("http://") and not is_loopback(urlsplit(value).hostname or ""):
            raise ValueError("must be an https:// URL (http:// only for a loopback host)")
        return value

    @model_validator(mode="after")
    def _jwt_settings_agree(self) -> "Settings":
        if self.jwks_url and self.jwt_secret:
            raise ValueError(
                "set AWS_MCP_JWKS_URL (RS256/ES256 keys) or AWS_MCP_JWT_SECRET (HS256), not both: "
                "one key source per server keeps signing algorithms from being confused"
            )
        if self.jwt_enabled and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError(
                "AWS_MCP_JWT_ISSUER and AWS_MCP_JWT_AUDIENCE must be set with AWS_MCP_JWKS_URL or AWS_MCP_JWT_SECRET: "
                "a token is accepted only from the issuer you trust and only if it was issued for this server"
            )
        return self

    @property
    def jwt_enabled(self) -> bool:
        """Callers may authenticate with JWTs (AWS_MCP_JWKS_URL or AWS_MCP_JWT_SECRET is set)."""
        return bool(self.jwks_url or self.jwt_secret)

    @property
    def authenticated(self) -> bool:
        """The HTTP endpoints need a bearer token: the static one, a JWT, or either."""
        return bool(self.auth_token) or self.jwt_enabled

    @field_validator("allow_unauthenticated", "read_only", "auto_approve_destructive", "source_identity", mode="before")
    @classmethod
    def _boolean_word(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().lower() in TRUE_WORDS | {"0", "false", "no", "off", ""}:
                return value.strip().lower() in TRUE_WORDS
            raise ValueError("must be true or false")
        return value

    @field_validator("inventory_refresh_minutes")
    @classmethod
    def _off_or_a_minute(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("0 (off) or at least 1 minute: every round lists every partition the inventory holds")
        return value

    @field_validator("files_root")
    @classmethod
    def _existing_directory(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_dir():
            raise ValueError(f"{str(value)!r} is not an existing directory")
        return value.expanduser().resolve() if value is not None else None

    @property
    def index_cache_dir(self) -> Path:
        """Where the operation-search index is cached: AWS_MCP_CACHE_DIR, else the user's cache folder."""
        if self.cache_dir is not None:
            return self.cache_dir.expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
        return Path(base).expanduser() / "aws-ops-mcp"

    @property
    def state_directory(self) -> Path:
        """Where the embedded state database lives: AWS_MCP_STATE_DIR, else the user's state folder."""
        if self.state_dir is not None:
            return self.state_dir.expanduser()
        base = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
        return Path(base).expanduser() / "aws-ops-mcp"

    def account(self, name: str) -> AccountAlias | None:
        return self.accounts.get(alias_key(name))


def alias_key(name: str) -> str:
    """How an alias is looked up: case-insensitive, and `-` matches the `_` of the variable name."""
    return name.strip().lower().replace("-", "_")


def account_fields(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """alias -> field (role_arn, profile...) -> value, from the non-empty `ACCOUNT_<NAME>_*` variables."""
    fields: dict[str, dict[str, str]] = {}
    for variable, value in environ.items():
        match = ACCOUNT_VARIABLE.match(variable)
        if match and value.strip():
            fields.setdefault(match.group(1).lower(), {})[match.group(2).lower()] = value.strip()
    return fields


def parse_accounts(environ: Mapping[str, str]) -> dict[str, AccountAlias]:
    """Collect `ACCOUNT_<NAME>_*` variables into aliases; names are case-insensitive."""
    accounts = {}
    for name, values in sorted(account_fields(environ).items()):
        prefix = f"ACCOUNT_{name.upper()}"
        if "role_arn" not in values and "profile" not in values:
            raise ConfigError(f"{prefix}_ROLE_ARN or {prefix}_PROFILE must be set for account alias {name!r}")
        if "role_arn" in values:
            check_role_arn(values["role_arn"], f"{prefix}_ROLE_ARN")
        if "region" in values:
            check_region(values["region"], f"{prefix}_REGION")
        if "external_id" in values and "role_arn" not in values:
            raise ConfigError(f"{prefix}_EXTERNAL_ID needs {prefix}_ROLE_ARN: an external id only applies to a role")
        accounts[name] = AccountAlias(name=name, **values)
    return accounts


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
    """Read settings from `environ` (default: the process environment) over the optional `.env` file."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(environ)
    if "AWS_REGION" not in values and values.get("AWS_DEFAULT_REGION"):
        values["AWS_REGION"] = values["AWS_DEFAULT_REGION"]
    from variables import unknown_variables  # it reads Settings: imported here, not at the top

    unknown = unknown_variables(values, lambda name: "environment" if name in environ else str(env_file))
    try:
        return _validated(values, unknown)
    except ConfigError as exc:
        if not unknown:
            raise
        raise ConfigError(f"{exc}; " + "; ".join(u.warning() for u in unknown)) from None


def _validated(values: Mapping[str, str], unknown: tuple[UnknownVariable, ...]) -> Settings:
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    raw = {key: value for key, value in values.items() if key in known and value != ""}
    try:
        return Settings.model_validate({**raw, "accounts": parse_accounts(values), "unknown_variables": unknown})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{error['loc'][0]}: {message}" if error["loc"] else message)
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def settings_variables() -> list[str]:
    """Every variable `Settings` reads, for documentation checks."""
    return [field.alias for field in Settings.model_fields.values() if field.alias]
