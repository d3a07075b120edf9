"""The AWS side of EVENT_BUS and MESSAGE_QUEUE integrations: where an endpoint points, and the one guarded route
their sends and health checks take.

Every call goes as any tool's call does: built as an `AwsCall`, checked by the guard (the policy of the account the
call reaches, classes, allowed roles), made with the server's own credentials (`aws_account`, an alias, picks
them, so a role in another account can send) in a worker thread of the executor, and audited. The caller is
`SYSTEM_PRINCIPAL`, a fixed subject: the audit stream's event builder skips its records, so a delivery never
becomes an event to deliver. It never asks for confirmation: a call the policy makes destructive is refused.
"""

import dataclasses
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from botocore.exceptions import ClientError

from catalog.classify import OpClass
from core.calls import AwsCall, ResolvedTarget, Target
from core.errors import EndpointUnreachable, OpsError, PolicyDenied
from core.executor import AwsExecutor, send
from core.invocation import Invocation, Principal, activate, deactivate
from integrations.models import SYSTEM_SUBJECT, Integration, IntegrationType
from tooling import audit_record

SYSTEM_PRINCIPAL = Principal(SYSTEM_SUBJECT, "system", "admin")
"""Who integrations' AWS calls are made as. Admin: integrations are configured by admins only; the policy's
`roles.admin` and account sections still apply."""

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "KMSThrottlingException",
        "KMS.ThrottlingException",
        "ProvisionedThroughputExceededException",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalFailure", "InternalError", "InternalErrorException", "ServiceUnavailable", "RequestTimeout"}
)
"""AWS error codes worth another try later; any other code is a failure that a retry would only repeat."""

ERROR_TEXT_LIMIT = 500
PROBES: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "events": ("DescribeEventBus", lambda endpoint: {"Name": endpoint}),
    "sqs": ("GetQueueAttributes", lambda endpoint: {"QueueUrl": endpoint, "AttributeNames": ["QueueArn"]}),
    "sns": ("GetTopicAttributes", lambda endpoint: {"TopicArn": endpoint}),
}
"""A health check's cheap read of each destination: it exists, and the sending credentials reach it."""


class AwsEndpointError(ValueError):
    """An endpoint that is not an EventBridge bus ARN, an SQS queue URL or an SNS topic ARN."""


@dataclass(frozen=True)
class Destination:
    """Where an EVENT_BUS or MESSAGE_QUEUE integration sends: the service, the region and account the endpoint
    names, and the endpoint itself (bus ARN, queue URL, topic ARN)."""

    service: str  # events, sqs, sns
    region: str
    account: str
    endpoint: str

    @property
    def fifo(self) -> bool:
        return self.endpoint.endswith(".fifo")


ARN = re.compile(r"^arn:aws[a-z-]*:(?P<service>events|sns):(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<rest>.+)$")
QUEUE_URL = re.compile(r"^https://sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<account>\d{12})/[^/]+$")


def destination(integration_type: IntegrationType, endpoint: str) -> Destination:
    """The endpoint of an EVENT_BUS or MESSAGE_QUEUE integration, parsed; the region comes from it."""
    if integration_type is IntegrationType.EVENT_BUS:
        match = ARN.match(endpoint)
        if match and match["service"] == "events" and match["rest"].startswith("event-bus/"):
            return Destination("events", match["region"], match["account"], endpoint)
    elif integration_type is IntegrationType.MESSAGE_QUEUE:
        if match := QUEUE_URL.match(endpoint):
            return Destination("sqs", match["region"], match["account"], endpoint)
        match = ARN.match(endpoint)
        if match and match["service"] == "sns":
            return Destination("sns", match["region"], match["account"], endpoint)
    raise AwsEndpointError(f"{integration_type.value} endpoint {endpoint[:256]!r} is not one this server can send to")


@dataclass(frozen=True)
class Outcome:
    """What one guarded call came to. `code` is AWS's error code, or this server's (policy_denied, ...)."""

    ok: bool
    response: dict[str, Any] | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retryable: bool = False
    seconds: float = 0.0

    @property
    def error(self) -> str | None:
        """`code: message`, short, for an attempt's or a health result's `error`."""
        if self.ok:
            return None
        text = f"{self.code}: {self.message}" if self.message else str(self.code)
        return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"


