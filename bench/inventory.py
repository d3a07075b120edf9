"""The inventory store at fleet scale: 1,000,000 synthetic resources (3 tags each) written through
`record_partition`, then a tag query and an exact count timed, on SQLite and on PostgreSQL (the embedded
server the tests use). `python -m bench.inventory` prints the table on its own."""

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio

from bench.report import Row, at_most, table
from config import load_settings
from inventory import Inventory, Resource
from store import Store, open_store

ACCOUNTS = [f"{number:012d}" for number in range(100000000001, 100000000011)]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
TYPES = ["ec2:instance", "ec2:volume", "sqs:queue", "lambda:function", "rds:db"]
PER_PARTITION = int(os.environ.get("BENCH_INVENTORY_PER_PARTITION", "5000"))
"""200 partitions of 5,000: 1,000,000 rows."""
ENVIRONMENTS = ["prod", "staging", "dev"]
SAMPLES = 100
WARMUP = 5
INGEST_TARGET = 20_000
TAG_QUERY_TARGET_MS = 50
COUNT_TARGET_MS = 20


def partition(account: str, region: str, type_: str) -> Iterator[Resource]:
    service, kind = type_.split(":")
    for number in range(PER_PARTITION):
        name = f"{kind}-{account[-4:]}-{region}-{number:05d}"
        yield Resource(
            arn=f"arn:aws:{service}:{region}:{account}:{kind}/{name}",
            account=account,
            region=region,
            service=service,
            type=type_,
            name=name,
            tags={"env": ENVIRONMENTS[number % 3], "team": f"team-{number % 17}", "cost-centre": f"cc-{number % 101}"},
            properties={"state": "available", "size": number % 7, "created": "2024-05-01T12:00:00Z"},
        )


def ingest(inventory: Inventory) -> float:
    """Rows per second inside record_partition (each listing is built before its clock starts)."""
    spent = 0.0
    rows = 0
    for account in ACCOUNTS:
        for region in REGIONS:
            for type_ in TYPES:
                listed = list(partition(account, region, type_))
                started = time.perf_counter()
                outcome = inventory.record_partition(account, region, type_, listed, complete=True)
                spent += time.perf_counter() - started
                rows += outcome.added
    return rows / spent


def sampled_ms(call: Callable[[int], object]) -> tuple[float, float]:
    """p50 and p95 in ms."""
    samples = []
    for number in range(WARMUP + SAMPLES):
        started = time.perf_counter()
        call(number)
        if number >= WARMUP:
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), statistics.quantiles(samples, n=20)[-1]


def measure(name: str, store: Store, targets: bool) -> list[Row]:
    inventory = Inventory(store)
    rate = ingest(inventory)
    inventory.analyze()
    expected = len(ACCOUNTS) * len(REGIONS) * len(TYPES) * PER_PARTITION

    partitions = expected // PER_PARTITION

    def tag_query(number: int) -> None:
        page = inventory.query(tags={"env": ENVIRONMENTS[number % 3]}, limit=100)
        assert page.total == len(range(number % 3, PER_PARTITION, 3)) * partitions and len(page.rows) == 100

    def count(number: int) -> None:
        page = inventory.query(type=TYPES[number % len(TYPES)], limit=1)
        assert page.total == expected // len(TYPES), page.total

    tag = sampled_ms(tag_query)
    counted = sampled_ms(count)
    scale = f"{expected:,} rows"
    return [
        at_least(f"inventory {name}: ingest {scale} via record_partition", rate, INGEST_TARGET if targets else None),
        at_most(f"inventory {name}: tag query env=X, limit 100 + total, p50", tag[0], None, "ms"),
        at_most(
            f"inventory {name}: tag query env=X, limit 100 + total, p95",
            tag[1],
            TAG_QUERY_TARGET_MS if targets else None,
            "ms",
        ),
        at_most(f"inventory {name}: exact count query(type=X), p50", counted[0], None, "ms"),
        at_most(
            f"inventory {name}: exact count query(type=X), p95", counted[1], COUNT_TARGET_MS if targets else None, "ms"
        ),
    ]


def at_least(measure: str, rate: float, target: float | None) -> Row:
    if target is None:
        return Row(measure, f"{rate:,.0f} rows/s")
    return Row(measure, f"{rate:,.0f} rows/s", f"≥ {target:,} rows/s", rate >= target)


def opened(url: str) -> Store:
    return open_store(load_settings({"AWS_MCP_DATABASE_URL": url}, env_file=None))


def all_rows(workdir: Path) -> list[Row]:
    from tests.postgres import embedded_postgres

    rows: list[Row] = []
    sqlite = opened(f"sqlite:///{workdir / 'inventory-bench.db'}")
    try:
        rows += measure("SQLite", sqlite, targets=True)
    finally:
        sqlite.close()
    with embedded_postgres() as server:
        postgresql = opened(server.fresh_database("inventory_bench"))
        try:
            rows += measure("PostgreSQL", postgresql, targets=False)
        finally:
            postgresql.close()
    return rows


async def inventory_rows(workdir: Path) -> list[Row]:
    return await anyio.to_thread.run_sync(all_rows, workdir)


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="aws-ops-bench-inventory-") as temporary:
        rows = await inventory_rows(Path(temporary))
    print(table(rows))


if __name__ == "__main__":
    anyio.run(main)
