"""One guard for every AWS call: classify, apply the policy, confirm destructive calls, record.

Curated, generic and CLI tools all reach AWS through `AwsExecutor`, which hands each call here first:
`check` in the worker thread that then makes the call, `confirm` on the event loop when it is destructive.
The decisions land on the current `Invocation`; the tool layer writes the audit line.
"""

from typing import Any

import anyio.to_thread
from mcp.server.elicitation import render_elicitation_schema
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from catalog.classify import OpClass, classify
from core.calls import AwsCall
from core.clients import AwsClients
from core.errors import ConfirmationDeclined, ConfirmationRejected, ConfirmationRequired, PolicyDenied
from core.invocation import Invocation, current
from guard.audit import redact_params
from guard.confirm import ConfirmationTokens, TokenRejected
from guard.policy import Decision, Policy

INPUT_REQUIRED_VERSION = "2026-07-28"
CONFIRM_KEY = "confirm_destructive"


class InputRequired(Exception):
    """Carries an `InputRequiredResult` (2026-07-28 elicitation) up to the tool layer, which returns it."""

    def __init__(self, result: InputRequiredResult) -> None:
        super().__init__("input required")
        self.result = result


class DestructiveConfirmation(BaseModel):
    confirm: bool = Field(description="Run this destructive operation")


class Guard:
    def __init__(
        self, policy: Policy, tokens: ConfirmationTokens, clients: AwsClients, auto_approve: bool = False
    ) -> None:
        self.policy = policy
        self.tokens = tokens
        self.clients = clients
        self.auto_approve = auto_approve

    def classify(self, call: AwsCall) -> OpClass:
        return classify(call.service, call.operation, call.params, self.policy.destructive_patterns(call.target.alias))

    def decide(self, call: AwsCall) -> tuple[OpClass, Decision]:
        """The call's class and the policy's decision on it, without running anything."""
        op_class = self.classify(call)
        decision = self.policy.decide(call.service, call.operation, op_class, call.target.alias)
        if decision.allowed and call.target.role_arn:
            role = self.policy.check_role(call.target.role_arn, call.target.alias)
            decision = decision if role.allowed else role
        return op_class, decision

    def needs_confirmation(self, op_class: OpClass) -> bool:
        return op_class is OpClass.DESTRUCTIVE and not self.auto_approve

    def check(self, call: AwsCall) -> OpClass:
        """Classify the call and apply the policy; record the decision on the invocation. Blocking-safe and
        synchronous, so the executor runs it in the same worker-thread hop as the call itself.

        Raises `PolicyDenied`; returns the class, and `confirm` must run first when it is destructive.
        """
        op_class, decision = self.decide(call)
        current().calls.append(
            {
                "operation": call.qualified,
                "class": op_class.value,
                "decision": "allow" if decision.allowed else "deny",
                "rule": decision.rule,
                "target": call.target.describe(),
                "params": call.params,
                "confirmation": None,
            }
        )
        if not decision.allowed:
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
        record["confirmation"] = await self._confirm(call, invocation, record)

    async def _confirm(self, call: AwsCall, invocation: Invocation, record: dict[str, Any]) -> str:
        if self.auto_approve:
            record["warning"] = "AWS_MCP_AUTO_APPROVE_DESTRUCTIVE=true: ran without confirmation"
            return "auto"
        if invocation.confirmation_token:
            self._redeem(invocation.confirmation_token, call, invocation)
            return "confirmed"
        ctx = invocation.context
        summary = await self.describe(call)
        if ctx is not None and _supports_form_elicitation(ctx):
            message = f"Confirm: {summary}. This cannot be undone."
            if ctx.protocol_version and is_version_at_least(ctx.protocol_version, INPUT_REQUIRED_VERSION):
                return self._confirm_by_input_required(call, invocation, ctx, message, record)
            if ctx.session.can_send_request:
                try:
                    result = await ctx.elicit(message, DestructiveConfirmation)
                except (MCPError, ValueError):
                    pass
                else:
                    confirmed = getattr(getattr(result, "data", None), "confirm", False)
                    return _elicitation_outcome(result.action, confirmed, record)
        issued = self.tokens.issue(call, invocation.caller)
        record["confirmation"] = "asked"
        raise ConfirmationRequired(
            f"confirmation required: {summary}",
            confirmation_token=issued.token,
            expires_at=issued.expires_at,
            action=summary,
        )

    def _confirm_by_input_required(
        self, call: AwsCall, invocation: Invocation, ctx: Any, message: str, record: dict[str, Any]
    ) -> str:
        """2026-07-28 clients answer elicitations by retrying the call; the token rides `request_state`."""
        answer = (ctx.input_responses or {}).get(CONFIRM_KEY)
        if answer is None:
            issued = self.tokens.issue(call, invocation.caller)
            record["confirmation"] = "asked"
            request = ElicitRequest(
                params=ElicitRequestFormParams(
                    message=message, requested_schema=render_elicitation_schema(DestructiveConfirmation)
                )
            )
            raise InputRequired(InputRequiredResult(input_requests={CONFIRM_KEY: request}, request_state=issued.token))
        self._redeem(ctx.request_state or "", call, invocation)
        if not isinstance(answer, ElicitResult):
            raise ConfirmationRejected("the client answered the confirmation with something other than an elicitation")
        return _elicitation_outcome(answer.action, (answer.content or {}).get("confirm") is True, record)

    def _redeem(self, token: str, call: AwsCall, invocation: Invocation) -> None:
        try:
            self.tokens.redeem(token, call, invocation.caller)
        except TokenRejected as exc:
            raise ConfirmationRejected(f"confirmation token refused: {exc}") from None

    async def describe(self, call: AwsCall) -> str:
        """One line saying exactly what will happen, with the account id and region."""
        account = call.target.role_account
        if account is None:
            try:
                account = await anyio.to_thread.run_sync(self.clients.account_id, call.target)
            except Exception:  # noqa: BLE001 - the description must not fail the call; AWS will say why
                account = call.target.alias or "the default account"
        what = call.summary or f"{call.service} {call.operation} {redact_params(call.params, call.qualified)}"
        return f"{what} in account {account} {call.target.region}"


def _supports_form_elicitation(ctx: Any) -> bool:
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _elicitation_outcome(action: str, confirmed: bool, record: dict[str, Any]) -> str:
    if action == "accept" and confirmed:
        return "confirmed"
    record["confirmation"] = "declined" if action != "cancel" else "cancelled"
    raise ConfirmationDeclined(f"the user {'cancelled' if action == 'cancel' else 'declined'} the operation")
