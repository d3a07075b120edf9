"""Configuration cannot drift: every variable the code reads is in .env.example and README; README's client
configurations are valid; AGENTS.md names files that exist."""

import json
import re

import pytest

from config import ACCOUNT_VARIABLE, settings_variables
from tests.repo import ROOT, environment_reads, repository_files, runtime_packages, variables_read_in_code

PLATFORM_VARIABLES = frozenset({"HOME", "PATH", "TMPDIR", "XDG_CACHE_HOME", "XDG_STATE_HOME"})
"""Operating-system conventions the code may consult; they are not this server's configuration."""


def account_variables() -> list[str]:
    """`ACCOUNT_<NAME>_<FIELD>` for every field config.py's alias pattern accepts."""
    fields = re.search(r"_\(([A-Z_|]+)\)\$", ACCOUNT_VARIABLE.pattern)
    assert fields, "ACCOUNT_VARIABLE no longer ends in a group of field names"
    return [f"ACCOUNT_<NAME>_{name}" for name in fields.group(1).split("|")]


def in_env_example(variable: str) -> bool:
    return re.search(rf"^#?\s*{re.escape(variable)}=", (ROOT / ".env.example").read_text(), re.M) is not None


def in_readme(variable: str) -> bool:
    return f"`{variable}`" in (ROOT / "README.md").read_text()


def test_every_setting_is_documented_in_env_example_and_readme():
    for variable in settings_variables():
        assert in_env_example(variable), f"{variable} missing from .env.example"
        assert in_readme(variable), f"{variable} missing from README's configuration table"
    for variable in account_variables():
        assert in_readme(variable), f"{variable} missing from README"
        assert in_env_example(variable.replace("<NAME>", "PROD")), f"{variable} missing from .env.example"


def test_every_variable_read_in_code_is_in_env_example_and_readme():
    reads = variables_read_in_code()
    assert "AWS_MCP_LOG_LEVEL" in reads and "AWS_DEFAULT_REGION" in reads  # the scan sees server.py and config.py
    for variable, where in reads.items():
        if variable in PLATFORM_VARIABLES:
            continue
        assert in_env_example(variable), f"{where} reads {variable}, which .env.example does not list"
        assert in_readme(variable), f"{where} reads {variable}, which README does not list"


def test_the_variable_scan_finds_every_way_of_reading_the_environment():
    source = """
import os
from os import getenv, environ
os.environ.get("A_ONE")
os.environ["B_TWO"]
getenv("C_THREE", "x")
os.getenv("D_FOUR")
if "E_FIVE" in os.environ: pass
def load(environ, values):
    environ.get("F_SIX")
    values.get("G_SEVEN")
    values["H_EIGHT"]
os.environ["NOT_READ"] = "written"
response.get("ALSO_NOT_READ")
settings.get("lower_case")
"""
    assert environment_reads(source) == {"A_ONE", "B_TWO", "C_THREE", "D_FOUR", "E_FIVE", "F_SIX", "G_SEVEN", "H_EIGHT"}


def test_readme_quick_start_is_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def readme_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def client_configurations() -> list[dict]:
    return [json.loads(block) for block in readme_blocks("json")]


def test_readme_client_configurations_are_valid_json_in_each_clients_format():
    configurations = client_configurations()
    assert len(configurations) >= 5
    for configuration in configurations:
        if "servers" in configuration:  # VS Code: servers, each with a type
            for server in configuration["servers"].values():
                assert server["type"] in ("http", "stdio")
                assert ("url" in server) == (server["type"] == "http") and ("command" in server) != ("url" in server)
            inputs = {i["id"] for i in configuration.get("inputs", [])}
            for reference in re.findall(r"\$\{input:([^}]+)\}", json.dumps(configuration)):
                assert reference in inputs, f"VS Code configuration uses undefined input {reference}"
        else:  # Claude Desktop and Cursor: mcpServers, a command or a url
            for server in configuration["mcpServers"].values():
                assert ("command" in server) != ("url" in server)
                assert isinstance(server.get("args", []), list) and isinstance(server.get("env", {}), dict)


def test_readme_sends_the_bearer_token_wherever_a_client_connects_over_http():
    for configuration in client_configurations():
        for server in (configuration.get("servers") or configuration["mcpServers"]).values():
            text = json.dumps(server)
            if "url" in server or "mcp-remote" in text:
                assert "Bearer" in text, f"no bearer token in {text}"
    for block in readme_blocks("sh"):
        for line in block.splitlines():
            if line.startswith("claude mcp add --transport http"):
                assert '--header "Authorization: Bearer ' in line


def test_readme_claude_code_commands_put_the_name_before_variadic_options():
    commands = [line for block in readme_blocks("sh") for line in block.splitlines() if line.startswith("claude mcp")]
    assert any("--transport stdio" in c for c in commands) and any("--transport http" in c for c in commands)
    for command in commands:
        words = command.split()
        name = words[words.index("--transport") + 2]
        assert not name.startswith("-"), command
        for option in ("--header", "--env"):
            if option in words:
                assert words.index(option) > words.index(name), f"{option} before the name swallows it: {command}"


@pytest.mark.parametrize("document", ["AGENTS.md", "README.md", "docs/deployment.md", "docs/iam/README.md"])
def test_paths_the_documentation_names_exist(document):
    """Links resolve; a path under one of the repository's own top-level folders exists (from the root or
    beside the document); a bare `name.py` or `name.sh` exists somewhere in the repository."""
    text = (ROOT / document).read_text()
    files = repository_files()
    top_level = {path.split("/")[0] for path in files}
    names = {path.rsplit("/", 1)[-1] for path in files}
    missing = []
    for link in re.findall(r"\]\(([\w./-]+)\)", text):  # markdown links are relative to the document
        if not ((ROOT / document).parent / link).exists():
            missing.append(link)
    for token in re.findall(r"`([\w.-]+(?:/[\w.-]+)*/?)`", text):
        if "/" in token and token.split("/")[0] in top_level | {".."}:
            if not (ROOT / token).exists() and not ((ROOT / document).parent / token).exists():
                missing.append(token)
        elif "/" not in token and token.endswith((".py", ".sh")) and token not in names:
            missing.append(token)
    assert not missing, f"{document} names paths that do not exist: {sorted(missing)}"


def test_agents_md_names_every_runtime_module_and_package():
    agents = (ROOT / "AGENTS.md").read_text()
    for module in sorted(p.name for p in ROOT.glob("*.py")):
        assert f"`{module}`" in agents, f"AGENTS.md does not describe {module}"
    for package in runtime_packages():
        assert f"`{package}/" in agents, f"AGENTS.md does not describe {package}/"
