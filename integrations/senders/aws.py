"""EVENT_BUS (EventBridge PutEvents) and MESSAGE_QUEUE (SQS SendMessage, SNS Publish) senders.

Both send through `integrations.aws.AwsRoute`: the server's own guarded executor and credentials, the region taken
from the endpoint, `aws_account` choosing the credentials, audited as `system:integrations`. The event's JSON is
the EventBridge `Detail` (Source `aws-ops-mcp`, DetailType the event type) or the message body; past AWS's 256 KB
the largest parts of it are replaced by their size and hash (`fit_document`), never cut mid-value, and the body
says so (`truncated`). FIFO queues and topics group by integration and deduplicate on the event id, which is
stable across retries.
"""

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from guard.audit import digest
from integrations.aws import SYSTEM_SUBJECT, THROTTLING_CODES, TRANSIENT_CODES, AwsRoute, Outcome, destination
from integrations.models import Integration, IntegrationSecrets, IntegrationType

SOURCE = "aws-ops-mcp"
MESSAGE_LIMIT = 256 * 1024
BODY_LIMIT = MESSAGE_LIMIT - 2048
"""Room left for EventBridge's Source, DetailType and Time and for SQS/SNS message attributes and subject."""
MARKER_BYTES = 48
"""About what a replaced value's `<N bytes sha256:…>` takes in the JSON."""
KEPT_KEYS = ("id", "type", "truncated")

