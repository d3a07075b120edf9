"""The container, without a Docker engine: the Dockerfile's rules read from the file, the images' own start
commands and health check run on this machine from a staged copy of what each image holds (the production image's
with nothing importable but its requirements.txt), and docker-start.sh's docker commands checked through its
--dry-run."""

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sandbox import free_port
from tests.conftest import ACCESS_KEY, SECRET_KEY, connect
from tests.helpers import ok
from tests.repo import (
    ROOT,
    SANDBOX_ONLY,
    dockerfile,
    dockerignore_patterns,
    ignored_by_docker,
    runtime_sources,
    stage_image_files,
)

pytestmark = pytest.mark.anyio

TOKEN = "container-test-token-5b0c1d"
SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY|CREDENTIAL", re.I)


# --- the Dockerfile's rules ------------------------------------------------------------------------


def test_image_is_built_in_stages_on_a_pinned_slim_python_with_runtime_requirements_only():
    image = dockerfile()
    assert len(image.stages) >= 2
    for stage in image.stages:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", stage.base), f"{stage.base} is not a pinned slim tag"
    builder, runtime = image.target("builder"), image.runtime
    assert runtime.name == "runtime", "docker build without --target must build the production image"
    assert any("pip install --no-cache-dir -r /tmp/requirements.txt" in run for run in builder.all("RUN"))
    assert not any("pip install" in run for run in runtime.all("RUN")), "the runtime stage must not install"
    assert [copy for copy in runtime.all("COPY") if "--from=" in copy] == [f"--from={builder.name} /opt/venv /opt/venv"]
    assert "requirements-dev" not in (ROOT / "Dockerfile").read_text()
    assert not any("sandbox" in arguments for _, arguments in [*builder.instructions, *runtime.instructions])
    runtime_requirements = (ROOT / "requirements.txt").read_text().lower()
    for dev_tool in ("pytest", "ruff", "kubernetes-validate", "shellcheck"):
        assert f"\n{dev_tool}" not in runtime_requirements, f"{dev_tool} would end up in the image"


def test_the_sandbox_target_adds_the_sandbox_requirements_to_the_same_image():
    image = dockerfile()
    sandbox, runtime = image.target("sandbox"), image.runtime
    (venv,) = [copy for copy in sandbox.all("COPY") if copy.startswith("--from=")]
    sandbox_builder = image.target(venv.removeprefix("--from=").split()[0])
    assert sandbox_builder.inherits == "builder"
    installs = sandbox_builder.all("RUN")
    assert any("pip install --no-cache-dir -r /tmp/requirements-sandbox.txt" in run for run in installs)
    assert sandbox.inherits == runtime.inherits, "both images share one stage: user, environment, source"
    assert sandbox.start_command() == [*runtime.start_command()[:2], "--sandbox", *runtime.start_command()[2:]]
    for keyword in ("USER", "EXPOSE", "HEALTHCHECK", "WORKDIR"):
        assert sandbox.last(keyword) == runtime.last(keyword)
    assert sandbox.environment() == runtime.environment()


def requirement_pins(requirements: Path) -> dict[str, str]:
    """name -> version of every line of a requirements file and the files it includes (`-r other.txt`);
    each must be `name==version`."""
    from packaging.utils import canonicalize_name

    versions = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            versions.update(requirement_pins(requirements.parent / line.removeprefix("-r ").strip()))
        elif line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
            assert match, f"{requirements.name}: {line!r} is not pinned as name==version"
            versions[canonicalize_name(match[1])] = match[2]
    return versions


def own_pins(requirements: Path) -> dict[str, str]:
    """The pins a requirements file adds to those it includes."""
    included = [line.split()[1] for line in requirements.read_text().splitlines() if line.startswith("-r ")]
    inherited = {name for other in included for name in requirement_pins(ROOT / other)}
    return {name: version for name, version in requirement_pins(requirements).items() if name not in inherited}


