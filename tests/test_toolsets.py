"""AWS_MCP_TOOLSETS: a team publishes only the tool sets it uses; every tool is paid for in every conversation."""

import pytest

from fleet.inventory_tools import InventoryTools
from fleet.tools import FleetTools
from generic.tools import GenericTools
from integrations.tools import IntegrationTools
from server import PROVIDERS, TOOLSETS
from services import Route53Manager, S3Manager, SecretsManagerManager, StsManager
from tests.conftest import connect, serve
from tests.helpers import fails, ok
from tests.test_transports import run_server
from tooling import tool_specs

pytestmark = pytest.mark.anyio

SPECS = [spec for provider in PROVIDERS for spec in tool_specs(provider)]
CLI_TOOLS = {"execute_aws_read_command", "execute_aws_write_command"}


def names(*providers: type) -> set[str]:
    return {spec.name for provider in providers for spec in tool_specs(provider)}


def test_every_tool_belongs_to_the_tool_set_its_declaration_names():
    assert TOOLSETS == ("identity", "secrets", "dns", "s3", "generic", "cli", "fleet", "integrations")
    members = {toolset: {spec.name for spec in SPECS if spec.toolset == toolset} for toolset in TOOLSETS}
    assert members == {
        "identity": names(StsManager),
        "secrets": names(SecretsManagerManager),
        "dns": names(Route53Manager),
        "s3": names(S3Manager),
        "generic": {"search_operations", "get_operation_schema", "execute"},
        "cli": CLI_TOOLS,
        "fleet": names(FleetTools, InventoryTools),
        "integrations": names(IntegrationTools),
    }
    assert names(GenericTools) == members["generic"] | CLI_TOOLS
    assert all(spec.toolset for spec in SPECS)


async def test_only_the_chosen_tool_sets_are_listed_and_callable(make_settings):
    with serve(make_settings(AWS_MCP_TOOLSETS="dns, CLI")) as running:
        async with connect(running.url) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            assert listed == names(Route53Manager) | CLI_TOOLS
            assert (await ok(client, "list_hosted_zones"))["zones"] == []
            listed_secrets = await ok(client, "execute_aws_read_command", command="secretsmanager list-secrets")
            assert listed_secrets["result"]["SecretList"] == []
            result = await client.call_tool("get_account_info", {})
            assert result.is_error and "get_account_info" in result.content[0].text


async def test_without_the_generic_tools_no_search_index_is_built_at_start(make_settings, monkeypatch):
    started: list[str] = []
    monkeypatch.setattr(GenericTools, "start_index_build", lambda self: started.append("index"))
    with serve(make_settings(AWS_MCP_TOOLSETS="identity,secrets"), build_index=True) as running:
        async with connect(running.url) as client:
            assert (await ok(client, "get_account_info"))["account"] == "123456789012"
            await fails(client, "get_secret_value", secret_id="missing")
    assert started == []
    with serve(make_settings(AWS_MCP_TOOLSETS="generic"), build_index=True) as running:
        async with connect(running.url) as client:
            await client.list_tools()
    assert started == ["index"]


@pytest.mark.parametrize("value", ["dns,fleets", "identity, everything", ", ,"])
def test_an_unknown_tool_set_stops_startup_naming_the_variable_and_the_known_sets(value):
    result = run_server("--transport", "stdio", env={"AWS_MCP_TOOLSETS": value})
    assert result.returncode == 2
    assert "AWS_MCP_TOOLSETS" in result.stderr and "Traceback" not in result.stderr
    if value.strip(", "):
        assert ",".join(TOOLSETS) in result.stderr
        assert repr(value.split(",")[-1].strip()) in result.stderr


async def test_a_tool_is_listed_the_same_whichever_tool_sets_are_on(make_settings, client):
    """So `make bench` can price each tool set from one full listing."""
    every = {tool.name: tool for tool in (await client.list_tools()).tools}
    with serve(make_settings(AWS_MCP_TOOLSETS="secrets")) as running:
        async with connect(running.url) as only:
            listed = (await only.list_tools()).tools
    assert listed and all(tool == every[tool.name] for tool in listed)
