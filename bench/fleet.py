"""The fleet rows of `make bench`: one read (ec2 DescribeVpcs) over an AWS Organization of 60 member accounts × 17
regions (1,020 targets) with 200 ms ± 100 ms of AWS latency injected per request, first with cold credentials
(the organization listed, 60 AssumeRoles), then warm, against the lower bound

    ceil(targets ÷ AWS_MCP_FLEET_CONCURRENCY) × mean injected latency

(each worker holds one target at a time: with latencies spread around their mean, no schedule does much better),
beside a bare boto3 floor through the same proxy, and the server's RSS.
moto holds the organization and answers Organizations and STS; bench/aws_latency.py delays every request and
replays moto's DescribeVpcs answer (why: its docstring). `python -m bench.fleet` prints these rows on its own.
"""

import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import boto3
from botocore.config import Config
from mcp import Client

from bench import processes
from bench.aws_latency import LatentAws, latent_aws
from bench.processes import Child
from bench.report import Row, at_most, table
from fleet.regions import DEFAULT_ENABLED

MEMBERS = 60
REGIONS = sorted(DEFAULT_ENABLED)
"""17 regions every account has enabled: named outright, so no DescribeRegions is needed to plan them."""
LATENCY = 0.2
JITTER = 0.1
CONCURRENCY = 64
RATIO_TARGET = 1.5
RSS_TARGET_MB = 256
ORG_ROLE = "OrganizationAccountAccessRole"
REGION = "us-east-1"
KEYS = {"AWS_ACCESS_KEY_ID": "AKIABENCHFLEET000001", "AWS_SECRET_ACCESS_KEY": "bench-secret-key-not-real"}
READ = {"service": "ec2", "operation": "DescribeVpcs", "query": "length(Vpcs)"}


def aws_keys() -> dict[str, str]:
    return {name.lower(): value for name, value in KEYS.items()}


def organization(endpoint: str) -> str:
    """An organization with MEMBERS member accounts, managed by the keys' own account; its id."""
    client = boto3.client("organizations", region_name=REGION, endpoint_url=endpoint, **aws_keys())
    management = client.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    for number in range(MEMBERS):
        client.create_account(Email=f"member-{number}@example.com", AccountName=f"member-{number:02d}")
    return management


def prime(endpoint: str) -> None:
    """The one DescribeVpcs moto answers (through the proxy, which records it for replay)."""
    boto3.client("ec2", region_name=REGION, endpoint_url=endpoint, **aws_keys()).describe_vpcs()


def bare_floor(endpoint: str, targets: int) -> float:
    """Seconds for `targets` DescribeVpcs from CONCURRENCY threads of bare boto3 (one client per region, one
    set of keys, connections already open) through the same proxy: what the proxy and this machine allow."""
    config = Config(max_pool_connections=CONCURRENCY)
    clients = [
        boto3.client("ec2", region_name=region, endpoint_url=endpoint, config=config, **aws_keys())
        for region in REGIONS
    ]

    def read(index: int) -> None:
        clients[index % len(clients)].describe_vpcs()

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(read, range(targets)))
        started = time.perf_counter()
        list(pool.map(read, range(targets)))
        return time.perf_counter() - started


def floor_in_process(endpoint: str, targets: int) -> float:
    """bare_floor in a process of its own, as the server is: not sharing the proxy's interpreter."""
    command = [sys.executable, "-m", "bench.fleet", "floor", endpoint, str(targets)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=processes.ROOT)
    return float(done.stdout)


def build_index(cache: Path) -> None:
    """The operation-search index, built before the server starts (as the image and `make` do): a server that
    builds it loads every botocore model, hundreds of MB that would be counted as the fan-out's."""
    subprocess.run([sys.executable, "-m", "catalog.search", str(cache)], check=True, capture_output=True)


def server_environment(workdir: Path, endpoint: str, cache: Path) -> dict[str, str]:
    return {
        **processes.base_environment(workdir),
        **KEYS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_MCP_ORG_ROLE_NAME": ORG_ROLE,
        "AWS_MCP_FLEET_CONCURRENCY": str(CONCURRENCY),
        "AWS_MCP_AUDIT_LOG": "/dev/null",
        "AWS_MCP_CACHE_DIR": str(cache),
    }


