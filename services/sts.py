"""Identity and credentials: who the server acts as, where its credentials come from, which
profiles and account aliases it knows. Secrets are never returned, only masked."""

import configparser
import contextlib
import os
from pathlib import Path
from typing import Annotated, Literal

from botocore.credentials import Credentials
from pydantic import BaseModel, Field

from core.calls import SessionEnvironment, Target
from core.clients import checked_region
from core.errors import InvalidInput, OpsError, PolicyDenied, UnknownAccount
from core.invocation import current
from services.base import ServiceManager
from tooling import Profile, Region, tool

CREDENTIAL_SOURCES = {
    "env": "environment variables",
    "session-env": "set_environment (this MCP session)",
    "shared-credentials-file": "credentials file",
    "config-file": "config file",
    "assume-role": "assumed role",
    "assume-role-with-web-identity": "web identity (IRSA / OIDC)",
    "sso": "IAM Identity Center (SSO)",
    "custom-process": "credential_process",
    "container-role": "container role (ECS / EKS Pod Identity)",
    "iam-role": "instance role (IMDS)",
}


def mask(value: str | None) -> str | None:
    """First 4 and last 4 characters; anything short enough to guess is masked whole."""
    if value is None:
        return None
    return f"{value[:4]}...{value[-4:]}" if len(value) >= 12 else "***"


class CredentialInfo(BaseModel):
    source: str = Field(description="Where the credentials come from: env, shared-credentials-file, sso, ...")
    source_description: str
    profile: str | None = None
    access_key_id: str = Field(description="Masked: first 4 and last 4 characters")
    secret_access_key: str = "***"
    session_token: str | None = Field(None, description="Masked, and only when include_session_token is true")
    has_session_token: bool
    expires_at: str | None = None


class ProfileInfo(BaseModel):
    name: str
    region: str | None = None
    kind: str = Field(description="static (keys), role, sso, process, web-identity or config-only")
    role_arn: str | None = None
    source_profile: str | None = None


class ProfileList(BaseModel):
    profiles: list[ProfileInfo]
    config_file: str
    credentials_file: str


class AccountAliasInfo(BaseModel):
    name: str
    role_arn: str | None = None
    profile: str | None = None
    region: str | None = None


class AccountList(BaseModel):
    accounts: list[AccountAliasInfo]
    default_region: str | None = None


class AccountInfo(BaseModel):
    account: str
    arn: str
    user_id: str


class CredentialCheck(BaseModel):
    valid: bool
    account: str | None = None
    arn: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class EnvironmentSet(BaseModel):
    set: list[str] = Field(description="Names of the settings that were applied (values are never echoed)")
    scope: Literal["process", "session"]


