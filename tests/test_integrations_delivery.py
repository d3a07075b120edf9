"""Integrations deliver the audit stream's events: through the served app over streamable HTTP, a tool call
against moto makes the event, a real receiver on loopback gets it and verifies its Standard Webhooks signature.
Retries and back-off, 410 Gone, a receiver that never answers, kill -9 mid-delivery, SSRF refusals, both stores.

The receivers listen on loopback, so these servers run with AWS_MCP_WEBHOOK_ALLOW_PRIVATE=true, except where a
test is about that refusal. Each test keeps its integrations in a database of its own.
"""

import http.server
import json
import random
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import anyio
import httpcore2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from standardwebhooks import Webhook

from catalog.classify import OpClass
from config import Settings
from integrations.events import Filter, events_for
from integrations.models import EventType, IntegrationSpec, Retry, State
from integrations.network import AddressRefused, PinnedBackend, check_endpoint, refusal
from integrations.outbox import Outbox, backoff_seconds, enqueue
from integrations.registry import IntegrationRegistry
from integrations.senders.http import RETRY_AFTER_CAP_SECONDS, outcome, retry_after_seconds
from integrations.worker import Lane
from integrations.writer import EventWriter
from observability.metrics import Metrics
from store.database import open_store
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect, serve
from tests.helpers import ok, sample, scrape
from tests.test_drain import server_process

pytestmark = pytest.mark.anyio

SECRET_VALUE = "hunter2-do-not-leak-7c1f"
DEFAULT_ACCOUNT = "123456789012"


