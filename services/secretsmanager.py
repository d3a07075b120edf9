"""Secrets Manager: list, describe, read, create, update and delete secrets."""

import base64
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.base import ServiceManager, Target


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


class SecretsManager(ServiceManager):
    service = "secretsmanager"

    async def list_secrets(
        self, target: Target, name_prefix: str | None, max_results: int | None, next_token: str | None
    ) -> SecretList:
        filters = [{"Key": "name", "Values": [name_prefix]}] if name_prefix else None
        page = await self.call(
            target, "ListSecrets", Filters=filters, MaxResults=max_results or 50, NextToken=next_token
        )
        secrets = [SecretSummary(**_summary(raw)) for raw in page.get("SecretList", [])]
        return SecretList(secrets=secrets, next_token=page.get("NextToken"))

    async def describe_secret(self, target: Target, secret_id: str) -> SecretDescription:
        raw = await self.call(target, "DescribeSecret", SecretId=secret_id)
        return SecretDescription(
            **_summary(raw),
            kms_key_id=raw.get("KmsKeyId"),
            rotation_enabled=bool(raw.get("RotationEnabled")),
            versions=raw.get("VersionIdsToStages", {}),
            created=raw.get("CreatedDate"),
        )

    async def get_secret_value(self, target: Target, secret_id: str, version_stage: str | None) -> SecretValue:
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

    async def create_secret(
        self, target: Target, name: str, secret_string: str, description: str | None, tags: dict[str, str] | None
    ) -> SecretWritten:
        raw = await self.call(
            target,
            "CreateSecret",
            Name=name,
            SecretString=secret_string,
            Description=description,
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()] or None,
        )
        return SecretWritten(name=raw["Name"], arn=raw["ARN"], version_id=raw.get("VersionId"))

    async def update_secret(self, target: Target, secret_id: str, secret_string: str) -> SecretWritten:
        raw = await self.call(target, "PutSecretValue", SecretId=secret_id, SecretString=secret_string)
        return SecretWritten(name=raw["Name"], arn=raw["ARN"], version_id=raw.get("VersionId"))

    async def delete_secret(
        self, target: Target, secret_id: str, recovery_window_days: int, force_delete_without_recovery: bool
    ) -> SecretDeleted:
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
