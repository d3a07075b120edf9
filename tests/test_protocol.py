"""What the server says about itself and which hosts may reach it: serverInfo's version, capabilities with
something behind them only, `logging/setLevel`, and DNS-rebinding protection configured for an ingress."""

import re

import pytest
from mcp.shared.exceptions import MCPError

from http_app import transport_security
from tests.conftest import connect, serve
from tests.helpers import ok
from tests.repo import ROOT
from tests.test_transports import INITIALIZE, post

pytestmark = pytest.mark.anyio


def pyproject_version() -> str:
    found = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found
    return found.group(1)


@pytest.mark.parametrize("transport", ["http", "legacy-http", "sse"])
async def test_server_info_has_the_package_version_and_only_served_capabilities(served, transport):
    async with connect(served.url, transport) as client:
        assert client.server_info.name == "aws-ops-mcp"
        assert client.server_info.version == pyproject_version()
        capabilities = client.server_capabilities
        assert capabilities.tools is not None and not capabilities.tools.list_changed
        assert capabilities.prompts is None and capabilities.resources is None and capabilities.completions is None
        with pytest.raises(MCPError):
            await client.list_prompts()
        with pytest.raises(MCPError):
            await client.list_resources()
        if transport != "http":  # logging/setLevel belongs to the handshake era; 2026-07-28 opts in per request
            assert capabilities.logging is not None


async def test_logging_set_level_decides_what_the_client_is_told(make_settings):
    told: list[tuple[str, str]] = []

    async def log(params) -> None:
        told.append((params.level, str(params.data)))

    with serve(make_settings(AWS_MCP_AUTO_APPROVE_DESTRUCTIVE="true")) as running:
        async with connect(running.url, "legacy-http", logging_callback=log) as client:
            for name in ("a", "b", "c"):
                await ok(client, "create_secret", name=name, secret_string="v")
            await client.set_logging_level("error")
            await ok(client, "delete_secret", secret_id="a", force_delete_without_recovery=True)
            assert told == []
            await client.set_logging_level("debug")
            await ok(client, "delete_secret", secret_id="b", force_delete_without_recovery=True)
            await ok(client, "list_accounts")  # nothing to tell
        async with connect(running.url, "legacy-http", logging_callback=log) as client:
            await ok(client, "delete_secret", secret_id="c", force_delete_without_recovery=True)  # default: warning
    assert [level for level, _ in told] == ["warning", "warning"]
    assert all(text.startswith("delete_secret: AWS_MCP_AUTO_APPROVE_DESTRUCTIVE=true") for _, text in told)


def test_allowed_hosts_and_origins_are_read_from_the_environment(make_settings):
    settings = make_settings(
        AWS_MCP_ALLOWED_HOSTS="mcp.example.com, mcp.example.com:*",
        AWS_MCP_ALLOWED_ORIGINS="https://console.example.com",
    )
    with serve(settings) as running:
        url = f"{running.url}/mcp"
        assert post(url, INITIALIZE)[0] == 200  # loopback names stay allowed on a loopback bind
        assert post(url, INITIALIZE, {"Host": "mcp.example.com"})[0] == 200
        assert post(url, INITIALIZE, {"Host": "mcp.example.com:8443"})[0] == 200
        assert post(url, INITIALIZE, {"Host": "attacker.example"})[0] == 421
        assert post(url, INITIALIZE, {"Host": "mcp.example.com.attacker.example"})[0] == 421
        assert post(url, INITIALIZE, {"Host": "mcp.example.com", "Origin": "https://console.example.com"})[0] == 200
        assert post(url, INITIALIZE, {"Host": "mcp.example.com", "Origin": "https://attacker.example"})[0] == 403


def test_a_public_bind_checks_hosts_only_when_told_which(make_settings):
    assert transport_security("0.0.0.0", make_settings()) is None
    security = transport_security("0.0.0.0", make_settings(AWS_MCP_ALLOWED_HOSTS="mcp.example.com:*"))
    assert security is not None and security.enable_dns_rebinding_protection
    assert security.allowed_hosts == ["mcp.example.com:*"] and security.allowed_origins == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [("AWS_MCP_ALLOWED_HOSTS", "https://mcp.example.com"), ("AWS_MCP_ALLOWED_ORIGINS", "mcp.example.com")],
)
def test_malformed_hosts_and_origins_are_refused_naming_the_variable(variable, value):
    from config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value}, env_file=None)
