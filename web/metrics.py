"""/metrics: Prometheus's text format, for admins on the main port and for anyone on the metrics port.

On the main port the route sits behind the bearer-token middleware and answers only the admin role (403
otherwise). With `AWS_MCP_METRICS_PORT` the same registry is also served, unauthenticated, on that port of the
address the server binds, for in-cluster scraping: prometheus-client's own small threaded server, started and
stopped with the app, so a scrape never runs on the event loop that serves MCP.
"""

from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread
from prometheus_client import start_http_server
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.invocation import Principal
from observability.metrics import Metrics

ADMIN = "admin"


def metrics_endpoint(
    metrics: Metrics, principal_of: Callable[[Mapping[str, Any]], Principal]
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        if principal_of(request.scope).role != ADMIN:
            return JSONResponse({"error": "forbidden", "hint": "metrics are for the admin role"}, status_code=403)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return endpoint


class MetricsPort:
    """The registry on its own port, unauthenticated, in a daemon thread."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: Any = None

    def start(self) -> None:
        self._server, _ = start_http_server(self.port, addr=self.host, registry=self.metrics.registry)

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await anyio.to_thread.run_sync(server.shutdown)  # waits for the serving loop's next poll
            server.server_close()
