"""One guard for every AWS call: classify, apply the policy (the caller's role included), confirm destructive
calls, record.

Curated, generic and CLI tools all reach AWS through `AwsExecutor`, which hands each call here first:
`check` in the worker thread that then makes the call, `confirm` on the event loop when it is destructive.
The decisions land on the current `Invocation`; the tool layer writes the audit line.
"""

import logging
import re
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
from mcp.server.elicitation import render_elicitation_schema
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from catalog.classify import OpClass, classify
from core.calls import AwsCall, ResolvedTarget, Target
from core.clients import AwsClients
from core.errors import (
    ConfirmationDeclined,
    ConfirmationRejected,
    ConfirmationRequired,
    PolicyDenied,
    StateUnavailable,
)
from core.invocation import Invocation, current
from guard.audit import redact_params
from guard.confirm import ConfirmationTokens, TokenExpired, TokenRejected
from guard.policy import Decision, Policy, PolicyError
from observability.metrics import Metrics
from store import StoreUnavailable

log = logging.getLogger("aws_ops_mcp.guard")

INPUT_REQUIRED_VERSION = "2026-07-28"
CONFIRM_KEY = "confirm_destructive"
ACCOUNT_ID = re.compile(r"^\d{12}$")


class InputRequired(Exception):
    """Carries an `InputRequiredResult` (2026-07-28 elicitation) up to the tool layer, which returns it."""

    def __init__(self, result: InputRequiredResult) -> None:
        super().__init__("input required")
        self.result = result


class DestructiveConfirmation(BaseModel):
    confirm: bool = Field(description="Run this destructive operation")


