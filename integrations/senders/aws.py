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
from typing import Any

import anyio.to_thread

from guard.audit import digest
from integrations.aws import (
    SYSTEM_SUBJECT,
    THROTTLING_CODES,
    TRANSIENT_CODES,
    AwsEndpointError,
    AwsRoute,
    Outcome,
    destination,
)
from integrations.models import Integration, IntegrationSecrets, IntegrationType
from integrations.senders.base import Attempt, OutgoingEvent, SenderContext

SOURCE = "aws-ops-mcp"
MESSAGE_LIMIT = 256 * 1024
BODY_LIMIT = MESSAGE_LIMIT - 2048
"""Room left for EventBridge's Source, DetailType and Time and for SQS/SNS message attributes and subject."""
MARKER_BYTES = 48
"""About what a replaced value's `<N bytes sha256:…>` takes in the JSON."""
KEPT_KEYS = ("id", "type", "timestamp", "truncated")

__all__ = [
    "SYSTEM_SUBJECT",
    "EventBusSender",
    "MessageQueueSender",
    "event_bus_sender",
    "fit_document",
    "message_queue_sender",
]


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


async def _body(event: OutgoingEvent) -> str:
    """The event's JSON; fitted in a worker thread when it is over the limit (about 0.1 s for 2 MB)."""
    document = event.envelope()
    body = _dumps(document)
    if len(body) <= BODY_LIMIT:
        return body
    return await anyio.to_thread.run_sync(fit_document, document)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _replace_largest(root: dict[str, Any], excess: int) -> bool:
    """Replace one value under `root` by its digest so that the document shrinks: the smallest value on the path of
    largest values that saves `excess` bytes alone, else the object or list holding values too small to."""
    parent: Any = None
    at: Any = None
    node: Any = root
    while True:
        keys = node.keys() if isinstance(node, dict) else range(len(node))
        sizes = {key: len(_dumps(node[key])) for key in keys if node is not root or key not in KEPT_KEYS}
        if not sizes:
            return False
        largest = max(sizes, key=sizes.__getitem__)
        child = node[largest]
        enough = sizes[largest] >= excess + MARKER_BYTES
        if enough and isinstance(child, dict | list) and child:
            parent, at, node = node, largest, child
        elif enough or (parent is None and sizes[largest] > MARKER_BYTES):
            node[largest] = digest(child)
            return True
        elif parent is None:
            return False
        else:
            parent[at] = digest(node)
            return True


def _attempt(outcome: Outcome) -> Attempt:
    return Attempt(ok=outcome.ok, status=outcome.status, error=outcome.error, retryable=outcome.retryable)


class AwsSender:
    """What both senders share: the guarded route, and nothing to close (the executor's clients are the server's)."""

    def __init__(self, route: AwsRoute) -> None:
        self.route = route

    async def aclose(self) -> None:
        return None


def _attributes(event: OutgoingEvent) -> dict[str, dict[str, str]]:
    """For subscription filter policies and consumers that route before parsing the body."""
    return {
        "event_type": {"DataType": "String", "StringValue": event.event_type},
        "event_id": {"DataType": "String", "StringValue": event.event_id},
    }


def _deduplication_id(event: OutgoingEvent) -> str:
    """A FIFO deduplication id from the event id (stable across retries), always within AWS's 128 characters."""
    return hashlib.sha256(event.event_id.encode()).hexdigest()


class EventBusSender(AwsSender):
    """EVENT_BUS: EventBridge PutEvents to the bus ARN in `endpoint`. A failed entry (FailedEntryCount > 0) is a
    failed attempt, retryable when EventBridge says it was throttled or failed internally."""

    async def send(self, event: OutgoingEvent, integration: Integration, secrets: IntegrationSecrets) -> Attempt:
        detail = await _body(event)
        entry = {
            "Source": SOURCE,
            "DetailType": event.event_type,
            "Detail": detail,
            "EventBusName": integration.endpoint,
        }
        outcome = await self.route.call(
            integration,
            "PutEvents",
            {"Entries": [entry]},
            purpose="integrations.send",
            timeout=integration.timeout_seconds,
            audited_params={"Entries": [{**entry, "Detail": digest(detail)}]},
            extra={"event_id": event.event_id, "event_type": event.event_type},
        )
        if outcome.ok and outcome.response and outcome.response.get("FailedEntryCount"):
            failed = (outcome.response.get("Entries") or [{}])[0]
            code = failed.get("ErrorCode") or "FailedEntry"
            retryable = code in THROTTLING_CODES or code in TRANSIENT_CODES
            message = failed.get("ErrorMessage") or "EventBridge did not accept the entry"
            return Attempt(ok=False, status=outcome.status, error=f"{code}: {message}"[:500], retryable=retryable)
        return _attempt(outcome)


class MessageQueueSender(AwsSender):
    """MESSAGE_QUEUE: SQS SendMessage to the queue URL, or SNS Publish to the topic ARN, in `endpoint`."""

    async def send(self, event: OutgoingEvent, integration: Integration, secrets: IntegrationSecrets) -> Attempt:
        try:
            where = destination(IntegrationType.MESSAGE_QUEUE, integration.endpoint)
        except AwsEndpointError as error:
            return Attempt(ok=False, error=f"invalid_endpoint: {error}", retryable=False)
        body = await _body(event)
        params: dict[str, Any]
        if where.service == "sqs":
            operation, body_field = "SendMessage", "MessageBody"
            params = {"QueueUrl": where.endpoint, "MessageBody": body}
        else:
            operation, body_field = "Publish", "Message"
            params = {"TopicArn": where.endpoint, "Message": body, "Subject": f"{SOURCE} {event.event_type}"[:100]}
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
            extra={"event_id": event.event_id, "event_type": event.event_type},
        )
        return _attempt(outcome)


def event_bus_sender(context: SenderContext) -> EventBusSender:
    """`FACTORIES[EVENT_BUS]`: through the server's guarded executor, audited in its audit log."""
    return EventBusSender(AwsRoute(context.executor, context.audit))


def message_queue_sender(context: SenderContext) -> MessageQueueSender:
    """`FACTORIES[MESSAGE_QUEUE]`, as `event_bus_sender`."""
    return MessageQueueSender(AwsRoute(context.executor, context.audit))
