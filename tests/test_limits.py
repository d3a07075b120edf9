"""Rate limits: tool calls per principal (a tool error with retry_after_seconds, audited, counted), per-role
limits from the policy, and HTTP 429 with Retry-After for a flood before authentication."""

import json
import urllib.error
import urllib.request
from email.message import Message

import pytest

from config import ConfigError
from core.errors import RateLimited
from core.invocation import Principal
from guard.policy import Policy
from guard.ratelimit import CallerLimits, ClientLimits, MovingWindows
from observability.metrics import Metrics
from sandbox import free_port
from tests.conftest import connect, serve
from tests.helpers import audit_records, fails, ok, sample, scrape
from tests.test_transports import INITIALIZE, post, run_server

pytestmark = pytest.mark.anyio

TOKEN = "limits-token-for-tests-0123456789"


async def test_a_caller_over_its_limit_gets_a_rate_limited_tool_error_that_is_audited(make_settings, audit_file):
    with serve(make_settings(AWS_MCP_RATE_LIMIT_PER_MINUTE="2")) as running:
        async with connect(running.url) as client:
            await ok(client, "list_accounts")
            await ok(client, "list_profiles")
            refused = await fails(client, "list_accounts")
        metrics = scrape(f"{running.url}/metrics")
    assert refused["code"] == "rate_limited"
    assert "2 tool calls a minute" in refused["message"]
    assert 1 <= refused["retry_after_seconds"] <= 60
    assert [r["outcome"] for r in audit_records(audit_file)] == ["ok", "ok", "rate_limited"]
    assert sample(metrics, "aws_mcp_rate_limited_total", limit="principal") == 1
    assert sample(metrics, "aws_mcp_tool_calls_total", tool="list_accounts", outcome="rate_limited") == 1


async def test_limits_are_per_principal():
    limits = CallerLimits(1, "memory://", Metrics())
    alice, bob = Principal("alice", "jwt", "operator"), Principal("bob", "jwt", "operator")
    await limits.check(alice)
    await limits.check(bob)
    with pytest.raises(RateLimited) as refused:
        await limits.check(alice)
    assert refused.value.details["retry_after_seconds"] in range(1, 61)
    with pytest.raises(RateLimited):
        await limits.check(bob)


async def test_a_role_limit_from_the_policy_wins_over_the_server_wide_one():
    limits = CallerLimits(100, "memory://", Metrics(), role_limit={"viewer": 1, "admin": 0}.get)
    assert (limits.limit_for("viewer"), limits.limit_for("admin"), limits.limit_for("operator")) == (1, 0, 100)
    viewer, admin = Principal("v", "jwt", "viewer"), Principal("a", "jwt", "admin")
    await limits.check(viewer)
    with pytest.raises(RateLimited):
        await limits.check(viewer)
    for _ in range(200):
        await limits.check(admin)  # 0: no limit for the role


async def test_the_server_reads_role_limits_from_the_policy(make_settings, monkeypatch):
    """`Policy.rate_limit(role)` (the policy's roles section) is read when the policy has it."""
    monkeypatch.setattr(Policy, "rate_limit", lambda self, role: 1 if role == "admin" else None, raising=False)
    with serve(make_settings()) as running:
        async with connect(running.url) as client:
            await ok(client, "list_accounts")
            assert (await fails(client, "list_accounts"))["code"] == "rate_limited"


@pytest.mark.parametrize(
    ("uri", "reason"),
    [("bogus://somewhere", "unknown storage scheme"), ("redis://ops:hunter2-password@cache:6379", "prerequisite")],
)
def test_a_rate_limit_storage_that_cannot_work_stops_startup_naming_the_variable(uri, reason):
    with pytest.raises(ConfigError) as refused:
        MovingWindows(uri)
    assert "AWS_MCP_RATE_LIMIT_STORAGE" in str(refused.value) and reason in str(refused.value)
    assert "hunter2" not in str(refused.value)
    result = run_server("--transport", "stdio", env={"AWS_MCP_RATE_LIMIT_STORAGE": uri})
    assert result.returncode == 2 and "AWS_MCP_RATE_LIMIT_STORAGE" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


async def test_a_storage_outage_lets_calls_through():
    limits = CallerLimits(1, "memory://", Metrics())

    async def broken(*_):
        raise ConnectionError("storage down")

    limits._windows._limiter.hit = broken  # type: ignore[method-assign]
    for _ in range(3):
        await limits.check(Principal("alice", "jwt"))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


async def test_a_request_flood_gets_429_with_retry_after_before_authentication(make_settings):
    metrics_port = free_port()
    settings = make_settings(
        MCP_AUTH_TOKEN=TOKEN, AWS_MCP_IP_RATE_LIMIT_PER_MINUTE="3", AWS_MCP_METRICS_PORT=str(metrics_port)
    )
    with serve(settings) as running:
        statuses = [post(f"{running.url}/mcp", INITIALIZE)[0] for _ in range(3)]
        assert statuses == [401, 401, 401]
        status, headers, body = get(f"{running.url}/mcp", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 429
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert json.loads(body)["retry_after_seconds"] == int(headers["Retry-After"])
        assert get(f"{running.url}/healthz")[0] == 200  # probes are never limited
        assert get(f"{running.url}/readyz")[0] == 200
        metrics = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    assert sample(metrics, "aws_mcp_rate_limited_total", limit="client_ip") == 1


async def test_the_client_address_limit_is_per_address():
    limits = ClientLimits(2, Metrics())
    assert [await limits.check("192.0.2.1") for _ in range(2)] == [None, None]
    assert await limits.check("192.0.2.1") in range(1, 61)
    assert await limits.check("192.0.2.2") is None
    assert await ClientLimits(0, Metrics()).check("192.0.2.1") is None
