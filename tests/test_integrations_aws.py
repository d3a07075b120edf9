"""EVENT_BUS and MESSAGE_QUEUE senders against moto, through the server's own guard, credentials and audit; and the
background health checks against a real HTTP receiver on loopback and moto, on both stores."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from integrations.aws import PROBES, SYSTEM_SUBJECT, AwsRoute, _client_error
from integrations.health import HealthChecker
from integrations.models import IntegrationSecrets, IntegrationSpec, State
from integrations.registry import IntegrationRegistry
from integrations.senders.aws import BODY_LIMIT, EventBusSender, MessageQueueSender, fit_document
from sandbox import DEFAULT_ACCOUNT, PROD_ACCOUNT
from server import build_app
from tests.conftest import Clock
from tests.helpers import audit_records
from tests.repo import ROOT

pytestmark = pytest.mark.anyio

NO_SECRETS = IntegrationSecrets()


@dataclass(frozen=True)
class Event:
    """The part of the outbox's OutgoingEvent these senders read."""

    event_id: str
    event_type: str
    payload: dict[str, Any]

    def envelope(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "type": self.event_type,
            "timestamp": "2026-05-04T10:00:00.000+00:00",
            "data": self.payload,
        }


def event(**data: Any) -> Event:
    return Event("evt_2mX0c1", "aws.destructive", {"operation": "s3:DeleteBucket", **data})


PROD_READ_ONLY = "accounts:\n  prod:\n    read_only: true\n"


