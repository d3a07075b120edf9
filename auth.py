"""Who may call over HTTP: the static bearer token (`MCP_AUTH_TOKEN`) and JWTs (`AWS_MCP_JWKS_URL` or
`AWS_MCP_JWT_SECRET`), turned into the SDK's `AccessToken` that http_app.py puts in the request scope.

A JWT is accepted when its signature verifies with a pinned algorithm (RS/PS/ES with the issuer's JWKS, or HS256
with the shared secret; never `none`, never an HMAC over a public key), `iss` is AWS_MCP_JWT_ISSUER, `aud`
names AWS_MCP_JWT_AUDIENCE, `exp` is in the future and `nbf`/`iat` not (30 s leeway), and `sub` is set. Its
caller is `jwt:<iss>|<sub>` (stable, unique per issuer), named in CloudTrail by `sub`. The role comes from the
AWS_MCP_JWT_ROLE_CLAIM claim (a string or a list; through AWS_MCP_JWT_ROLE_MAP when set, the highest role
named wins); a token naming no role gets AWS_MCP_JWT_DEFAULT_ROLE, or 403 when that is unset.

The JWKS is fetched with httpx2 (the SDK's client) on the event loop, never blocking it, cached for
JWKS_TTL_SECONDS, and fetched again when a token names a key id the cached set lacks (at most once per
JWKS_REFETCH_SECONDS, so tokens with made-up key ids cannot make this server hammer the issuer).
"""

import hmac
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import jwt
from mcp.server.auth.provider import AccessToken

from config import ROLES, Settings
from core.invocation import cloudtrail_name, token_fingerprint

log = logging.getLogger("aws_ops_mcp.auth")

LEEWAY_SECONDS = 30
"""Clock skew tolerated on exp, nbf and iat."""
JWKS_TTL_SECONDS = 600
JWKS_REFETCH_SECONDS = 10
JWKS_TIMEOUT_SECONDS = 5
JWKS_MAX_BYTES = 256 * 1024
JWKS_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
"""Asymmetric algorithms only: a JWKS never verifies an HMAC."""
SECRET_ALGORITHMS = ("HS256",)
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
"""The JWK `kty` each algorithm family needs."""
SAFE_TEXT = re.compile(r"^[\w.:/@+-]{1,64}$")


class Rejected(Exception):
    """A request the server refuses before any tool runs: 401 for a missing or invalid token (RFC 6750
    `invalid_token`), 403 for a valid token that grants no role (`insufficient_scope`), 503 when the issuer's
    keys cannot be fetched. `description` says why, never quoting the token."""

    def __init__(self, description: str, status: int = 401, error: str = "invalid_token") -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.error = error