def needs(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """The distributions an installed distribution requires (with `extras`), by canonical name."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found = set()
    for requirement in map(Requirement, metadata.distribution(name).requires or []):
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *extras}):
            found.add(canonicalize_name(requirement.name))
    return found


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-sandbox.txt", "requirements-dev.txt"])
def test_requirements_pin_every_dependency_transitive_included(requirements):
    from importlib import metadata

    versions = requirement_pins(ROOT / requirements)
    for name, version in versions.items():
        distribution = metadata.distribution(name)
        assert distribution.version == version, f"{name} {distribution.version} is installed, {version} is pinned"
        for needed in needs(name):
            assert needed in versions, f"{name} needs {needed}, which {requirements} does not pin"


def test_runtime_requirements_hold_no_sandbox_and_the_sandbox_set_holds_moto_and_only_what_it_adds():
    runtime = requirement_pins(ROOT / "requirements.txt")
    sandbox = own_pins(ROOT / "requirements-sandbox.txt")
    assert "google-re2" in runtime, "policy regexes run on RE2"
    assert "moto" in sandbox and not set(runtime) & set(sandbox)
    closure, todo = set(), ["moto"]
    while todo:
        name = todo.pop()
        if name not in closure:
            closure.add(name)
            todo.extend(needs(name, frozenset({"server"}) if name == "moto" else frozenset()))
    assert set(sandbox) == closure - set(runtime), "the sandbox set is moto[server]'s closure beyond the runtime's"
    for heavy in ("cfn-lint", "sympy", "networkx", "flask", "docker", "werkzeug"):
        assert heavy in sandbox and heavy not in runtime
    assert "-r requirements.txt" in (ROOT / "requirements-sandbox.txt").read_text()
    assert "-r requirements-sandbox.txt" in (ROOT / "requirements-dev.txt").read_text()  # the tests run moto


def test_image_runs_as_a_fixed_numeric_non_root_user():
    runtime = dockerfile().runtime
    user = runtime.last("USER")
    assert user and re.fullmatch(r"\d+(:\d+)?", user), "USER must be numeric for Kubernetes' runAsNonRoot"
    uid = int(user.split(":")[0])
    assert uid >= 1000
    assert any(f"--uid {uid}" in run for run in runtime.all("RUN"))
    assert runtime.environment()["HOME"] == "/home/app"  # where docker-start.sh mounts ~/.aws


def test_image_exposes_8000_and_checks_healthz_without_curl():
    image = dockerfile()
    assert image.runtime.all("EXPOSE") == ["8000"]
    check = image.healthcheck_command()
    assert check[0] == "python" and "http://127.0.0.1:8000/healthz" in check[-1]
    for variable in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"):
        assert image.runtime.environment()[variable] == "1"


def test_image_starts_the_server_on_all_interfaces_port_8000():
    command = dockerfile().start_command()
    assert command[:2] == ["python", "server.py"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8000"
    assert not dockerfile().exec_form("CMD"), "a CMD would be replaced by docker run's arguments (--sandbox)"


def test_image_holds_no_credentials_and_ships_a_prebuilt_search_index():
    image = dockerfile()
    for stage in image.stages:
        for instruction, arguments in stage.instructions:
            if instruction in ("ENV", "ARG"):
                assert not SECRET_NAMES.search(arguments), f"{instruction} {arguments} bakes in a secret"
            if instruction == "COPY":
                assert ".env" not in arguments and ".aws" not in arguments
    cache_dir = image.runtime.environment()["AWS_MCP_CACHE_DIR"]
    assert cache_dir.startswith("/app/") and any("catalog.search" in run for run in image.runtime.all("RUN"))


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        (".env", True),
        (".git/HEAD", True),
        (".venv/bin/python", True),
        ("tests/test_s3.py", True),
        ("bench/__main__.py", True),
        ("requirements-dev.txt", True),
        ("requirements-sandbox.txt", False),
        ("catalog/__pycache__/models.cpython-311.pyc", True),
        ("server.py", False),
        ("requirements.txt", False),
        ("policy.yaml", False),
        ("pyproject.toml", False),  # the version serverInfo reports
        ("services/base.py", False),
    ],
)
def test_build_context_leaves_out_secrets_tests_and_local_state(path, ignored):
    assert ignored_by_docker(path, dockerignore_patterns()) is ignored


@pytest.mark.parametrize("target", ["runtime", "sandbox"])
def test_image_holds_every_runtime_module_and_nothing_else(tmp_path, target):
    app = stage_image_files(tmp_path, target)
    staged = {p.relative_to(app).as_posix() for p in app.rglob("*") if p.is_file()}
    expected = {p.relative_to(ROOT).as_posix() for p in runtime_sources()} | {"policy.yaml", "pyproject.toml"}
    assert staged == (expected if target == "sandbox" else expected - SANDBOX_ONLY)
    assert not {p.split("/")[0] for p in staged} & {"tests", "bench"}


# --- the image's start command, run here ------------------------------------------------------------


def on_this_machine(command: list[str], port: int) -> list[str]:
    """The image's command with this venv's python for the image's, and `port` for 8000."""
    assert command[0] == "python"
    local = [sys.executable, *command[1:]]
    replaced = [
        str(port) if i and local[i - 1] == "--port" else w.replace(":8000/", f":{port}/") for i, w in enumerate(local)
    ]
    assert replaced != local, "the command names no port to move"
    return replaced


def image_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The image's ENV with its paths moved under tmp_path, plus test credentials; nothing from this shell."""
    environment = dockerfile().runtime.environment()
    environment["PATH"] = os.environ["PATH"]
    environment["HOME"] = str(tmp_path / "home")
    for folder in ("AWS_MCP_CACHE_DIR", "AWS_MCP_STATE_DIR"):
        environment[folder] = str(tmp_path / environment[folder].lstrip("/"))
    (tmp_path / "home").mkdir(exist_ok=True)
    environment.update(
        AWS_CONFIG_FILE=str(tmp_path / "home" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "home" / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    environment.update(extra)
    return environment


def get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@contextmanager
def image_server(
    tmp_path: Path, environment: dict[str, str], target: str = "runtime"
) -> Iterator[tuple[subprocess.Popen, int]]:
    app = stage_image_files(tmp_path / "image", target)
    port = free_port()
    process = subprocess.Popen(
        on_this_machine(dockerfile().target(target).start_command(), port),
        cwd=app,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"the image's start command exited {process.returncode}: {process.stderr.read()}")
            try:
                if get(f"http://127.0.0.1:{port}/healthz") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /healthz within 30 s"
            time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


# --- only the runtime requirements importable ----------------------------------------------------------

BLOCKER = """
import importlib.abc, json, os, sys


class OutsideTheRuntimeSet(importlib.abc.MetaPathFinder):
    \"\"\"Imports of modules from distributions requirements.txt does not pin fail as in the image.\"\"\"

    blocked = frozenset(json.loads(os.environ["RUNTIME_ONLY_BLOCKED"]))

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.blocked:
            with open(os.environ["RUNTIME_ONLY_LOG"], "a") as log:
                log.write(name + "\\n")
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, OutsideTheRuntimeSet())
"""


def modules_outside(requirements: Path) -> list[str]:
    """Top-level modules of this venv's distributions that `requirements` (with its includes) does not pin.
    pip and setuptools are in every venv `python -m venv` creates, the image's too."""
    from importlib import metadata

    from packaging.utils import canonicalize_name

    allowed = set(requirement_pins(requirements)) | {"pip", "setuptools"}
    return sorted(
        module
        for module, distributions in metadata.packages_distributions().items()
        if not any(canonicalize_name(name) in allowed for name in distributions)
    )


def runtime_only(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment under which Python imports nothing from a distribution outside requirements.txt, as in the
    production image: this venv holds the dev set (moto included), so a sitecustomize module refuses the rest.
    Returns the variables and the file that logs every refused import."""
    folder = tmp_path / "runtime-only"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(BLOCKER)
    log = folder / "refused.log"
    blocked = json.dumps(modules_outside(ROOT / "requirements.txt"))
    return {"PYTHONPATH": str(folder), "RUNTIME_ONLY_BLOCKED": blocked, "RUNTIME_ONLY_LOG": str(log)}, log


def refused(log: Path) -> set[str]:
    return set(log.read_text().split()) if log.exists() else set()


def test_the_runtime_only_environment_hides_moto_and_keeps_the_runtime_set(tmp_path):
    variables, log = runtime_only(tmp_path)
    blocked = set(json.loads(variables["RUNTIME_ONLY_BLOCKED"]))
    assert {"moto", "flask", "werkzeug", "sympy", "networkx", "cfnlint", "docker", "pytest"} <= blocked
    assert not {"botocore", "boto3", "awscli", "mcp", "uvicorn", "starlette", "yaml", "re2", "pip"} & blocked

    def python(code: str) -> subprocess.CompletedProcess:
        environment = {**os.environ, **variables}
        return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)

    assert python("import moto").returncode == 1 and refused(log) == {"moto"}
    assert python("import botocore.session, mcp, uvicorn, awscli.clidriver, re2, yaml").returncode == 0


def healthcheck(port: int) -> int:
    command = on_this_machine(dockerfile().healthcheck_command(), port)
    return subprocess.run(command, capture_output=True, timeout=30).returncode


def test_image_build_step_writes_the_search_index_where_the_image_looks(tmp_path, operation_index_dir):
    """The RUN that builds the index, run here on the staged image files (against the session's cache)."""
    app = stage_image_files(tmp_path / "image")
    [build] = [run for run in dockerfile().runtime.all("RUN") if "catalog.search" in run]
    step = shlex.split(build.split("&&")[-1].replace('"$AWS_MCP_CACHE_DIR"', str(operation_index_dir)))
    built = subprocess.run([sys.executable, *step[1:]], cwd=app, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert "operations" in built.stdout and any(operation_index_dir.glob("operation-index-*.json"))


async def test_image_start_command_serves_mcp_behind_the_token_and_passes_its_healthcheck(
    tmp_path, moto_endpoint, operation_index_dir
):
    """Run as the production image holds it: its files, and nothing importable beyond requirements.txt."""
    only_runtime, refused_log = runtime_only(tmp_path)
    environment = image_environment(
        tmp_path,
        AWS_MCP_CACHE_DIR=str(operation_index_dir),
        MCP_AUTH_TOKEN=TOKEN,
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_REGION="us-east-1",
        **only_runtime,
    )
    with image_server(tmp_path, environment) as (process, port):
        app = tmp_path / "image" / "app"
        files_before = sorted(app.rglob("*"))
        url = f"http://127.0.0.1:{port}"
        assert get(f"{url}/readyz") == 200
        assert get(f"{url}/mcp") == 401
        assert healthcheck(port) == 0
        async with connect(url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"list_accounts", "get_account_info", "list_secrets"} <= names
            assert (await ok(client, "get_account_info"))["account"] == "123456789012"
            found = await ok(client, "search_operations", query="list running instances", limit=1)
            assert found["matches"][0]["operation"] == "DescribeInstances"
            identity = await ok(client, "execute_aws_read_command", command="sts get-caller-identity")
            assert identity["result"]["Account"] == "123456789012"
        process.send_signal(signal.SIGTERM)
        # stops on SIGTERM, as `docker stop` and Kubernetes ask, and says it stopped cleanly
        assert process.wait(timeout=20) == 0
        assert healthcheck(port) != 0
        assert sorted(app.rglob("*")) == files_before  # nothing written beside the code: it is read-only in the pod
    assert not refused(refused_log) & {"moto", "sandbox", "flask", "werkzeug"}, refused(refused_log)


def test_the_production_image_has_no_sandbox_and_says_which_requirements_bring_it(tmp_path):
    only_runtime, _ = runtime_only(tmp_path)
    environment = image_environment(tmp_path, MCP_AUTH_TOKEN=TOKEN, **only_runtime)
    command = on_this_machine([*dockerfile().start_command(), "--sandbox"], free_port())
    for folder in (stage_image_files(tmp_path / "image"), ROOT):  # the image's files; all files but no moto
        result = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "requirements-sandbox.txt" in result.stderr and "--target sandbox" in result.stderr
        assert "Traceback" not in result.stderr
    assert "moto" in result.stderr


async def test_the_sandbox_images_start_command_serves_the_demo_accounts(tmp_path, operation_index_dir):
    environment = image_environment(tmp_path, AWS_MCP_CACHE_DIR=str(operation_index_dir), MCP_AUTH_TOKEN=TOKEN)
    with image_server(tmp_path, environment, target="sandbox") as (process, port):
        async with connect(f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            secrets = await ok(client, "list_secrets", account="prod")
            assert {secret["name"] for secret in secrets["secrets"]} == {"prod/db/password", "prod/api/key"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_image_start_command_without_a_token_refuses_and_names_the_variable(tmp_path):
    app = stage_image_files(tmp_path / "image")
    result = subprocess.run(
        on_this_machine(dockerfile().start_command(), free_port()),
        cwd=app,
        env=image_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MCP_AUTH_TOKEN" in result.stderr and "0.0.0.0" in result.stderr
    assert "Traceback" not in result.stderr


# --- docker-start.sh --------------------------------------------------------------------------------

SCRIPT = ROOT / "docker-start.sh"


def test_docker_start_script_is_executable_valid_bash_and_shellcheck_clean():
    assert SCRIPT.stat().st_mode & stat.S_IXUSR
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in SCRIPT.read_text()
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    shellcheck = Path(sys.executable).parent / "shellcheck"
    result = subprocess.run([str(shellcheck), str(SCRIPT), str(ROOT / ".ci" / "run")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


class DockerStart:
    """docker-start.sh under --dry-run, with HOME, the environment and `id` under the test's control."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "home"
        (self.home / ".aws").mkdir(parents=True)
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.env_file = tmp_path / "project.env"
        self.uid = "1000"

    def run(self, *args: str, **environment: str) -> tuple[list[list[str]], str]:
        """The docker commands it would run (parsed), and what it tells the user (stderr)."""
        shim = self.bin / "id"
        shim.write_text(
            f'#!/bin/sh\ncase "$1" in -u) echo {self.uid} ;; -g) echo 1001 ;; *) exec /usr/bin/id "$@" ;; esac\n'
        )
        shim.chmod(0o755)
        env = {"PATH": f"{self.bin}:{os.environ['PATH']}", "HOME": str(self.home), **environment}
        result = subprocess.run(
            ["bash", str(SCRIPT), "--dry-run", "--env-file", str(self.env_file), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return [shlex.split(line) for line in result.stdout.splitlines()], result.stderr


@pytest.fixture
def docker_start(tmp_path) -> DockerStart:
    return DockerStart(tmp_path)


def option_values(command: list[str], option: str) -> list[str]:
    return [command[i + 1] for i, word in enumerate(command[:-1]) if word == option]


def test_docker_start_builds_then_runs_with_profiles_read_only_on_port_8100(docker_start):
    (build, run), told = docker_start.run()
    assert build == ["docker", "build", "--target", "runtime", "-t", "aws-ops-mcp", str(ROOT)]
    assert dockerfile().target("runtime") is dockerfile().runtime
    assert run[:2] == ["docker", "run"] and run[-1] == "aws-ops-mcp"
    assert option_values(run, "-p") == ["127.0.0.1:8100:8000"]
    assert f"{docker_start.home}/.aws:/home/app/.aws:ro" in option_values(run, "-v")
    assert option_values(run, "--user") == ["1000:1001"]
    assert not any(v.endswith(":/app/.env:ro") for v in option_values(run, "-v"))
    assert "http://127.0.0.1:8100/mcp" in told


def test_docker_start_generates_a_token_prints_it_once_and_passes_it_by_name(docker_start):
    (_, run), told = docker_start.run()
    assert option_values(run, "-e") == ["MCP_AUTH_TOKEN"]
    token = re.search(r"Token: ([0-9a-f]{64}) ", told)
    assert token, told
    assert told.count(f"Bearer {token.group(1)}") >= 2  # Claude Code, VS Code and Cursor configurations
    assert token.group(1) not in " ".join(run)
    (_, _), again = docker_start.run()
    assert token.group(1) not in again  # a new one each run


def test_docker_start_mounts_env_file_and_keeps_its_token_unprinted(docker_start):
    docker_start.env_file.write_text("AWS_REGION=eu-west-1\nMCP_AUTH_TOKEN=from-dot-env-token-value\n")
    (_, run), told = docker_start.run()
    assert f"{docker_start.env_file}:/app/.env:ro" in option_values(run, "-v")
    assert "MCP_AUTH_TOKEN" not in option_values(run, "-e")  # an empty -e would hide .env's token
    assert "from-dot-env-token-value" not in told + " ".join(run)
    assert "<your MCP_AUTH_TOKEN>" in told


def test_docker_start_passes_the_callers_token_and_profile_by_name_without_printing_them(docker_start):
    (_, run), told = docker_start.run(MCP_AUTH_TOKEN="callers-own-token-value", AWS_PROFILE="ops")
    assert option_values(run, "-e") == ["MCP_AUTH_TOKEN", "AWS_PROFILE"]
    assert "callers-own-token-value" not in told + " ".join(run)


def test_docker_start_sandbox_builds_the_sandbox_target_and_leaves_credentials_out(docker_start):
    (build, run), told = docker_start.run("--sandbox", "--port", "9100", AWS_PROFILE="ops", AWS_SECRET_ACCESS_KEY="k")
    assert build == ["docker", "build", "--target", "sandbox", "-t", "aws-ops-mcp-sandbox", str(ROOT)]
    assert run[-1] == "aws-ops-mcp-sandbox" and "--sandbox" in dockerfile().target("sandbox").start_command()
    (mine, _), _ = docker_start.run("--image", "mine", "--sandbox")
    assert mine[-3:-1] == ["-t", "mine"]
    assert option_values(run, "-p") == ["127.0.0.1:9100:8000"]
    assert option_values(run, "-e") == ["MCP_AUTH_TOKEN"]
    assert not any(".aws" in v for v in option_values(run, "-v"))
    assert "sandbox" in told


def test_docker_start_as_root_keeps_the_images_user(docker_start):
    docker_start.uid = "0"
    (_, run), _ = docker_start.run()
    assert "--user" not in run


def test_docker_start_explains_itself_and_refuses_unknown_options():
    helped = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--sandbox" in helped.stdout and "8100" in helped.stdout
    refused = subprocess.run(["bash", str(SCRIPT), "--bogus"], capture_output=True, text=True)
    assert refused.returncode == 2 and "unknown option: --bogus" in refused.stderr
