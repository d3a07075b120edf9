"""An HTTP proxy on loopback in front of moto that plays AWS misbehaving: it delays requests, throttles the
requests of one (account, region), and counts what passes. Accounts are told apart the way AWS does: by the
access key in the signature, learned from the AssumeRole answers that pass through it."""

import http.client
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/\d+/([a-z0-9-]+)/([a-z0-9-]+)/")
ISSUED = re.compile(rb"<AccessKeyId>([A-Z0-9]+)</AccessKeyId>.*?<Arn>arn:aws:sts::(\d{12}):", re.DOTALL)
THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
    b"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>"
)

REFUSED = b'{"__type": "AccessDeniedException", "message": "refused by the test proxy"}'


class MisbehavingAws:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.delay = 0.0
        self.throttle: set[tuple[str, str]] = set()
        """(account, region) pairs whose every request (but STS's) answers RequestLimitExceeded."""
        self.refused: set[str] = set()
        """JSON-protocol operations (their X-Amz-Target, "secretsmanager.ListSecrets") answered AccessDenied."""
        self.keys: dict[str, str] = {}
        self.requests: Counter[tuple[str, str, str]] = Counter()
        """(account or access key, region, service) → requests that reached the proxy."""
        self.stamps: list[float] = []
        self._lock = threading.Lock()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        match = CREDENTIAL.search(handler.headers.get("Authorization", ""))
        key, region, service = match.groups() if match else ("", "", "")
        with self._lock:
            account = self.keys.get(key, key)
            self.requests[(account, region, service)] += 1
            self.stamps.append(time.monotonic())
        if self.delay:
            time.sleep(self.delay)
        if service != "sts" and (account, region) in self.throttle:
            self._answer(handler, 400, THROTTLED, "text/xml")
            return
        if handler.headers.get("X-Amz-Target", "").lower() in {name.lower() for name in self.refused}:
            self._answer(handler, 400, REFUSED, "application/x-amz-json-1.1")
            return
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        headers = {name: value for name, value in handler.headers.items() if name.lower() != "host"}
        connection.request(handler.command, handler.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if service == "sts":
            with self._lock:
                self.keys.update({k.decode(): a.decode() for k, a in ISSUED.findall(payload)})
        self._answer(handler, response.status, payload, response.getheader("Content-Type") or "text/xml")
        connection.close()

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, payload: bytes, content_type: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def calls(self, service: str) -> int:
        with self._lock:
            return sum(n for (_, _, s), n in self.requests.items() if s == service)


@contextmanager
def misbehaving_aws(upstream: str) -> Iterator[tuple[str, MisbehavingAws]]:
    """Yields (the proxy's URL, its controls)."""
    aws = MisbehavingAws(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            aws.forward(self)

        do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", aws
    finally:
        server.shutdown()
        server.server_close()
