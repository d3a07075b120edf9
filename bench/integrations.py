"""The integrations rows of `make bench`: how soon a webhook hears of a write, and what a receiver, healthy or
dead, costs the tool call that made the event (README "Integrations").

Four servers against moto, each with a state database of its own and AWS_MCP_WEBHOOK_ALLOW_PRIVATE=true:
two with no integration ("none": their samples pooled; the difference between them is the noise between two
server processes alike, on a busy machine often over a millisecond), "healthy" (a webhook to a receiver in this
process) and "dead" (two webhooks to receivers that never answer: one accepts the connection and stays silent, one
never accepts it, so the connection attempt hangs as towards an address that drops packets). `create_secret`
calls (class write: one `aws.write` event each) go to the four in turn within each round, in every order in turn
(bench/report.py `interleaved`), so load from elsewhere, and the deliveries a call leaves behind, fall on them
alike. Then the first delivery attempt is timed on the healthy server, and on the dead one once a
healthy webhook joins its dead ones: one call at a time, from the audit record's time (in the event) and from the
call's return in this process to the receiver's arrival stamp. Every webhook is verified with `standardwebhooks`;
every event sent must reach a healthy receiver. `python -m bench.integrations` prints these rows on its own.
"""

import http.server
import itertools
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from standardwebhooks import Webhook, WebhookVerificationError

from bench import processes
from bench.fleet import build_index
from bench.processes import Child
from bench.report import Row, at_most, interleaved, percentile, table

HOST = "127.0.0.1"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
"""Interleaved rounds of tool calls (one call per server each), after report.WARMUP rounds."""
DELIVERIES = 200
"""Calls whose first delivery attempt is timed, one at a time, on each of the two servers timed."""
ARRIVAL_TIMEOUT = 10.0
SETTLE_TIMEOUT = 30.0
FIRST_ATTEMPT_P95_MS = 100.0
"""Well under the worker's 1 s poll: the writer's wake-up, not the poll, starts the delivery."""
SLOWDOWN_MS = 1.0
SLOWDOWN_SHARE = 0.05
"""A configured receiver may cost a tool call's p50 at most the larger of these: within noise."""
KEYS = {"AWS_ACCESS_KEY_ID": "AKIABENCHINTEGRATION", "AWS_SECRET_ACCESS_KEY": "bench-secret-key-not-real"}
REGION = "us-east-1"
LANE = {"concurrency": 4, "rate_limit_per_minute": 6000}
"""Each webhook's lane, wide enough that the bench's call rate never waits on the rate limit."""


@dataclass(frozen=True)
class Arrival:
    at: float
    """time.time() when the request reached the receiver."""
    event: dict[str, Any]


class Receiver:
    """A Standard Webhooks receiver on loopback (threads, HTTP/1.1 keep-alive): each POST is stamped on arrival
    and verified with the integration's secret, 204 if it verifies, 401 if not. Only the first arrival of each
    `webhook-id` is kept (deliveries are at-least-once)."""

    def __init__(self) -> None:
        self.secret = ""
        self.requests = 0
        self.verified = 0
        self.refused = 0
        self.arrivals: list[Arrival] = []
        self._ids: set[str] = set()
        self._changed = threading.Condition()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hooks/aws-ops"

    def receive(self, at: float, headers: dict[str, str], body: bytes) -> int:
        """The status to answer."""
        try:
            event = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            event = None
        with self._changed:
            self.requests += 1
            if event is None:
                self.refused += 1
                return 401
            self.verified += 1
            if headers["webhook-id"] not in self._ids:
                self._ids.add(headers["webhook-id"])
                self.arrivals.append(Arrival(at, event))
            self._changed.notify_all()
        return 204

    def received(self) -> int:
        with self._changed:
            return len(self.arrivals)

    def wait_for(self, count: int, timeout: float) -> Arrival | None:
        """The `count`-th event to arrive, waiting up to `timeout` seconds for it; None if it did not."""
        with self._changed:
            if self._changed.wait_for(lambda: len(self.arrivals) >= count, timeout):
                return self.arrivals[count - 1]
            return None


@contextmanager
def receiving() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            at = time.time()
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.send_response(state.receive(at, headers, body))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, name="bench-receiver", daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Silent:
    url: str
    held: list[socket.socket]
    """The connections it accepted (and never answers)."""