def _read_ini(path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    with contextlib.suppress(configparser.Error):
        parser.read(os.path.expanduser(path))
    return parser


def _profile_kind(values: dict[str, str]) -> str:
    if "sso_start_url" in values or "sso_session" in values:
        return "sso"
    if "role_arn" in values:
        return "web-identity" if "web_identity_token_file" in values else "role"
    if "credential_process" in values:
        return "process"
    if "aws_access_key_id" in values:
        return "static"
    return "config-only"


class StsManager(ServiceManager):
    """Identity and credentials: who the server acts as, and what it may act with."""

    service = "sts"
    toolset = "identity"

    @tool("Show credentials (masked)", idempotent=True)
    async def get_credentials(
        self,
        profile: Profile = None,
        include_session_token: Annotated[bool, Field(description="Also show the session token, masked")] = False,
    ) -> CredentialInfo:
        """Where the server's AWS credentials come from (env, profile, role, SSO, web identity...), with the access
        key id masked to its first and last 4 characters. Secrets are never shown."""
        resolved = self.resolve(Target(profile=profile))
        credentials: Credentials = await self.executor.run_blocking(self.executor.clients.credentials, resolved)
        frozen = await self.executor.run_blocking(credentials.get_frozen_credentials)
        method = getattr(credentials, "method", "unknown")
        expiry = getattr(credentials, "_expiry_time", None)
        return CredentialInfo(
            source=method,
            source_description=CREDENTIAL_SOURCES.get(method, method),
            profile=resolved.profile,
            access_key_id=mask(frozen.access_key) or "",
            has_session_token=bool(frozen.token),
            session_token=mask(frozen.token) if include_session_token else None,
            expires_at=expiry.isoformat() if expiry else None,
        )

    @tool("Set credentials for this session", idempotent=True, changes_state=True)
    async def set_environment(
        self,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        region: Region = None,
        profile: Profile = None,
    ) -> EnvironmentSet:
        """Use these AWS credentials, region or profile from now on, in memory only. Over HTTP it applies to the
        calling MCP session only. Returns the names of what was set, never the values."""
        invocation = current()
        session = invocation.session_key
        if session is None:
            raise InvalidInput(
                "this connection has no MCP session (stateless HTTP), so there is nowhere to keep credentials",
                hint="pass profile, role_arn or account on each call, or connect over SSE or a session-based transport",
            )
        if bool(access_key_id) != bool(secret_access_key):
            raise InvalidInput("access_key_id and secret_access_key go together", hint="pass both, or neither")
        checked_region(region)
        given = SessionEnvironment(access_key_id, secret_access_key, session_token, region, profile)
        applied = self.runtime.environments.update(invocation.principal, session, given)
        if self.runtime.transport == "stdio":
            export_to_process(applied)
        return EnvironmentSet(
            set=sorted(name for name, value in applied.items() if value),
            scope="process" if self.runtime.transport == "stdio" else "session",
        )

    @tool("List AWS profiles", idempotent=True)
    async def list_profiles(self) -> ProfileList:
        """Profiles in the AWS config and credentials files, with region and kind (static keys, role, SSO)."""
        return await self.executor.in_thread(read_profiles)

    @tool("List account aliases", idempotent=True)
    async def list_accounts(self) -> AccountList:
        """The account aliases this server knows: the values the `account` parameter of every tool accepts."""
        settings = self.runtime.settings
        return AccountList(
            accounts=[
                AccountAliasInfo(name=a.name, role_arn=a.role_arn, profile=a.profile, region=a.region)
                for a in settings.accounts.values()
            ],
            default_region=settings.region,
        )

    @tool("Who am I", calls=("GetCallerIdentity",), idempotent=True)
    async def get_account_info(self, target: Target) -> AccountInfo:
        """The AWS account, ARN and user id the call acts as (sts GetCallerIdentity)."""
        raw = await self.call(target, "GetCallerIdentity")
        return AccountInfo(account=raw["Account"], arn=raw["Arn"], user_id=raw["UserId"])

    @tool("Check credentials", calls=("GetCallerIdentity",), idempotent=True)
    async def validate_credentials(self, target: Target) -> CredentialCheck:
        """Whether the credentials for this target work: valid with account and ARN, or the AWS error."""
        try:
            info = await self.get_account_info(target)
        except (PolicyDenied, UnknownAccount, InvalidInput):
            raise
        except OpsError as exc:
            return CredentialCheck(valid=False, error_code=exc.code, error_message=exc.message)
        return CredentialCheck(valid=True, account=info.account, arn=info.arn)


PROCESS_VARIABLES = {
    "access_key_id": ("AWS_ACCESS_KEY_ID",),
    "secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "session_token": ("AWS_SESSION_TOKEN",),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "profile": ("AWS_PROFILE",),
}
"""Over stdio the session is the process: set_environment also sets these, for botocore's own lookups."""


def export_to_process(applied: dict[str, str | None]) -> None:
    for name, value in applied.items():
        for variable in PROCESS_VARIABLES[name]:
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


def read_profiles() -> ProfileList:
    """Profiles from the AWS config and credentials files, with their kind; never their secrets."""
    config_file = os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")
    credentials_file = os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    merged: dict[str, dict[str, str]] = {}
    config = _read_ini(config_file)
    for section in config.sections():
        name = (
            section.removeprefix("profile ").strip() if section.startswith("profile ") or section == "default" else None
        )
        if name:
            merged.setdefault(name, {}).update(config[section])
    credentials = _read_ini(credentials_file)
    for section in credentials.sections():
        merged.setdefault(section.strip(), {}).update(credentials[section])
    profiles = [
        ProfileInfo(
            name=name,
            region=values.get("region"),
            kind=_profile_kind(values),
            role_arn=values.get("role_arn"),
            source_profile=values.get("source_profile"),
        )
        for name, values in sorted(merged.items())
    ]
    return ProfileList(
        profiles=profiles,
        config_file=str(Path(config_file).expanduser()),
        credentials_file=str(Path(credentials_file).expanduser()),
    )
