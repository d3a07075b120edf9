"""Logs: the server as a process, its stderr parsed as JSON lines: one line per HTTP request naming the request
id, the principal, the MCP method and tool, the status and the duration; no secret anywhere in its bytes; no
colour codes from third-party loggers in either format."""

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.invocation import token_fingerprint
from observability.logs import configure_logging, get_logger
from sandbox import free_port
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect
from tests.helpers import fails, ok
from tests.repo import ROOT

pytestmark = pytest.mark.anyio

TOKEN = "log-token-for-tests-0123456789abcdef"
SECRET_VALUE = "pa55word-that-must-never-be-logged"


@contextmanager
def server_process(environment: dict[str, str], stderr: Path, stdout_too: bool = False) -> Iterator[str]:
    """`server.py` on a free loopback port, its stderr in a file (with `stdout_too`, every byte it writes);
    stopped (SIGTERM) on exit."""
    port = free_port()
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "server.py", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=sink if stdout_too else None,
            stderr=sink,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                    break
                except OSError:
                    assert process.poll() is None, stderr.read_text()
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def environment(moto_endpoint: str, cache: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_MCP_CACHE_DIR": str(cache),
        "AWS_MCP_STATE_DIR": os.environ["AWS_MCP_STATE_DIR"],  # the session's (tests/conftest.py), not the user's
        "ACCOUNT_PROD_ROLE_ARN": "arn:aws:iam::111111111111:role/ops",
        **extra,
    }


async def test_json_logs_have_one_line_per_request_and_no_secret(moto_endpoint, operation_index_dir, tmp_path):
    stderr = tmp_path / "stderr.log"
    env = environment(moto_endpoint, operation_index_dir, MCP_AUTH_TOKEN=TOKEN, AWS_MCP_LOG_FORMAT="json")
    with server_process(env, stderr) as url:
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "req-1234"}
        async with connect(url, "legacy-http", headers=headers) as client:
            await ok(client, "create_secret", name="db", secret_string=SECRET_VALUE)
            assert (await ok(client, "get_secret_value", secret_id="db"))["secret_string"] == SECRET_VALUE
            await ok(client, "set_environment", access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
            await fails(client, "describe_secret", secret_id="missing")
        request = urllib.request.Request(f"{url}/mcp", data=b"{}", headers={"Authorization": "Bearer wrong-token"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=10)
    raw = stderr.read_bytes()
    for secret in (TOKEN, SECRET_VALUE, SECRET_KEY, "wrong-token"):
        assert secret.encode() not in raw, f"{secret[:6]}... reached the log"
    assert b"\x1b" not in raw
    lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    requests = [line for line in lines if line.get("event") == "http_request"]
    calls = [line for line in requests if line["mcp_method"] == "tools/call"]
    assert [line["tool"] for line in calls] == [
        "create_secret",
        "get_secret_value",
        "set_environment",
        "describe_secret",
    ]
    for line in calls:
        assert line["request_id"] == "req-1234" and line["status"] == 200 and line["method"] == "POST"
        assert line["principal"] == token_fingerprint(TOKEN) and line["duration_ms"] >= 0
        assert line["level"] == "info" and line["logger"] == "aws_ops_mcp.http" and line["time"].endswith("Z")
    (refused,) = [line for line in requests if line["status"] == 401]
    assert refused["status"] == 401 and refused["principal"] is None and len(refused["request_id"]) == 32
    assert any(str(line.get("event", "")).startswith("serving http://") for line in lines)
    audit = [line for line in lines if line.get("event") == "audit" and not line.get("background")]
    assert [line["tool"] for line in audit][-4:] == [line["tool"] for line in calls]


def test_request_ids_come_back_in_the_response(served):
    request = urllib.request.Request(f"{served.url}/healthz", headers={"X-Request-Id": "abc-123"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["X-Request-Id"] == "abc-123"
    request = urllib.request.Request(f"{served.url}/healthz", headers={"X-Request-Id": "not a\ttoken"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert len(response.headers["X-Request-Id"]) == 32


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(("stream", "expected"), [(io.StringIO, "json"), (Terminal, "console")])
def test_the_format_follows_the_terminal_and_colour_codes_never_pass(restore_logging, stream, expected):
    output = stream()
    assert configure_logging("INFO", None, output) == expected
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.warning('127.0.0.1 - - "\x1b[31m\x1b[1mGET /moto-api HTTP/1.1\x1b[0m" 500 -')
    werkzeug.info("request lines are held back at INFO")
    get_logger("aws_ops_mcp.http").info("http_request", status=200)
    text = output.getvalue()
    assert "GET /moto-api HTTP/1.1" in text and "request lines" not in text
    if expected == "json":
        assert "\x1b" not in text
        assert [json.loads(line)["event"] for line in text.splitlines()][-1] == "http_request"
    else:
        assert "\x1b[31m\x1b[1mGET" not in text  # the console renderer colours its own fields only


def test_an_explicit_format_wins_over_the_terminal(restore_logging):
    output = Terminal()
    assert configure_logging("INFO", "json", output) == "json"
    get_logger("x").info("one", n=1)
    assert json.loads(output.getvalue())["n"] == 1
