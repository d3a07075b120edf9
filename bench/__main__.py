"""`make bench`: what a tool call costs over the floor (bare MCP round trip + direct boto3 call).

Runs against moto on loopback and prints one table from one run. Figures are this machine's.
"""

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from pathlib import Path

import anyio
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.server.mcpserver import MCPServer

from config import load_settings
from core.calls import Target
from generic.tools import GenericTools
from http_app import build_http_app
from sandbox import free_port, start_moto
from server import create_server

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
KEYS = {"AWS_ACCESS_KEY_ID": "AKIABENCHMARK0000001", "AWS_SECRET_ACCESS_KEY": "bench-secret-key-not-real"}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.9)] * 1000


async def timed(fn: Callable[[], Awaitable[object]], rounds: int = ROUNDS) -> tuple[float, float]:
    for _ in range(10):
        await fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def timed_sync(fn: Callable[[], object], rounds: int = ROUNDS) -> tuple[float, float]:
    for _ in range(10):
        fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


@contextmanager
def served(app) -> str:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


def bare_server() -> MCPServer:
    bare = MCPServer("floor")

    @bare.tool()
    def echo(text: str) -> str:
        return text

    return bare


GENERIC_CALL = {"action": "invoke", "service": "sts", "operation": "GetCallerIdentity"}
CLI_CALL = {"command": "sts get-caller-identity"}
SEARCHES = ["list running instances", "delete a dns record", "who am i", "read a secret", "send a message to a queue"]


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f}"


async def search_rows(environment: dict[str, str]) -> list[tuple[str, str]]:
    """Index build with no cache, then a fresh server's first query (cache on disk), then warm queries."""
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        settings = load_settings({**environment, "AWS_MCP_CACHE_DIR": cache}, env_file=None)
        started = time.perf_counter()
        create_server(settings).app.provider(GenericTools).index()
        rows.append(("operation index build, no cache (once per botocore version)", f"{_ms(started)} ms"))
        with served(build_http_app(create_server(settings), settings, "127.0.0.1")) as url:
            async with Client(f"{url}/mcp") as client:
                started = time.perf_counter()
                await client.call_tool("search_operations", {"query": "list running instances"})
                rows.append(("first search_operations after start (cache on disk)", f"{_ms(started)} ms"))
                queries = iter(SEARCHES * ROUNDS)
                p50, p90 = await timed(lambda: client.call_tool("search_operations", {"query": next(queries)}))
                rows.append(("later search_operations tool calls", f"p50 {p50:.2f} ms, p90 {p90:.2f} ms"))
    return rows


async def main() -> None:
    moto, endpoint = start_moto()
    os.environ.update(KEYS)
    environment = {
        **KEYS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "ACCOUNT_PROD_ROLE_ARN": "arn:aws:iam::111111111111:role/ops",
        "AWS_MCP_AUDIT_LOG": os.devnull,
    }
    settings = load_settings(environment, env_file=None)
    rows: list[tuple[str, str]] = []
    with served(bare_server().streamable_http_app()) as floor_url:
        async with Client(f"{floor_url}/mcp") as client:
            p50, p90 = await timed(lambda: client.call_tool("echo", {"text": "x"}))
            floor = p50
            rows.append(("bare MCP SDK round trip (floor)", f"p50 {p50:.2f} ms, p90 {p90:.2f} ms"))

    server = create_server(settings)
    clients = server.app.clients
    sts = clients.client(clients.resolve(Target()), "sts")
    p50, p90 = timed_sync(sts.get_caller_identity)
    direct = p50
    rows.append(("direct warm boto3 call (sts GetCallerIdentity)", f"p50 {p50:.2f} ms, p90 {p90:.2f} ms"))

    with served(build_http_app(server, settings, "127.0.0.1")) as url:
        async with Client(f"{url}/mcp") as client:
            p50, p90 = await timed(lambda: client.call_tool("get_account_info", {}))
            rows.append(("tool call, default credentials", f"p50 {p50:.2f} ms, p90 {p90:.2f} ms"))
            overhead = p50 - floor - direct
            p50, p90 = await timed(lambda: client.call_tool("get_account_info", {"account": "prod"}))
            rows.append(("tool call, via account alias (assumed role)", f"p50 {p50:.2f} ms, p90 {p90:.2f} ms"))
            rows.append(("AssumeRole calls for all alias calls above", str(clients.assume_role_calls)))
            rows.append(("tool overhead over floor + direct (default creds, p50)", f"{overhead:+.2f} ms"))
            p50, p90 = await timed(lambda: client.call_tool("execute", GENERIC_CALL))
            rows.append(("execute invoke (sts GetCallerIdentity)", f"p50 {p50:.2f} ms, p90 {p90:.2f} ms"))
            started = time.perf_counter()
            await client.call_tool("execute_aws_read_command", CLI_CALL)
            rows.append(("first CLI command (imports awscli, builds its parser)", f"{_ms(started)} ms"))
            p50, p90 = await timed(lambda: client.call_tool("execute_aws_read_command", CLI_CALL))
            rows.append(("CLI command `sts get-caller-identity`", f"p50 {p50:.2f} ms, p90 {p90:.2f} ms"))
            listing = await client.list_tools()
            size = len(json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listing.tools]))
            rows.append(("tools/list size", f"{len(listing.tools)} tools, {size:,} bytes of JSON"))

            clients.on("before-send.sts.GetCallerIdentity", lambda **_: time.sleep(0.1))
            await client.call_tool("get_account_info", {"region": "us-west-2"})
            started = time.perf_counter()
            await client.call_tool("get_account_info", {"region": "us-west-2"})
            one = time.perf_counter() - started
            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for _ in range(32):
                    group.start_soon(client.call_tool, "get_account_info", {"region": "us-west-2"})
            many = time.perf_counter() - started
            rows.append(("1 call with 100 ms injected AWS latency", f"{one * 1000:.0f} ms"))
            rows.append(("32 concurrent calls with 100 ms injected latency", f"{many * 1000:.0f} ms"))

    rows += await search_rows(environment)

    starts = []
    for _ in range(3):
        parameters = StdioServerParameters(
            command=sys.executable,
            args=["server.py", "--transport", "stdio"],
            env={**environment, "PATH": os.environ.get("PATH", "")},
            cwd=str(ROOT),
        )
        started = time.perf_counter()
        async with Client(parameters) as client:
            await client.list_tools()
            starts.append(time.perf_counter() - started)
    rows.append(("cold start to first tools/list over stdio", f"median {statistics.median(starts) * 1000:.0f} ms"))
    moto.stop()

    width = max(len(name) for name, _ in rows)
    print(f"\nAWS Ops MCP benchmark ({ROUNDS} rounds each, moto on loopback)\n")
    print(f"| {'measure'.ljust(width)} | result |\n|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    anyio.run(main)
