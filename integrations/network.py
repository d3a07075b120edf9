"""Where outbound integration traffic may go, and an HTTP client that connects only there.

Every connection resolves the endpoint's host itself (in a worker thread), checks every address it got, and
connects to one of those very addresses: httpcore's network backend is where the TCP connection is made, so
`PinnedBackend.connect_tcp` does resolve → check → connect in one step, and a DNS answer that changes between a
check and a connect (rebinding) cannot be used. The URL is untouched, so the Host header and TLS (SNI and
certificate verification) stay on the hostname. If any address of a name is refused, the name is refused.

Always refused: link-local and cloud metadata addresses (169.254.0.0/16 with 169.254.169.254, fe80::/10,
fd00:ec2::254), the unspecified addresses (0.0.0.0/8, ::), multicast and broadcast, also spelt as IPv4-mapped
(::ffff:169.254.169.254), NAT64 (64:ff9b::/96), 6to4 or Teredo IPv6 addresses. Refused unless
AWS_MCP_WEBHOOK_ALLOW_PRIVATE=true: every other address that is not globally routable (RFC 1918, loopback,
CGNAT 100.64.0.0/10, unique-local fc00::/7, documentation and reserved ranges).

The client never follows redirects, reads no proxy or certificate variables from the environment, and keeps
no cookies between requests.
"""

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore2
import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""host, port → the addresses to try, in order."""

ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(network)
    for network in (
        "169.254.0.0/16",  # IPv4 link-local: EC2, ECS, GCP and Azure instance metadata live here
        "0.0.0.0/8",
        "224.0.0.0/4",
        "255.255.255.255/32",
        "fe80::/10",
        "fd00:ec2::254/128",  # EC2 instance metadata over IPv6
        "::/128",
        "ff00::/8",
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefused(Exception):
    """The endpoint resolves to an address integrations may not reach. The message names the address, not the
    URL (a webhook URL is often a credential)."""


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: str, allow_private: bool) -> str | None:
    """Why `address` may not be reached, or None when it may."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address[:64]!r} is not an IP address"
    candidates = [candidate for candidate in (parsed, embedded_ipv4(parsed)) if candidate is not None]
    for candidate in candidates:  # the always-refused verdict first, whichever form names the address
        if any(candidate in network for network in ALWAYS_REFUSED if network.version == candidate.version):
            return f"{parsed} is a link-local, metadata, unspecified or multicast address: always refused"
    if not allow_private and any(not candidate.is_global for candidate in candidates):
        return f"{parsed} is a private or loopback address: set AWS_MCP_WEBHOOK_ALLOW_PRIVATE=true to allow it"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """getaddrinfo in a worker thread: the event loop never waits on DNS."""
    infos = await anyio.to_thread.run_sync(
        lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def allowed_addresses(
    host: str, port: int, allow_private: bool, resolver: Resolver = system_resolver
) -> list[str]:
    """Every address `host` resolves to, all of them allowed; else `AddressRefused`."""
    literal = host.strip("[]")
    try:
        addresses = [str(ipaddress.ip_address(literal.split("%", 1)[0]))]
    except ValueError:
        try:
            addresses = await resolver(literal, port)
        except OSError as exc:
            raise httpcore2.ConnectError(f"the endpoint's host did not resolve: {exc.strerror or exc}") from None
    if not addresses:
        raise httpcore2.ConnectError("the endpoint's host resolved to no address")
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason is not None:
            raise AddressRefused(f"endpoint address refused: {reason}")
    return addresses


async def check_endpoint(url: str, allow_private: bool, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses an http(s) URL's host resolves to, all allowed; else `AddressRefused` (or
    `httpcore2.ConnectError` when it does not resolve). For a check before saving an endpoint: deliveries check
    again on every connection."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise AddressRefused("endpoint is not an http:// or https:// URL")
    return await allowed_addresses(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme], allow_private, resolver)


class PinnedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore's AnyIO backend, connecting only to addresses it resolved and checked itself."""

    def __init__(self, allow_private: bool, resolver: Resolver = system_resolver) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await allowed_addresses(host, port, self.allow_private, self.resolver)
        except TimeoutError:
            raise httpcore2.ConnectTimeout("the endpoint's host did not resolve in time") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise AddressRefused("integrations connect over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx2.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose backend is `PinnedBackend` (httpx takes no backend
    argument, so the pool it built is replaced by one built the same way)."""

    def __init__(self, backend: PinnedBackend, max_connections: int = 100) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


def pinned_client(allow_private: bool, resolver: Resolver = system_resolver) -> httpx2.AsyncClient:
    """The HTTP client of integrations: pinned addresses, no redirects, no environment proxies, no cookies kept."""
    return httpx2.AsyncClient(
        transport=PinnedTransport(PinnedBackend(allow_private, resolver)),
        follow_redirects=False,
        trust_env=False,
        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
    )