# --- a receiver on loopback --------------------------------------------------------------------------------


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A threaded HTTP server on 127.0.0.1. `answers` are played in order (then `default`): a status, a
    (status, headers) pair, or "hang" (no answer until the receiver closes)."""

    answers: list[Any] = field(default_factory=list)
    default: Any = 200
    received: list[Received] = field(default_factory=list)
    closing: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/secret-path-token"

    def next_answer(self) -> Any:
        with self.arrived:
            return self.answers.pop(0) if self.answers else self.default

    def record(self, request: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        with self.arrived:
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.received.append(Received(time.time(), request.path, headers, body))
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} requests arrived"
                self.arrived.wait(left)
            return list(self.received)

    async def wait(self, count: int, timeout: float = 20) -> list[Received]:
        return await anyio.to_thread.run_sync(self.wait_for, count, timeout)


@contextmanager
def receiver(*answers: Any, default: Any = 200) -> Iterator[Receiver]:
    state = Receiver(list(answers), default)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.record(self, body)
            answer = state.next_answer()
            if answer == "hang":
                state.closing.wait(60)
                return
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.closing.set()
        server.shutdown()
        server.server_close()


# --- helpers ---------------------------------------------------------------------------------------------


AUDIT_EVENTS = [event.value for event in EventType if event not in (EventType.STATE_CHANGED, EventType.TEST)]


def webhook(url: str, **fields: Any) -> IntegrationSpec:
    """A webhook integration taking the audit stream's events (its own state changes are another test's)."""
    spec: dict[str, Any] = {
        "name": f"hook-{random.randrange(10**9)}",
        "type": "WEBHOOK",
        "endpoint": url,
        "events": AUDIT_EVENTS,
    }
    spec.update(fields)
    return IntegrationSpec(**spec)


@contextmanager
def served_with(make_settings, database: str, **overrides: str) -> Iterator[Any]:
    settings = make_settings(
        AWS_MCP_DATABASE_URL=database, AWS_MCP_WEBHOOK_ALLOW_PRIVATE=overrides.pop("allow_private", "true"), **overrides
    )
    with serve(settings) as served:
        yield served


def service(served: Any) -> Any:
    return served.server.app.runtime.integrations


async def wait_until(check: Callable[[], Any], timeout: float = 20, every: float = 0.1) -> Any:
    with anyio.fail_after(timeout):
        while not (result := await anyio.to_thread.run_sync(check)):
            await anyio.sleep(every)
    return result


async def create_secret(client: Any, name: str) -> None:
    await ok(client, "create_secret", name=name, secret_string=SECRET_VALUE)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'integrations.db'}"


# --- delivered and verified, on both stores ------------------------------------------------------------------


async def test_a_write_is_delivered_signed_and_verifiable_without_secrets(make_settings, database_url):
    with receiver() as hook, served_with(make_settings, database_url) as served:
        integrations = service(served)
        integration, secret = integrations.registry.create(webhook(hook.url, min_class="read"))
        async with connect(served.url) as client:
            await create_secret(client, "prod/db/password")
        (request,) = await hook.wait(1)
        data = Webhook(secret).verify(request.body, request.headers)
        assert data["type"] == EventType.WRITE.value and data["id"] == request.headers["webhook-id"]
        event = data["data"]
        assert event["principal"] and event["tool"] == "create_secret" and event["outcome"] == "ok"
        assert event["operation"] == "secretsmanager:CreateSecret" and event["class"] == "write"
        assert event["target"]["account_id"] == DEFAULT_ACCOUNT
        assert "://" not in event["summary"] and DEFAULT_ACCOUNT in event["summary"]
        assert "params" not in event and "calls" not in event and "session" not in event
        assert SECRET_VALUE.encode() not in request.body
        assert all(SECRET_VALUE not in value for value in request.headers.values())
        assert request.path == "/hooks/secret-path-token"
        assert request.headers["content-type"] == "application/json"

        (delivery,) = await wait_until(
            lambda: [
                d
                for d in integrations.outbox.deliveries(integration.id, "delivered").deliveries
                if d.event_type == "aws.write"
            ]
        )
        assert delivery.event_id == request.headers["webhook-id"] and delivery.attempts == 1
        assert delivery.last_status == 200
        await wait_until(lambda: integrations.registry.get(integration.id).state is State.ACTIVE)


async def test_rotation_signs_with_both_secrets_and_reads_are_not_sent_under_min_class_write(tmp_path, make_settings):
    with receiver() as hook, served_with(make_settings, sqlite_url(tmp_path)) as served:
        integrations = service(served)
        integration, old = integrations.registry.create(webhook(hook.url))
        new = integrations.registry.rotate_secret(integration.id)
        async with connect(served.url) as client:
            await ok(client, "get_account_info")  # a read: no event for min_class write
            await create_secret(client, "app/key")
        (request,) = await hook.wait(1)
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        for secret in (old, new):
            assert Webhook(secret).verify(request.body, request.headers)["type"] == "aws.write"
        await anyio.sleep(0.5)
        assert len(hook.received) == 1


async def test_confirmations_denials_and_failures_become_events(tmp_path, make_settings):
    with receiver() as hook, served_with(make_settings, sqlite_url(tmp_path)) as served:
        integrations = service(served)
        _, secret = integrations.registry.create(webhook(hook.url, min_class="read"))
        async with connect(served.url) as client:
            await create_secret(client, "doomed")
            asked = await client.call_tool("delete_secret", {"secret_id": "doomed"})
            assert asked.is_error
            token = next(
                line.split(": ", 1)[1]
                for line in asked.content[0].text.splitlines()
                if line.startswith("confirmation_token: ")
            )
            await ok(client, "delete_secret", secret_id="doomed", confirmation_token=token)
            again = await client.call_tool("delete_secret", {"secret_id": "doomed", "confirmation_token": token})
            assert again.is_error
        requests = await hook.wait(5)
        await anyio.sleep(0.5)
        requests = hook.received
        types = [Webhook(secret).verify(r.body, r.headers)["type"] for r in requests]
        assert sorted(types) == sorted(
            ["aws.write", "confirmation.issued", "confirmation.used", "aws.destructive", "call.failed"]
        )  # the last: the spent token, refused
        assert all(SECRET_VALUE.encode() not in r.body for r in requests)


async def test_a_policy_denial_is_an_event(tmp_path, make_settings):
    with receiver() as hook, served_with(make_settings, sqlite_url(tmp_path), AWS_MCP_READ_ONLY="true") as served:
        _, secret = service(served).registry.create(webhook(hook.url, events=["policy.denied"]))
        async with connect(served.url) as client:
            refused = await client.call_tool("create_secret", {"name": "x", "secret_string": SECRET_VALUE})
            assert refused.is_error
        (request,) = await hook.wait(1)
        data = Webhook(secret).verify(request.body, request.headers)
        assert data["type"] == "policy.denied" and data["data"]["decision"] == "deny"
        assert SECRET_VALUE.encode() not in request.body


# --- retries, back-off, Retry-After, 410, redirects ---------------------------------------------------------


async def test_503_twice_then_200_is_delivered_with_the_back_off_visible(tmp_path, make_settings):
    retry = {"max_attempts": 5, "initial_delay_seconds": 0.3, "max_delay_seconds": 0.6, "multiplier": 2}
    with (
        receiver(503, (503, {"Retry-After": "1"}), 200) as hook,
        served_with(make_settings, sqlite_url(tmp_path)) as served,
    ):
        integrations = service(served)
        integration, secret = integrations.registry.create(webhook(hook.url, retry=retry))
        async with connect(served.url) as client:
            await create_secret(client, "retried")
        first, second, third = await hook.wait(3)
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
        for request in (first, second, third):
            Webhook(secret).verify(request.body, request.headers)
        assert 0 <= second.at - first.at < 0.3 + 1.5  # full jitter in [0, 0.3], plus a poll at most
        assert 1.0 <= third.at - second.at < 0.6 + 2.5  # Retry-After: 1 outweighs the jitter's [0, 0.6]
        (delivery,) = await wait_until(
            lambda: [d for d in integrations.outbox.deliveries(integration.id).deliveries if d.status == "delivered"]
        )
        assert delivery.attempts == 3 and delivery.last_status == 200
        await wait_until(lambda: integrations.registry.get(integration.id).state is State.ACTIVE)


async def test_retries_end_in_the_dead_letter_state_and_replay_sends_the_same_event_again(tmp_path, make_settings):
    retry = {"max_attempts": 2, "initial_delay_seconds": 0.1, "max_delay_seconds": 0.1}
    with receiver(500, 500, default=204) as hook, served_with(make_settings, sqlite_url(tmp_path)) as served:
        integrations = service(served)
        integration, _ = integrations.registry.create(webhook(hook.url, retry=retry))
        async with connect(served.url) as client:
            await create_secret(client, "dead-lettered")
        (dead,) = await wait_until(
            lambda: [d for d in integrations.outbox.deliveries(integration.id).deliveries if d.status == "dead"]
        )
        assert dead.attempts == 2 and dead.last_status == 500 and dead.last_error == "HTTP 500"
        replayed = integrations.outbox.replay(integration.id, dead.id)
        assert replayed.status == "pending" and replayed.attempts == 0
        requests = await hook.wait(3)
        assert len({r.headers["webhook-id"] for r in requests}) == 1
        await wait_until(lambda: integrations.outbox.delivery(integration.id, dead.id).status == "delivered")
        samples = scrape(f"{served.url}/metrics")
        assert sample(samples, "aws_mcp_integration_deliveries_total", type="WEBHOOK", outcome="dead") == 1
        assert sample(samples, "aws_mcp_integration_deliveries_total", type="WEBHOOK", outcome="delivered") == 1


async def test_410_gone_disables_the_integration_and_the_change_is_announced(tmp_path, make_settings):
    with (
        receiver(410) as hook,
        receiver() as watcher,
        served_with(make_settings, sqlite_url(tmp_path)) as served,
    ):
        integrations = service(served)
        integration, _ = integrations.registry.create(webhook(hook.url))
        _, watching = integrations.registry.create(webhook(watcher.url, events=["integration.state_changed"]))
        async with connect(served.url) as client:
            await create_secret(client, "gone")
        await hook.wait(1)
        disabled = await wait_until(
            lambda: (found := integrations.registry.get(integration.id)).state is State.INACTIVE and found
        )
        assert not disabled.enabled and "410" in (disabled.state_reason or "")
        (delivery,) = integrations.outbox.deliveries(integration.id).deliveries
        assert delivery.status == "dead" and delivery.attempts == 1 and delivery.last_status == 410
        async with connect(served.url) as client:
            await create_secret(client, "after-gone")
        await anyio.sleep(1.5)
        assert len(hook.received) == 1  # an INACTIVE integration takes no new events
        changes = [Webhook(watching).verify(request.body, request.headers) for request in watcher.received]
        assert {change["type"] for change in changes} == {"integration.state_changed"}
        (gone,) = [change["data"] for change in changes if change["data"]["integration_id"] == integration.id]
        assert gone["old_state"] == "CONFIGURING" and gone["new_state"] == "INACTIVE" and "410" in gone["summary"]


async def test_a_redirect_is_a_failure_and_is_never_followed(tmp_path, make_settings):
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    with receiver((302, {"Location": metadata})) as hook, served_with(make_settings, sqlite_url(tmp_path)) as served:
        integrations = service(served)
        integration, _ = integrations.registry.create(webhook(hook.url))
        async with connect(served.url) as client:
            await create_secret(client, "redirected")
        (delivery,) = await wait_until(
            lambda: [d for d in integrations.outbox.deliveries(integration.id).deliveries if d.status == "dead"]
        )
        assert delivery.attempts == 1 and delivery.last_status == 302
        assert "redirects are not followed" in (delivery.last_error or "")
        assert len(hook.received) == 1


# --- a receiver that never answers does not slow tool calls --------------------------------------------------


async def test_a_receiver_that_never_answers_does_not_slow_tool_calls(tmp_path, make_settings):
    async def timed_calls(served: Any, label: str) -> list[float]:
        timings = []
        async with connect(served.url) as client:
            for n in range(8):
                started = time.perf_counter()
                await create_secret(client, f"{label}-{n}")
                timings.append(time.perf_counter() - started)
        return timings

    with served_with(make_settings, sqlite_url(tmp_path)) as served:
        without = await timed_calls(served, "none")
    hung_database = f"sqlite:///{tmp_path / 'hang.db'}"
    with receiver(default="hang") as hook:
        with served_with(make_settings, hung_database) as served:
            integrations = service(served)
            integration, _ = integrations.registry.create(webhook(hook.url, timeout_seconds=30, concurrency=1))
            with_dead = await timed_calls(served, "hung")
            await hook.wait(1)
            assert len(hook.received) == 1  # concurrency 1: the one hung send holds the lane; the rest wait
            await wait_until(
                lambda: len(integrations.outbox.deliveries(integration.id, status="pending").deliveries) == 8
            )
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 3  # shutdown cancels the hung send at once
        store = open_store(Settings(AWS_MCP_DATABASE_URL=hung_database))
        taken = Outbox(store).claim(integration.id, "next-replica", 10, lease_seconds=30)
        assert len(taken) == 8  # the hung send's claim was given back, not left to expire
        store.close()
    assert statistics.median(with_dead) < statistics.median(without) * 2 + 0.05, (without, with_dead)


# --- kill -9 mid-delivery, then restart ----------------------------------------------------------------------


async def test_a_server_killed_mid_delivery_delivers_after_restart(tmp_path, moto_endpoint, operation_index_dir):
    database = sqlite_url(tmp_path)
    settings = Settings(AWS_MCP_DATABASE_URL=database)
    store = open_store(settings)
    with receiver("hang", default=200) as hook:
        integration, secret = IntegrationRegistry(store).create(webhook(hook.url, timeout_seconds=2))
        environment = {
            "AWS_MCP_DATABASE_URL": database,
            "AWS_MCP_WEBHOOK_ALLOW_PRIVATE": "true",
            "AWS_MCP_TOOLSETS": "identity,secrets",
        }
        first_dir, second_dir = tmp_path / "first", tmp_path / "second"
        first_dir.mkdir()
        second_dir.mkdir()
        async with server_process(first_dir, moto_endpoint, operation_index_dir, **environment) as first:
            async with connect(first.url) as client:
                await create_secret(client, "survives")
            (held,) = await hook.wait(1)  # the receiver holds the first attempt open
            first.process.send_signal(signal.SIGKILL)
            assert await first.exit_code(within=10) == -signal.SIGKILL
        outbox = Outbox(store)
        (pending,) = outbox.deliveries(integration.id).deliveries
        assert pending.status == "pending" and pending.attempts == 0  # claimed, never settled
        killed = time.monotonic()
        async with server_process(second_dir, moto_endpoint, operation_index_dir, **environment):
            requests = await hook.wait(2, timeout=30)
            assert time.monotonic() - killed < 2 + 5 + 10  # the claim's lease: timeout + margin, plus start-up
            await wait_until(lambda: outbox.deliveries(integration.id).deliveries[0].status == "delivered")
        assert requests[1].headers["webhook-id"] == held.headers["webhook-id"]
        Webhook(secret).verify(requests[1].body, requests[1].headers)
        logs = (first_dir / "server.log").read_bytes() + (second_dir / "server.log").read_bytes()
        assert SECRET_VALUE.encode() not in logs and b"secret-path-token" not in logs
    store.close()


# --- network safety ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "::ffff:a9fe:a9fe",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "fe80::1",
        "0.0.0.0",
        "::",
        "224.0.0.251",
        "ff02::1",
        "255.255.255.255",
    ],
)
def test_link_local_metadata_unspecified_and_multicast_addresses_are_always_refused(address):
    assert "always refused" in (refusal(address, allow_private=True) or "")


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fc00::1", "::ffff:10.0.0.1"]
)
def test_private_and_loopback_addresses_need_the_allow_flag(address):
    assert "AWS_MCP_WEBHOOK_ALLOW_PRIVATE" in (refusal(address, allow_private=False) or "")
    assert refusal(address, allow_private=True) is None


def test_public_addresses_pass():
    assert refusal("93.184.216.34", allow_private=False) is None
    assert refusal("2606:2800:220:1:248:1893:25c8:1946", allow_private=False) is None


class Recording(httpcore2.AsyncNetworkBackend):
    """Stands in for the real network: records where a connection would go, connects nowhere."""

    def __init__(self) -> None:
        self.connected: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.connected.append(host)
        raise httpcore2.ConnectError("recorded, not connected")


def resolving(*answers: list[str]) -> Callable[..., Any]:
    """A resolver answering each lookup with the next answer (a rebinding DNS server)."""
    queue = list(answers)
    lookups: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    resolve.lookups = lookups  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    ("host", "answer"),
    [
        ("metadata.example", ["169.254.169.254"]),
        ("fd00:ec2::254", []),
        ("[fd00:ec2::254]", []),
        ("mixed.example", ["93.184.216.34", "127.0.0.1"]),
        ("mapped.example", ["::ffff:169.254.169.254"]),
    ],
)
async def test_the_pinned_backend_refuses_before_connecting(host, answer):
    backend = PinnedBackend(allow_private=False, resolver=resolving(answer))
    network = Recording()
    backend._inner = network  # type: ignore[assignment]
    with pytest.raises(AddressRefused):
        await backend.connect_tcp(host, 80, timeout=5)
    assert network.connected == []


async def test_dns_rebinding_cannot_change_the_address_after_the_check():
    """Each connection resolves once and connects to exactly the addresses it checked: a second answer
    (rebinding to metadata) is checked again, and refused, instead of being used unchecked."""
    resolver = resolving(["93.184.216.34"], ["169.254.169.254"])
    backend = PinnedBackend(allow_private=False, resolver=resolver)
    network = Recording()
    backend._inner = network  # type: ignore[assignment]
    with pytest.raises(httpcore2.ConnectError):
        await backend.connect_tcp("rebind.example", 443, timeout=5)
    assert network.connected == ["93.184.216.34"]
    with pytest.raises(AddressRefused):
        await backend.connect_tcp("rebind.example", 443, timeout=5)
    assert network.connected == ["93.184.216.34"]
    assert resolver.lookups == ["rebind.example", "rebind.example"]  # type: ignore[attr-defined]


async def test_check_endpoint_for_urls():
    with pytest.raises(AddressRefused):
        await check_endpoint("http://169.254.169.254/latest/meta-data/", allow_private=True)
    with pytest.raises(AddressRefused):
        await check_endpoint("http://[fd00:ec2::254]/", allow_private=True)
    with pytest.raises(AddressRefused):
        await check_endpoint("http://localhost:9/", allow_private=False)
    assert await check_endpoint("http://127.0.0.1:9/", allow_private=True) == ["127.0.0.1"]


async def test_the_pinned_client_connects_to_the_checked_address_with_the_hostname_in_host(tmp_path, make_settings):
    """A name no DNS knows, resolved by the pinned resolver to the receiver: the request reaches it with the
    name in the Host header (TLS would verify that name too), proving the connection used the pinned address."""
    from integrations.network import pinned_client

    async def resolve(host: str, port: int) -> list[str]:
        assert host == "receiver.invalid"
        return ["127.0.0.1"]

    with receiver(204) as hook:
        async with pinned_client(allow_private=True, resolver=resolve) as client:
            response = await client.post(f"http://receiver.invalid:{hook.port}/x", content=b"{}")
        assert response.status_code == 204
        (request,) = hook.received
        assert request.headers["host"] == f"receiver.invalid:{hook.port}"


@pytest.mark.parametrize("endpoint", ["http://localhost:{port}/hook", "http://127.0.0.1:{port}/hook"])
async def test_loopback_endpoints_are_refused_without_the_allow_flag(tmp_path, make_settings, endpoint):
    with (
        receiver() as hook,
        served_with(make_settings, sqlite_url(tmp_path), allow_private="false") as served,
    ):
        integrations = service(served)
        integration, _ = integrations.registry.create(webhook(endpoint.format(port=hook.port)))
        async with connect(served.url) as client:
            await create_secret(client, "not-to-loopback")
        (delivery,) = await wait_until(
            lambda: [d for d in integrations.outbox.deliveries(integration.id).deliveries if d.status == "dead"]
        )
        assert "AWS_MCP_WEBHOOK_ALLOW_PRIVATE" in (delivery.last_error or "") and delivery.attempts == 1
        assert hook.received == []


# --- REST_API authentication ---------------------------------------------------------------------------------


async def test_rest_api_bearer_and_sigv4(tmp_path, make_settings):
    with receiver() as bearer_hook, receiver() as signed_hook, served_with(make_settings, sqlite_url(tmp_path)) as s:
        registry = service(s).registry
        registry.create(
            IntegrationSpec(
                name="rest-bearer",
                type="REST_API",
                endpoint=bearer_hook.url,
                auth={"type": "BEARER_TOKEN", "token": "tok-abc-123"},
            )
        )
        registry.create(
            IntegrationSpec(
                name="rest-sigv4",
                type="REST_API",
                endpoint=signed_hook.url,
                auth={"type": "AWS_SIG_V4", "aws_region": "us-east-1", "aws_service": "execute-api"},
            )
        )
        async with connect(s.url) as client:
            await create_secret(client, "rest")
        (bearer,) = await bearer_hook.wait(1)
        assert bearer.headers["authorization"] == "Bearer tok-abc-123"
        assert json.loads(bearer.body)["type"] == "aws.write"
        (signed,) = await signed_hook.wait(1)
        authorization = signed.headers["authorization"]
        assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
        assert "/us-east-1/execute-api/aws4_request" in authorization
        signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        assert {"content-type", "host", "x-amz-date"} <= set(signed_names)
        request = AWSRequest(
            method="POST",
            url=signed_hook.url,
            data=signed.body,
            headers={name: signed.headers[name] for name in signed_names if name != "host"},
        )
        signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", "us-east-1")
        request.context["timestamp"] = signed.headers["x-amz-date"]
        canonical = signer.string_to_sign(request, signer.canonical_request(request))
        assert signer.signature(canonical, request) in authorization


# --- units: events, filters, back-off, Retry-After, lanes, the queue, claims on both stores -------------------


def record(**fields: Any) -> dict[str, Any]:
    base = {
        "transaction_id": "t1",
        "time": "2026-01-01T00:00:00.000+00:00",
        "principal": "alice",
        "auth": "bearer",
        "role": "operator",
        "session": "http:secret-session-id",
        "tool": "execute",
        "target": {"account": "prod", "account_id": "111111111111", "region": "eu-west-1", "profile": None},
        "operation": "s3:DeleteBucket",
        "class": "destructive",
        "decision": "allow",
        "rule": "default",
        "confirmation": None,
        "params": {"Bucket": "b", "SecretString": SECRET_VALUE},
        "outcome": "ok",
        "duration_ms": 1.0,
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("fields", "types"),
    [
        ({}, ["aws.destructive"]),
        ({"class": "write", "operation": "s3:PutObject"}, ["aws.write"]),
        ({"class": "read"}, []),
        ({"decision": "deny", "outcome": "policy_denied"}, ["policy.denied"]),
        ({"confirmation": "asked", "outcome": "confirmation_required"}, ["confirmation.issued"]),
        ({"confirmation": "confirmed"}, ["confirmation.used", "aws.destructive"]),
        ({"confirmation": "declined", "outcome": "confirmation_declined"}, ["confirmation.declined"]),
        ({"confirmation": "expired", "outcome": "confirmation_invalid"}, ["confirmation.expired"]),
        ({"confirmation": "rejected", "outcome": "confirmation_invalid"}, ["call.failed"]),
        ({"outcome": "rate_limited", "class": None, "target": None, "operation": None}, ["call.rate_limited"]),
        ({"tool": "fleet_query", "class": "read", "fleet": {"accounts": 3, "stored": "h"}}, ["fleet.query"]),
        ({"class": "read", "outcome": "AccessDenied"}, ["call.failed"]),
        ({"outcome": "input_required", "confirmation": "asked"}, ["confirmation.issued"]),
    ],
)
def test_audit_records_map_to_events(fields, types):
    events = events_for(record(**fields))
    assert [event.type.value for event in events] == types
    for event in events:
        text = json.dumps(event.payload)
        assert SECRET_VALUE not in text and "params" not in event.payload and "session" not in event.payload
        assert "stored" not in text and "://" not in event.payload["summary"]


def test_the_summary_has_no_links():
    (event,) = events_for(record(principal="https://evil.example/<click>"))
    assert "://" not in event.payload["summary"] and "<" not in event.payload["summary"]


def test_filters_by_event_type_class_and_account(make_settings):
    settings = make_settings()
    accepts = Filter(settings).accepts
    base = {"id": "i", "state": State.ACTIVE, "revision": 1, "consecutive_failures": 0, "consecutive_successes": 0}
    base |= {"state_reason": None, "created_at": 0, "updated_at": 0}

    def integration(**fields: Any) -> Any:
        from integrations.models import Integration

        spec = webhook("https://hooks.example/x", **fields).model_dump(exclude={"secret"})
        return Integration(**spec, **base)

    destructive, write, read_failure = (
        events_for(record())[0],
        events_for(record(**{"class": "write"}))[0],
        events_for(record(**{"class": "read", "outcome": "AccessDenied"}))[0],
    )
    assert accepts(integration(), destructive) and accepts(integration(), write)
    assert not accepts(integration(), read_failure)
    assert accepts(integration(min_class=OpClass.READ), read_failure)
    assert not accepts(integration(min_class=OpClass.DESTRUCTIVE), write)
    assert not accepts(integration(events=["aws.write"]), destructive)
    prod_id = settings.account("prod").role_arn.split(":")[4]
    staging = events_for(record(target={"account": "staging", "account_id": "222222222222"}))[0]
    prod = events_for(record(target={"account": "prod", "account_id": prod_id}))[0]
    assert accepts(integration(accounts=["prod"]), prod) and not accepts(integration(accounts=["prod"]), staging)
    assert accepts(integration(accounts=[prod_id]), prod)
    (fleet,) = events_for(record(tool="fleet_query", **{"class": "read"}, target=None))
    assert accepts(integration(accounts=["prod"]), fleet)  # names no account; min_class does not apply


def test_full_jitter_stays_under_the_exponential_ceiling():
    retry = Retry(initial_delay_seconds=1, max_delay_seconds=10, multiplier=2)
    rng = random.Random(7)
    for attempts, ceiling in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)):
        waits = [backoff_seconds(retry, attempts, rng) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits) and max(waits) > ceiling * 0.8


def test_retry_after_seconds_dates_and_cap():
    now = time.time()
    assert retry_after_seconds("7", now) == 7
    assert 29 <= (retry_after_seconds(formatdate(now + 30, usegmt=True), now) or 0) <= 31
    assert retry_after_seconds(formatdate(now - 30, usegmt=True), now) == 0
    assert retry_after_seconds("999999", now) == RETRY_AFTER_CAP_SECONDS
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("status", "ok", "retryable", "gone"),
    [
        (200, True, True, False),
        (204, True, True, False),
        (301, False, False, False),
        (400, False, False, False),
        (408, False, True, False),
        (410, False, False, True),
        (429, False, True, False),
        (503, False, True, False),
    ],
)
def test_statuses(status, ok, retryable, gone):
    attempt = outcome(status, None)
    assert (attempt.ok, attempt.retryable, attempt.gone) == (ok, retryable, gone)


def test_a_lane_holds_concurrency_and_the_rate_per_minute():
    integration = webhook("https://hooks.example/x", concurrency=3, rate_limit_per_minute=4)
    lane = Lane()
    assert lane.room(integration, 1000.0) == 3  # type: ignore[arg-type]
    lane.in_flight, lane.started = 1, __import__("collections").deque([990.0, 995.0, 999.0])
    assert lane.room(integration, 1000.0) == 1  # type: ignore[arg-type]
    assert lane.room(integration, 1051.0) == 2  # type: ignore[arg-type]


def test_a_full_queue_drops_counts_and_logs(tmp_path, caplog):
    store = open_store(Settings(AWS_MCP_DATABASE_URL=sqlite_url(tmp_path)))
    metrics = Metrics()
    writer = EventWriter(store, Filter(Settings()), metrics, size=10)
    for _ in range(15):
        writer.offer(record())
    assert writer.dropped == 5
    assert metrics.integration_events_dropped._value.get() == 5
    assert "dropped" in caplog.text and "AWS_MCP_INTEGRATION_QUEUE_SIZE" in caplog.text
    store.close()


def test_claims_are_exclusive_and_expired_claims_are_taken_over(database_url):
    store = open_store(Settings(AWS_MCP_DATABASE_URL=database_url))
    registry = IntegrationRegistry(store)
    integration, _ = registry.create(webhook("https://hooks.example/x"))
    with store.transaction() as connection:
        for n in range(20):
            enqueue(connection, "aws.write", {"n": n}, [integration.id])
    now = [time.time()]
    outbox = Outbox(store, clock=lambda: now[0])
    claimed: list[list[Any]] = [[], []]

    def claim(index: int) -> None:
        for _ in range(10):
            claimed[index] += outbox.claim(integration.id, f"worker-{index}", 3, lease_seconds=30)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [c.delivery_id for group in claimed for c in group]
    assert len(ids) == len(set(ids)) == 20
    assert outbox.claim(integration.id, "worker-2", 5, 30) == []
    now[0] += 31  # both workers died: their claims expire
    taken = outbox.claim(integration.id, "worker-2", 50, 30)
    assert len(taken) == 20
    from integrations.senders import Attempt

    assert outbox.finish(claimed[0][0], "worker-0", Attempt(ok=False, error="x"), Retry()) == ("", None)
    assert outbox.finish(taken[0], "worker-2", Attempt(ok=True, status=200), Retry())[0] == "delivered"
    store.close()


def test_tool_calls_run_when_the_audit_listener_fails(make_settings, tmp_path):
    from guard.audit import AuditLog

    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    seen: list[dict[str, Any]] = []
    audit.subscribe(lambda record: (_ for _ in ()).throw(RuntimeError("boom")))
    audit.subscribe(seen.append)
    audit.write(tool="t", outcome="ok")
    assert seen and seen[0]["tool"] == "t"
