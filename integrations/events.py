"""From an audit record to the events integrations receive, and which integrations receive each.

An audit record (tooling.audit_record) becomes zero or more events:

    aws.write, aws.destructive     a call of that class that returned (outcome ok); the highest class of its calls
    policy.denied                  the policy refused the call (decision deny)
    confirmation.issued            a destructive call asked for confirmation (a token or an elicitation)
    confirmation.used              a confirmation was accepted and the call ran
    confirmation.declined          the user declined or cancelled
    confirmation.expired           the call came back with an expired token
    call.rate_limited              the caller's rate limit refused the call
    fleet.query                    fleet_query or refresh_inventory ran (counts, never results)
    call.failed                    any other outcome that is an error code

The payload keeps only named safe fields of the record (never `params`, `calls`, the MCP session, a stored
result's handle or anything the audit does not already publish), plus the principal, the account id and a
one-line summary without links.
"""

import re
from dataclasses import dataclass
from typing import Any

from catalog.classify import OpClass
from config import Settings
from integrations.models import SYSTEM_SUBJECT, EventType, Integration

CLASS_RANK = {OpClass.READ: 0, OpClass.SENSITIVE: 1, OpClass.WRITE: 2, OpClass.DESTRUCTIVE: 3}
FLEET_TOOLS = frozenset({"fleet_query", "refresh_inventory"})
SAFE_FIELDS = (
    "transaction_id",
    "time",
    "principal",
    "auth",
    "role",
    "tool",
    "operation",
    "class",
    "decision",
    "rule",
    "confirmation",
    "outcome",
    "duration_ms",
    "warning",
)
SAFE_TARGET = ("account", "account_id", "region", "role_arn", "profile")
SAFE_FLEET = ("service", "operation", "accounts", "regions", "targets", "dry_run", "listings", "counts", "changes")
OWN_EVENT_OUTCOMES = frozenset(
    {"ok", "input_required", "confirmation_required", "policy_denied", "rate_limited", "confirmation_declined"}
)
"""Outcomes that are not `call.failed`: success, a pending confirmation, and refusals with events of their own."""
CLASSLESS = frozenset({EventType.FLEET_QUERY, EventType.RATE_LIMITED, EventType.STATE_CHANGED, EventType.TEST})
"""Events `min_class` does not filter: they are not one AWS call."""
LINK = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15})://")


@dataclass(frozen=True)
class Event:
    type: EventType
    payload: dict[str, Any]

    @property
    def op_class(self) -> OpClass | None:
        value = self.payload.get("class")
        return OpClass(value) if value in OpClass._value2member_map_ else None

    @property
    def account_id(self) -> str | None:
        return (self.payload.get("target") or {}).get("account_id")

    @property
    def account_alias(self) -> str | None:
        return (self.payload.get("target") or {}).get("account")


def events_for(record: dict[str, Any]) -> list[Event]:
    """The events one audit record makes (often none: a read that succeeded makes none). Integrations' own AWS
    calls (a delivery to EventBridge or SQS, a health probe) make none: each would be an event to deliver."""
    if record.get("principal") == SYSTEM_SUBJECT:
        return []
    types = event_types(record)
    if not types:
        return []
    payload = safe_payload(record)
    return [Event(kind, {**payload, "summary": summary(kind, payload)}) for kind in types]


def event_types(record: dict[str, Any]) -> list[EventType]:
    outcome = str(record.get("outcome") or "")
    confirmation = record.get("confirmation")
    types: list[EventType] = []
    if record.get("decision") == "deny":
        types.append(EventType.POLICY_DENIED)
    if confirmation == "asked":
        types.append(EventType.CONFIRMATION_ISSUED)
    elif confirmation == "confirmed":
        types.append(EventType.CONFIRMATION_USED)
    elif confirmation in ("declined", "cancelled"):
        types.append(EventType.CONFIRMATION_DECLINED)
    elif confirmation == "expired":
        types.append(EventType.CONFIRMATION_EXPIRED)
    if outcome == "rate_limited":
        types.append(EventType.RATE_LIMITED)
    if outcome == "ok":
        if record.get("tool") in FLEET_TOOLS:
            types.append(EventType.FLEET_QUERY)
        highest = highest_class(record)
        if highest is OpClass.DESTRUCTIVE:
            types.append(EventType.DESTRUCTIVE)
        elif highest is OpClass.WRITE:
            types.append(EventType.WRITE)
    elif outcome not in OWN_EVENT_OUTCOMES and confirmation != "expired":
        types.append(EventType.CALL_FAILED)
    return types


