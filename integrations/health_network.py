"""The HTTP client of health checks: it connects only to addresses it resolved and checked itself.

Same names and contract as the delivery worker's `integrations/network.py` (`pinned_client`, `AddressRefused`,
`refusal`), which replaces this module when both are merged. Each connection resolves the host in a worker thread,
checks every address (link-local and metadata addresses always refused; private and loopback ones only with
AWS_MCP_WEBHOOK_ALLOW_PRIVATE=true) and connects to a checked one, so a DNS answer that changes after the check
cannot be used; the URL stays as it is, so the Host header and TLS stay on the hostname. No redirects, no
environment proxies.
"""

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import anyio.to_thread
import httpcore2
import httpx2

ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(network)
    for network in (
        "169.254.0.0/16",
        "0.0.0.0/8",
        "224.0.0.0/4",
        "fe80::/10",
        "fd00:ec2::254/128",
        "::/128",
        "ff00::/8",
    )
)
"""Link-local and instance metadata addresses, the unspecified ones and multicast."""


class AddressRefused(Exception):
    """The endpoint resolves to an address integrations may not reach; the message names the address, not the URL."""


def refusal(address: str, allow_private: bool) -> str | None:
    """Why `address` may not be reached, or None when it may."""
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if any(parsed in network for network in ALWAYS_REFUSED if network.version == parsed.version):
        return f"{parsed} is a link-local, metadata, unspecified or multicast address: always refused"
    if not parsed.is_global and not allow_private:
        return f"{parsed} is a private or loopback address: set AWS_MCP_WEBHOOK_ALLOW_PRIVATE=true to allow it"
    return None


async def allowed_addresses(host: str, port: int, allow_private: bool) -> list[str]:
    """Every address `host` resolves to, all of them allowed; else `AddressRefused`."""
    literal = host.strip("[]")
    try:
        addresses = [str(ipaddress.ip_address(literal.split("%", 1)[0]))]
    except ValueError:
        try:
            found = await anyio.to_thread.run_sync(socket.getaddrinfo, literal, port, 0, socket.SOCK_STREAM)
        except OSError:
            raise httpcore2.ConnectError("the endpoint's host did not resolve") from None
        addresses = list(dict.fromkeys(str(entry[4][0]) for entry in found))
    for address in addresses:
        if reason := refusal(address, allow_private):
            raise AddressRefused(f"endpoint address refused: {reason}")
    return addresses


class PinnedBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = await allowed_addresses(host, port, self.allow_private)
        return await self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise AddressRefused("integrations connect over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_client(allow_private: bool) -> httpx2.AsyncClient:
    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    transport._pool = httpcore2.AsyncConnectionPool(  # httpx takes no network backend: swap its pool for one
        ssl_context=httpx2.create_ssl_context(trust_env=False), network_backend=PinnedBackend(allow_private)
    )
    return httpx2.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
