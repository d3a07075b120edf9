"""The HTTP surface and stdio: endpoints, auth, and the same tools over every transport."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mcp import StdioServerParameters

from http_app import build_http_app
from server import create_server
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect, serve
from tests.helpers import ok

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
ACCEPT = "application/json, text/event-stream"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
}


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": ACCEPT, **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_healthz_and_readyz_answer_json(served):
    with urllib.request.urlopen(f"{served.url}/healthz") as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "ok"
    with urllib.request.urlopen(f"{served.url}/readyz") as response:
        assert json.loads(response.read()) == {"status": "ready"}


async def asgi_get(app, path: str) -> int:
    """GET `path` straight through the ASGI app, outside any server (so outside its lifespan)."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b""}
    scope |= {"headers": [], "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
    await app(scope | {"root_path": "", "http_version": "1.1"}, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


async def test_readyz_is_ready_only_while_the_session_manager_runs_and_needs_no_token(make_settings):
    settings = make_settings(MCP_AUTH_TOKEN="s3cret-token-for-tests")
    app = build_http_app(create_server(settings), settings, "127.0.0.1")
    assert await asgi_get(app, "/readyz") == 503
    async with app.router.lifespan_context(app):
        assert await asgi_get(app, "/readyz") == 200
        assert await asgi_get(app, "/healthz") == 200
        assert await asgi_get(app, "/mcp") == 401
    assert await asgi_get(app, "/readyz") == 503


def test_json_rpc_posted_to_root_is_served_like_mcp(served):
    status, body = post(f"{served.url}/", INITIALIZE)
    assert status == 200 and "aws-ops-mcp" in body


@pytest.mark.parametrize("transport", ["http", "legacy-http", "sse"])
async def test_tools_work_over_every_http_transport(served, transport):
    async with connect(served.url, transport) as client:
        assert (await ok(client, "get_account_info", account="prod"))["account"] == "111111111111"


async def test_auth_token_is_required_everywhere_but_healthz(make_settings):
    with serve(make_settings(MCP_AUTH_TOKEN="s3cret-token-for-tests")) as running:
        for path in ("/mcp", "/", "/messages/?session_id=x"):
            assert post(f"{running.url}{path}", INITIALIZE)[0] == 401
            assert post(f"{running.url}{path}", INITIALIZE, {"Authorization": "Bearer wrong"})[0] == 401
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{running.url}/sse", timeout=5)
        assert refused.value.code == 401
        with urllib.request.urlopen(f"{running.url}/healthz") as response:
            assert response.status == 200
        headers = {"Authorization": "Bearer s3cret-token-for-tests"}
        assert post(f"{running.url}/mcp", INITIALIZE, headers)[0] == 200
        async with connect(running.url, headers=headers) as client:
            assert (await ok(client, "get_account_info"))["account"] == "123456789012"
        async with connect(running.url, "sse", headers=headers) as client:
            assert (await ok(client, "list_accounts"))["accounts"]


SERVER_PREFIXES = ("ACCOUNT_", "MCP_", "AWS_MCP_")
"""Variables of this server's own: the tests' server processes get only those a test gives them."""


def server_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.upper().startswith(SERVER_PREFIXES)}
    return environment | (env or {})


def run_server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """server.py run to its end; stdin is empty, so a stdio server stops once started."""
    return subprocess.run(
        [sys.executable, "server.py", *args],
        cwd=ROOT,
        env=server_environment(env),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_non_loopback_bind_without_a_token_is_refused_with_a_clear_message():
    result = run_server("--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2
    assert "MCP_AUTH_TOKEN" in result.stderr and "AWS_MCP_ALLOW_UNAUTHENTICATED" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCOUNT_PROD_ROLE_ARN", "arn:aws:iam::prod:role/x"),
        ("AWS_REGION", "mars-north-1"),
        ("ACCOUNT_QA_REGION", "us-east-1"),
        ("AWS_MCP_MAX_ATTEMPTS", "many"),
        ("AWS_MCP_READ_ONLY", "perhaps"),
    ],
)
def test_bad_configuration_stops_startup_naming_the_variable(variable, value):
    result = run_server("--transport", "stdio", env={variable: value})
    assert result.returncode == 2
    name = variable if not variable.endswith("_REGION") or variable == "AWS_REGION" else "ACCOUNT_QA"
    assert name in result.stderr
    assert "Traceback" not in result.stderr


async def test_stdio_serves_tools_and_set_environment_sets_the_process_variables(moto_endpoint, operation_index_dir):
    from mcp import Client

    environment = {
        "AWS_MCP_CACHE_DIR": str(operation_index_dir),  # where a missing index would be built at start-up
        "AWS_MCP_STATE_DIR": os.environ["AWS_MCP_STATE_DIR"],  # the session's, not the user's own
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "ACCOUNT_PROD_ROLE_ARN": "arn:aws:iam::111111111111:role/ops",
        "PATH": os.environ.get("PATH", ""),
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
    }
    parameters = StdioServerParameters(
        command=sys.executable, args=["server.py", "--transport", "stdio"], env=environment, cwd=str(ROOT)
    )
    async with Client(parameters) as client:
        assert (await ok(client, "get_account_info", account="prod"))["account"] == "111111111111"
        assert await ok(client, "set_environment", region="eu-west-1") == {"set": ["region"], "scope": "process"}
        await ok(client, "create_secret", name="stdio-secret", secret_string="v")
        arn = (await ok(client, "describe_secret", secret_id="stdio-secret"))["arn"]
        assert arn.split(":")[3] == "eu-west-1"
        # awscli parses in this process, whose stdout is the protocol: nothing it prints may reach it
        refused = await client.call_tool("execute_aws_read_command", {"command": "s3 ls --no-such-option"})
        assert refused.is_error and "Unknown options" in refused.content[0].text
        listed = await ok(client, "execute_aws_read_command", command="secretsmanager list-secrets")
        assert [secret["Name"] for secret in listed["result"]["SecretList"]] == ["stdio-secret"]


@pytest.mark.parametrize("path", ["/mcp", "/"])
def test_a_loopback_server_refuses_rebound_hosts_and_foreign_origins(served, path):
    """DNS rebinding: a web page that resolves its own name to 127.0.0.1 must not reach the server."""
    assert post(f"{served.url}{path}", INITIALIZE)[0] == 200
    assert post(f"{served.url}{path}", INITIALIZE, {"Host": "attacker.example"})[0] == 421
    assert post(f"{served.url}{path}", INITIALIZE, {"Origin": "http://attacker.example"})[0] == 403


def test_the_listening_socket_says_it_is_tcp_so_responses_are_not_held_back_by_nagle():
    """asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP; a socket made with protocol 0
    left Nagle on, and every response waited ~40 ms for the client's delayed ACK."""
    import socket

    from http_app import listen

    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