def highest_class(record: dict[str, Any]) -> OpClass | None:
    """The highest class among the record's AWS calls that the policy allowed."""
    calls = record.get("calls") or [record]
    classes = [
        OpClass(call["class"])
        for call in calls
        if isinstance(call, dict) and call.get("class") in OpClass._value2member_map_ and call.get("decision") != "deny"
    ]
    return max(classes, key=CLASS_RANK.__getitem__, default=None)


def safe_payload(record: dict[str, Any]) -> dict[str, Any]:
    payload = {name: record[name] for name in SAFE_FIELDS if record.get(name) is not None}
    highest = highest_class(record)
    if highest is not None:
        payload["class"] = highest.value
    target = record.get("target")
    if isinstance(target, dict):
        payload["target"] = {name: target[name] for name in SAFE_TARGET if target.get(name) is not None}
    fleet = record.get("fleet")
    if isinstance(fleet, dict):
        payload["fleet"] = {name: fleet[name] for name in SAFE_FLEET if name in fleet}
    return payload


def summary(kind: EventType, payload: dict[str, Any]) -> str:
    """One line a chat message can show as is: who, what, where, how it ended; no links."""
    who = f"{payload.get('principal', 'someone')} ({payload.get('role', '?')})"
    operation = payload.get("operation")
    what = operation or payload.get("tool") or "a tool call"
    target = payload.get("target") or {}
    where = target.get("account_id") or target.get("account")
    place = f" in account {where}" + (f" {target['region']}" if target.get("region") else "") if where else ""
    lines = {
        EventType.WRITE: f"{who} wrote: {what}{place}",
        EventType.DESTRUCTIVE: f"{who} ran destructive {what}{place}",
        EventType.POLICY_DENIED: f"policy refused {what}{place} to {who} ({payload.get('rule', '')})",
        EventType.CONFIRMATION_ISSUED: f"{who} was asked to confirm {what}{place}",
        EventType.CONFIRMATION_USED: f"{who} confirmed {what}{place}",
        EventType.CONFIRMATION_DECLINED: f"{who} declined {what}{place}",
        EventType.CONFIRMATION_EXPIRED: f"{who} came back with an expired confirmation for {what}{place}",
        EventType.RATE_LIMITED: f"{who} was rate limited calling {payload.get('tool', 'a tool')}",
        EventType.FLEET_QUERY: f"{who} ran {payload.get('tool')}" + (f" {operation}" if operation else ""),
        EventType.CALL_FAILED: f"{who}: {payload.get('tool')} {what}{place} failed ({payload.get('outcome')})",
    }
    return unlinked(lines.get(kind, f"{kind.value}: {what}"))


def unlinked(text: str) -> str:
    """`text` with nothing a chat client turns into a link: no `scheme://`, no `<...>` markup."""
    return LINK.sub(r"\1: ", text).replace("<", "(").replace(">", ")")[:500]


def state_change_payload(integration_id: str, name: str, old: str, new: str, reason: str | None) -> dict[str, Any]:
    text = f"integration {name} went from {old} to {new}" + (f": {reason}" if reason else "")
    return {
        "integration_id": integration_id,
        "integration": name,
        "old_state": old,
        "new_state": new,
        "reason": reason,
        "summary": unlinked(text),
    }


class Filter:
    """Whether an integration takes an event: its `events`, `min_class` and `accounts`.

    `accounts` holds ids or aliases; an alias counts as the account id of its role ARN, and, for an alias
    without one (a profile), as its name matched against the alias the call named. An event that names no
    account (a fleet query, an integration's state change) passes the accounts filter."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def accepts(self, integration: Integration, event: Event) -> bool:
        if "*" not in integration.events and event.type.value not in integration.events:
            return False
        if event.type not in CLASSLESS:
            op_class = event.op_class or OpClass.READ
            if CLASS_RANK[op_class] < CLASS_RANK[integration.min_class]:
                return False
        if integration.accounts and (event.account_id or event.account_alias):
            ids, aliases = self.accounts_of(integration)
            alias = (event.account_alias or "").strip().lower().replace("-", "_")
            return event.account_id in ids or (bool(alias) and alias in aliases)
        return True

    def accounts_of(self, integration: Integration) -> tuple[set[str], set[str]]:
        ids: set[str] = set()
        aliases: set[str] = set()
        for entry in integration.accounts:
            if re.fullmatch(r"\d{12}", entry):
                ids.add(entry)
                continue
            alias = self.settings.account(entry)
            if alias is not None and alias.role_arn:
                ids.add(alias.role_arn.split(":")[4])
            aliases.add(entry.strip().lower().replace("-", "_"))
        return ids, aliases
