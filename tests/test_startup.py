"""Start-up a person can read: one line saying how the server runs, unknown variables named with the setting they
look like (a look-alike of a setting that restricts the server stops it), the sandbox's banner only once the port
is bound, and a Makefile that checks the Python it is given and leaves no half-made virtualenv behind."""

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from config import ConfigError, load_settings, settings_variables
from sandbox import free_port
from tests.repo import ROOT, variables_read_in_code
from tests.test_transports import run_server, server_environment
from variables import known_variables

TOKEN = "startup-test-token-8d2e41"
PROD_ROLE = "arn:aws:iam::111111111111:role/ops-admin"
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


# --- unknown variables --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "closest"),
    [
        ("AWS_MCP_READONLY", "AWS_MCP_READ_ONLY"),
        ("MCP_AUTH_TOKN", "MCP_AUTH_TOKEN"),
        ("AWS_MCP_LOGLEVEL", "AWS_MCP_LOG_LEVEL"),
        ("MCP_READ_ONLY", "AWS_MCP_READ_ONLY"),
        ("AWS_MCP_AUTH_TOKEN", "MCP_AUTH_TOKEN"),
        ("aws_mcp_files_root", "AWS_MCP_FILES_ROOT"),
        ("ACCOUNT_PROD_ROLEARN", "ACCOUNT_PROD_ROLE_ARN"),
        ("ACCOUNT_PROD_EXTERNALID", "ACCOUNT_PROD_EXTERNAL_ID"),
        ("ACCOUNT_team_a_PROFILES", "ACCOUNT_team_a_PROFILE"),
        ("MCP_SERVER_PORT", None),
    ],
)
def test_an_unknown_variable_is_named_with_the_closest_known_one(variable, closest):
    [unknown] = load_settings({variable: "1"}, env_file=None).unknown_variables
    assert (unknown.name, unknown.source, unknown.suggestion) == (variable, "environment", closest)
    assert variable in unknown.warning()
    if closest:
        assert f"did you mean {closest}?" in unknown.warning()


def test_unknown_variables_in_the_env_file_are_named_with_the_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("AWS_MCP_MAX_WORKER=8\n")
    [unknown] = load_settings({}, env_file=env_file).unknown_variables
    assert unknown.source == str(env_file) and str(env_file) in unknown.warning()


def test_settings_aliases_and_other_programs_variables_are_not_flagged():
    environment = {name: "" for name in settings_variables()}
    environment |= {"ACCOUNT_PROD_ROLE_ARN": PROD_ROLE, "ACCOUNT_MY_TEAM_PROFILE": "team", "ACCOUNT_QA_REGION": ""}
    environment |= {"AWS_PROFILE": "ops", "AWS_DEFAULT_REGION": "us-east-1", "HOME": "/root", "MCPX_HOME": "/x"}
    assert load_settings(environment, env_file=None).unknown_variables == ()


def test_a_configuration_error_also_names_the_unknown_variables_that_may_explain_it():
    with pytest.raises(ConfigError) as refused:
        load_settings({"ACCOUNT_PROD_ROLEARN": PROD_ROLE, "ACCOUNT_PROD_REGION": "us-east-1"}, env_file=None)
    assert "ACCOUNT_PROD_ROLE_ARN or ACCOUNT_PROD_PROFILE must be set" in str(refused.value)
    assert "ACCOUNT_PROD_ROLEARN (environment) is not a setting this server reads: did you mean" in str(refused.value)


def test_every_server_variable_read_in_code_is_known():
    """The known list is Settings plus what code reads elsewhere: a new read must not be warned about."""
    for variable, where in variables_read_in_code().items():
        if variable.startswith(("AWS_MCP_", "MCP_", "ACCOUNT_")):
            assert variable in known_variables(), f"{where} reads {variable}, which config.known_variables lacks"


@pytest.mark.parametrize(
    ("environment", "loosens"),
    [
        ({"AWS_MCP_READONLY": "true"}, True),
        ({"AWS_MCP_READONLY": "true", "AWS_MCP_READ_ONLY": "false"}, False),  # the real one decides
        ({"AWS_MCP_READONLY": ""}, False),
        ({"MCP_AUTH_TOKN": "x"}, True),
        ({"AWS_MCP_POLICY": "/etc/policy.yaml"}, True),
        ({"AWS_MCP_ALLOWED_ROLES": "arn:aws:iam::*:role/ops"}, True),
        ({"ACCOUNT_PROD_ROLEARN": PROD_ROLE, "ACCOUNT_PROD_PROFILE": "base"}, True),  # the profile alone would act
        ({"ACCOUNT_PROD_ROLEARN": PROD_ROLE}, False),  # no alias at all: account="prod" fails, nothing loosens
        ({"AWS_MCP_LOGLEVEL": "DEBUG"}, False),
        ({"AWS_MCP_FILE_ROOT": "/tmp"}, False),  # without it no local file is read: stricter, not looser
    ],
)
def test_a_look_alike_of_a_setting_that_restricts_the_server_says_what_would_loosen(environment, loosens):
    [unknown] = load_settings(environment, env_file=None).unknown_variables
    assert bool(unknown.loosens) is loosens


