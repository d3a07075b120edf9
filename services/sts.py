"""Identity and credentials: who the server acts as, where its credentials come from, which
profiles and account aliases it knows. Secrets are never returned, only masked."""

import configparser
import contextlib
import os
from pathlib import Path

from botocore.credentials import Credentials
from pydantic import BaseModel, Field

from config import Settings
from services.base import ServiceManager, Target
from services.errors import OpsError

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


class Profile(BaseModel):
    name: str
    region: str | None = None
    kind: str = Field(description="static (keys), role, sso, process, web-identity or config-only")
    role_arn: str | None = None
    source_profile: str | None = None


class ProfileList(BaseModel):
    profiles: list[Profile]
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
    service = "sts"

    async def get_account_info(self, target: Target) -> AccountInfo:
        raw = await self.call(target, "GetCallerIdentity")
        return AccountInfo(account=raw["Account"], arn=raw["Arn"], user_id=raw["UserId"])

    async def validate_credentials(self, target: Target) -> CredentialCheck:
        try:
            info = await self.get_account_info(target)
        except OpsError as exc:
            if exc.code in ("policy_denied", "unknown_account", "invalid_input"):
                raise
            return CredentialCheck(valid=False, error_code=exc.code, error_message=exc.message)
        return CredentialCheck(valid=True, account=info.account, arn=info.arn)

    async def get_credentials(self, target: Target, include_session_token: bool) -> CredentialInfo:
        resolved = self.resolve(target)
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


def list_profiles() -> ProfileList:
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
        Profile(
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


def list_accounts(settings: Settings) -> AccountList:
    return AccountList(
        accounts=[
            AccountAliasInfo(name=a.name, role_arn=a.role_arn, profile=a.profile, region=a.region)
            for a in settings.accounts.values()
        ],
        default_region=settings.region,
    )
