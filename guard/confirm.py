"""Confirmation tokens for destructive calls: HMAC-signed, single-use, short-lived, bound to one call.

A token names the caller, the target (credentials source, role, account, region) and a hash of the
exact service, operation and parameters. Any replica holding the same AWS_MCP_CONFIRMATION_SECRET
can verify it. Spent tokens go to a `SpentTokens` set: the server uses the state database
(store/confirmations.py), so a token is single-use across every replica sharing it; without one, this
process remembers them.
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from core.calls import AwsCall


class TokenRejected(Exception):
    """The token does not confirm this call; the message says why without echoing the token."""


class TokenExpired(TokenRejected):
    """The token was genuine but its lifetime is over."""


def call_digest(call: AwsCall) -> str:
    body = json.dumps(
        [call.service, call.operation, call.params, call.target.source, call.target.role_arn, call.target.region],
        sort_keys=True,
        default=repr,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SpentTokens(Protocol):
    def spend(self, nonce: str, expires_at: int) -> bool:
        """Record a token's nonce as used; False when it already was. Atomic; may block."""
        ...


class ProcessSpentTokens:
    """Spent tokens remembered by this process only, forgotten once expired."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._spent: dict[str, int] = {}
        self._lock = threading.Lock()

    def spend(self, nonce: str, expires_at: int) -> bool:
        now = self._clock()
        with self._lock:
            self._spent = {spent: exp for spent, exp in self._spent.items() if exp >= now}
            if nonce in self._spent:
                return False
            self._spent[nonce] = expires_at
            return True


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int


class ConfirmationTokens:
    def __init__(
        self,
        secret: str | None,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        spent: SpentTokens | None = None,
    ) -> None:
        self._key = (secret or secrets.token_hex(32)).encode()
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._spent = spent if spent is not None else ProcessSpentTokens(clock)

    def issue(self, call: AwsCall, caller: str) -> IssuedToken:
        expires_at = int(self._clock()) + self.ttl_seconds
        claims = {"n": secrets.token_hex(12), "exp": expires_at, "c": caller, "h": call_digest(call)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return IssuedToken(f"{payload}.{self._sign(payload)}", expires_at)

    def redeem(self, token: str, call: AwsCall, caller: str) -> None:
        """Spend the token for this call, or raise `TokenRejected`. Blocking when the spent set is a database:
        call it from a worker thread."""
        claims = self._verify(token)
        if claims["c"] != caller:
            raise TokenRejected("the token was issued to another caller")
        if claims["h"] != call_digest(call):
            raise TokenRejected("the token was issued for a different operation, parameters or target")
        if not self._spent.spend(claims["n"], claims["exp"]):
            raise TokenRejected("the token was already used; tokens are single-use")

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def _verify(self, token: str) -> dict[str, Any]:
        payload, _, signature = token.strip().partition(".")
        if not payload or not signature or not hmac.compare_digest(signature, self._sign(payload)):
            raise TokenRejected("the token is malformed or its signature does not match")
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            raise TokenRejected("the token is malformed") from None
        if claims.get("exp", 0) < self._clock():
            raise TokenExpired("the token has expired; ask for a new one by repeating the call without it")
        return claims
