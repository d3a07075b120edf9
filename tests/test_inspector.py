"""The MCP Inspector CLI, a client independent of the Python SDK, against the server over streamable HTTP, SSE
and stdio: strict schema checks on tools/list, and a destructive call confirmed with the token it read from the
error's text content (the only part of an error every client shows)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY, serve
from tests.issuers import hs256, hs256_settings
from tests.repo import ROOT

CLIENTS = ROOT / "tests" / "inspector" / "node_modules" / ".bin"
TOOL_IS_ERROR = 5
"""The Inspector CLI's exit code when a tool answered with isError."""


def inspector(*arguments: str, catalog: Path) -> subprocess.CompletedProcess:
    environment = {
        "PATH": f"{CLIENTS}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(catalog.parent),
        "MCP_CATALOG_PATH": str(catalog),
    }
    return subprocess.run(
        [str(CLIENTS / "mcp-inspector"), "--cli", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return tmp_path / "inspector" / "mcp.json"


def listed(result: subprocess.CompletedProcess) -> set[str]:
    assert result.returncode == 0, result.stderr
    return {tool["name"] for tool in json.loads(result.stdout)["tools"]}


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
def test_the_inspector_lists_every_tool_with_portable_schemas(served, catalog, path):
    tools = listed(inspector(f"{served.url}{path}", "--method", "tools/list", "--strict", catalog=catalog))
    assert {"get_account_info", "delete_secret", "execute", "execute_aws_write_command"} <= tools
    assert tools == {spec.name for spec in served.server.tool_specs}


def test_the_inspector_over_stdio(moto_endpoint, catalog, tmp_path):
    environment = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_MCP_CACHE_DIR": str(tmp_path / "cache"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    options = [option for name, value in environment.items() for option in ("-e", f"{name}={value}")]
    server = ["--", sys.executable, "server.py", "--transport", "stdio"]
    tools = listed(inspector(*options, "--method", "tools/list", "--strict", *server, catalog=catalog))
    assert "list_buckets" in tools
    called = inspector(*options, "--method", "tools/call", "--tool-name", "get_account_info", *server, catalog=catalog)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["structuredContent"]["account"] == "123456789012"


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
def test_the_inspector_confirms_a_destructive_call_with_the_token_from_the_text(served, aws, catalog, path):
    secrets = aws().client("secretsmanager")
    secrets.create_secret(Name="inspected", SecretString="v")
    delete = [f"{served.url}{path}", "--method", "tools/call", "--tool-name", "delete_secret"]
    delete += ["--tool-arg", "secret_id=inspected", "force_delete_without_recovery=true"]
    asked = inspector(*delete, catalog=catalog)
    assert asked.returncode == TOOL_IS_ERROR, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["isError"] is True and "structuredContent" not in answer
    text = answer["content"][0]["text"]
    assert text.startswith("confirmation_required: ") and "delete secret inspected" in text
    token = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("confirmation_token: "))
    assert secrets.describe_secret(SecretId="inspected")["Name"] == "inspected"
    confirmed = inspector(
        *delete[:-2],
        "secret_id=inspected",
        "force_delete_without_recovery=true",
        f"confirmation_token={token}",
        catalog=catalog,
    )
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    assert json.loads(confirmed.stdout)["structuredContent"]["recoverable"] is False
    assert secrets.list_secrets()["SecretList"] == []


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
def test_the_inspector_as_jwt_users_sees_its_role_and_confirms_as_an_operator(make_settings, aws, catalog, path):
    with serve(make_settings(**hs256_settings())) as running:
        url = f"{running.url}{path}"

        def as_user(role: str, *arguments: str) -> subprocess.CompletedProcess:
            header = f"Authorization: Bearer {hs256(f'{role}-user', role)}"
            return inspector(url, "--header", header, *arguments, catalog=catalog)

        viewer_tools = listed(as_user("viewer", "--method", "tools/list", "--strict"))
        operator_tools = listed(as_user("operator", "--method", "tools/list", "--strict"))
        assert "list_secrets" in viewer_tools and "delete_secret" not in viewer_tools
        assert {"delete_secret", "execute"} <= operator_tools
        aws().client("secretsmanager").create_secret(Name="jwt-doomed", SecretString="v")
        delete = ["--method", "tools/call", "--tool-name", "delete_secret", "--tool-arg", "secret_id=jwt-doomed"]
        asked = as_user("operator", *delete)
        assert asked.returncode == TOOL_IS_ERROR, asked.stderr
        text = json.loads(asked.stdout)["content"][0]["text"]
        token = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("confirmation_token: "))
        foreign = as_user("admin", *delete, f"confirmation_token={token}")
        assert foreign.returncode == TOOL_IS_ERROR and "confirmation_invalid" in foreign.stdout
        confirmed = as_user("operator", *delete, f"confirmation_token={token}")
        assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
