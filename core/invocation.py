"""Who is calling which tool: the per-call facts the guard and the credential resolver need.

The tool layer sets one `Invocation` per tool call in a context variable; the guard reads the
caller, the MCP context (for elicitation) and the confirmation token from it, and credential
resolution reads the calling session's `set_environment` values.
"""

import contextvars
import hashlib
from dataclasses import dataclass, field
from typing import Any

from core.calls import SessionEnvironment

_current: contextvars.ContextVar["Invocation"] = contextvars.ContextVar("invocation")


@dataclass
class Invocation:
    tool: str
    caller: str
    session_key: str | None = None
    environment: SessionEnvironment | None = None
    confirmation_token: str | None = None
    context: Any = field(default=None, repr=False)
    """The MCP `Context` of the call, when there is one (elicitation, client capabilities)."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    """What the guard decided for each AWS call this tool call made, for the audit record."""


def current() -> Invocation:
    """The invocation of the running tool call; outside one (benchmarks, scripts) an anonymous one."""
    try:
        return _current.get()
    except LookupError:
        return Invocation(tool="-", caller="local")


def activate(invocation: Invocation) -> contextvars.Token:
    return _current.set(invocation)


def deactivate(token: contextvars.Token) -> None:
    _current.reset(token)


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible name for a bearer token, safe to log."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


class SessionEnvironments:
    """`set_environment` values per MCP session, in memory only.

    Keys are MCP session ids (streamable HTTP `Mcp-Session-Id`, the SSE connection's session id,
    or "stdio"). The table is bounded: past LIMIT sessions the oldest entry is dropped.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._values: dict[str, SessionEnvironment] = {}

    def get(self, session_key: str | None) -> SessionEnvironment | None:
        return self._values.get(session_key) if session_key else None

    def set(self, session_key: str, environment: SessionEnvironment) -> None:
        if len(self._values) >= self.LIMIT:
            self._values.pop(next(iter(self._values)))
        self._values[session_key] = environment

    def update(self, session_key: str, given: SessionEnvironment) -> dict[str, str | None]:
        """Merge what `set_environment` was given into the session's values; returns what changed.

        Only the values given change; new access keys without a session token clear the old token,
        which belonged to the old keys.
        """
        applied: dict[str, str | None] = {name: value for name, value in given.__dict__.items() if value}
        if given.access_key_id and not given.session_token:
            applied["session_token"] = None
        previous = self.get(session_key) or SessionEnvironment()
        self.set(session_key, SessionEnvironment(**{**previous.__dict__, **applied}))
        return applied

    def clear(self, session_key: str) -> None:
        self._values.pop(session_key, None)
