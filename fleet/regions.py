"""Which regions a fleet target list covers: where the service exists (botocore's endpoint data) and what each
account has enabled (EC2 DescribeRegions, cached), so no call is spent on a region that cannot answer."""

import fnmatch
import threading
import time
from collections.abc import Callable, Iterable
from functools import cache

import botocore.session

from catalog.models import share_data_loader

GLOBAL_REGION = "us-east-1"
"""Where a global service (IAM, Organizations, Route53) is called: once per account."""
ENABLED_REGIONS_TTL_SECONDS = 3600.0
DEFAULT_ENABLED = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-south-1",
    }
)  # fmt: skip
"""The regions every account has enabled (those from before opt-in regions, 2019): what is assumed when an
account's own list cannot be read."""


@cache
def service_regions(service: str) -> tuple[str, ...]:
    """The commercial-partition regions `service` has an endpoint in; () for a global service."""
    session = share_data_loader(botocore.session.Session())
    return tuple(sorted(session.get_available_regions(service)))


def is_global(service: str) -> bool:
    return not service_regions(service)


def select(patterns: Iterable[str], service: str, enabled: frozenset[str] | None) -> tuple[list[str], list[str]]:
    """(regions to call, named regions the account has not enabled). Globs and "*" match only regions that are
    both enabled and offer the service; a region named outright is called when the service has it and reported
    as not enabled when the account has not (`enabled` None: unknown, assume the default set)."""
    if is_global(service):
        return [GLOBAL_REGION], []
    offered = service_regions(service)
    usable = [region for region in offered if region in (enabled if enabled is not None else DEFAULT_ENABLED)]
    chosen: dict[str, None] = {}
    not_enabled: dict[str, None] = {}
    for pattern in patterns:
        if any(char in pattern for char in "*?["):
            chosen.update(dict.fromkeys(fnmatch.filter(usable, pattern)))
        elif pattern in usable:
            chosen[pattern] = None
        elif pattern in offered:
            not_enabled[pattern] = None
    return sorted(chosen), sorted(not_enabled)


def needs_account_regions(patterns: Iterable[str]) -> bool:
    """Whether the account's own enabled list matters: globs, or a region named outside the default set."""
    return any(any(c in p for c in "*?[") or p not in DEFAULT_ENABLED for p in patterns)


class EnabledRegions:
    """Each account's enabled regions (DescribeRegions), cached for an hour. Blocking, thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, frozenset[str]]] = {}

    def get(self, account: str, describe: Callable[[], list[str]]) -> frozenset[str]:
        """`describe` lists the account's enabled regions (an EC2 client's DescribeRegions)."""
        now = self._clock()
        with self._lock:
            cached = self._cached.get(account)
        if cached is not None and cached[0] > now:
            return cached[1]
        regions = frozenset(describe())
        with self._lock:
            self._cached[account] = (now + ENABLED_REGIONS_TTL_SECONDS, regions)
        return regions
