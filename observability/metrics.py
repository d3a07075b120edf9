"""Prometheus metrics, one registry per app instance (tests serve several apps in one process).

Every label takes values from a bounded set: tool names the server registered, MCP methods of the
specification, botocore's service and operation names, error codes, policy rule *keys* (never a rule's full
text, which quotes parameters), fixed event names. No label ever holds a principal, a parameter or a target.

    aws_mcp_tool_calls_total{tool, outcome}                 outcome: ok, input_required, or the error code
    aws_mcp_tool_calls_in_flight
    mcp_server_operation_duration_seconds{mcp_method_name, gen_ai_tool_name, error_type}
                                                            every MCP request (OpenTelemetry MCP conventions)
    aws_mcp_aws_calls_total{service, operation, error_code} error_code "" when AWS answered 2xx
    aws_mcp_assume_role_calls_total
    aws_mcp_cache_lookups_total{cache, result}              cache: credentials, client, account_id; result: hit, miss
    aws_mcp_confirmations_total{event}                      issued, used, declined, expired, rejected, auto_approved
    aws_mcp_policy_denials_total{rule}                      rule: the key that refused (rules.deny[0], read_only...)
    aws_mcp_rate_limited_total{limit}                       limit: principal (tool calls), client_ip (HTTP requests)
    aws_mcp_integration_events_dropped_total                events lost because the integrations queue was full
    aws_mcp_integration_deliveries_total{type, outcome}     attempts: delivered, retry, dead
    aws_mcp_server_info{version}
    process_*                                               CPU, memory, file descriptors of this process

This module imports nothing of the server's own: every layer may count through it.
"""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # a `_created` series beside every counter and histogram would double the scrape

OPERATION_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""The buckets OpenTelemetry's MCP semantic conventions advise for `mcp.server.operation.duration`."""
CACHES = ("credentials", "client", "account_id")
CONFIRMATION_EVENTS = ("issued", "used", "declined", "expired", "rejected", "auto_approved")
LIMITS = ("principal", "client_ip")
RULE_KEY = re.compile(r"[\w.\[\]-]{1,120}")
"""The key a policy decision names first: `accounts.prod.rules.deny[0]`, `read_only`, `AWS_MCP_READ_ONLY`."""
AWS_CALL = "aws_mcp.call"
"""Where `before-call` leaves the service and operation for `after-call-error`, which botocore gives neither."""
Register = Callable[[str, Callable[..., Any]], None]


def rule_key(rule: str) -> str:
    """The bounded part of a policy decision's rule: its key, without the pattern or the call it quotes."""
    match = RULE_KEY.match(rule)
    return match.group(0) if match else "other"


class Metrics:
    """The metric families of one app instance, in their own registry."""

    def __init__(self, version: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        registry = self.registry
        self.tool_calls = Counter(
            "aws_mcp_tool_calls",
            "Tool calls by tool and outcome (ok, or the error code).",
            ["tool", "outcome"],
            registry=registry,
        )
        self.tools_in_flight = Gauge("aws_mcp_tool_calls_in_flight", "Tool calls running now.", registry=registry)
        self.operation_duration = Histogram(
            "mcp_server_operation_duration_seconds",
            "MCP requests as the server handled them (OpenTelemetry mcp.server.operation.duration).",
            ["mcp_method_name", "gen_ai_tool_name", "error_type"],
            buckets=OPERATION_BUCKETS,
            registry=registry,
        )
        self.aws_calls = Counter(
            "aws_mcp_aws_calls",
            'AWS API calls (pages and retries of one call count once); error_code is "" on success.',
            ["service", "operation", "error_code"],
            registry=registry,
        )
        self.assume_role_calls = Counter("aws_mcp_assume_role_calls", "sts:AssumeRole calls made.", registry=registry)
        self.cache_lookups = Counter(
            "aws_mcp_cache_lookups",
            "Credential, client and account-id cache lookups.",
            ["cache", "result"],
            registry=registry,
        )
        self.confirmations = Counter(
            "aws_mcp_confirmations", "Confirmations of destructive calls by event.", ["event"], registry=registry
        )
        self.policy_denials = Counter(
            "aws_mcp_policy_denials",
            "Calls the policy refused, by the key of the rule that refused.",
            ["rule"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "aws_mcp_rate_limited", "Calls and requests refused by a rate limit.", ["limit"], registry=registry
        )
        self.integration_events_dropped = Counter(
            "aws_mcp_integration_events_dropped",
            "Integration events dropped because the in-memory queue before the outbox was full.",
            registry=registry,
        )
        self.integration_deliveries = Counter(
            "aws_mcp_integration_deliveries",
            "Delivery attempts to integrations by type (WEBHOOK...) and outcome (delivered, retry, dead).",
            ["type", "outcome"],
            registry=registry,
        )
        Gauge("aws_mcp_server_info", "This server's version.", ["version"], registry=registry).labels(version).set(1)
        ProcessCollector(registry=registry)
        self._lookups = {
            (cache, hit): self.cache_lookups.labels(cache, "hit" if hit else "miss")
            for cache in CACHES
            for hit in (True, False)
        }
        for event in CONFIRMATION_EVENTS:
            self.confirmations.labels(event)
        for limit in LIMITS:
            self.rate_limited.labels(limit)

    def cache_lookup(self, cache: str, hit: bool) -> None:
        self._lookups[(cache, hit)].inc()

    def confirmation(self, event: str) -> None:
        self.confirmations.labels(event).inc()

    def policy_denial(self, rule: str) -> None:
        self.policy_denials.labels(rule_key(rule)).inc()

    @contextmanager
    def tool_call(self, tool: str) -> Iterator[list[str]]:
        """Count one tool call, in flight while the block runs; the block sets `outcome[0]`."""
        outcome = ["ok"]
        self.tools_in_flight.inc()
        try:
            yield outcome
        finally:
            self.tools_in_flight.dec()
            self.tool_calls.labels(tool, outcome[0]).inc()

    def watch_aws(self, register: Register) -> None:
        """Count every AWS call of the clients `register` reaches (`AwsClients.on`: clients created after this)."""
        register("before-call", _remember_call)
        register("after-call", self._after_call)
        register("after-call-error", self._after_call_error)

    def _after_call(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        code = ""
        if http_response.status_code >= 300:
            error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
            code = str(context.get("error_code_override") or error.get("Code") or http_response.status_code)
        self.aws_calls.labels(model.service_model.service_name, model.name, code).inc()

    def _after_call_error(self, exception: BaseException, context: dict[str, Any], event_name: str, **_: Any) -> None:
        service, operation = context.get(AWS_CALL) or event_name.split(".")[1:3]
        self.aws_calls.labels(service, operation, type(exception).__name__).inc()

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _remember_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    context[AWS_CALL] = (model.service_model.service_name, model.name)
