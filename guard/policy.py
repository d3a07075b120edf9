"""The policy file: which calls may run, per service, operation, class, caller's role and account.

Every role has built-in classes (`ROLE_CLASSES`: a viewer reads, without sensitive reads; operators and
admins make every class). Deny always wins over allow, and a role's or an account's section can only
narrow the global one: a call must pass its role's classes, the global scope, its role's section
(`roles.<role>`) and then its account's sections. Regexes run on RE2, in linear time. A file
that does not parse, has an unknown key, names a service botocore does not know, or holds a regex that
RE2 cannot run (backreferences, look-around) or that matches no AWS operation stops startup with the
file, the line, the entry and the reason; the server never runs on a half-read policy, nor on a typo
that would match nothing.
"""

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from catalog.classify import OpClass
from catalog.names import UnknownServiceError, resolve_service
from config import ROLES, alias_key
from guard.patterns import Regex, check_destructive_pattern, check_rule, compile_regex

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yaml"
ROLE_CLASSES: dict[str, frozenset[OpClass]] = {
    "viewer": frozenset({OpClass.READ}),
    "operator": frozenset(OpClass),
    "admin": frozenset(OpClass),
}
"""The classes of AWS call each role may make before any policy narrows it; an unknown role makes none."""
ROLE_SUMMARIES = {
    "viewer": "reads only, no sensitive reads",
    "operator": "reads, writes and confirmed destructive calls",
    "admin": "everything",
}


class PolicyError(Exception):
    """The policy file is unusable; the message names the file, the line and the reason."""


def _service_name(name: str) -> str:
    """botocore's name for a service spelled any way the tools accept (`s3api`, `Secrets Manager`, `EC2`)."""
    try:
        return resolve_service(name.strip())
    except UnknownServiceError as error:
        raise ValueError(str(error)) from None


ServiceName = Annotated[str, AfterValidator(_service_name)]
Rule = Annotated[str, AfterValidator(check_rule)]
"""A regex searched in "service:Operation"."""
DestructivePattern = Annotated[str, AfterValidator(check_destructive_pattern)]
"""A regex searched in the operation name and in "service:Operation"."""


