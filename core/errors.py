"""Every error a tool can return, in one tree, and the one mapping from AWS/botocore failures to it.

A tool never lets a traceback cross the wire: anything raised below the tool layer becomes an
`OpsError` (code, message, hint) and reaches the model as an MCP tool error (isError). `code` is
this server's own snake_case code, except under `AwsError`, where it is AWS's error code verbatim.

    OpsError                    error
    ├── InvalidInput            invalid_input           the arguments are wrong; the message names the field
    │   ├── InvalidArguments    invalid_input           arguments the tool's input schema refuses (core/arguments.py)
    │   ├── UnknownOperation    unknown_operation       no such service or operation (suggestions in the message)
    │   ├── LocalFileRefused    local_file_refused      a {"$path"} outside AWS_MCP_FILES_ROOT, too big, not a
    │   │                                               regular file (FIFO, socket, device) or hard-linked
    │   ├── CommandRefused      command_refused         an AWS CLI line that is not one plain command
    │   └── NotARead            not_a_read              a write sent to the read-only command tool
    ├── NotFound                not_found               a name this server looked up found nothing
    ├── UnknownAccount          unknown_account         an `account` alias that is not configured
    ├── CredentialsError        credentials_error       no, partial or expired credentials
    │   ├── ProfileMissing      profile_not_found
    │   ├── NoCredentials       no_credentials
    │   └── SsoTokenExpired     sso_token_expired
    ├── RoleNotAllowed          role_not_allowed        a role outside the allowed patterns; no STS call was made
    ├── PolicyDenied            policy_denied           the policy file refused the call
    ├── ToolNotAllowed          tool_not_allowed        the tool is for other roles (tools/list does not show it)
    ├── RateLimited             rate_limited            too many tool calls by this caller; retry_after_seconds
    ├── ConfirmationRequired    confirmation_required   destructive: repeat with confirmation_token
    ├── ConfirmationRejected    confirmation_invalid    the token does not confirm this call
    ├── ConfirmationDeclined    confirmation_declined   the user said no
    ├── StateUnavailable        state_unavailable       the state database did not answer; nothing was run
    ├── EndpointUnreachable     endpoint_unreachable    no answer from AWS (network, region)
    ├── ShuttingDown            shutting_down           the server is draining: no new calls (core/drain.py)
    ├── Interrupted             interrupted             the shutdown deadline cut the call; AWS may have done it
    ├── AwsError                <AWS's code>            AWS answered with an error (AccessDenied, NoSuchBucket...)
    ├── BotocoreFailure         <botocore's class>      the SDK failed before AWS answered
    └── InternalError           internal_error          a bug: details go to the server log only
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
        """What a model reads: `code: message`, then one `name: value` line each for the hint and the details
        (a confirmation's token, expiry and action). Every client shows text, whatever it does with the rest."""
        lines = [f"{self.code}: {self.message}"]
        lines += [f"{name}: {value}" for name, value in {"hint": self.hint, **self.details}.items() if value]
        return "\n".join(lines)


class InvalidInput(OpsError):
    code = "invalid_input"


class InvalidArguments(InvalidInput):
    """Arguments the tool's input schema refuses, before the tool runs. `refused`: the names of the arguments at
    fault (unknown ones included), whose values the audit writes as a digest only."""

    hint = "fix the arguments named above; the tool's input schema in tools/list describes each one"

    def __init__(self, message: str, refused: frozenset[str]) -> None:
        super().__init__(message)
        self.refused = refused


class UnknownOperation(InvalidInput):
    code = "unknown_operation"
    hint = "search_operations finds operations by what they do"


class LocalFileRefused(InvalidInput):
    code = "local_file_refused"
    hint = 'give a path under AWS_MCP_FILES_ROOT, relative to it or absolute, e.g. {"$path": "build/app.zip"}'


class CommandRefused(InvalidInput):
    code = "command_refused"
    hint = "send one AWS CLI command, e.g. `ec2 describe-instances --filters Name=instance-state-name,Values=running`"


class NotARead(InvalidInput):
    code = "not_a_read"
    hint = "use execute_aws_write_command, which runs writes through the guard (and asks before destroying)"


class NotFound(OpsError):
    code = "not_found"


class UnknownAccount(OpsError):
    code = "unknown_account"


class CredentialsError(OpsError):
    code = "credentials_error"


class ProfileMissing(CredentialsError):
    code = "profile_not_found"
    hint = "list_profiles shows the profiles this server can read"


class NoCredentials(CredentialsError):
    code = "no_credentials"
    hint = "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use a profile or account alias, or set_environment"


class SsoTokenExpired(CredentialsError):
    code = "sso_token_expired"
    hint = "run `aws sso login` for the profile"


class RoleNotAllowed(OpsError):
    code = "role_not_allowed"
    hint = "the role is outside AWS_MCP_ALLOWED_ROLE_ARNS (or the policy's allowed_role_arns)"


class PolicyDenied(OpsError):
    code = "policy_denied"
    hint = "the server's policy refuses this call; ask an operator to change the policy if it should be allowed"


class ToolNotAllowed(OpsError):
    code = "tool_not_allowed"
    hint = "this tool is not for your role; tools/list shows the tools you can use"


class RateLimited(OpsError):
    """The caller made more tool calls in the last minute than its limit; `retry_after_seconds` says when."""

    code = "rate_limited"
    hint = "wait retry_after_seconds, then repeat the call; fewer, broader calls (filters, pagination) help"


class ConfirmationRequired(OpsError):
    code = "confirmation_required"
    hint = "show the user what will happen; if they agree, repeat the same call with confirmation_token set"


class ConfirmationRejected(OpsError):
    code = "confirmation_invalid"
    hint = "repeat the call without confirmation_token to get a new token for exactly this call"


class ConfirmationDeclined(OpsError):
    code = "confirmation_declined"
    hint = "the user did not approve the operation; nothing was changed"


class StateUnavailable(OpsError):
    code = "state_unavailable"
    hint = "the server's state database (AWS_MCP_DATABASE_URL) did not answer; nothing was changed: retry later"


class EndpointUnreachable(OpsError):
    code = "endpoint_unreachable"
    hint = "check the region and the network; retry"


class ShuttingDown(OpsError):
    code = "shutting_down"
    hint = "this server is stopping: retry in a few seconds (another replica, or the restarted server, answers)"


class Interrupted(OpsError):
    code = "interrupted"
    hint = "the AWS call may have completed before the server stopped: check the resource before retrying"


class AwsError(OpsError):
    """AWS answered with an error; `code` is AWS's own error code."""


class BotocoreFailure(OpsError):
    """The SDK failed before AWS answered; `code` is botocore's exception class."""


class InternalError(OpsError):
    code = "internal_error"
    hint = "see the server log"


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
        return NoCredentials("no AWS credentials found")
    if isinstance(exc, PartialCredentialsError | ProfileNotFound):
        return ProfileMissing(str(exc)) if isinstance(exc, ProfileNotFound) else CredentialsError(str(exc))
    if isinstance(exc, SSOTokenLoadError | UnauthorizedSSOTokenError | TokenRetrievalError):
        return SsoTokenExpired(str(exc))
    if isinstance(exc, NoRegionError):
        return InvalidInput("no region given and none configured", hint="pass region, or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return EndpointUnreachable(str(exc))
    if isinstance(exc, BotoCoreError):
        return BotocoreFailure(str(exc), code=type(exc).__name__)
    return InternalError("internal error while running the tool")
