"""The errors a tool can return, and the one mapping from AWS/botocore failures to them.

A tool never lets a traceback cross the wire: anything raised below the tool layer is turned
into an `OpsError` (code, message, hint) and returned as an MCP tool error (isError).
"""

import re
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

PARAMETER_VALUE = re.compile(r"value: .*?, type:", re.DOTALL)
"""botocore's validation report quotes the rejected value, which may be a secret."""

HINTS: dict[str, str] = {
    "AccessDenied": "the credentials lack permission for this call: check the role's IAM policy",
    "AccessDeniedException": "the credentials lack permission for this call: check the role's IAM policy",
    "UnauthorizedOperation": "the credentials lack permission for this call: check the role's IAM policy",
    "ExpiredToken": "the session credentials expired: refresh them (aws sso login, or set_environment)",
    "ExpiredTokenException": "the session credentials expired: refresh them (aws sso login, or set_environment)",
    "InvalidClientTokenId": "the access key id is not valid in this partition: check the credentials",
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "ResourceNotFoundException": "check the name or id, the account and the region; list tools show what exists",
    "NoSuchBucket": "check the bucket name and account; list_buckets shows the buckets",
    "NoSuchKey": "check the key; list_objects shows the keys under a prefix",
    "NoSuchHostedZone": "check the zone id or domain; list_hosted_zones shows the zones",
    "ResourceExistsException": "a resource with that name exists already: pick another name or update it",
    "BucketAlreadyOwnedByYou": "the bucket exists already in this account",
    "InvalidRequestException": "the request conflicts with the resource's state: read the message",
    "ThrottlingException": "AWS is throttling: retry in a few seconds, or narrow the request",
    "Throttling": "AWS is throttling: retry in a few seconds, or narrow the request",
    "RequestLimitExceeded": "AWS is throttling: retry in a few seconds, or narrow the request",
}


class OpsError(Exception):
    """A failure the caller can act on. `code` is the AWS error code where there is one."""

    code = "error"
    hint = ""

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if hint is not None:
            self.hint = hint
        self.details = details

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "hint": self.hint, **self.details}

    def text(self) -> str:
        return f"{self.code}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


class InvalidInput(OpsError):
    code = "invalid_input"


class UnknownAccount(OpsError):
    code = "unknown_account"


class CredentialsError(OpsError):
    code = "credentials_error"


class RoleNotAllowed(OpsError):
    code = "role_not_allowed"
    hint = "the role is outside AWS_MCP_ALLOWED_ROLE_ARNS (or the policy's allowed_role_arns)"


class AwsError(OpsError):
    """AWS answered with an error; `code` is AWS's own error code."""


def from_exception(exc: BaseException) -> OpsError:
    """Map any failure below the tool layer to an `OpsError`. Unknown failures keep no detail."""
    if isinstance(exc, OpsError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = str(error.get("Message") or f"{exc.operation_name} failed with HTTP {status}")
        hint = HINTS.get(code, "read the message; check the parameters, the account and the region")
        return AwsError(message, code=code, hint=hint, operation=exc.operation_name)
    if isinstance(exc, ParamValidationError):
        report = PARAMETER_VALUE.sub("value: <redacted>, type:", str(exc.kwargs.get("report", exc)).strip())
        return InvalidInput(report, hint="fix the parameters named above")
    if isinstance(exc, NoCredentialsError):
        return CredentialsError(
            "no AWS credentials found",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use a profile, or call set_environment",
        )
    if isinstance(exc, PartialCredentialsError | ProfileNotFound):
        return CredentialsError(str(exc), hint="list_profiles shows the profiles this server can read")
    if isinstance(exc, SSOTokenLoadError | UnauthorizedSSOTokenError | TokenRetrievalError):
        return CredentialsError(str(exc), code="sso_token_expired", hint="run `aws sso login` for the profile")
    if isinstance(exc, NoRegionError):
        return InvalidInput("no region given and none configured", hint="pass region, or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return OpsError(str(exc), code="endpoint_unreachable", hint="check the region and the network; retry")
    if isinstance(exc, BotoCoreError):
        return OpsError(str(exc), code=type(exc).__name__)
    return OpsError("internal error while running the tool", code="internal_error", hint="see the server log")
