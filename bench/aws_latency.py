"""An HTTP proxy on loopback in front of moto that plays AWS at fleet scale: every request waits `delay` ± `jitter`
seconds (uniform) before it is answered, and one read (an EC2 query-protocol action) is answered by replaying moto's
first answer to it.

Why replay: moto is one Python process that spends ~5 ms of CPU on any request and ~0.25 s creating an EC2 backend
the first time an (account, region) is reached; 1,020 targets would measure moto's one core, not the fan-out. AWS
answers each region's requests on its own hardware, which the injected latency stands for. Everything else
(Organizations, AssumeRole, the first read) reaches moto, so accounts, roles and credentials are real.
"""

import http.client
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_HEADERS = frozenset({"host", "connection", "keep-alive", "transfer-encoding"})


@dataclass
class LatentAws:
    upstream: tuple[str, int]
    delay: float
    jitter: float
    replayed_action: str
    """e.g. "DescribeVpcs": after moto's first answer, the proxy gives that answer to every such request."""
    injected: list[float] = field(default_factory=list)
    replays: int = 0
    forwarded: int = 0
    _recorded: tuple[int, bytes, str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        held = random.uniform(self.delay - self.jitter, self.delay + self.jitter)
        replay = body.startswith(f"Action={self.replayed_action}&".encode())
        with self._lock:
            self.injected.append(held)
            recorded = self._recorded if replay else None
            if recorded is not None:
                self.replays += 1
            else:
                self.forwarded += 1
        time.sleep(held)
        if recorded is None:
            recorded = self._forward(handler, body)
            if replay and recorded[0] == 200:
                with self._lock:
                    self._recorded = recorded
        status, payload, content_type = recorded
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes, str]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            headers = {name: value for name, value in handler.headers.items() if name.lower() not in HOP_HEADERS}
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Content-Type") or "text/xml"
        finally:
            connection.close()

    def mean_delay(self) -> float:
        with self._lock:
            return sum(self.injected) / len(self.injected) if self.injected else 0.0


@contextmanager
def latent_aws(
    upstream: tuple[str, int], delay: float, jitter: float, replayed_action: str
) -> Iterator[tuple[str, LatentAws]]:
    """Yields (the proxy's URL, its counters). One thread per connection: a fleet keeps one per client."""
    aws = LatentAws(upstream, delay, jitter, replayed_action)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            aws.answer(self)

        do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

        def log_message(self, *_: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", aws
    finally:
        server.shutdown()
        server.server_close()