@pytest.fixture
def app(make_settings, request: pytest.FixtureRequest, tmp_path: Path):
    """The server's parts on a state database of the test's own; parametrized indirectly with a policy file's text."""
    overrides = {"AWS_MCP_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    if policy := getattr(request, "param", None):
        (tmp_path / "policy.yaml").write_text(policy)
        overrides["AWS_MCP_POLICY_FILE"] = str(tmp_path / "policy.yaml")
    built = build_app(make_settings(**overrides))
    yield built
    built.runtime.store.close()


@pytest.fixture
def route(app) -> AwsRoute:
    return AwsRoute(app.runtime.executor, app.runtime.audit)


@pytest.fixture
def registry(app) -> IntegrationRegistry:
    return IntegrationRegistry(app.runtime.store)


def queue_url(account: str, name: str, region: str = "us-east-1") -> str:
    """The queue URL as AWS spells it (moto answers with its own host; the integration takes AWS's form)."""
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def received(sqs, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return messages.get("Messages", [])


def sends(audit_file: Path) -> list[dict[str, Any]]:
    return [record for record in audit_records(audit_file) if record.get("tool", "").startswith("integrations.")]


async def test_an_event_bus_gets_the_event_as_detail_and_a_rule_routes_it_to_a_queue(
    aws, route: AwsRoute, registry: IntegrationRegistry, audit_file: Path
) -> None:
    account = aws()
    sqs, events = account.client("sqs"), account.client("events")
    url = sqs.create_queue(QueueName="ops-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = events.create_event_bus(Name="ops")["EventBusArn"]
    events.put_rule(Name="from-mcp", EventBusName="ops", EventPattern=json.dumps({"source": ["aws-ops-mcp"]}))
    events.put_targets(Rule="from-mcp", EventBusName="ops", Targets=[{"Id": "queue", "Arn": arn}])
    integration, _ = registry.create(IntegrationSpec(name="bus", type="EVENT_BUS", endpoint=bus))

    attempt = await EventBusSender(route).send(event(), integration, NO_SECRETS)

    assert attempt.ok and attempt.error is None
    (message,) = received(sqs, url)
    envelope = json.loads(message["Body"])
    assert envelope["source"] == "aws-ops-mcp" and envelope["detail-type"] == "aws.destructive"
    assert envelope["detail"] == event().envelope()
    (record,) = sends(audit_file)
    assert record["principal"] == SYSTEM_SUBJECT and record["tool"] == "integrations.send"
    assert record["operation"] == "events:PutEvents" and record["outcome"] == "ok"
    assert record["target"]["account_id"] == DEFAULT_ACCOUNT and record["target"]["region"] == "us-east-1"
    assert record["integration"] == {"id": integration.id, "name": "bus", "type": "EVENT_BUS"}
    assert record["event_id"] == "evt_2mX0c1"
    assert "DeleteBucket" not in json.dumps(record), "the audit keeps the body's size and hash, not the body"


async def test_sqs_and_sns_in_another_account_receive_the_event_through_the_aliased_role(
    aws, route: AwsRoute, registry: IntegrationRegistry, audit_file: Path
) -> None:
    prod = aws(account="prod")
    sqs, sns = prod.client("sqs", "us-east-1"), prod.client("sns", "us-east-1")
    direct = sqs.create_queue(QueueName="ops-direct")["QueueUrl"]
    fanned = sqs.create_queue(QueueName="ops-fanned")["QueueUrl"]
    fanned_arn = sqs.get_queue_attributes(QueueUrl=fanned, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="ops-alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=fanned_arn)
    to_queue, _ = registry.create(
        IntegrationSpec(
            name="queue", type="MESSAGE_QUEUE", endpoint=queue_url(PROD_ACCOUNT, "ops-direct"), aws_account="prod"
        )
    )
    to_topic, _ = registry.create(
        IntegrationSpec(name="topic", type="MESSAGE_QUEUE", endpoint=topic, aws_account="prod")
    )
    sender = MessageQueueSender(route)

    assert (await sender.send(event(), to_queue, NO_SECRETS)).ok
    assert (await sender.send(event(), to_topic, NO_SECRETS)).ok

    (message,) = received(sqs, direct)
    assert json.loads(message["Body"]) == event().envelope()
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "aws.destructive"
    (notification,) = received(sqs, fanned)
    assert json.loads(json.loads(notification["Body"])["Message"]) == event().envelope()
    assert [r["target"]["account_id"] for r in sends(audit_file)] == [PROD_ACCOUNT, PROD_ACCOUNT]
    assert [r["operation"] for r in sends(audit_file)] == ["sqs:SendMessage", "sns:Publish"]


async def test_a_missing_queue_is_a_failure_not_worth_retrying_with_the_aws_code(
    aws, route: AwsRoute, registry: IntegrationRegistry
) -> None:
    aws(account="prod").client("sqs", "us-east-1").create_queue(QueueName="ops-direct")
    # Without aws_account the server's default credentials send, in the default account: no such queue there.
    integration, _ = registry.create(
        IntegrationSpec(name="queue", type="MESSAGE_QUEUE", endpoint=queue_url(PROD_ACCOUNT, "ops-direct"))
    )

    attempt = await MessageQueueSender(route).send(event(), integration, NO_SECRETS)

    assert not attempt.ok and not attempt.retryable and not attempt.gone
    assert attempt.status == 400
    assert attempt.error is not None and "NonExistentQueue" in attempt.error


@pytest.mark.parametrize("app", [pytest.param(PROD_READ_ONLY, id="prod-read-only")], indirect=True)
async def test_a_policy_that_makes_the_target_account_read_only_refuses_the_send_clearly(
    aws, route: AwsRoute, registry: IntegrationRegistry, audit_file: Path
) -> None:
    sqs = aws(account="prod").client("sqs", "us-east-1")
    url = sqs.create_queue(QueueName="ops-direct")["QueueUrl"]
    integration, _ = registry.create(
        IntegrationSpec(
            name="queue", type="MESSAGE_QUEUE", endpoint=queue_url(PROD_ACCOUNT, "ops-direct"), aws_account="prod"
        )
    )

    attempt = await MessageQueueSender(route).send(event(), integration, NO_SECRETS)

    assert not attempt.ok and not attempt.retryable and attempt.status is None
    assert attempt.error is not None and attempt.error.startswith("policy_denied: sqs:SendMessage (write) refused")
    assert attempt.error.endswith("accounts.prod.read_only: true refuses write operations")
    assert received(sqs, url) == []
    (record,) = sends(audit_file)
    assert record["decision"] == "deny" and record["outcome"] == "policy_denied"
    assert record["target"]["account_id"] == PROD_ACCOUNT


async def test_an_event_past_256_kb_arrives_fitted_with_its_id_type_and_original_size(
    aws, route: AwsRoute, registry: IntegrationRegistry
) -> None:
    sqs = aws().client("sqs")
    url = sqs.create_queue(QueueName="ops-big")["QueueUrl"]
    integration, _ = registry.create(
        IntegrationSpec(name="queue", type="MESSAGE_QUEUE", endpoint=queue_url(DEFAULT_ACCOUNT, "ops-big"))
    )
    big = event(listing=["k" * 1000] * 300, note="kept")

    attempt = await MessageQueueSender(route).send(big, integration, NO_SECRETS)

    assert attempt.ok, attempt.error
    (message,) = received(sqs, url)
    body = json.loads(message["Body"])
    assert len(message["Body"]) <= BODY_LIMIT
    assert body["id"] == "evt_2mX0c1" and body["type"] == "aws.destructive"
    assert body["data"]["note"] == "kept" and body["data"]["operation"] == "s3:DeleteBucket"
    assert body["data"]["listing"].startswith("<") and "sha256:" in body["data"]["listing"]
    assert body["truncated"]["original_bytes"] > 300_000


async def test_a_fifo_queue_keeps_one_message_per_event_however_often_it_is_sent(
    aws, route: AwsRoute, registry: IntegrationRegistry
) -> None:
    sqs = aws().client("sqs")
    url = sqs.create_queue(QueueName="ops.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    integration, _ = registry.create(
        IntegrationSpec(name="fifo", type="MESSAGE_QUEUE", endpoint=queue_url(DEFAULT_ACCOUNT, "ops.fifo"))
    )
    sender = MessageQueueSender(route)

    for _ in range(2):  # a retry after a lost answer
        assert (await sender.send(event(), integration, NO_SECRETS)).ok

    (message,) = received(sqs, url)
    assert json.loads(message["Body"])["id"] == "evt_2mX0c1"


def test_fitting_keeps_a_small_document_as_it_is_and_never_drops_id_or_type() -> None:
    small = {"id": "e1", "type": "t", "data": {"a": [1, 2]}}
    assert json.loads(fit_document(small)) == small
    many = {"id": "e1", "type": "t", "data": {f"k{i}": "v" * 100 for i in range(5000)}}
    fitted = json.loads(fit_document(many, limit=4096))
    assert fitted["id"] == "e1" and fitted["type"] == "t" and fitted["truncated"]["original_bytes"] > 500_000
    assert len(fit_document(many, limit=4096)) <= 4096
    wide = {"id": "e1", "type": "t", **{f"k{i}": i for i in range(2000)}}
    assert json.loads(fit_document(wide, limit=300)).keys() == {"id", "type", "truncated"}


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ThrottlingException", 400, True),
        ("Throttling", 400, True),
        ("InternalFailure", 500, True),
        ("ServiceUnavailable", 503, True),
        ("AccessDenied", 403, False),
        ("AccessDeniedException", 400, False),
        ("ResourceNotFoundException", 400, False),
        ("NotFound", 404, False),
    ],
)
def test_throttling_and_aws_failures_are_retryable_and_refusals_are_not(code: str, status: int, retryable: bool):
    outcome = _client_error(client_error(code, status))
    assert outcome.retryable is retryable and outcome.status == status and outcome.code == code


class Receiver(ThreadingHTTPServer):
    """A health endpoint on loopback whose answer the test sets."""

    status = 200
    requests: list[tuple[str, str, str]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            server.requests.append((self.command, self.path, body))
            self.send_response(server.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_HEAD = answer

        def log_message(self, *args: Any) -> None:
            pass

    server = Receiver(("127.0.0.1", 0), Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def hook(receiver: Receiver, **check: Any) -> IntegrationSpec:
    port = receiver.server_address[1]
    health = {"interval_seconds": 10, "failure_threshold": 2, "success_threshold": 2, **check}
    return IntegrationSpec(
        name=f"hook-{port}", type="WEBHOOK", endpoint=f"http://127.0.0.1:{port}/hook", health_check=health
    )


@pytest.fixture
def shared(make_settings, database_url: str):
    """Settings on a shared state database (a SQLite file, then PostgreSQL)."""
    return make_settings(AWS_MCP_DATABASE_URL=database_url)


async def test_health_checks_flip_active_to_error_after_the_failure_threshold_and_back_after_the_success_one(
    shared, receiver: Receiver
) -> None:
    clock = Clock()
    app = build_app(shared)
    try:
        registry = IntegrationRegistry(app.runtime.store, clock=clock)
        route = AwsRoute(app.runtime.executor, app.runtime.audit)
        checker = HealthChecker(registry, route, allow_private=True, clock=clock)
        integration, _ = registry.create(hook(receiver, method="POST", body='{"ping":1}', headers={"X-Probe": "1"}))

        states = []
        for status in (200, 500, 500, 200, 200):
            receiver.status = status
            assert await checker.run_due() == 1
            assert await checker.run_due() == 0, "not due again before its interval"
            states.append(registry.get(integration.id).state)
            clock.advance(10)

        assert states == [State.ACTIVE, State.ACTIVE, State.ERROR, State.ERROR, State.ACTIVE]
        assert receiver.requests[0] == ("POST", "/hook", '{"ping":1}')
        health = registry.health(integration.id)
        assert [r.status for r in health.results] == [200, 200, 500, 500, 200]
        assert [r.healthy for r in health.results] == [True, True, False, False, True]
        assert health.results[2].error == "HTTP 500; expected 200"
        assert all(r.latency_ms is not None and r.latency_ms >= 0 for r in health.results)
        assert health.next_check_at == clock.now
    finally:
        app.runtime.store.close()


async def test_two_checkers_on_one_database_run_each_check_once(shared, receiver: Receiver) -> None:
    clock = Clock()
    apps = [build_app(shared), build_app(shared)]
    try:
        registries = [IntegrationRegistry(app.runtime.store, clock=clock) for app in apps]
        checkers = [
            HealthChecker(
                registry,
                AwsRoute(app.runtime.executor, app.runtime.audit),
                allow_private=True,
                clock=clock,
            )
            for app, registry in zip(apps, registries, strict=True)
        ]
        created = [registries[0].create(hook(receiver).model_copy(update={"name": f"hook-{i}"}))[0] for i in range(6)]
        ran = [0, 0]

        async def run(index: int) -> None:
            ran[index] = await checkers[index].run_due()

        async with anyio.create_task_group() as group:
            group.start_soon(run, 0)
            group.start_soon(run, 1)

        assert sum(ran) == 6
        assert len(receiver.requests) == 6
        for integration in created:
            assert len(registries[1].health(integration.id).results) == 1
            assert registries[1].get(integration.id).state is State.ACTIVE
    finally:
        for app in apps:
            app.runtime.store.close()


async def test_the_background_loop_checks_until_stopped(app, registry: IntegrationRegistry, receiver: Receiver):
    route = AwsRoute(app.runtime.executor, app.runtime.audit)
    checker = HealthChecker(registry, route, allow_private=True, poll_seconds=0.05)
    integration, _ = registry.create(hook(receiver))

    checker.start()
    with anyio.fail_after(5):
        while registry.get(integration.id).state is not State.ACTIVE:
            await anyio.sleep(0.05)
    with anyio.fail_after(2):
        await checker.stop()
    assert len(receiver.requests) == 1


async def test_a_loopback_endpoint_is_refused_unless_private_addresses_are_allowed(
    app, registry: IntegrationRegistry, receiver: Receiver
) -> None:
    checker = HealthChecker(registry, AwsRoute(app.runtime.executor, app.runtime.audit), allow_private=False)
    integration, _ = registry.create(hook(receiver, failure_threshold=1))

    assert await checker.run_due() == 1

    (result,) = registry.health(integration.id).results
    assert not result.healthy and result.status is None
    assert result.error == (
        "endpoint address refused: 127.0.0.1 is a private or loopback address: "
        "set AWS_MCP_WEBHOOK_ALLOW_PRIVATE=true to allow it"
    )
    assert receiver.requests == []
    assert registry.get(integration.id).state is State.ERROR


@pytest.mark.parametrize(
    "endpoint",
    ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/"],
)
async def test_metadata_addresses_are_refused_even_when_private_ones_are_allowed(
    app, registry: IntegrationRegistry, endpoint: str
) -> None:
    checker = HealthChecker(registry, AwsRoute(app.runtime.executor, app.runtime.audit), allow_private=True)
    integration, _ = registry.create(
        IntegrationSpec(name="metadata", type="WEBHOOK", endpoint=endpoint, health_check={"timeout_seconds": 2})
    )

    assert await checker.run_due() == 1

    (result,) = registry.health(integration.id).results
    assert not result.healthy and result.status is None
    assert result.error is not None and result.error.endswith("always refused"), result.error


async def test_an_event_bus_health_check_is_a_guarded_read_of_the_bus(
    aws, route: AwsRoute, registry: IntegrationRegistry, audit_file: Path
) -> None:
    bus = aws().client("events").create_event_bus(Name="ops")["EventBusArn"]
    missing = bus.replace("event-bus/ops", "event-bus/gone")
    checker = HealthChecker(registry, route, allow_private=False)
    present, _ = registry.create(IntegrationSpec(name="bus", type="EVENT_BUS", endpoint=bus, health_check={}))
    absent, _ = registry.create(IntegrationSpec(name="gone", type="EVENT_BUS", endpoint=missing, health_check={}))

    assert await checker.run_due() == 2

    (good,) = registry.health(present.id).results
    (bad,) = registry.health(absent.id).results
    assert good.healthy and good.status == 200 and good.error is None
    assert not bad.healthy and bad.error is not None and bad.error.startswith("ResourceNotFoundException")
    records = sends(audit_file)
    assert {r["operation"] for r in records} == {"events:DescribeEventBus"}
    assert {r["tool"] for r in records} == {"integrations.health_check"}
    assert {r["principal"] for r in records} == {SYSTEM_SUBJECT}


def test_the_sender_policy_grants_exactly_the_sends_and_the_health_checks_reads() -> None:
    document = json.loads((ROOT / "docs" / "iam" / "integrations-sender.json").read_text())
    granted = {action for statement in document["Statement"] for action in statement["Action"]}
    sends = {"events:PutEvents", "sqs:SendMessage", "sns:Publish"}
    reads = {f"{service}:{operation}" for service, (operation, _) in PROBES.items()}
    assert granted == sends | reads | {"kms:GenerateDataKey", "kms:Decrypt"}


async def test_a_tool_write_reaches_a_queue_in_another_account_through_the_worker_and_sends_make_no_events(
    aws, make_settings, tmp_path: Path, audit_file: Path
) -> None:
    """The whole path: a tool call's audit line → the outbox → the delivery worker → SQS SendMessage in prod,
    through the aliased role. The send itself is audited as system:integrations and queues nothing more."""
    from tests.conftest import connect, serve
    from tests.helpers import ok
    from tests.test_integrations_delivery import wait_until

    sqs = aws(account="prod").client("sqs")
    url = sqs.create_queue(QueueName="ops-events")["QueueUrl"]
    settings = make_settings(AWS_MCP_DATABASE_URL=f"sqlite:///{tmp_path / 'state.db'}")
    with serve(settings) as served:
        integrations = served.server.app.runtime.integrations
        spec = IntegrationSpec(
            name="queue",
            type="MESSAGE_QUEUE",
            endpoint=queue_url(PROD_ACCOUNT, "ops-events"),
            aws_account="prod",
            events=["aws.write"],
        )
        integration, _ = integrations.registry.create(spec)
        async with connect(served.url) as client:
            await ok(client, "create_secret", name="app/token", secret_string="s3cr3t-value-never-sent")

        (message,) = await wait_until(lambda: received(sqs, url))
        envelope = json.loads(message["Body"])
        assert envelope["type"] == "aws.write" and envelope["data"]["tool"] == "create_secret"
        assert "s3cr3t-value-never-sent" not in message["Body"]
        await wait_until(lambda: sends(audit_file))
        (send,) = sends(audit_file)
        assert send["principal"] == SYSTEM_SUBJECT and send["target"]["account_id"] == PROD_ACCOUNT
        await anyio.sleep(1)  # time enough for a send's own audit line to have queued an event, were it to
        deliveries = integrations.outbox.deliveries(integration.id).deliveries
        assert [(d.event_type, d.status) for d in deliveries] == [("aws.write", "delivered")]
        assert integrations.registry.get(integration.id).state is State.ACTIVE
