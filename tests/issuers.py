"""Token issuers for the tests: real signed JWTs, HS256 with a shared secret, and RS256/ES256 whose public keys a
small JWKS server on 127.0.0.1 publishes, as an identity provider would."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://issuer.test"
AUDIENCE = "aws-ops-mcp"
SECRET = "a-shared-hs256-secret-of-32-bytes-or-more"


def claims(subject: str = "alice", role: Any = "operator", **overrides: Any) -> dict[str, Any]:
    """A valid token's claims for `subject`, good for five minutes; `None` values leave a claim out."""
    now = int(time.time())
    values = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "nbf": now, "exp": now + 300, "role": role}
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def hs256(subject: str = "alice", role: Any = "operator", secret: str = SECRET, **overrides: Any) -> str:
    return jwt.encode(claims(subject, role, **overrides), secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hs256_settings(**extra: str) -> dict[str, str]:
    """The variables of a server that accepts hs256() tokens."""
    return {"AWS_MCP_JWT_SECRET": SECRET, "AWS_MCP_JWT_ISSUER": ISSUER, "AWS_MCP_JWT_AUDIENCE": AUDIENCE, **extra}


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        family = jwt.algorithms.RSAAlgorithm if self.algorithm.startswith("RS") else jwt.algorithms.ECAlgorithm
        return {**family.to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "use": "sig"}

    def sign(self, subject: str = "alice", role: Any = "operator", **overrides: Any) -> str:
        headers = {"kid": self.kid}
        return jwt.encode(claims(subject, role, **overrides), self.private, algorithm=self.algorithm, headers=headers)


def new_key(kid: str, algorithm: str = "RS256") -> SigningKey:
    if algorithm == "RS256":
        return SigningKey(kid, algorithm, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return SigningKey(kid, algorithm, ec.generate_private_key(ec.SECP256R1()))


@dataclass
class JwksServer:
    """An identity provider's JWKS endpoint on loopback: publishes `keys`, counts the fetches."""

    url: str
    keys: list[SigningKey]
    fetches: int = 0
    delay: float = 0.0
    """Seconds each fetch takes, as a slow identity provider's would."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settings(self, **extra: str) -> dict[str, str]:
        return {"AWS_MCP_JWKS_URL": self.url, "AWS_MCP_JWT_ISSUER": ISSUER, "AWS_MCP_JWT_AUDIENCE": AUDIENCE, **extra}


@contextmanager
def jwks_server(*keys: SigningKey) -> Iterator[JwksServer]:
    published = JwksServer("", list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(published.delay)
            with published.lock:
                published.fetches += 1
                body = json.dumps({"keys": [key.jwk() for key in published.keys]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    published.url = f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield published
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
