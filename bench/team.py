"""The team deployment's rows of `make bench`: many JWT users on one server, replicas sharing PostgreSQL, and what
a Prometheus scrape costs.

Tokens are signed here with a secret generated per run (HS256), as an identity provider would sign them; nothing
secret is printed: the rows carry figures only, and each server's output stays in its log in the bench's
temporary folder.
"""

import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from bench import processes
from bench.processes import Child
from bench.report import Row, at_most, elapsed_ms, holds, percentile
from sandbox import free_port
from tests.postgres import embedded_postgres

USERS = 20
ROUNDS = 2
CALLS_PER_USER = 40
SCRAPES = 200
REPLICAS = 3
ISSUER = "https://login.bench.example"
AUDIENCE = "aws-ops-mcp"
CURATED = ("get_account_info", {})
SECRET_NAME = "bench/doomed"


class Issuer:
    """An HS256 identity provider: one secret, tokens for any user and role, good for an hour."""

    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(48)

    def settings(self) -> dict[str, str]:
        return {"AWS_MCP_JWT_SECRET": self.secret, "AWS_MCP_JWT_ISSUER": ISSUER, "AWS_MCP_JWT_AUDIENCE": AUDIENCE}

    def token(self, subject: str, role: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "nbf": now, "exp": now + 3600}
        return jwt.encode({**claims, "role": role}, self.secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def connect(server: Child, token: str) -> AsyncIterator[Client]:
    """An MCP client over streamable HTTP sending `token` on every request."""
    async with (
        httpx2.AsyncClient(headers=bearer(token), timeout=60) as http,
        Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client,
    ):
        yield client


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def field_of(result: Any, name: str) -> str:
    """A `name: value` line of a tool error's text content ("" when absent)."""
    return next((line.partition(": ")[2] for line in text_of(result).splitlines() if line.startswith(f"{name}: ")), "")


async def many_users(environment: dict[str, str], workdir: Path) -> list[Row]:
    """USERS clients at once, each a different JWT user (role operator), each making CALLS_PER_USER calls; then
    SCRAPES scrapes of /metrics, on the main port as an admin and on AWS_MCP_METRICS_PORT."""
    issuer = Issuer()
    metrics_port = free_port()
    environment = {**environment, **issuer.settings(), "AWS_MCP_METRICS_PORT": str(metrics_port)}
    samples: list[float] = []
    errors: list[str] = []
    """The first line of each error result, and the exception that ended a user's connection, if any."""

    async def user(index: int, server: Child) -> None:
        try:
            async with connect(server, issuer.token(f"user{index:02d}@bench.example", "operator")) as client:
                for _ in range(CALLS_PER_USER):
                    started = time.perf_counter()
                    result = await client.call_tool(*CURATED)
                    samples.append((time.perf_counter() - started) * 1000)
                    if result.is_error:
                        samples.pop()  # counted among the errors, not the timings
                        errors.append(text_of(result).splitlines()[0])
        except (OSError, httpx2.HTTPError, MCPError, ExceptionGroup) as error:  # the calls it did not make count
            errors.append(f"{type(error).__name__} ending user {index}'s connection")

    with processes.ops_server(environment, workdir) as server:
        async with connect(server, issuer.token("warm-up@bench.example", "operator")) as client:
            await client.call_tool(*CURATED)
            await client.call_tool("search_operations", {"query": "who am i"})  # waits for the index, if building
        before = server.rss_mb()
        rounds: list[tuple[float, float]] = []
        for _ in range(ROUNDS):
            with anyio.fail_after(300):
                started = time.perf_counter()
                async with anyio.create_task_group() as group:
                    for index in range(USERS):
                        group.start_soon(user, index, server)
                rounds.append((time.perf_counter() - started, server.rss_mb()))
        admin = issuer.token("prometheus@bench.example", "admin")
        health = f"{server.url}/healthz"
        main_port = await scrapes(f"{server.url}/metrics", bearer(admin), health)
        own_port = await scrapes(f"http://127.0.0.1:{metrics_port}/metrics", {}, health)
    total = USERS * CALLS_PER_USER * ROUNDS
    failed = total - len(samples)  # error results and calls never made
    for error in sorted(set(errors)):
        print(f"bench: {errors.count(error)} × {error}", file=sys.stderr)
    calls = f"{USERS} JWT users (operator) × {CALLS_PER_USER} get_account_info, concurrently"
    elapsed = statistics.median(seconds for seconds, _ in rounds)
    memory = " / ".join(f"{rss:.1f}" for rss in [before, *(rss for _, rss in rounds)])
    return [
        Row(f"{calls} ({ROUNDS} rounds): errors", f"{failed} of {total:,}", "= 0", failed == 0),
        Row(f"{calls}: per call", spread(samples, 50, 99)),
        Row(f"{calls}: throughput", f"{USERS * CALLS_PER_USER / elapsed:.0f} calls/s ({elapsed:.1f} s a round)"),
        Row(f"server RSS before / after each round of {USERS * CALLS_PER_USER} calls", f"{memory} MB"),
        *scrape_rows("/metrics scrape, main port, admin JWT", main_port),
        *scrape_rows("/metrics scrape, AWS_MCP_METRICS_PORT", own_port),
    ]


def spread(samples: list[float], *percentiles: int) -> str:
    if len(samples) < 2:
        return "no samples"
    return ", ".join(f"p{q} {percentile(samples, q):.2f} ms" for q in percentiles)


async def scrapes(url: str, headers: dict[str, str], floor: str) -> tuple[list[float], list[float]]:
    """SCRAPES timed scrapes of `url`, each followed by a GET of `floor` (/healthz: the round trip with nothing
    behind it) on the same client, so load from elsewhere falls on both alike."""
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:

        async def scrape() -> None:
            response = await http.get(url)
            response.raise_for_status()
            if b"aws_mcp_tool_calls_total" not in response.content:
                raise RuntimeError(f"{url} answered without the tool call counter")

        async def health() -> None:
            (await http.get(floor)).raise_for_status()

        await scrape()
        scraped, floors = [], []
        for _ in range(SCRAPES):
            scraped.append(await elapsed_ms(scrape))
            floors.append(await elapsed_ms(health))
        return scraped, floors


def scrape_rows(name: str, samples: tuple[list[float], list[float]]) -> list[Row]:
    scraped, floors = samples
    return [
        at_most(f"{name}: p50 of {SCRAPES}", percentile(scraped, 50), 5, "ms"),
        at_most(f"{name}: p95 of {SCRAPES}", percentile(scraped, 95), 5, "ms"),
        Row(f"{name}: floor, GET /healthz on the main port in turn", spread(floors, 50, 95)),
    ]


async def replicas(environment: dict[str, str], workdir: Path) -> list[Row]:
    """REPLICAS servers sharing one PostgreSQL, the confirmation secret and the request-state keys: a delete's
    confirmation token issued on the first is redeemed on the second, and its replay refused on the third."""
    issuer = Issuer()
    token = issuer.token("oncall@bench.example", "operator")
    delete = {"secret_id": SECRET_NAME, "force_delete_without_recovery": True}
    with embedded_postgres() as postgres:
        shared = {
            **environment,
            **issuer.settings(),
            "AWS_MCP_DATABASE_URL": postgres.fresh_database("aws_ops_mcp_bench"),
            "AWS_MCP_CONFIRMATION_SECRET": secrets.token_hex(32),
            "AWS_MCP_REQUEST_STATE_KEYS": secrets.token_hex(32),
        }
        started = time.perf_counter()
        with processes.replicas(shared, workdir, REPLICAS) as (first, second, third):
            ready = time.perf_counter() - started
            async with (
                connect(first, token) as on_first,
                connect(second, token) as on_second,
                connect(third, token) as on_third,
            ):
                await on_first.call_tool("create_secret", {"name": SECRET_NAME, "secret_string": "v"})
                asked = await on_first.call_tool("delete_secret", delete)
                confirmation = field_of(asked, "confirmation_token")
                issued = asked.is_error and bool(confirmation)
                redeemed: list[Any] = []

                async def redeem() -> None:
                    redeemed.append(
                        await on_second.call_tool("delete_secret", {**delete, "confirmation_token": confirmation})
                    )

                redemption = await elapsed_ms(redeem)
                replayed = await on_third.call_tool("delete_secret", {**delete, "confirmation_token": confirmation})
    accepted = issued and not redeemed[0].is_error
    refused = replayed.is_error and "already used" in text_of(replayed)
    return [
        Row(
            f"{REPLICAS} replicas sharing one PostgreSQL: started together (migrations race) to all answering",
            f"{ready:.1f} s",
        ),
        holds("confirmation token issued on replica 1, accepted on 2, refused on 3", accepted and refused),
        Row(
            "redeeming it on replica 2 (delete_secret: spend the token in PostgreSQL, then AWS)", f"{redemption:.1f} ms"
        ),
    ]
