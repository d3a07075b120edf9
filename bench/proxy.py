"""A TCP proxy on loopback that holds each request for a while before passing it on: AWS latency, injected."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def delaying_proxy(upstream: tuple[str, int], delay: float) -> AsyncIterator[str]:
    """Yields the proxy's URL. A request is delayed once, when its first bytes arrive on an idle connection."""
    writers: set[asyncio.StreamWriter] = set()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*upstream)
        writers.update((client_writer, upstream_writer))
        in_flight = False

        async def requests() -> None:
            nonlocal in_flight
            while data := await client_reader.read(65536):
                if not in_flight:
                    in_flight = True
                    await asyncio.sleep(delay)
                upstream_writer.write(data)
                await upstream_writer.drain()
            upstream_writer.close()

        async def responses() -> None:
            nonlocal in_flight
            while data := await upstream_reader.read(65536):
                in_flight = False
                client_writer.write(data)
                await client_writer.drain()
            client_writer.close()

        await asyncio.gather(requests(), responses(), return_exceptions=True)
        writers.difference_update((client_writer, upstream_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