@contextmanager
def silent_receiver() -> Iterator[Silent]:
    """A dead receiver that accepts every connection and never answers."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, name="bench-silent-receiver", daemon=True)
    thread.start()
    try:
        yield Silent(f"http://{HOST}:{listener.getsockname()[1]}/hooks/aws-ops", held)
    finally:
        stopping.set()
        thread.join()
        listener.close()
        for connection in held:
            connection.close()


@contextmanager
def black_hole() -> Iterator[str]:
    """A dead receiver that never accepts: its backlog of one fills, then Linux drops further connection attempts
    (SYNs) without a word, as a firewall dropping packets does; its URL."""
    listener = socket.create_server((HOST, 0), backlog=0)
    try:
        yield f"http://{HOST}:{listener.getsockname()[1]}/hooks/aws-ops"
    finally:
        listener.close()


class Writes:
    """`create_secret` calls with names never used before, counted per server once they returned."""

    def __init__(self) -> None:
        self._numbers = itertools.count()
        self.made: dict[str, int] = {}

    async def __call__(self, client: Client, server: str) -> None:
        name = f"bench/integrations/{server}/{next(self._numbers)}"
        result = await client.call_tool("create_secret", {"name": name, "secret_string": "v"})
        if result.is_error:
            raise RuntimeError(f"create_secret failed on the {server} server: {result.content}")
        self.made[server] = self.made.get(server, 0) + 1


async def create_webhook(server: Child, name: str, url: str) -> tuple[str, str]:
    """A WEBHOOK integration for `aws.write` events through the REST API (the loopback server's caller is an
    admin): its id and signing secret."""
    spec = {"name": name, "type": "WEBHOOK", "endpoint": url, "events": ["aws.write"], **LANE}
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(f"{server.url}/api/v1/integrations", json=spec)
    if response.status_code != 201:
        raise RuntimeError(f"creating {name} answered {response.status_code}: {response.text}")
    created = response.json()
    return str(created["integration"]["id"]), str(created["secret"])


async def states(server: Child, integration_ids: list[str]) -> str:
    """Each integration's state and failures in a row, from GET /api/v1/integrations/{id}/health."""
    shown = []
    async with httpx2.AsyncClient(timeout=30) as http:
        for integration_id in integration_ids:
            response = await http.get(f"{server.url}/api/v1/integrations/{integration_id}/health")
            response.raise_for_status()
            health = response.json()
            shown.append(f"{health['state']} ({health['consecutive_failures']} failures in a row)")
    return ", ".join(shown)


def audit_time(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["data"]["time"]).timestamp()


@dataclass
class FirstAttempts:
    after_audit: list[float]
    after_return: list[float]
    missing: int = 0


async def first_attempts(client: Client, server: str, receiver: Receiver, writes: Writes) -> FirstAttempts:
    """DELIVERIES calls one at a time, each waiting for its event: milliseconds from the audit record's time and
    from the call's return here to the first attempt's arrival. Every earlier event must have arrived already."""
    timed = FirstAttempts([], [])
    for _ in range(DELIVERIES):
        expected = receiver.received() + 1
        await writes(client, server)
        returned = time.time()
        arrival = await anyio.to_thread.run_sync(receiver.wait_for, expected, ARRIVAL_TIMEOUT)
        if arrival is None or arrival.event["data"].get("tool") != "create_secret":
            timed.missing += 1
            continue
        timed.after_audit.append((arrival.at - audit_time(arrival.event)) * 1000)
        timed.after_return.append((arrival.at - returned) * 1000)
    return timed


def spread(samples: list[float]) -> str:
    if len(samples) < 2:
        return "no samples"
    return f"p50 {statistics.median(samples):.2f} ms, p95 {percentile(samples, 95):.2f} ms"


def server_environment(environment: dict[str, str], workdir: Path, name: str) -> dict[str, str]:
    """`environment` (moto's endpoint and keys) with a state database of the server's own and loopback webhooks
    allowed."""
    return {
        **environment,
        "AWS_MCP_WEBHOOK_ALLOW_PRIVATE": "true",
        "AWS_MCP_STATE_DIR": str(workdir / f"integrations-{name}"),
        "AWS_MCP_AUDIT_LOG": "/dev/null",
    }