class Guard:
    def __init__(
        self,
        policy: Policy,
        tokens: ConfirmationTokens,
        clients: AwsClients,
        auto_approve: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self.policy = policy
        self.tokens = tokens
        self.clients = clients
        self.auto_approve = auto_approve
        self.metrics = metrics or clients.metrics
        self._alias_accounts: dict[str, str] = {}
        self._check_section_names()

    def _check_section_names(self) -> None:
        """A policy section for an account nobody can name would never apply: refuse it at start-up."""
        settings = self.clients.settings
        for name in self.policy.document.accounts:
            if not ACCOUNT_ID.match(name) and settings.account(name) is None:
                known = ", ".join(sorted(settings.accounts)) or "none are configured"
                raise PolicyError(
                    f"{self.policy.source}: accounts.{name}: neither a 12-digit account id nor a configured account "
                    f"alias (ACCOUNT_<NAME>_ROLE_ARN or _PROFILE); known aliases: {known}"
                )

    def sections(self, target: ResolvedTarget) -> tuple[tuple[str, ...], str | None]:
        """The policy sections a call to `target` falls under, and the account id it reaches. Blocking.

        A section applies to its account however the call gets there: by alias, role ARN, profile or session
        keys. The account comes from the last role assumed, else the credentials' identity (cached).
        """
        try:
            account = self.clients.reached_account(target)
        except Exception:
            if self.policy.document.accounts:
                raise  # the policy cannot tell which rules apply: fail closed, with the credentials' own error
            return (target.alias,) if target.alias else (), None
        names = [account, *([target.alias] if target.alias else [])]
        names += [name for name in self.policy.document.accounts if self._alias_account(name) == account]
        return tuple(dict.fromkeys(names)), account

    def _alias_account(self, name: str) -> str | None:
        if ACCOUNT_ID.match(name):
            return None
        if name not in self._alias_accounts:
            alias = self.clients.settings.account(name)
            if alias is None:
                return None
            self._alias_accounts[name] = self.clients.reached_account(self.clients.resolve(Target(account=name)))
        return self._alias_accounts[name]

    def classify(self, call: AwsCall, sections: Sequence[str] = ()) -> OpClass:
        sections = sections or ((call.target.alias,) if call.target.alias else ())
        patterns = self.policy.destructive_patterns(sections, current().principal.role)
        return classify(call.service, call.operation, call.params, patterns)

    def decide(self, call: AwsCall) -> tuple[OpClass, Decision]:
        """The call's class and the policy's decision on it, without running the call. Blocking."""
        return self._decide(call, self.sections(call.target)[0])

    def _decide(self, call: AwsCall, sections: Sequence[str]) -> tuple[OpClass, Decision]:
        """The caller's role (from the principal the transport established) is part of every decision."""
        role = current().principal.role
        op_class = self.classify(call, sections)
        decision = self.policy.decide(call.service, call.operation, op_class, sections, role)
        for role_arn in self.clients.assumed_roles(call.target) if decision.allowed else ():
            refused = self.policy.check_role(role_arn, sections, role)
            if not refused.allowed:
                return op_class, refused
        return op_class, decision

    def auto_approves(self, invocation: Invocation) -> bool:
        """AWS_MCP_AUTO_APPROVE_DESTRUCTIVE skips confirmation for admins only: an operator always confirms."""
        return self.auto_approve and invocation.principal.role == "admin"

    def needs_confirmation(self, op_class: OpClass) -> bool:
        return op_class is OpClass.DESTRUCTIVE and not self.auto_approves(current())

    def check(self, call: AwsCall) -> OpClass:
        """Classify the call and apply the policy; record the decision on the invocation. Blocking-safe and
        synchronous, so the executor runs it in the same worker-thread hop as the call itself.

        Raises `PolicyDenied`; returns the class, and `confirm` must run first when it is destructive.
        """
        sections, account = self.sections(call.target)
        op_class, decision = self._decide(call, sections)
        current().calls.append(
            {
                "operation": call.qualified,
                "class": op_class.value,
                "decision": "allow" if decision.allowed else "deny",
                "rule": decision.rule,
                "target": {**call.target.describe(), "account_id": account},
                "params": call.params,
                "confirmation": None,
            }
        )
        if not decision.allowed:
            self.metrics.policy_denial(decision.rule)
            raise PolicyDenied(
                f"{call.service}:{call.operation} ({op_class.value}) refused by policy {self.policy.source}: "
                f"{decision.rule}",
                rule=decision.rule,
            )
        return op_class

    async def confirm(self, call: AwsCall) -> None:
        """Get the user's go-ahead for a destructive call that `check` allowed, or raise."""
        invocation = current()
        record = invocation.calls[-1]
        try:
            record["confirmation"] = await self._confirm(call, invocation, record)
        except ConfirmationDeclined:
            self.metrics.confirmation("declined")
            raise
        self.metrics.confirmation("auto_approved" if record["confirmation"] == "auto" else "used")

    async def _confirm(self, call: AwsCall, invocation: Invocation, record: dict[str, Any]) -> str:
        if self.auto_approves(invocation):
            record["warning"] = "AWS_MCP_AUTO_APPROVE_DESTRUCTIVE=true: ran without confirmation"
            return "auto"
        if invocation.confirmation_token:
            await self._redeem(invocation.confirmation_token, call, invocation)
            return "confirmed"
        ctx = invocation.context
        summary = self.describe(call)
        if ctx is not None and _supports_form_elicitation(ctx):
            message = f"Confirm: {summary}. This cannot be undone."
            if ctx.protocol_version and is_version_at_least(ctx.protocol_version, INPUT_REQUIRED_VERSION):
                return await self._confirm_by_input_required(call, invocation, ctx, message, record)
            if ctx.session.can_send_request:
                try:
                    result = await ctx.elicit(message, DestructiveConfirmation)
                except (MCPError, ValueError):
                    pass
                else:
                    self.metrics.confirmation("issued")
                    confirmed = getattr(getattr(result, "data", None), "confirm", False)
                    return _elicitation_outcome(result.action, confirmed, record)
        issued = self.tokens.issue(call, _holder(invocation))
        record["confirmation"] = "asked"
        self.metrics.confirmation("issued")
        raise ConfirmationRequired(
            f"confirmation required: {summary}",
            confirmation_token=issued.token,
            expires_at=issued.expires_at,
            action=summary,
        )

    async def _confirm_by_input_required(
        self, call: AwsCall, invocation: Invocation, ctx: Any, message: str, record: dict[str, Any]
    ) -> str:
        """2026-07-28 clients answer elicitations by retrying the call; the token rides `request_state`."""
        answer = (ctx.input_responses or {}).get(CONFIRM_KEY)
        if answer is None:
            issued = self.tokens.issue(call, _holder(invocation))
            record["confirmation"] = "asked"
            self.metrics.confirmation("issued")
            request = ElicitRequest(
                params=ElicitRequestFormParams(
                    message=message, requested_schema=render_elicitation_schema(DestructiveConfirmation)
                )
            )
            raise InputRequired(InputRequiredResult(input_requests={CONFIRM_KEY: request}, request_state=issued.token))
        await self._redeem(ctx.request_state or "", call, invocation)
        if not isinstance(answer, ElicitResult):
            raise ConfirmationRejected("the client answered the confirmation with something other than an elicitation")
        return _elicitation_outcome(answer.action, (answer.content or {}).get("confirm") is True, record)

    async def _redeem(self, token: str, call: AwsCall, invocation: Invocation) -> None:
        """Spend the token in a worker thread: the spent set is the state database, and the loop never waits on it."""
        try:
            await anyio.to_thread.run_sync(self.tokens.redeem, token, call, _holder(invocation))
        except TokenRejected as exc:
            event = "expired" if isinstance(exc, TokenExpired) else "rejected"
            self.metrics.confirmation(event)
            invocation.calls[-1]["confirmation"] = event
            raise ConfirmationRejected(f"confirmation token refused: {exc}") from None
        except StoreUnavailable as exc:
            log.error("confirmation not recorded: %s", exc)
            raise StateUnavailable("the confirmation could not be recorded, so the call did not run") from None

    @staticmethod
    def describe(call: AwsCall) -> str:
        """One line saying exactly what will happen, with the account id `check` found and the region."""
        target = current().calls[-1]["target"] if current().calls else {}
        account = target.get("account_id") or call.target.alias or "the default account"
        what = call.summary or f"{call.service} {call.operation} {redact_params(call.params, call.qualified)}"
        return f"{what} in account {account} {call.target.region}"


def _holder(invocation: Invocation) -> str:
    """Whom a confirmation token is issued to: the principal (not the connection, which a client may renew)."""
    return invocation.principal.subject


def _supports_form_elicitation(ctx: Any) -> bool:
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _elicitation_outcome(action: str, confirmed: bool, record: dict[str, Any]) -> str:
    if action == "accept" and confirmed:
        return "confirmed"
    record["confirmation"] = "declined" if action != "cancel" else "cancelled"
    raise ConfirmationDeclined(f"the user {'cancelled' if action == 'cancel' else 'declined'} the operation")
