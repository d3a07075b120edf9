"""`make bench`: what the server costs per call, measured across processes as a deployment runs it.

moto, the server under test and a bare MCP SDK server (the floor) each run in their own process on 127.0.0.1;
this process is only the client. Overhead = tool p50 - floor p50 - direct boto3 p50, all sampled in turn within
each round so that load from elsewhere on the machine falls on them alike. Figures are this machine's; rows are
marked against their targets, but the bench always exits 0. The team deployment's rows (many JWT users, replicas
sharing PostgreSQL, the cost of a /metrics scrape) are bench/team.py's; the fleet's (one read over 60 accounts ×
17 regions behind injected latency) bench/fleet.py's; the integrations' (a webhook's first delivery attempt, and
what a healthy or dead receiver costs a tool call) bench/integrations.py's; the inventory's (1,000,000 rows on
SQLite and PostgreSQL) bench/inventory.py's.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import boto3
from mcp import Client, StdioServerParameters
from mcp_types import ListToolsResult

from bench import fleet, integrations, inventory, processes, team
from bench.processes import ROOT, Child
from bench.proxy import delaying_proxy
from bench.report import Row, at_most, elapsed_ms, table, timings
from server import PROVIDERS, TOOLSETS
from tooling import tool_specs

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
MIXED_CALLS = 1000
CONCURRENT_CALLS = 32
INJECTED_LATENCY = 0.1
STDIO_STARTS = 3
KEYS = {"AWS_ACCESS_KEY_ID": "AKIABENCHMARK0000001", "AWS_SECRET_ACCESS_KEY": "bench-secret-key-not-real"}
REGION = "us-east-1"

Call = tuple[str, dict[str, Any]]
ECHO: Call = ("echo", {"text": "x"})
REFERENCE: Call = ("caller_identity", {})
CURATED: Call = ("get_account_info", {})
ALIAS: Call = ("get_account_info", {"account": "prod"})
EXECUTE: Call = ("execute", {"action": "invoke", "service": "sts", "operation": "GetCallerIdentity"})
CLI: Call = ("execute_aws_read_command", {"command": "sts get-caller-identity"})
SEARCHES = ["list running instances", "delete a dns record", "who am i", "read a secret", "send a message to a queue"]

MEASURED: dict[str, tuple[str, float | None]] = {
    "reference": ("bare SDK tool, same boto3 call in a worker thread (reference)", None),
    "curated": ("get_account_info, default credentials", 0.5),
    "alias": ("get_account_info, account alias (assumed role)", 0.5),
    "execute": ("execute invoke sts GetCallerIdentity", 1.0),
    "cli": ("CLI tool: sts get-caller-identity", 1.0),
}
"""Timing key: row name and overhead target in ms (None: shown for comparison only)."""


def search(index: int) -> Call:
    return ("search_operations", {"query": SEARCHES[index % len(SEARCHES)]})


async def call(client: Client, tool: Call) -> None:
    result = await client.call_tool(*tool)
    if result.is_error:
        raise RuntimeError(f"{tool[0]} failed: {result.content}")


def server_environment(home: Path, endpoint: str) -> dict[str, str]:
    return {
        **processes.base_environment(home),
        **KEYS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "ACCOUNT_PROD_ROLE_ARN": "arn:aws:iam::111111111111:role/ops",
        "AWS_MCP_AUDIT_LOG": os.devnull,
        "AWS_MCP_CACHE_DIR": str(home / "cache"),
    }


async def latency(environment: dict[str, str], workdir: Path, moto: Child) -> list[Row]:
    sts = boto3.client("sts", region_name=REGION, endpoint_url=moto.url, **{k.lower(): v for k, v in KEYS.items()})

    async def direct() -> None:
        sts.get_caller_identity()

    with (
        processes.floor(environment, workdir) as bare,
        processes.ops_server(environment, workdir) as server,
    ):
        async with Client(f"{bare.url}/mcp") as floor, Client(f"{server.url}/mcp") as client:
            await call(client, CURATED)
            first_cli = await elapsed_ms(lambda: call(client, CLI))
            measured = await timings(
                {
                    "floor": lambda: call(floor, ECHO),
                    "direct": direct,
                    "reference": lambda: call(floor, REFERENCE),
                    "curated": lambda: call(client, CURATED),
                    "alias": lambda: call(client, ALIAS),
                    "execute": lambda: call(client, EXECUTE),
                    "cli": lambda: call(client, CLI),
                },
                ROUNDS,
            )
            listing = await client.list_tools()
    base = measured["floor"].p50 + measured["direct"].p50
    size = listing_bytes(listing)
    rows = [
        Row("floor: MCP SDK round trip (bare echo tool)", str(measured["floor"])),
        Row("floor: direct warm boto3 call (sts GetCallerIdentity)", str(measured["direct"])),
        *(Row(name, str(measured[key])) for key, (name, _) in MEASURED.items()),
    ]
    for key, (name, limit) in MEASURED.items():
        rows.append(at_most(f"overhead p50: {name}", measured[key].p50 - base, limit, "ms", "+.2f"))
    rows.append(Row("first CLI command (imports awscli, builds its parser)", f"{first_cli:.0f} ms"))
    rows.append(Row("tools/list size", f"{len(listing.tools)} tools, {size:,} bytes"))
    rows += toolset_sizes(listing)
    return rows


def listing_bytes(listing: ListToolsResult) -> int:
    return len(listing.model_dump_json(by_alias=True, exclude_none=True).encode())


def toolset_sizes(listing: ListToolsResult) -> list[Row]:
    """What tools/list costs a client with AWS_MCP_TOOLSETS set to one tool set (tools are listed the same
    whichever sets are on, so each is the full listing cut to its tools), and with every one on."""
    toolset = {spec.name: spec.toolset for provider in PROVIDERS for spec in tool_specs(provider)}
    rows = []
    for name in TOOLSETS:
        only = listing.model_copy(update={"tools": [tool for tool in listing.tools if toolset[tool.name] == name]})
        figure = f"{len(only.tools)} tools, {listing_bytes(only):,} bytes"
        rows.append(Row(f"tools/list, AWS_MCP_TOOLSETS={name}", figure))
    every = listing_bytes(listing)
    rows.append(at_most(f"tools/list, every tool set ({len(listing.tools)} tools)", every / 1000, 32, "KB", ".1f"))
    return rows


async def one_and_many(name: str, server: Child, tool: Call) -> list[Row]:
    delay = f"{INJECTED_LATENCY * 1000:.0f} ms injected AWS latency"
    async with Client(f"{server.url}/mcp") as client:
        for _ in range(3):
            await call(client, tool)
        one = await elapsed_ms(lambda: call(client, tool))

        async def many() -> None:
            async with anyio.create_task_group() as group:
                for _ in range(CONCURRENT_CALLS):
                    group.start_soon(call, client, tool)

        together = await elapsed_ms(many)
    return [
        Row(f"{name}: 1 call, {delay}", f"{one:.0f} ms"),
        Row(f"{name}: {CONCURRENT_CALLS} concurrent calls, {delay}", f"{together:.0f} ms"),
    ]


async def concurrency(workdir: Path, moto: Child) -> list[Row]:
    """The server and the bare reference, each in its own process, reaching moto through a delaying proxy."""
    upstream = ("127.0.0.1", int(moto.url.rsplit(":", 1)[1]))
    async with delaying_proxy(upstream, INJECTED_LATENCY) as endpoint:
        environment = server_environment(workdir, endpoint)
        with processes.ops_server(environment, workdir) as server:
            rows = await one_and_many("get_account_info", server, CURATED)
        with processes.floor(environment, workdir) as bare:
            rows += await one_and_many("reference caller_identity", bare, REFERENCE)
    return rows


async def first_search(server: Child) -> float:
    async with Client(f"{server.url}/mcp") as client:
        return await elapsed_ms(lambda: call(client, search(0)))


async def search_and_memory(environment: dict[str, str], workdir: Path) -> list[Row]:
    """The first server builds the index into an empty cache directory; the second finds it there."""
    cache = workdir / "fresh-cache"
    cache.mkdir()
    environment = {**environment, "AWS_MCP_CACHE_DIR": str(cache)}
    with processes.ops_server(environment, workdir) as server:
        empty = await first_search(server)
    with processes.ops_server(environment, workdir) as server:
        at_start = server.rss_mb()
        cached = await first_search(server)
        async with Client(f"{server.url}/mcp") as client:
            for index in range(MIXED_CALLS):
                await call(client, search(index) if index % 4 == 3 else (CURATED, EXECUTE, CLI)[index % 4])
        after = server.rss_mb()
    return [
        at_most("first search_operations after a fresh start, index cache on disk", cached, 1000, "ms", ".0f"),
        at_most("first search_operations after a fresh start, EMPTY cache dir", empty, 1000, "ms", ".0f"),
        Row("server RSS at start", f"{at_start:.1f} MB"),
        at_most(
            f"server RSS after {MIXED_CALLS:,} mixed calls (curated, execute, CLI, search)", after, 120, "MB", ".1f"
        ),
    ]


async def stdio_cold_start(environment: dict[str, str], workdir: Path) -> list[Row]:
    parameters = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "server.py"), "--transport", "stdio"], env=environment, cwd=workdir
    )

    async def start() -> None:
        async with Client(parameters) as client:
            await client.list_tools()

    starts = [await elapsed_ms(start) for _ in range(STDIO_STARTS)]
    return [
        Row(f"stdio cold start to first tools/list (median of {STDIO_STARTS})", f"{statistics.median(starts):.0f} ms")
    ]


async def main() -> None:
    load = os.getloadavg()[0]
    started = time.monotonic()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="aws-ops-bench-") as temporary:
        workdir = Path(temporary)
        with processes.moto(processes.base_environment(workdir), workdir) as moto:
            environment = server_environment(workdir, moto.url)
            rows += await latency(environment, workdir, moto)
            rows += await concurrency(workdir, moto)
            rows += await search_and_memory(environment, workdir)
            rows += await stdio_cold_start(environment, workdir)
            rows += await team.many_users(environment, workdir)
            rows += await team.replicas(environment, workdir)
            rows += await integrations.integration_rows(environment, workdir)
        rows += await fleet.fleet_rows(workdir, Path(environment["AWS_MCP_CACHE_DIR"]))
        rows += await inventory.inventory_rows(workdir)
    print(
        f"\nAWS Ops MCP benchmark: {ROUNDS} rounds per timing; moto, server and floor in separate processes; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs at start; {time.monotonic() - started:.0f} s in all\n"
    )
    print(table(rows))


if __name__ == "__main__":
    anyio.run(main)
