"""Secrets Manager: list, describe, read, create, update and delete secrets."""

import base64
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from core.calls import Target
from services.base import ServiceManager
from tooling import tool


class SecretSummary(BaseModel):
    name: str
    arn: str
    description: str | None = None
    last_changed: datetime | None = None
    deleted_date: datetime | None = Field(None, description="Set when the secret is scheduled for deletion")
    tags: dict[str, str] = {}


class SecretList(BaseModel):
    secrets: list[SecretSummary]
    next_token: str | None = Field(None, description="Pass as next_token to get the next page; null when done")


class SecretDescription(SecretSummary):
    kms_key_id: str | None = None
    rotation_enabled: bool = False
    versions: dict[str, list[str]] = Field({}, description="Version id to its stages (AWSCURRENT, AWSPREVIOUS...)")
    created: datetime | None = None


class SecretValue(BaseModel):
    name: str
    arn: str
    version_id: str
    version_stages: list[str]
    secret_string: str | None = None
    secret_binary_base64: str | None = None
    created: datetime | None = None


class SecretWritten(BaseModel):
    name: str
    arn: str
    version_id: str | None = None


class SecretDeleted(BaseModel):
    name: str
    arn: str
    deletion_date: datetime | None = None
    recoverable: bool = Field(description="True while the recovery window lets restore-secret bring it back")


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in raw or []}


def _summary(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": raw["Name"],
        "arn": raw["ARN"],
        "description": raw.get("Description"),
        "last_changed": raw.get("LastChangedDate"),
        "deleted_date": raw.get("DeletedDate"),
        "tags": _tags(raw.get("Tags")),
    }


SecretId = Annotated[str, Field(description="Secret name or ARN")]


class SecretsManagerManager(ServiceManager):
    service = "secretsmanager"
    toolset = "secrets"

    @tool("List secrets", calls=("ListSecrets",), idempotent=True)
    async def list_secrets(
        self,
        target: Target,
        name_prefix: Annotated[str | None, Field(description="Only secrets whose name starts with this")] = None,
        max_results: Annotated[int | None, Field(ge=1, le=100, description="Page size (default 50)")] = None,
        next_token: Annotated[str | None, Field(description="next_token of the previous page")] = None,
    ) -> SecretList:
        """List Secrets Manager secrets (names and metadata, never values), a page at a time."""
        filters = [{"Key": "name", "Values": [name_prefix]}] if name_prefix else None
        page = await self.call(
            target, "ListSecrets", Filters=filters, MaxResults=max_results or 50, NextToken=next_token
        )
        secrets = [SecretSummary(**_summary(raw)) for raw in page.get("SecretList", [])]
        return SecretList(secrets=secrets, next_token=page.get("NextToken"))

    @tool("Describe a secret", calls=("DescribeSecret",), idempotent=True)
    async def describe_secret(self, target: Target, secret_id: SecretId) -> SecretDescription:
        """A secret's metadata: description, KMS key, rotation, versions and their stages. Never the value."""
        raw = await self.call(target, "DescribeSecret", SecretId=secret_id)
        return SecretDescription(
            **_summary(raw),
            kms_key_id=raw.get("KmsKeyId"),
            rotation_enabled=bool(raw.get("RotationEnabled")),
            versions=raw.get("VersionIdsToStages", {}),
            created=raw.get("CreatedDate"),
        )

    @tool("Read a secret value", calls=("GetSecretValue",), idempotent=True)
    async def get_secret_value(
        self,
        target: Target,
        secret_id: SecretId,
        version_stage: Annotated[str | None, Field(description="AWSCURRENT (default) or AWSPREVIOUS")] = None,
    ) -> SecretValue:
        """Read a secret's value. Sensitive: the policy may refuse it."""
        raw = await self.call(target, "GetSecretValue", SecretId=secret_id, VersionStage=version_stage)
        binary = raw.get("SecretBinary")
        return SecretValue(
            name=raw["Name"],
            arn=raw["ARN"],
            version_id=raw["VersionId"],
            version_stages=raw.get("VersionStages", []),
            secret_string=raw.get("SecretString"),
            secret_binary_base64=base64.b64encode(binary).decode() if binary is not None else None,
            created=raw.get("CreatedDate"),
        )

    @tool("Create a secret", calls=("CreateSecret",))
    async def create_secret(
        self,
        target: Target,
        name: Annotated[str, Field(description="Secret name, e.g. prod/db/password")],
        secret_string: Annotated[str, Field(description="The secret value (text or JSON)")],
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> SecretWritten:
        """Create a secret with a value."""
        raw = await self.call(
            target,
            "CreateSecret",
            Name=name,
            SecretString=secret_string,
            Description=description,
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()] or None,
        )
        return SecretWritten(name=raw["Name"], arn=raw["ARN"], version_id=raw.get("VersionId"))

    @tool("Update a secret value", calls=("PutSecretValue",))
    async def update_secret(
        self,
        target: Target,
        secret_id: SecretId,
        secret_string: Annotated[str, Field(description="The new value; the old one stays as AWSPREVIOUS")],
    ) -> SecretWritten:
        """Store a new value for a secret (a new version becomes AWSCURRENT)."""
        raw = await self.call(target, "PutSecretValue", SecretId=secret_id, SecretString=secret_string)
        return SecretWritten(name=raw["Name"], arn=raw["ARN"], version_id=raw.get("VersionId"))

    @tool("Delete a secret", calls=("DeleteSecret",), idempotent=True)
    async def delete_secret(
        self,
        target: Target,
        secret_id: SecretId,
        recovery_window_days: Annotated[int, Field(ge=7, le=30, description="Days it stays restorable")] = 30,
        force_delete_without_recovery: Annotated[bool, Field(description="Delete at once, unrecoverable")] = False,
    ) -> SecretDeleted:
        """Schedule a secret for deletion (or delete it at once). Needs confirmation."""
        if force_delete_without_recovery:
            summary = f"delete secret {secret_id}, no recovery window"
            params: dict[str, Any] = {"ForceDeleteWithoutRecovery": True}
        else:
            summary = f"delete secret {secret_id} after a {recovery_window_days}-day recovery window"
            params = {"RecoveryWindowInDays": recovery_window_days}
        raw = await self.call(target, "DeleteSecret", summary, SecretId=secret_id, **params)
        return SecretDeleted(
            name=raw["Name"],
            arn=raw["ARN"],
            deletion_date=raw.get("DeletionDate"),
            recoverable=not force_delete_without_recovery,
        )