async def integration_rows(environment: dict[str, str], workdir: Path) -> list[Row]:
    """`environment`: a server's, against moto, with an AWS_MCP_CACHE_DIR holding the operation-search index."""
    writes = Writes()
    names = ("none", "control", "healthy", "dead")
    configurations = [server_environment(environment, workdir, name) for name in names]
    with (
        receiving() as healthy,
        receiving() as beside_dead,
        silent_receiver() as silent,
        black_hole() as dropped,
        processes.ops_servers(configurations, workdir) as servers,
    ):
        healthy_server, dead_server = servers[2:]
        _, healthy.secret = await create_webhook(healthy_server, "bench-healthy", healthy.url)
        dead = [
            (await create_webhook(dead_server, name, url))[0]
            for name, url in (("bench-silent", silent.url), ("bench-black-hole", dropped))
        ]
        async with AsyncExitStack() as stack:
            clients = {
                name: await stack.enter_async_context(Client(f"{server.url}/mcp"))
                for name, server in zip(names, servers, strict=True)
            }
            samples = await interleaved(
                {name: lambda n=name: writes(clients[n], n) for name in clients}, ROUNDS, permuted=True
            )
            await anyio.to_thread.run_sync(healthy.wait_for, writes.made["healthy"], SETTLE_TIMEOUT)
            alone = await first_attempts(clients["healthy"], "healthy", healthy, writes)
            before = writes.made["dead"]
            _, beside_dead.secret = await create_webhook(dead_server, "bench-beside-dead", beside_dead.url)
            with_dead = await first_attempts(clients["dead"], "dead", beside_dead, writes)
            sent = (writes.made["healthy"], writes.made["dead"] - before)
            for receiver, count in zip((healthy, beside_dead), sent, strict=True):
                await anyio.to_thread.run_sync(receiver.wait_for, count, SETTLE_TIMEOUT)
            at_the_end = f"{await states(dead_server, dead)}; the silent one holds {len(silent.held)} connections"
    return [
        *rows(samples, (alone, with_dead), (healthy, beside_dead), sent),
        Row("the dead webhooks at the end (silent, black-holed)", at_the_end),
    ]


def rows(
    samples: dict[str, list[float]],
    timed: tuple[FirstAttempts, FirstAttempts],
    receivers: tuple[Receiver, Receiver],
    sent: tuple[int, int],
) -> list[Row]:
    calls = f"create_secret, {ROUNDS} rounds interleaved"
    configured = {
        "healthy": "a healthy webhook",
        "dead": "2 dead webhooks (one silent, one black-holed)",
    }
    pooled = samples["none"] + samples["control"]
    none = statistics.median(pooled)
    slack = max(SLOWDOWN_MS, none * SLOWDOWN_SHARE)
    noise = statistics.median(samples["control"]) - statistics.median(samples["none"])
    result = [
        Row(f"tool call ({calls}), no integration (2 servers alike, pooled)", spread(pooled)),
        Row("tool call p50, one server with no integration − the other (noise)", f"{noise:+.2f} ms"),
        *(Row(f"tool call ({calls}), {what}", spread(samples[name])) for name, what in configured.items()),
    ]
    for name in configured:
        slower = statistics.median(samples[name]) - none
        result.append(
            Row(
                f"tool call p50 with {configured[name]} − with none",
                f"{slower:+.2f} ms",
                f"≤ +{slack:.2f} ms (1 ms or 5 %)",
                slower <= slack,
            )
        )
        tail = percentile(samples[name], 95) - percentile(pooled, 95)
        result.append(Row(f"tool call p95 with {configured[name]} − with none", f"{tail:+.2f} ms"))
    for attempts, beside in zip(timed, ("", ", 2 dead webhooks beside it"), strict=True):
        where = f"a healthy webhook{beside}, {DELIVERIES} calls one at a time"
        result += [
            Row(f"first delivery attempt after the call's return here ({where})", spread(attempts.after_return)),
            Row(f"first delivery attempt after the audit record ({where})", spread(attempts.after_audit)),
            at_most(
                f"first delivery attempt p95 after the audit record ({where})",
                percentile(attempts.after_audit, 95) if len(attempts.after_audit) > 1 else float("inf"),
                FIRST_ATTEMPT_P95_MS,
                "ms",
            ),
        ]
    for receiver, count, beside in zip(receivers, sent, ("", " beside 2 dead ones"), strict=True):
        result.append(
            Row(
                f"events received by the healthy webhook{beside} (distinct webhook-id) / sent",
                f"{receiver.received():,} of {count:,}",
                "all",
                receiver.received() == count,
            )
        )
    requests = sum(receiver.requests for receiver in receivers)
    verified = sum(receiver.verified for receiver in receivers)
    result.append(
        Row(
            "webhook signatures verified (standardwebhooks)",
            f"{verified:,} of {requests:,}",
            "all",
            verified == requests,
        )
    )
    return result


def base_environment(workdir: Path, moto: Child) -> dict[str, str]:
    return {
        **processes.base_environment(workdir),
        **KEYS,
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_REGION": REGION,
        "AWS_MCP_CACHE_DIR": str(workdir / "cache"),
    }


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="aws-ops-bench-integrations-") as temporary:
        workdir = Path(temporary)
        await anyio.to_thread.run_sync(build_index, workdir / "cache")
        with processes.moto(processes.base_environment(workdir), workdir) as moto:
            measured = await integration_rows(base_environment(workdir, moto), workdir)
    print(table(measured))


if __name__ == "__main__":
    anyio.run(main)
