"""What the repository holds, read for the deployment and documentation tests: the runtime source, the
environment variables the code reads, the Dockerfile, .dockerignore and the Kubernetes manifests."""

import ast
import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
NOT_RUNTIME = frozenset({"tests", "bench"})
"""Packages the server never imports: they stay out of the image and out of the variable scan."""
SANDBOX_ONLY = frozenset({"sandbox.py"})
"""Modules only `--sandbox` imports: in the image's sandbox target, not in the production image."""


def repository_files() -> list[str]:
    """Every file in the working tree (as the Docker build context sees it), but .git and the local venv."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in (".git", ".venv", "node_modules")]
        found.extend(Path(folder, name).relative_to(ROOT).as_posix() for name in files)
    return sorted(found)


def runtime_packages() -> list[str]:
    return sorted(
        p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in NOT_RUNTIME | {".venv"}
    )


def runtime_sources(root: Path = ROOT) -> list[Path]:
    """The server's own Python files under `root`: top-level modules and the runtime packages."""
    files = sorted(root.glob("*.py"))
    for package in runtime_packages():
        files.extend(sorted((root / package).rglob("*.py")))
    return [f for f in files if f.is_file()]


# --- environment variables the code reads -----------------------------------------------------------

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
ENV_MAPPINGS = frozenset({"environ", "values"})
"""Names of mappings that hold the environment: `os.environ`, `environ` parameters, and config.py's `values`
(the environment merged over .env)."""


def _is_environment(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in ENV_MAPPINGS
    return isinstance(node, ast.Name) and node.id in ENV_MAPPINGS


def _name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_NAME.match(node.value):
        return node.value
    return None


def _called(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def environment_reads(source: str) -> set[str]:
    """Variables read from the environment: `environ.get("X")`, `environ["X"]`, `getenv("X")`, `"X" in environ`."""
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            name = _called(node.func)
            if name == "getenv" or (
                name in ("get", "pop", "setdefault") and _is_environment(node.func.value)  # type: ignore[attr-defined]
            ):
                found.add(_name(node.args[0]))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environment(node.value):
            found.add(_name(node.slice))
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.ops[0], ast.In | ast.NotIn)
            and _is_environment(node.comparators[0])
        ):
            found.add(_name(node.left))
    return {name for name in found if name}


def variables_read_in_code() -> dict[str, str]:
    """Every variable the runtime source reads, with the first file that reads it."""
    reads: dict[str, str] = {}
    for path in runtime_sources():
        for variable in sorted(environment_reads(path.read_text())):
            reads.setdefault(variable, str(path.relative_to(ROOT)))
    return reads


# --- Dockerfile ------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One build stage, with the instructions of the stages it is built FROM (`inherits`) before its own: what
    the stage's image holds. `base` is the image the chain starts from."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)
    inherits: str | None = None

    def all(self, keyword: str) -> list[str]:
        return [arguments for instruction, arguments in self.instructions if instruction == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def environment(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for arguments in self.all("ENV"):
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                values[key] = value
        return values

    def exec_form(self, keyword: str) -> list[str]:
        """An instruction's JSON (exec) form, e.g. ENTRYPOINT ["python", "server.py"]."""
        value = self.last(keyword)
        return json.loads(value) if value else []

    def start_command(self) -> list[str]:
        return self.exec_form("ENTRYPOINT") + self.exec_form("CMD")

    def healthcheck_command(self) -> list[str]:
        value = self.last("HEALTHCHECK") or ""
        _options, _, command = value.partition("CMD")
        return json.loads(command)


@dataclass
class Dockerfile:
    arguments: dict[str, str]
    stages: list[Stage]

    @property
    def runtime(self) -> Stage:
        """The last stage: what `docker build .` builds."""
        return self.stages[-1]

    def target(self, name: str) -> Stage:
        """The stage `docker build --target name` builds."""
        (stage,) = [stage for stage in self.stages if stage.name == name]
        return stage

    def exec_form(self, keyword: str) -> list[str]:
        return self.runtime.exec_form(keyword)

    def start_command(self) -> list[str]:
        return self.runtime.start_command()

    def healthcheck_command(self) -> list[str]:
        return self.runtime.healthcheck_command()


@cache
def dockerfile() -> Dockerfile:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), " ".join(rest.split())
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            arguments[name] = default
        elif instruction == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: arguments.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None
            parent = next((stage for stage in stages if stage.name == base), None)
            if parent is None:
                stages.append(Stage(base, name))
            else:
                stages.append(Stage(parent.base, name, list(parent.instructions), parent.name))
        else:
            stages[-1].instructions.append((instruction, rest))
    return Dockerfile(arguments, stages)


# --- .dockerignore and what the image holds ----------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def ignored_by_docker(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def stage_image_files(destination: Path, target: str | None = None) -> Path:
    """Copy what a stage's COPY instructions (the final stage's, or the `target`'s) take from the build context
    into `destination`, as Docker would: .dockerignore applied, a file source copied by name, a folder source
    by its contents. Returns the staged WORKDIR."""
    stage = dockerfile().target(target) if target else dockerfile().runtime
    patterns = dockerignore_patterns()
    context = [path for path in repository_files() if not ignored_by_docker(path, patterns)]
    workdir = (stage.last("WORKDIR") or "/").strip("/")
    for arguments in stage.all("COPY"):
        if "--from=" in arguments:
            continue
        *sources, target = [word for word in shlex.split(arguments) if not word.startswith("--")]
        target_dir = destination / (target.strip("/") if target.startswith("/") else f"{workdir}/{target}")
        for source in sources:
            regex = _pattern_regex(source.strip("/"))
            for path in context:
                parts = path.split("/")
                depth = next((d for d in range(1, len(parts) + 1) if regex.fullmatch("/".join(parts[:d]))), None)
                if depth is None:
                    continue
                place = target_dir / (parts[-1] if depth == len(parts) else "/".join(parts[depth:]))
                place.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / path, place)
    return destination / workdir


# --- Kubernetes manifests ----------------------------------------------------------------------------


COMPONENTS = KUBERNETES / "components"
OVERLAYS = ROOT / "deploy" / "overlays"


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.y*ml") if p.name != "kustomization.yaml")


def kustomization(folder: Path = KUBERNETES) -> dict[str, Any]:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def component_files(component: str) -> list[Path]:
    """The manifests a kustomize component adds (its `resources`; its patches are not manifests)."""
    return [COMPONENTS / component / name for name in kustomization(COMPONENTS / component).get("resources", [])]


def _documents(paths: list[Path]) -> list[dict[str, Any]]:
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


@cache
def manifests(*components: str) -> tuple[dict[str, Any], ...]:
    """The base's manifests, with the components' resources added and their JSON patches (RFC 6902) applied, as
    kustomize renders them (less its namespace and label transformers)."""
    import jsonpatch

    documents = _documents(manifest_files())
    for component in components:
        folder = COMPONENTS / component
        documents += _documents(component_files(component))
        for patch in kustomization(folder).get("patches", []):
            target = patch["target"]
            (document,) = [
                d for d in documents if (d["kind"], d["metadata"]["name"]) == (target["kind"], target["name"])
            ]
            patched = jsonpatch.apply_patch(document, yaml.safe_load((folder / patch["path"]).read_text()))
            documents[documents.index(document)] = patched
    return tuple(documents)


def manifest(kind: str, name: str | None = None, components: tuple[str, ...] = ()) -> dict[str, Any]:
    found = [m for m in manifests(*components) if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]