# --- the start-up line -----------------------------------------------------------------------------------


def log_events(stderr: str) -> list[tuple[str, str, str]]:
    """(level, event, the line itself) of each JSON log line (the format when stderr is not a terminal)."""
    events = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "event" in record:
            events.append((record.get("level", ""), str(record["event"]), line))
    return events


def startup_lines(stderr: str) -> list[str]:
    return [line for level, event, line in log_events(stderr) if level == "info" and event.startswith("serving ")]


def warned(stderr: str, pattern: str) -> bool:
    return any(level == "warning" and re.search(pattern, event) for level, event, _ in log_events(stderr))


def test_stdio_start_up_says_in_one_line_how_the_server_runs(tmp_path, operation_index_dir):
    result = run_server(
        "--transport",
        "stdio",
        env={
            "AWS_MCP_CACHE_DIR": str(operation_index_dir),
            "AWS_MCP_READ_ONLY": "true",
            "AWS_MCP_FILES_ROOT": str(tmp_path),
            "ACCOUNT_PROD_ROLE_ARN": PROD_ROLE,
            "ACCOUNT_STAGING_PROFILE": "staging",
            "ACCOUNT_PROD_EXTERNAL_ID": "external-id-not-for-logs",
            "MCP_AUTH_TOKEN": TOKEN,
        },
    )
    assert result.returncode == 0, result.stderr
    [line] = startup_lines(result.stderr)
    assert "serving stdio" in line and "read-only: yes" in line
    assert f"files root: {tmp_path}" in line and f"policy: {ROOT / 'policy.yaml'} (shipped)" in line
    assert "accounts: prod, staging" in line and "destructive: confirmed" in line
    for secret in (PROD_ROLE, "external-id-not-for-logs", TOKEN):
        assert secret not in result.stderr