class StaticTokenVerifier:
    """`MCP_AUTH_TOKEN`: one shared bearer token, compared in constant time. Its principal is
    `token:<fingerprint>`, never the token itself; its role is AWS_MCP_STATIC_TOKEN_ROLE."""

    def __init__(self, token: str, role: str = "admin") -> None:
        self._expected = token.encode()
        self._subject = token_fingerprint(token)
        self._role = role

    def check(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.strip().encode(), self._expected):
            return None
        return AccessToken(
            token=token,
            client_id=self._subject,
            scopes=[],
            subject=self._subject,
            claims={"auth": "static-token", "role": self._role},
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's `TokenVerifier` protocol."""
        return self.check(token)


@dataclass(frozen=True)
class SigningKey:
    """One key of the issuer's set: its type, the algorithm it declares (if any) and the key itself."""

    kty: str
    alg: str | None
    key: Any

    def fits(self, algorithm: str) -> bool:
        return self.kty == KEY_TYPES[algorithm[:2]] and self.alg in (None, algorithm)


class JwksKeys:
    """The issuer's signing keys from its JWKS URL, by key id; fetched without blocking the event loop."""

    def __init__(self, url: str, refetch_seconds: float | None = None) -> None:
        self.url = url
        self.refetch_seconds = JWKS_REFETCH_SECONDS if refetch_seconds is None else refetch_seconds
        self._keys: dict[str | None, SigningKey] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = anyio.Lock()
        self.fetches = 0

    async def key(self, kid: str | None) -> SigningKey:
        if time.monotonic() - self._fetched_at > JWKS_TTL_SECONDS:
            await self._refresh()
        found = self._find(kid)
        if found is None:
            await self._refresh()  # the issuer may have rotated its keys
            found = self._find(kid)
        if found is None:
            if not self._keys:
                raise Rejected(
                    "the issuer's signing keys could not be fetched", status=503, error="temporarily_unavailable"
                )
            raise Rejected("the token's signing key (kid) is not in the issuer's key set")
        return found

    def _find(self, kid: str | None) -> SigningKey | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        """Fetch the set, at most once per `refetch_seconds` whoever asks (concurrent requests wait for one
        fetch); on failure keep the keys we have."""
        async with self._lock:
            if time.monotonic() - self._attempted_at < self.refetch_seconds:
                return
            self._attempted_at = time.monotonic()
            self.fetches += 1
            try:
                self._keys = await self._fetch()
            except (httpx2.HTTPError, ValueError, jwt.PyJWTError) as exc:
                log.warning("cannot fetch the JWKS at %s: %s", self.url, exc)
                return
            self._fetched_at = time.monotonic()

    async def _fetch(self) -> dict[str | None, SigningKey]:
        async with httpx2.AsyncClient(timeout=JWKS_TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.get(self.url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > JWKS_MAX_BYTES:
            raise ValueError(f"the key set is larger than {JWKS_MAX_BYTES} bytes")
        document = response.json()
        members = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(members, list):
            raise ValueError("not a JWK set (no `keys` list)")
        keys: dict[str | None, SigningKey] = {}
        for member in members:
            if not isinstance(member, dict) or member.get("kty") not in ("RSA", "EC"):
                continue  # symmetric (`oct`) keys never verify here, nor do key types we do not use
            if member.get("use", "sig") != "sig":
                continue
            try:
                parsed = jwt.PyJWK(member)
            except jwt.PyJWTError:
                continue
            alg = member.get("alg") if isinstance(member.get("alg"), str) else None
            keys[member.get("kid") if isinstance(member.get("kid"), str) else None] = SigningKey(
                member["kty"], alg, parsed.key
            )
        if not keys:
            raise ValueError("the key set holds no RSA or EC signing key")
        return keys


@dataclass(frozen=True)
class RoleRules:
    """How a verified token's claims name a role."""

    claim: str = "role"
    mapping: Mapping[str, str] | None = None
    default: str | None = None

    def role(self, claims: Mapping[str, Any]) -> str:
        named = self._claim_values(claims)
        if self.mapping:
            found = {self.mapping[value] for value in named if value in self.mapping}
        else:
            found = {value.lower() for value in named if value.lower() in ROLES}
        if found:
            return max(found, key=ROLES.index)
        if self.default is not None:
            return self.default
        raise Rejected(
            f"the token's {self.claim} claim names no role this server grants ({', '.join(ROLES)})",
            status=403,
            error="insufficient_scope",
        )

    def _claim_values(self, claims: Mapping[str, Any]) -> list[str]:
        """The claim as a list of strings: a list, or a string of space-separated names. A name with dots that is
        not a claim of its own is a path into nested claims (Keycloak's `realm_access.roles`)."""
        value: Any = claims.get(self.claim)
        if value is None and "." in self.claim:
            value = claims
            for part in self.claim.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [item for item in value if isinstance(item, str)]
        return []


class JwtVerifier:
    """Verifies a JWT against the configured key source, issuer and audience; see the module docstring."""

    def __init__(
        self,
        issuer: str,
        audience: Sequence[str],
        roles: RoleRules,
        *,
        secret: str | None = None,
        jwks: JwksKeys | None = None,
    ) -> None:
        if (secret is None) == (jwks is None):
            raise ValueError("a JWT verifier needs exactly one of a secret and a JWKS")
        self.issuer = issuer
        self.audience = list(audience)
        self.roles = roles
        self.jwks = jwks
        self._secret = secret
        self.algorithms = JWKS_ALGORITHMS if jwks is not None else SECRET_ALGORITHMS

    async def verify(self, token: str) -> AccessToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Rejected("the bearer token is not a valid JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            shown = repr(algorithm) if isinstance(algorithm, str) and SAFE_TEXT.match(algorithm) else "its algorithm"
            raise Rejected(f"the token is signed with {shown}; this server accepts {', '.join(self.algorithms)}")
        key = await self._key(header, algorithm)
        claims = self._decode(token, key, algorithm)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise Rejected("the token has no sub (subject) claim")
        role = self.roles.role(claims)
        principal = f"jwt:{claims['iss']}|{subject}"
        expires = claims.get("exp")
        return AccessToken(
            token=token,
            client_id=principal,
            scopes=[],
            expires_at=int(expires) if isinstance(expires, int | float) else None,
            subject=principal,
            claims={"iss": claims["iss"], "auth": "jwt", "role": role, "session_name": cloudtrail_name(subject)},
        )

    async def _key(self, header: Mapping[str, Any], algorithm: str) -> Any:
        if self.jwks is None:
            return self._secret
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Rejected("the token's kid header is not a string")
        found = await self.jwks.key(kid)
        if not found.fits(algorithm):
            raise Rejected("the token's algorithm does not match its signing key")
        return found.key

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidSignatureError:
            raise Rejected("the token's signature does not verify") from None
        except jwt.ExpiredSignatureError:
            raise Rejected("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Rejected("the token is not valid yet (nbf or iat is in the future)") from None
        except jwt.InvalidAudienceError:
            raise Rejected("the token was not issued for this server (aud)") from None
        except jwt.InvalidIssuerError:
            raise Rejected("the token comes from an issuer this server does not trust (iss)") from None
        except jwt.MissingRequiredClaimError as missing:
            raise Rejected(f"the token has no {missing.claim} claim") from None
        except jwt.PyJWTError:
            raise Rejected("the token is not valid") from None


class Authenticator:
    """Every credential the HTTP endpoints accept: the static token first (constant time), then a JWT."""

    def __init__(self, static: StaticTokenVerifier | None = None, jwt_verifier: JwtVerifier | None = None) -> None:
        self.static = static
        self.jwt = jwt_verifier

    @classmethod
    def from_settings(cls, settings: Settings) -> "Authenticator | None":
        """None when the server needs no token (a loopback bind without MCP_AUTH_TOKEN or a JWT key source)."""
        if not settings.authenticated:
            return None
        static = StaticTokenVerifier(settings.auth_token, settings.static_token_role) if settings.auth_token else None
        verifier = None
        if settings.jwt_enabled:
            assert settings.jwt_issuer
            verifier = JwtVerifier(
                settings.jwt_issuer,
                settings.jwt_audience,
                RoleRules(settings.jwt_role_claim, settings.jwt_role_map or None, settings.jwt_default_role),
                secret=settings.jwt_secret,
                jwks=JwksKeys(settings.jwks_url) if settings.jwks_url else None,
            )
        return cls(static, verifier)

    async def authenticate(self, token: str) -> AccessToken:
        """The verified caller, or `Rejected` saying why."""
        if self.static is not None and (accepted := self.static.check(token)) is not None:
            return accepted
        if self.jwt is None:
            raise Rejected("the bearer token is not valid")
        return await self.jwt.verify(token)