class AuditWriter(Protocol):
    def write(self, **record: Any) -> None: ...


class AwsRoute:
    """Guarded AWS calls made as `SYSTEM_PRINCIPAL`, each audited with the integration it serves."""

    def __init__(self, executor: AwsExecutor, audit: AuditWriter) -> None:
        self.executor = executor
        self.audit = audit

    def target(self, integration: Integration, where: Destination) -> ResolvedTarget:
        """The server's own credentials for `aws_account` (an alias; none: the default chain), in the region the
        endpoint names. Blocking-safe: no AWS call."""
        return self.executor.clients.resolve(Target(account=integration.aws_account, region=where.region))

    async def call(
        self,
        integration: Integration,
        operation: str,
        params: Mapping[str, Any],
        *,
        purpose: str,
        timeout: float,
        audited_params: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """One guarded call to the integration's destination, within `timeout` seconds. `purpose` names it in the
        audit (`integrations.send`, `integrations.health_check`); `audited_params`: the parameters as the audit
        shows them (message bodies as their size and hash); `extra`: what the record adds (the event's id)."""
        try:
            where = destination(integration.type, integration.endpoint)
        except AwsEndpointError as error:
            return Outcome(False, code="invalid_endpoint", message=str(error), retryable=False)
        invocation = Invocation(tool=purpose, principal=SYSTEM_PRINCIPAL)
        invocation.extra.update(
            {"integration": {"id": integration.id, "name": integration.name, "type": integration.type.value}}
        )
        invocation.extra.update(extra or {})
        token = activate(invocation)
        started = time.perf_counter()
        try:
            with anyio.move_on_after(timeout) as scope:
                outcome = await self._guarded(integration, where, operation, params)
            if scope.cancelled_caught:
                outcome = Outcome(False, code="timeout", message=f"no answer within {timeout:g} s", retryable=True)
        finally:
            deactivate(token)
        outcome = dataclasses.replace(outcome, seconds=time.perf_counter() - started)
        if audited_params is not None:
            for record in invocation.calls:
                record["params"] = audited_params
        self.audit.write(**audit_record(invocation, "ok" if outcome.ok else str(outcome.code), outcome.seconds))
        return outcome

    async def probe(self, integration: Integration, timeout: float) -> Outcome:
        """The destination's health check: `PROBES`' read, guarded and audited like a send."""
        try:
            where = destination(integration.type, integration.endpoint)
        except AwsEndpointError as error:
            return Outcome(False, code="invalid_endpoint", message=str(error), retryable=False)
        operation, params = PROBES[where.service]
        return await self.call(
            integration, operation, params(where.endpoint), purpose="integrations.health_check", timeout=timeout
        )

    async def _guarded(
        self, integration: Integration, where: Destination, operation: str, params: Mapping[str, Any]
    ) -> Outcome:
        def blocking() -> Outcome:
            call = AwsCall(
                self.target(integration, where),
                where.service,
                operation,
                params,
                f"integration {integration.name}: {where.service} {operation}",
            )
            if self.executor.guard.check(call) is OpClass.DESTRUCTIVE:
                raise PolicyDenied(
                    f"{call.qualified} is classed destructive for this account (destructive_patterns); "
                    "integrations never ask for confirmation",
                    rule="destructive_patterns",
                )
            client = self.executor.clients.client(call.target, call.service)
            try:
                return Outcome(True, send(call, client), status=200)
            except ClientError as error:
                return _client_error(error)

        try:
            return await self.executor.run_blocking(blocking, abandon=True)
        except OpsError as error:
            return Outcome(
                False, code=error.code, message=error.message, retryable=isinstance(error, EndpointUnreachable)
            )


def _client_error(error: ClientError) -> Outcome:
    details = error.response.get("Error", {})
    code = str(details.get("Code") or "Unknown")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = str(details.get("Message") or f"{error.operation_name} failed with HTTP {status}")
    retryable = code in THROTTLING_CODES or code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500)
    return Outcome(False, status=status, code=code, message=message, retryable=retryable)
