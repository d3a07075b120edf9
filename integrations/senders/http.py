"""One JSON POST through the pinned client (integrations/network.py), and what its answer means.

2xx delivered. 410 Gone: the receiver wants no more (the integration is disabled). 408, 429 and 5xx, timeouts
and connection failures are retried, with the receiver's Retry-After (seconds or an HTTP date) when it sent
one. Anything else, 3xx included (redirects are never followed), is a failure no retry can fix. Errors name
what failed, never the URL.
"""

import time
from email.utils import parsedate_to_datetime

import httpx2

from integrations.network import AddressRefused
from integrations.senders.base import Attempt

RETRY_AFTER_CAP_SECONDS = 3600.0
"""A receiver's Retry-After is honoured up to an hour."""
RETRYABLE_STATUS = frozenset({408, 425, 429})


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now, capped at RETRY_AFTER_CAP_SECONDS; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def outcome(status: int, retry_after: str | None) -> Attempt:
    if 200 <= status < 300:
        return Attempt(ok=True, status=status)
    if status == 410:
        return Attempt(
            ok=False, status=status, gone=True, error="410 Gone: the receiver wants no more events", retryable=False
        )
    if status >= 500 or status in RETRYABLE_STATUS:
        return Attempt(ok=False, status=status, retry_after=retry_after_seconds(retry_after), error=f"HTTP {status}")
    if 300 <= status < 400:
        return Attempt(ok=False, status=status, error=f"HTTP {status}: redirects are not followed", retryable=False)
    return Attempt(ok=False, status=status, error=f"HTTP {status}", retryable=False)


async def post_json(
    client: httpx2.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> Attempt:
    """POST `body`; the response body is never read (a receiver cannot make the worker download anything)."""
    try:
        request = client.build_request(
            "POST", url, content=body, headers={"content-type": "application/json", **headers}, timeout=timeout
        )
        response = await client.send(request, stream=True)
        await response.aclose()
    except AddressRefused as exc:
        return Attempt(ok=False, error=str(exc), retryable=False)
    except httpx2.TimeoutException as exc:
        return Attempt(ok=False, error=f"timed out ({type(exc).__name__})")
    except httpx2.TransportError as exc:
        return Attempt(ok=False, error=f"connection failed ({type(exc).__name__}){_own_reason(exc)}")
    return outcome(response.status_code, response.headers.get("retry-after"))


def _own_reason(exc: Exception) -> str:
    """The exception's message when it cannot carry a URL (the resolver's and the OS's messages)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f": {text[:200]}" if text and "://" not in text and "/" not in text else ""
