"""The AWS Organization's member accounts, as AWS_MCP_ORG_SOURCE sees them: active accounts, the OUs each sits
under (nested OUs included) and, when a selector asks, their tags. Cached for a few minutes: a fleet query
should not list the organization every time. Blocking; called from worker threads."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

ACCOUNTS_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class MemberAccount:
    id: str
    name: str
    parents: tuple[str, ...] = ()
    """Every OU and the root above the account, nearest first."""
    tags: dict[str, str] | None = field(default=None, compare=False)


def _pages(client: BaseClient, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page[key]]


def list_members(client: BaseClient) -> list[MemberAccount]:
    """Active accounts with their ancestry: ListRoots, then each parent's OUs and accounts, breadth first."""
    active = {
        account["Id"]: account["Name"]
        for account in _pages(client, "list_accounts", "Accounts")
        if account.get("State", account.get("Status")) == "ACTIVE"
    }
    members: dict[str, MemberAccount] = {}
    frontier = [(root["Id"], ()) for root in _pages(client, "list_roots", "Roots")]
    while frontier:
        parent, above = frontier.pop(0)
        ancestry = (parent, *above)
        for account in _pages(client, "list_accounts_for_parent", "Accounts", ParentId=parent):
            if account["Id"] in active:
                members[account["Id"]] = MemberAccount(account["Id"], active[account["Id"]], ancestry)
        for unit in _pages(client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent):
            frontier.append((unit["Id"], ancestry))
    for account_id, name in active.items():  # an account the walk missed (moved mid-walk): still a member
        members.setdefault(account_id, MemberAccount(account_id, name))
    return sorted(members.values(), key=lambda member: member.id)


class Organization:
    """Member accounts and tags, cached per source for ACCOUNTS_TTL_SECONDS."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, list[MemberAccount]]] = {}
        self._tags: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}

    def members(self, source: str, client: Callable[[], BaseClient]) -> list[MemberAccount]:
        now = self._clock()
        with self._lock:
            cached = self._members.get(source)
        if cached is not None and cached[0] > now:
            return cached[1]
        members = list_members(client())
        with self._lock:
            self._members[source] = (now + ACCOUNTS_TTL_SECONDS, members)
        return members

    def tags(self, source: str, account: str, client: Callable[[], BaseClient]) -> dict[str, str]:
        now = self._clock()
        with self._lock:
            cached = self._tags.get((source, account))
        if cached is not None and cached[0] > now:
            return cached[1]
        listed = _pages(client(), "list_tags_for_resource", "Tags", ResourceId=account)
        tags = {tag["Key"]: tag["Value"] for tag in listed}
        with self._lock:
            self._tags[(source, account)] = (now + ACCOUNTS_TTL_SECONDS, tags)
        return tags
