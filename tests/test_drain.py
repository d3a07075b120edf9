"""Drain on SIGTERM, against the real thing: `server.py --port N` in its own process, moto behind a proxy that
holds each AWS request until the test lets it pass, SIGTERM sent while a call waits on it.

The call in flight finishes (or, past AWS_MCP_SHUTDOWN_GRACE_SECONDS, is audited `interrupted`), /readyz answers
503 from the signal on, a new call gets `shutting_down`, and the process exits 0."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from core.drain import Drain
from core.errors import Interrupted, ShuttingDown
from http_app import SHUTDOWN_SECONDS_AFTER_GRACE
from sandbox import free_port
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect
from tests.helpers import audit_records, error_of
from tests.repo import ROOT

pytestmark = pytest.mark.anyio


# --- the drain itself --------------------------------------------------------------------------------


async def test_drain_refuses_new_calls_waits_for_those_in_flight_and_interrupts_the_rest():
    drain = Drain()
    interrupted: list[str] = []
    finished: list[str] = []

    async def call(name: str, seconds: float) -> None:
        try:
            with drain.track(lambda: interrupted.append(name)):
                await anyio.sleep(seconds)
            finished.append(name)
        except Interrupted:
            finished.append(f"{name}: interrupted")

    async with anyio.create_task_group() as group:
        group.start_soon(call, "quick", 0.2)
        group.start_soon(call, "slow", 30)
        await anyio.sleep(0.05)
        assert drain.in_flight == 2
        started = time.monotonic()
        drain.begin()
        with pytest.raises(ShuttingDown), drain.track(lambda: None):
            pass
        assert await drain.wait(1.0) == 1
        assert 0.9 < time.monotonic() - started < 5
    assert interrupted == ["slow"]
    assert finished == ["quick", "slow: interrupted"]
    assert drain.in_flight == 0


async def test_a_drain_with_nothing_in_flight_ends_at_once():
    drain = Drain()
    started = time.monotonic()
    assert await drain.wait(30) == 0
    assert time.monotonic() - started < 1 and drain.draining


# --- SIGTERM to a server process ----------------------------------------------------------------------


@dataclass
class HeldProxy:
    url: str
    arrived: asyncio.Event
    """Set when the first request arrives: a call is then in flight, waiting on AWS."""
    release: asyncio.Event
    """Requests pass on once this is set, not before: the test decides how long AWS takes, not the machine's load."""


@asynccontextmanager
async def held_proxy(upstream: str) -> AsyncIterator[HeldProxy]:
    """A TCP proxy to `upstream` that holds every request until the test sets `release`."""
    host, port = upstream.removeprefix("http://").split(":")
    proxy = HeldProxy("", asyncio.Event(), asyncio.Event())
    tasks: set[asyncio.Task] = set()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))

        async def requests() -> None:
            while data := await client_reader.read(65536):
                proxy.arrived.set()
                await proxy.release.wait()
                upstream_writer.write(data)
                await upstream_writer.drain()

        async def responses() -> None:
            while data := await upstream_reader.read(65536):
                client_writer.write(data)
                await client_writer.drain()

        for pipe, writer in ((requests(), upstream_writer), (responses(), client_writer)):
            tasks.add(asyncio.ensure_future(closing(pipe, writer)))

    async def closing(pipe: Coroutine[Any, Any, None], writer: asyncio.StreamWriter) -> None:
        try:
            await pipe
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield proxy
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@dataclass
class Running:
    process: subprocess.Popen
    url: str
    audit: Path

    async def get(self, path: str) -> int:
        return await anyio.to_thread.run_sync(status, f"{self.url}{path}")

    async def becomes_unready(self, within: float) -> None:
        """Waits for /readyz to answer 503, as it does from the signal on (handled between two loop steps)."""
        with anyio.fail_after(within):
            while await self.get("/readyz") != 503:
                await anyio.sleep(0.05)

    async def exit_code(self, within: float) -> int:
        return await anyio.to_thread.run_sync(lambda: self.process.wait(timeout=within))