@contextmanager
def http_server(*args: str, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """server.py over HTTP on a free port until /healthz answers; on exit it is stopped and its stderr read."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "server.py", "--port", str(port), *args],
        cwd=ROOT,
        env=server_environment(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        assert process.poll() is None, f"server.py exited {process.returncode}: {process.stderr.read()}"
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_http_start_up_line_names_the_url_and_the_auth_mode_but_never_the_token(tmp_path, operation_index_dir):
    policy = tmp_path / "policy.yaml"
    policy.write_text("accounts:\n  prod:\n    read_only: true\n")
    environment = {"AWS_MCP_CACHE_DIR": str(operation_index_dir), "MCP_AUTH_TOKEN": TOKEN}
    environment |= {"AWS_MCP_POLICY_FILE": str(policy), "AWS_MCP_AUTO_APPROVE_DESTRUCTIVE": "true"}
    environment |= {"ACCOUNT_PROD_PROFILE": "prod"}
    with http_server(env=environment) as (process, url):
        pass
    stderr = process.stderr.read()
    [line] = startup_lines(stderr)
    assert f"serving {url}/mcp (SSE {url}/sse)" in line and "auth: static token (MCP_AUTH_TOKEN)" in line
    assert "read-only: prod only" in line and f"policy: {policy};" in line and "files root: none" in line
    assert "accounts: prod;" in line and "destructive: AUTO-APPROVED" in line
    assert TOKEN not in stderr


# --- unknown variables at start-up ---------------------------------------------------------------------------


def test_a_misspelled_variable_is_warned_about_and_start_up_goes_on(operation_index_dir):
    environment = {"AWS_MCP_CACHE_DIR": str(operation_index_dir), "AWS_MCP_LOGLEVEL": "DEBUG"}
    result = run_server("--transport", "stdio", env=environment | {"MCP_AUTH_TOKN": "x"})
    assert result.returncode == 0, result.stderr
    assert warned(result.stderr, r"AWS_MCP_LOGLEVEL.*did you mean AWS_MCP_LOG_LEVEL\?")
    # over stdio no token is asked for anyway: a look-alike of MCP_AUTH_TOKEN loosens nothing there
    assert warned(result.stderr, r"MCP_AUTH_TOKN.*did you mean MCP_AUTH_TOKEN\?")
    assert startup_lines(result.stderr)


@pytest.mark.parametrize(
    ("transport", "variable", "setting"),
    [
        ("stdio", "AWS_MCP_READONLY", "AWS_MCP_READ_ONLY"),
        ("http", "MCP_AUTH_TOKN", "MCP_AUTH_TOKEN"),
        ("http", "AWS_MCP_AUTH_TOKEN", "MCP_AUTH_TOKEN"),
    ],
)
def test_a_look_alike_of_a_setting_that_restricts_the_server_stops_start_up(transport, variable, setting):
    result = run_server("--transport", transport, "--port", str(free_port()), env={variable: "true"})
    assert result.returncode == 2
    assert f"{variable} (environment) looks like {setting}, which is not set" in result.stderr
    assert "Traceback" not in result.stderr and not startup_lines(result.stderr)


# --- the sandbox banner ----------------------------------------------------------------------------------


def test_a_busy_port_stops_the_sandbox_with_the_port_named_and_no_banner():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_server("--sandbox", "--port", str(port))
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "sandbox" not in result.stderr.lower() and not startup_lines(result.stderr)
    assert "Traceback" not in result.stderr


def test_the_sandbox_banner_follows_the_listening_line_and_its_commands_carry_the_token(operation_index_dir):
    environment = {"AWS_MCP_CACHE_DIR": str(operation_index_dir), "MCP_AUTH_TOKEN": TOKEN}
    with http_server("--sandbox", env=environment) as (process, url):
        pass
    stderr = process.stderr.read()
    [line] = startup_lines(stderr)
    assert "accounts: prod, staging" in line
    banner = stderr[stderr.index(line) :]
    assert f"AWS Ops MCP sandbox is serving at {url}/mcp" in banner and "moto on http://127.0.0.1:" in banner
    assert f'claude mcp add --transport http aws-ops {url}/mcp --header "Authorization: Bearer {TOKEN}"' in banner
    assert f'"headers": {{"Authorization": "Bearer {TOKEN}"}}' in banner


# --- the Makefile --------------------------------------------------------------------------------------------


def stand_in(path: Path, calls: Path, answers: dict[str, str]) -> Path:
    """A python that logs its arguments to `calls` and answers per shell `case` pattern of them, else exits 0.
    `-m venv <dir>` makes <dir>/bin/python from `<path>-venv`, the stand-in for the venv's own python."""
    quoted = {f'"{p.removesuffix("*")}"' + "*" * p.endswith("*"): action for p, action in answers.items()}
    branches = "".join(f"  {pattern}) {action} ;;\n" for pattern, action in quoted.items())
    path.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\ncase "$*" in\n{branches}esac\n')
    path.chmod(0o755)
    return path


def make_venv(tmp_path: Path, python: Path, target: str = ".runtime") -> subprocess.CompletedProcess:
    venv = tmp_path / "venv"
    return subprocess.run(
        ["make", f"PYTHON={python}", f"VENV={venv}", f"{venv}/{target}"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )


MAKES_A_VENV = 'for last; do :; done; mkdir -p "$last/bin" && cp "$0-venv" "$last/bin/python"'


def python_pair(tmp_path: Path, system: dict[str, str], venv: dict[str, str]) -> Path:
    """A stand-in system python and, beside it, the stand-in python of the venvs it makes."""
    calls = tmp_path / "calls"
    stand_in(tmp_path / "python3-venv", calls, venv)
    return stand_in(tmp_path / "python3", calls, {"-m venv*": MAKES_A_VENV, **system})


@needs_make
def test_make_refuses_a_python_older_than_3_11_and_makes_no_venv(tmp_path):
    python = python_pair(tmp_path, {"-c*": "exit 1", "-V": "echo Python 3.10.12"}, {})
    made = make_venv(tmp_path, python)
    assert made.returncode != 0
    assert "Python 3.11 or newer" in made.stderr and "Python 3.10.12" in made.stderr and "PYTHON=" in made.stderr
    assert "-m venv" not in (tmp_path / "calls").read_text() and not (tmp_path / "venv").exists()


@needs_make
def test_make_names_a_python_that_is_not_there(tmp_path):
    made = make_venv(tmp_path, tmp_path / "python3.99")
    assert made.returncode != 0
    assert "Python 3.11 or newer" in made.stderr and f"{tmp_path / 'python3.99'} is not found" in made.stderr
    assert not (tmp_path / "venv").exists()


@needs_make
@pytest.mark.parametrize(
    ("system", "venv"),
    [
        ({"-m venv*": f"{MAKES_A_VENV}; echo ensurepip is not available >&2; exit 1"}, {}),  # Debian without venv
        ({}, {"-m pip install --quiet --upgrade pip": "exit 1"}),  # no network
    ],
)
def test_a_failed_venv_creation_leaves_no_venv_for_the_next_make_to_reuse(tmp_path, system, venv):
    python = python_pair(tmp_path, {"-c*": "exit 0", **system}, venv)
    assert make_venv(tmp_path, python).returncode != 0
    assert not (tmp_path / "venv").exists()


@needs_make
def test_a_failed_requirements_install_is_not_taken_for_an_installed_venv(tmp_path):
    python = python_pair(tmp_path, {"-c*": "exit 0"}, {"-m pip install --quiet -r requirements.txt": "exit 1"})
    assert make_venv(tmp_path, python).returncode != 0
    assert (tmp_path / "venv" / "bin" / "python").exists() and not (tmp_path / "venv" / ".runtime").exists()
    stand_in(tmp_path / "venv" / "bin" / "python", tmp_path / "calls", {})  # the network is back
    assert make_venv(tmp_path, python).returncode == 0
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls.count(f"-m venv --clear {tmp_path / 'venv'}") == 1
    assert calls.count("-m pip install --quiet -r requirements.txt") == 2
    assert (tmp_path / "venv" / ".runtime").is_file()


def test_readme_makefile_and_pyproject_agree_on_python_3_11():
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text()
    assert "sys.version_info < (3, 11)" in (ROOT / "Makefile").read_text()
    assert "Python 3.11 or newer" in (ROOT / "README.md").read_text()