__all__ = ["SYSTEM_SUBJECT", "Attempt", "EventBusSender", "MessageQueueSender", "fit_document"]


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt's outcome, as every sender reports it. `status` is the HTTP status AWS answered with
    (None when no request was made: a policy denial, unknown credentials); `retryable` says whether another try
    later may succeed (throttling, AWS's 5xx, timeouts, no connection), so the worker need not read statuses."""

    ok: bool
    status: int | None = None
    retry_after: float | None = None
    gone: bool = False
    error: str | None = None
    retryable: bool = False


class Event(Protocol):
    """What the outbox hands a sender: a stable id, a type, and the document sent (`model_dump`)."""

    id: str
    type: str

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


def fit_document(document: Mapping[str, Any], limit: int = BODY_LIMIT) -> str:
    """`document` as compact ASCII JSON of at most `limit` bytes: within it, unchanged; past it, the biggest
    values are replaced by `<N bytes sha256:…>` (a whole list or object when no single part of it is enough) and
    `truncated` gives the original size and hash. `id` and `type` are always kept."""
    body = _dumps(document)
    if len(body) <= limit:
        return body
    shrunk: dict[str, Any] = copy.deepcopy(dict(document))
    shrunk["truncated"] = {"original_bytes": len(body), "sha256": hashlib.sha256(body.encode()).hexdigest()}
    while len(body := _dumps(shrunk)) > limit:
        if not _replace_largest(shrunk, len(body) - limit):
            return _dumps({key: shrunk[key] for key in KEPT_KEYS if key in shrunk})
    return body


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _replace_largest(root: dict[str, Any], excess: int) -> bool:
    """Replace one value under `root` so that the document shrinks, by `excess` bytes if one value can do it."""
    node: dict[str, Any] | list[Any] = root
    while True:
        keys = node.keys() if isinstance(node, dict) else range(len(node))
        sizes = {key: len(_dumps(node[key])) for key in keys if node is not root or key not in KEPT_KEYS}  # type: ignore[index]
        if not sizes:
            return False
        largest = max(sizes, key=sizes.__getitem__)
        child = node[largest]  # type: ignore[index]
        if sizes[largest] >= excess + MARKER_BYTES:
            if isinstance(child, dict | list) and child:
                node = child
                continue
            node[largest] = digest(child)  # type: ignore[index]
            return True
        if node is root:
            if sizes[largest] <= MARKER_BYTES:
                return False
            root[largest] = digest(child)  # type: ignore[index]
            return True
        return _replace_in(root, node)


def _replace_in(root: dict[str, Any], target: Any) -> bool:
    """Replace `target` (a list or object somewhere under `root`) by its digest."""
    stack: list[dict[str, Any] | list[Any]] = [root]
    while stack:
        node = stack.pop()
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            if value is target:
                node[key] = digest(value)  # type: ignore[index]
                return True
            if isinstance(value, dict | list):
                stack.append(value)
    return False


def _attempt(outcome: Outcome) -> Attempt:
    return Attempt(ok=outcome.ok, status=outcome.status, error=outcome.error, retryable=outcome.retryable)


def _attributes(event: Event) -> dict[str, dict[str, str]]:
    """For subscription filter policies and consumers that route before parsing the body."""
    return {
        "event_type": {"DataType": "String", "StringValue": event.type},
        "event_id": {"DataType": "String", "StringValue": event.id},
    }


def _deduplication_id(event: Event) -> str:
    """A FIFO deduplication id from the event id (stable across retries), always within AWS's 128 characters."""
    return hashlib.sha256(event.id.encode()).hexdigest()


class EventBusSender:
    """EVENT_BUS: EventBridge PutEvents to the bus ARN in `endpoint`. A failed entry (FailedEntryCount > 0) is a
    failed attempt, retryable when EventBridge says it was throttled or failed internally."""

    def __init__(self, route: AwsRoute) -> None:
        self.route = route

    async def send(self, event: Event, integration: Integration, secrets: IntegrationSecrets) -> Attempt:
        detail = fit_document(event.model_dump(mode="json"))
        entry = {"Source": SOURCE, "DetailType": event.type, "Detail": detail, "EventBusName": integration.endpoint}
        outcome = await self.route.call(
            integration,
            "PutEvents",
            {"Entries": [entry]},
            purpose="integrations.send",
            timeout=integration.timeout_seconds,
            audited_params={"Entries": [{**entry, "Detail": digest(detail)}]},
            extra={"event_id": event.id, "event_type": event.type},
        )
        if outcome.ok and outcome.response and outcome.response.get("FailedEntryCount"):
            failed = (outcome.response.get("Entries") or [{}])[0]
            code = failed.get("ErrorCode") or "FailedEntry"
            retryable = code in THROTTLING_CODES or code in TRANSIENT_CODES
            message = failed.get("ErrorMessage") or "EventBridge did not accept the entry"
            return Attempt(ok=False, status=outcome.status, error=f"{code}: {message}"[:500], retryable=retryable)
        return _attempt(outcome)


class MessageQueueSender:
    """MESSAGE_QUEUE: SQS SendMessage to the queue URL, or SNS Publish to the topic ARN, in `endpoint`."""

    def __init__(self, route: AwsRoute) -> None:
        self.route = route

    async def send(self, event: Event, integration: Integration, secrets: IntegrationSecrets) -> Attempt:
        where = destination(IntegrationType.MESSAGE_QUEUE, integration.endpoint)
        body = fit_document(event.model_dump(mode="json"))
        params: dict[str, Any]
        if where.service == "sqs":
            operation, body_field = "SendMessage", "MessageBody"
            params = {"QueueUrl": where.endpoint, "MessageBody": body}
        else:
            operation, body_field = "Publish", "Message"
            params = {"TopicArn": where.endpoint, "Message": body, "Subject": f"{SOURCE} {event.type}"[:100]}
        params["MessageAttributes"] = _attributes(event)
        if where.fifo:
            params["MessageGroupId"] = integration.id
            params["MessageDeduplicationId"] = _deduplication_id(event)
        outcome = await self.route.call(
            integration,
            operation,
            params,
            purpose="integrations.send",
            timeout=integration.timeout_seconds,
            audited_params={**params, body_field: digest(body)},
            extra={"event_id": event.id, "event_type": event.type},
        )
        return _attempt(outcome)