async def timed_query(client: Client, management: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = await client.call_tool(
        "fleet_query",
        {**READ, "accounts": {"organization": True, "exclude": [management]}, "regions": REGIONS},
    )
    spent = time.perf_counter() - started
    if result.is_error:
        raise RuntimeError(f"fleet_query failed: {result.content}")
    answer = result.structured_content
    if answer["counts"] != {"ok": answer["targets"]}:
        raise RuntimeError(f"fleet_query: not every target answered: {answer['counts']}")
    return spent, answer


def rows(
    times: tuple[float, float, float],
    targets: int,
    aws: LatentAws,
    requests: tuple[int, int],
    rss: tuple[float, float, float],
) -> list[Row]:
    cold, warm, floor = times
    mean = aws.mean_delay()
    bound = math.ceil(targets / CONCURRENCY) * mean
    scale = f"{MEMBERS} accounts × {len(REGIONS)} regions = {targets:,} targets"
    latency = f"{LATENCY * 1000:.0f} ± {JITTER * 1000:.0f} ms"
    return [
        Row(
            f"fleet_query lower bound: ceil({targets:,} ÷ {CONCURRENCY}) × mean injected latency {mean * 1000:.0f} ms",
            f"{bound:.2f} s",
        ),
        Row(
            f"fleet_query {READ['service']} {READ['operation']}, {scale}, {latency}, cold credentials", f"{cold:.2f} s"
        ),
        Row(f"fleet_query, {scale}, warm credentials", f"{warm:.2f} s"),
        Row(
            f"floor: bare boto3, {CONCURRENCY} threads, the same {targets:,} reads through the proxy", f"{floor:.2f} s"
        ),
        at_most("fleet_query warm ÷ lower bound", warm / bound, RATIO_TARGET, "×"),
        at_most("fleet_query cold ÷ lower bound (organization listed, 60 AssumeRoles)", cold / bound, None, "×"),
        Row("fleet_query AWS requests: cold / warm", f"{requests[0]:,} / {requests[1]:,}"),
        Row("server RSS at start, before the fleet queries", f"{rss[0]:.1f} MB"),
        Row("server RSS after the cold fleet query", f"{rss[1]:.1f} MB"),
        at_most("server RSS after the warm fleet query", rss[2], RSS_TARGET_MB, "MB", ".1f"),
    ]


async def fleet_rows(workdir: Path, cache: Path) -> list[Row]:
    """`cache`: an AWS_MCP_CACHE_DIR holding the operation-search index (built here if it does not)."""
    await anyio.to_thread.run_sync(build_index, cache)
    with processes.moto(processes.base_environment(workdir), workdir) as moto:
        management = await anyio.to_thread.run_sync(organization, moto.url)
        upstream = ("127.0.0.1", int(moto.url.rsplit(":", 1)[1]))
        with latent_aws(upstream, LATENCY, JITTER, READ["operation"]) as (endpoint, aws):
            await anyio.to_thread.run_sync(prime, endpoint)
            server: Child
            with processes.ops_server(server_environment(workdir, endpoint, cache), workdir) as server:
                at_start = server.rss_mb()
                before = len(aws.injected)
                async with Client(f"{server.url}/mcp") as client:
                    cold, answer = await timed_query(client, management)
                    after_cold = server.rss_mb()
                    between = len(aws.injected)
                    warm, _ = await timed_query(client, management)
                rss = (at_start, after_cold, server.rss_mb())
                requests = (between - before, len(aws.injected) - between)
            floor = await anyio.to_thread.run_sync(floor_in_process, endpoint, answer["targets"])
    return rows((cold, warm, floor), answer["targets"], aws, requests, rss)


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="aws-ops-bench-fleet-") as temporary:
        measured = await fleet_rows(Path(temporary), Path(temporary) / "cache")
    print(table(measured))


if __name__ == "__main__":
    if sys.argv[1:2] == ["floor"]:
        print(bare_floor(sys.argv[2], int(sys.argv[3])))
    else:
        anyio.run(main)
