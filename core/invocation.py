"""Who is calling which tool: the per-call facts the guard and the credential resolver need.

The transport layer establishes the caller once, as a `Principal`; the tool layer sets one
`Invocation` per tool call in a context variable. The guard reads the principal, the MCP context
(for elicitation) and the confirmation token from it; credential resolution reads the calling
session's `set_environment` values. A session is one the MCP SDK validated, never a name taken
from a header.
"""

import contextvars
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from core.calls import SessionEnvironment

_current: contextvars.ContextVar["Invocation"] = contextvars.ContextVar("invocation")


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the transport verified it. `subject` is what audit records and confirmation
    tokens name: `local:<user>` over stdio, `token:<fingerprint>` for the static bearer token,
    `jwt:<issuer>|<sub>` for a JWT, `anonymous` on an unauthenticated loopback server."""

    subject: str
    auth: str
    """How the subject was established: stdio, static-token, jwt, none."""
    role: str = "admin"
    """viewer, operator or admin (config.ROLES); the guard refuses every AWS call for anything else."""
    session_name: str | None = None
    """The name CloudTrail shows for this caller (RoleSessionName, and SourceIdentity when enabled), already
    within AWS's rules (`cloudtrail_name`); None for callers who are not one person (the static token, stdio,
    anonymous): they get AWS_MCP_ROLE_SESSION_NAME."""


ANONYMOUS = Principal("anonymous", "none")


@dataclass
class Invocation:
    tool: str
    principal: Principal = ANONYMOUS
    session_key: str | None = None
    """The MCP session the SDK validated for this call (`http:<id>`, `sse:<id>`, `stdio`), or None."""
    environment: SessionEnvironment | None = None
    confirmation_token: str | None = None
    context: Any = field(default=None, repr=False)
    """The MCP `Context` of the call, when there is one (elicitation, client capabilities)."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    """What the guard decided for each AWS call this tool call made, for the audit record."""
    extra: dict[str, Any] = field(default_factory=dict)
    """What the tool adds to its audit record itself (a fleet query's summary: targets, counts, denials)."""


def current() -> Invocation:
    """The invocation of the running tool call; outside one (benchmarks, scripts) an anonymous one."""
    try:
        return _current.get()
    except LookupError:
        return Invocation(tool="-", principal=Principal("local", "none"))


def ensure_invocation() -> Invocation:
    """The running invocation, or a new anonymous one made current (manager calls outside a tool call)."""
    try:
        return _current.get()
    except LookupError:
        invocation = current()
        _current.set(invocation)
        return invocation


def activate(invocation: Invocation) -> contextvars.Token:
    return _current.set(invocation)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


CLOUDTRAIL_NAME_REFUSED = re.compile(r"[^\w+=,.@-]", re.ASCII)
CLOUDTRAIL_NAME_LIMIT = 64


def cloudtrail_name(name: str) -> str:
    """`name` as a RoleSessionName / SourceIdentity: 2 to 64 of `[A-Za-z0-9_+=,.@-]`. A name that is already one
    stays as it is (`alice@example.com`); any other is cleaned and cut, and gets 8 hex digits of its hash, so two
    callers whose names differ never share a session name."""
    if 2 <= len(name) <= CLOUDTRAIL_NAME_LIMIT and not CLOUDTRAIL_NAME_REFUSED.search(name):
        return name
    cleaned = CLOUDTRAIL_NAME_REFUSED.sub("-", name)[: CLOUDTRAIL_NAME_LIMIT - 9]
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible name for a bearer token, safe to log."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


class SessionEnvironments:
    """`set_environment` values per (principal, MCP session), in memory only.

    The transport layers call `end_session` when a session ends, so values go with it. The table is
    bounded: past LIMIT entries the oldest is dropped.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], SessionEnvironment] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, principal: Principal, session_key: str | None) -> SessionEnvironment | None:
        return self._values.get((principal.subject, session_key)) if session_key else None

    def update(self, principal: Principal, session_key: str, given: SessionEnvironment) -> dict[str, str | None]:
        """Merge what `set_environment` was given into the session's values; returns what changed.

        Only the values given change; new access keys without a session token clear the old token,
        which belonged to the old keys.
        """
        applied: dict[str, str | None] = {name: value for name, value in given.__dict__.items() if value}
        if given.access_key_id and not given.session_token:
            applied["session_token"] = None
        key = (principal.subject, session_key)
        previous = self._values.get(key) or SessionEnvironment()
        if key not in self._values and len(self._values) >= self.LIMIT:
            self._values.pop(next(iter(self._values)))
        self._values[key] = SessionEnvironment(**{**previous.__dict__, **applied})
        return applied

    def end_session(self, session_key: str) -> None:
        """The session is gone: forget what any principal set in it."""
        for key in [key for key in self._values if key[1] == session_key]:
            self._values.pop(key, None)
