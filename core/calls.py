"""What a call is, as data: where it goes (`Target`, `ResolvedTarget`), what a session set
(`SessionEnvironment`), and the one description of an AWS operation every tool hands to the guard (`AwsCall`)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore
from botocore.credentials import Credentials


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
    session_name: str | None = None
    """The caller's name in CloudTrail when a role is assumed for them (Principal.session_name); None: the server's."""

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
    def qualified(self) -> str:
        """The name policy rules match and the audit writes: "service:Operation"."""
        return f"{self.service}:{self.operation}"

    @property
    def method(self) -> str:
        return botocore.xform_name(self.operation)
