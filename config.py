"""Settings: one object read from the environment and `.env` (12-factor).

Every field's alias is the environment variable it comes from; `.env.example` and README list
them all (a test keeps the three in step). `ACCOUNT_<NAME>_*` variables become account aliases.
Invalid settings raise `ConfigError` naming the variable, and the server refuses to start.
"""

import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ACCOUNT_VARIABLE = re.compile(r"^ACCOUNT_([A-Za-z0-9_]+?)_(ROLE_ARN|PROFILE|REGION|EXTERNAL_ID)$")
TRUE_WORDS = {"1", "true", "yes", "on"}


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


def check_region(region: str, variable: str) -> str:
    """Accept a region botocore knows; its partition data is read only for names outside COMMON_REGIONS."""
    if not REGION_PATTERN.fullmatch(region) or (region not in COMMON_REGIONS and region not in known_regions()):
        raise ConfigError(f"{variable}={region!r} is not a known AWS region (for example us-east-1, eu-west-1)")
    return region


def check_role_arn(role_arn: str, variable: str) -> str:
    if not ROLE_ARN_PATTERN.match(role_arn):
        raise ConfigError(f"{variable}={role_arn!r} is not a role ARN (arn:aws:iam::123456789012:role/name)")
    return role_arn


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
    allow_unauthenticated: bool = Field(False, alias="AWS_MCP_ALLOW_UNAUTHENTICATED")
    allowed_role_arns: tuple[str, ...] = Field((), alias="AWS_MCP_ALLOWED_ROLE_ARNS")
    role_session_name: str = Field("aws-ops-mcp", alias="AWS_MCP_ROLE_SESSION_NAME", pattern=r"^[\w+=,.@-]{2,64}$")
    role_duration_seconds: int = Field(3600, alias="AWS_MCP_ROLE_DURATION_SECONDS", ge=900, le=43200)
    retry_mode: Literal["standard", "adaptive", "legacy"] = Field("standard", alias="AWS_MCP_RETRY_MODE")
    max_attempts: int = Field(3, alias="AWS_MCP_MAX_ATTEMPTS", ge=1, le=20)
    connect_timeout: float = Field(5.0, alias="AWS_MCP_CONNECT_TIMEOUT", gt=0)
    read_timeout: float = Field(30.0, alias="AWS_MCP_READ_TIMEOUT", gt=0)
    max_workers: int = Field(32, alias="AWS_MCP_MAX_WORKERS", ge=1, le=512)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="AWS_MCP_LOG_LEVEL")
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
    toolsets: tuple[str, ...] | None = Field(None, alias="AWS_MCP_TOOLSETS", description="Tool sets to publish.")
    shutdown_grace_seconds: float = Field(30.0, alias="AWS_MCP_SHUTDOWN_GRACE_SECONDS", ge=0, le=3600)
    accounts: dict[str, AccountAlias] = Field(default_factory=dict, exclude=True)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        return None if value is None else check_region(value, "AWS_REGION")

    @field_validator("allowed_role_arns", mode="before")
    @classmethod
    def _split_patterns(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("toolsets", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        """Comma-separated, case-insensitive; server.py checks the names against the declared tool sets."""
        if isinstance(value, str):
            names = tuple(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))
            if not names:
                raise ValueError("names no tool set")
            return names
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("allow_unauthenticated", "read_only", "auto_approve_destructive", mode="before")
    @classmethod
    def _boolean_word(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().lower() in TRUE_WORDS | {"0", "false", "no", "off", ""}:
                return value.strip().lower() in TRUE_WORDS
            raise ValueError("must be true or false")
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

    def account(self, name: str) -> AccountAlias | None:
        """Aliases are case-insensitive, and `-` matches the `_` of the variable name."""
        return self.accounts.get(name.strip().lower().replace("-", "_"))


def parse_accounts(environ: Mapping[str, str]) -> dict[str, AccountAlias]:
    """Collect `ACCOUNT_<NAME>_*` variables into aliases; names are case-insensitive."""
    fields: dict[str, dict[str, str]] = {}
    for variable, value in environ.items():
        match = ACCOUNT_VARIABLE.match(variable)
        if match and value.strip():
            fields.setdefault(match.group(1).lower(), {})[match.group(2).lower()] = value.strip()
    accounts = {}
    for name, values in sorted(fields.items()):
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
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    if "AWS_REGION" not in values and values.get("AWS_DEFAULT_REGION"):
        values["AWS_REGION"] = values["AWS_DEFAULT_REGION"]
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    raw = {key: value for key, value in values.items() if key in known and value != ""}
    try:
        return Settings.model_validate({**raw, "accounts": parse_accounts(values)})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = error["loc"][0] if error["loc"] else "settings"
            problems.append(f"{variable}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def settings_variables() -> list[str]:
    """Every variable `Settings` reads, for documentation checks."""
    return [field.alias for field in Settings.model_fields.values() if field.alias]