class ServiceLists(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allowlist: list[ServiceName] = []
    denylist: list[ServiceName] = []


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow: list[Rule] = []
    deny: list[Rule] = []


class Scope(BaseModel):
    """The keys that may appear globally and under `accounts.<alias>`."""

    model_config = ConfigDict(extra="forbid")
    read_only: bool | None = None
    allow_sensitive_reads: bool | None = None
    services: ServiceLists = ServiceLists()
    rules: Rules = Rules()
    destructive_patterns: list[DestructivePattern] = []
    allowed_role_arns: list[str] = []


class RoleScope(Scope):
    """The keys under `roles.<role>`: a scope, and the role's rate limit."""

    rate_limit_per_minute: int | None = Field(None, ge=1)
    """Tool calls per caller and minute for callers with this role; None: the server's default."""


class PolicyDocument(Scope):
    accounts: dict[str, Scope] = Field(default_factory=dict)
    roles: dict[str, RoleScope] = Field(default_factory=dict)

    @field_validator("roles", mode="before")
    @classmethod
    def _role_names(cls, roles: object) -> object:
        if isinstance(roles, dict):
            unknown = sorted(str(name) for name in roles if str(name) not in ROLES)
            if unknown:
                raise ValueError(f"unknown role {unknown[0]!r}; the roles are {', '.join(ROLES)}")
        return roles

    @field_validator("accounts", mode="before")
    @classmethod
    def _section_names(cls, accounts: object) -> object:
        """Aliases as config.alias_key spells them; an unquoted 12-digit id parses as a number: it is a name too."""
        if isinstance(accounts, dict):
            return {alias_key(str(name)): scope for name, scope in accounts.items()}
        return accounts


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str


class Policy:
    def __init__(self, document: PolicyDocument, source: str = "<defaults>", read_only: bool = False) -> None:
        self.document = document
        self.source = source
        self.force_read_only = read_only
        self._compiled: dict[str, Regex] = {}

    @classmethod
    def load(cls, path: Path | None, read_only: bool = False) -> "Policy":
        path = path or DEFAULT_POLICY_FILE
        return cls(parse_policy_file(path), source=str(path), read_only=read_only)

    def _regex(self, pattern: str) -> Regex:
        compiled = self._compiled.get(pattern)
        if compiled is None:
            compiled = self._compiled[pattern] = compile_regex(pattern)
        return compiled

    def _scopes(self, sections: Sequence[str], role: str | None = None) -> list[tuple[str, Scope]]:
        """The global scope, the caller's `roles.<role>` section, then each `accounts.<name>` section the call
        falls under (alias or account id)."""
        scopes: list[tuple[str, Scope]] = [("", self.document)]
        if role is not None and (role_scope := self.document.roles.get(role)) is not None:
            scopes.append((f"roles.{role}.", role_scope))
        for name in dict.fromkeys(section.lower() for section in sections):
            if (scope := self.document.accounts.get(name)) is not None:
                scopes.append((f"accounts.{name}.", scope))
        return scopes

    def destructive_patterns(self, sections: Sequence[str] = (), role: str | None = None) -> tuple[Regex, ...]:
        scopes = self._scopes(sections, role)
        return tuple(self._regex(p) for _, scope in scopes for p in scope.destructive_patterns)

    def allowed_role_patterns(
        self, sections: Sequence[str] = (), role: str | None = None
    ) -> list[tuple[str, list[str]]]:
        return [(f"{prefix}allowed_role_arns", s.allowed_role_arns) for prefix, s in self._scopes(sections, role)]

    def check_role(self, role_arn: str, sections: Sequence[str] = (), role: str | None = None) -> Decision:
        for rule, patterns in self.allowed_role_patterns(sections, role):
            if patterns and not any(fnmatch.fnmatchcase(role_arn, pattern) for pattern in patterns):
                return Decision(False, f"{rule}: {role_arn} matches none of {patterns}")
        return Decision(True, "allowed_role_arns")

    def role_classes(self, role: str) -> frozenset[OpClass]:
        """The classes a role may make: its built-in ones, less what `roles.<role>` takes away (read_only,
        allow_sensitive_reads: false). What tools/list shows a caller is derived from this."""
        classes = ROLE_CLASSES.get(role, frozenset())
        scope = self.document.roles.get(role)
        if scope is not None and scope.read_only:
            classes &= {OpClass.READ, OpClass.SENSITIVE}
        if scope is not None and scope.allow_sensitive_reads is False:
            classes -= {OpClass.SENSITIVE}
        return classes

    def rate_limit(self, role: str) -> int | None:
        """`roles.<role>.rate_limit_per_minute`: tool calls per caller and minute for this role, or None (the
        server-wide default applies)."""
        scope = self.document.roles.get(role)
        return scope.rate_limit_per_minute if scope is not None else None

    def decide(
        self,
        service: str,
        operation: str,
        op_class: OpClass,
        sections: Sequence[str] = (),
        role: str | None = None,
    ) -> Decision:
        """Allow or deny one call; the rule names the key of the policy that decided. `role`: the caller's
        (None: no role applies, as for checks outside a call)."""
        name = f"{service}:{operation}"
        if self.force_read_only and op_class not in (OpClass.READ, OpClass.SENSITIVE):
            return Decision(False, f"AWS_MCP_READ_ONLY=true refuses {op_class} operations")
        if role is not None and op_class not in ROLE_CLASSES.get(role, frozenset()):
            if role not in ROLE_CLASSES:
                return Decision(False, f"roles: {role!r} is not a role ({', '.join(ROLES)}); no AWS call is allowed")
            return Decision(False, f"roles.{role}: {ROLE_SUMMARIES[role]}; refuses {op_class} operations")
        allowed_by = "default (no rule denies it)"
        for prefix, scope in self._scopes(sections, role):
            if scope.read_only and op_class not in (OpClass.READ, OpClass.SENSITIVE):
                return Decision(False, f"{prefix}read_only: true refuses {op_class} operations")
            if op_class is OpClass.SENSITIVE and scope.allow_sensitive_reads is False:
                return Decision(False, f"{prefix}allow_sensitive_reads: false refuses reads that reveal secrets")
            if service in scope.services.denylist:
                return Decision(False, f"{prefix}services.denylist contains {service!r}")
            if scope.services.allowlist and service not in scope.services.allowlist:
                return Decision(False, f"{prefix}services.allowlist does not contain {service!r}")
            for index, pattern in enumerate(scope.rules.deny):
                if self._regex(pattern).search(name):
                    return Decision(False, f"{prefix}rules.deny[{index}] {pattern!r} matches {name}")
            if scope.rules.allow:
                matched = next(
                    (i for i, pattern in enumerate(scope.rules.allow) if self._regex(pattern).search(name)), None
                )
                if matched is None:
                    return Decision(False, f"{prefix}rules.allow: no rule matches {name}")
                allowed_by = f"{prefix}rules.allow[{matched}] {scope.rules.allow[matched]!r}"
        return Decision(True, allowed_by)


def _key_lines(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path in the YAML document to its 1-based line, for error messages."""
    lines: dict[tuple, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            lines.update({k: v for k, v in _key_lines(value, (*path, key.value)).items() if k != (*path, key.value)})
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_key_lines(item, (*path, index)))
    return lines


def parse_policy_file(path: Path) -> PolicyDocument:
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark else "unknown line"
        raise PolicyError(f"{path}, {line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return PolicyDocument()
    if not isinstance(data, dict):
        raise PolicyError(f"{path}, line 1: the policy must be a mapping of keys (read_only, services, rules...)")
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as exc:
        lines = _key_lines(node) if node is not None else {}
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
        where = ".".join(str(part) for part in loc) or "document"
        reason = "unknown key" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
        raise PolicyError(f"{path}, line {line}: {where}: {reason}") from None