@asynccontextmanager
async def server_process(tmp_path: Path, endpoint: str, index_dir: Path, **settings: str) -> AsyncIterator[Running]:
    """`python server.py --port N`, as `make run` starts it without --sandbox, against `endpoint`."""
    port = free_port()
    audit = tmp_path / "audit.jsonl"
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_MCP_AUDIT_LOG": str(audit),
        "AWS_MCP_CACHE_DIR": str(index_dir),
        # Identity tools only: without search_operations the server builds no search index at start-up, whose
        # thread would hold the interpreter's exit for seconds on a busy machine.
        "AWS_MCP_TOOLSETS": "identity",
        **settings,
    }
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "server.py", "--port", str(port)], cwd=ROOT, env=environment, stdout=log, stderr=log
    )
    running = Running(process, f"http://127.0.0.1:{port}", audit)
    try:
        with anyio.fail_after(30):
            while True:
                assert process.poll() is None, (tmp_path / "server.log").read_text()
                try:
                    if await running.get("/readyz") == 200:
                        break
                except OSError:
                    pass
                await anyio.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()


async def test_sigterm_lets_the_call_in_flight_finish_refuses_new_ones_and_exits_0(
    tmp_path, moto_endpoint, operation_index_dir
):
    async with (
        held_proxy(moto_endpoint) as proxy,
        server_process(tmp_path, proxy.url, operation_index_dir) as server,
    ):
        results: list = []
        try:
            async with connect(server.url) as client:

                async def in_flight() -> None:
                    results.append(await client.call_tool("get_account_info", {}))

                async with anyio.create_task_group() as group:
                    group.start_soon(in_flight)
                    with anyio.fail_after(20):
                        await proxy.arrived.wait()
                    signalled = time.monotonic()
                    server.process.send_signal(signal.SIGTERM)
                    await server.becomes_unready(within=10)
                    assert await server.get("/healthz") == 200  # alive: liveness must not restart a draining pod
                    async with connect(server.url) as late:
                        refused = await late.call_tool("list_accounts", {})
                    assert refused.is_error and error_of(refused)["code"] == "shutting_down"
                    assert server.process.poll() is None, "exited with a call in flight"
                    proxy.release.set()
        except* httpx2.ConnectError:
            pass  # the client's own closing requests, sent once the server has answered and gone, find no one

        assert len(results) == 1, "the call in flight got no answer"
        finished = results[0]
        assert not finished.is_error, finished.content
        assert finished.structured_content["account"] == "123456789012"
        assert await server.exit_code(within=15) == 0
        assert time.monotonic() - signalled < 15
    outcomes = {(record["tool"], record["outcome"]) for record in audit_records(server.audit)}
    assert outcomes == {("get_account_info", "ok"), ("list_accounts", "shutting_down")}


async def test_a_call_longer_than_the_grace_period_is_audited_interrupted_and_the_process_still_exits_0(
    tmp_path, moto_endpoint, operation_index_dir
):
    grace = 1.0
    async with (
        held_proxy(moto_endpoint) as proxy,  # never released: AWS does not answer within the grace period
        server_process(tmp_path, proxy.url, operation_index_dir, AWS_MCP_SHUTDOWN_GRACE_SECONDS=str(grace)) as server,
    ):
        answers: list = []

        async def in_flight() -> None:
            try:
                async with connect(server.url) as client:
                    answers.append(await client.call_tool("get_account_info", {}))
            except Exception as lost:  # noqa: BLE001 - no answer, as the server went away: fine, if no success
                answers.append(lost)

        async with anyio.create_task_group() as group:
            group.start_soon(in_flight)
            with anyio.fail_after(20):
                await proxy.arrived.wait()
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            # The AWS request is held; the worker thread waiting on it cannot be stopped, so the
            # process leaves it behind: the grace period, uvicorn's linger for open streams, a little margin.
            assert await server.exit_code(within=20) == 0
            stopped = time.monotonic() - signalled
            group.cancel_scope.cancel()  # the client's call has no answer to wait for
    assert grace <= stopped < grace + SHUTDOWN_SECONDS_AFTER_GRACE + 2
    assert not [a for a in answers if not isinstance(a, Exception) and not a.is_error], "reported as a success"
    (record,) = audit_records(server.audit)
    assert (record["tool"], record["outcome"]) == ("get_account_info", "interrupted")
    assert record["duration_ms"] >= grace * 1000
