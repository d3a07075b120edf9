"""The integrations registry on both stores: lifecycle, secrets shown once and masked after, the state machine,
health check claims that one replica wins."""

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from standardwebhooks import Webhook

from integrations.models import MASK, HealthResult, IntegrationSpec, State
from integrations.registry import (
    Conflict,
    IntegrationNotFound,
    IntegrationRegistry,
    Invalid,
    NameTaken,
    RevisionMismatch,
    Transition,
)
from store.tables import integrations
from tests.conftest import Clock

HOOK = "https://hooks.example.test/aws-ops"


@pytest.fixture
def transitions() -> list[Transition]:
    return []


@pytest.fixture
def registry(store, clock: Clock, transitions: list[Transition]) -> IntegrationRegistry:
    return IntegrationRegistry(store, clock=clock, on_transition=lambda _connection, change: transitions.append(change))


def webhook(**changes) -> IntegrationSpec:
    return IntegrationSpec(**{"name": "slack", "type": "WEBHOOK", "endpoint": HOOK, **changes})


def test_a_webhook_gets_a_secret_shown_once_that_standard_webhooks_accepts(registry: IntegrationRegistry) -> None:
    created, secret = registry.create(webhook())
    assert secret is not None and secret.startswith("whsec_")
    assert created.state is State.CONFIGURING and created.revision == 1
    assert secret not in created.model_dump_json()
    assert registry.secrets(created.id).signing == [secret]
    Webhook(secret)  # a secret the reference implementation can load


def test_credentials_are_masked_when_shown_and_kept_when_sent_back_masked(registry: IntegrationRegistry, store) -> None:
    spec = IntegrationSpec(name="siem", type="REST_API", endpoint=HOOK, auth={"type": "BEARER_TOKEN", "token": "t0k3n"})
    created, secret = registry.create(spec)
    assert secret is None
    assert created.auth.token == MASK
    with store.reading() as connection:
        definition = connection.execute(select(integrations.c.definition)).scalar_one()
    assert "t0k3n" not in definition
    shown = created.model_dump(mode="json", exclude={"id", "state", "state_reason", "revision"})
    fields = {k: v for k, v in shown.items() if k in IntegrationSpec.model_fields}
    replaced = registry.replace(created.id, IntegrationSpec(**{**fields, "description": "SIEM"}))
    assert replaced.description == "SIEM" and replaced.revision == 2
    assert registry.secrets(created.id).auth == {"token": "t0k3n"}
    assert registry.get(created.id).spec(registry.secrets(created.id)).auth.token == "t0k3n"


def test_names_are_unique_and_revisions_guard_replacements(registry: IntegrationRegistry) -> None:
    created, _ = registry.create(webhook())
    with pytest.raises(NameTaken):
        registry.create(webhook())
    with pytest.raises(RevisionMismatch):
        registry.replace(created.id, webhook(description="late"), expected_revision=7)
    registry.delete(created.id)
    with pytest.raises(IntegrationNotFound):
        registry.get(created.id)


def test_rotation_signs_with_both_secrets_until_the_overlap_ends(registry: IntegrationRegistry, clock: Clock) -> None:
    created, first = registry.create(webhook())
    second = registry.rotate_secret(created.id, overlap_seconds=3600)
    assert registry.secrets(created.id).signing == [second, first]
    clock.advance(3601)
    assert registry.secrets(created.id).signing == [second]


def test_failures_past_the_threshold_mean_error_and_successes_bring_it_back(
    registry: IntegrationRegistry, transitions: list[Transition]
) -> None:
    created, _ = registry.create(webhook(health_check={"failure_threshold": 2, "success_threshold": 2}))
    assert registry.record_outcome(created.id, ok=True).new is State.ACTIVE
    registry.record_outcome(created.id, ok=False, reason="503")
    assert registry.record_outcome(created.id, ok=False, reason="503").new is State.ERROR
    assert registry.record_outcome(created.id, ok=True) is None
    assert registry.record_outcome(created.id, ok=True).new is State.ACTIVE
    assert [(t.old, t.new) for t in transitions] == [
        (State.CONFIGURING, State.ACTIVE),
        (State.ACTIVE, State.ERROR),
        (State.ERROR, State.ACTIVE),
    ]
    registry.set_state(created.id, State.INACTIVE, "410 Gone")
    assert registry.get(created.id).enabled is False
    assert registry.record_outcome(created.id, ok=False) is None
    assert registry.receiving() == []


def test_one_claimant_runs_each_health_check(registry: IntegrationRegistry, clock: Clock) -> None:
    created, _ = registry.create(webhook(health_check={"interval_seconds": 30}))
    assert [i.id for i, _ in registry.claim_due_checks(holder_seconds=10)] == [created.id]
    assert registry.claim_due_checks(holder_seconds=10) == []  # another replica finds it held
    registry.record_health(created.id, HealthResult(checked_at=clock.now, healthy=True, status=200, latency_ms=3.0))
    assert registry.claim_due_checks(holder_seconds=10) == []  # next one in 30 s
    clock.advance(31)
    assert len(registry.claim_due_checks(holder_seconds=10)) == 1
    health = registry.health(created.id)
    assert health.state is State.ACTIVE and health.results[0].status == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "GRPC"}, "not supported yet"),
        ({"direction": "INBOUND"}, "not supported yet"),
        ({"endpoint": "ftp://x"}, "http:// or https:// URL"),
        ({"endpoint": "https://user:pw@x.test/"}, "without credentials"),
        ({"secret": "whsec_short"}, "webhook secret"),
        ({"events": ["aws.write", "nope"]}, "unknown event types"),
        ({"health_check": {"headers": {"Host": "x"}}}, "set by the server"),
        ({"health_check": {"endpoint": "file:///etc/passwd"}}, "health check endpoint is an http"),
        ({"health_check": {"headers": {"X-A": "a\r\nb"}}}, "no line breaks"),
        ({"metadata": {"x": "y" * 9000}}, "8192 bytes"),
        ({"auth": {"type": "API_KEY"}}, "needs api_key"),
    ],
)
def test_invalid_definitions_are_refused_with_the_reason(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        webhook(**changes)
    assert message in str(refused.value)


def test_aws_targets_need_their_arns() -> None:
    bus = "arn:aws:events:us-east-1:111111111111:event-bus/ops"
    assert IntegrationSpec(name="bus", type="EVENT_BUS", endpoint=bus).kind.value == "EVENT_BUS"
    queue = "https://sqs.us-east-1.amazonaws.com/111111111111/ops-events"
    assert IntegrationSpec(name="q", type="MESSAGE_QUEUE", endpoint=queue, aws_account="prod")
    with pytest.raises(ValidationError):
        IntegrationSpec(name="bus", type="EVENT_BUS", endpoint=HOOK)
    assert json.loads(IntegrationSpec(name="q", type="MESSAGE_QUEUE", endpoint=queue).model_dump_json())["events"] == [
        "*"
    ]


def test_a_person_disables_enables_and_deprecates_for_good(
    registry: IntegrationRegistry, transitions: list[Transition]
) -> None:
    created, _ = registry.create(webhook())
    assert registry.start_test(created.id).state is State.TESTING
    assert registry.replace(created.id, webhook(enabled=False)).state is State.INACTIVE
    with pytest.raises(Conflict, match="enable it first"):
        registry.start_test(created.id)
    assert registry.replace(created.id, webhook()).state is State.CONFIGURING
    deprecated = registry.replace(created.id, webhook(), deprecated=True)
    assert deprecated.state is State.DEPRECATED and deprecated.enabled is False
    with pytest.raises(Conflict, match="stays deprecated"):
        registry.replace(created.id, webhook())
    with pytest.raises(Conflict, match="type cannot change"):
        registry.replace(created.id, IntegrationSpec(name="slack", type="REST_API", endpoint=HOOK), deprecated=True)
    assert [t.new for t in transitions] == [State.TESTING, State.INACTIVE, State.CONFIGURING, State.DEPRECATED]


def test_the_mask_stands_only_for_a_stored_credential(registry: IntegrationRegistry) -> None:
    with pytest.raises(Invalid, match=r"auth\.token"):
        registry.create(
            IntegrationSpec(name="x", type="REST_API", endpoint=HOOK, auth={"type": "BEARER_TOKEN", "token": MASK})
        )
    created, _ = registry.create(
        IntegrationSpec(name="x", type="REST_API", endpoint=HOOK, auth={"type": "BEARER_TOKEN", "token": "t"})
    )
    with pytest.raises(Invalid, match=r"auth\.api_key"):
        registry.replace(
            created.id,
            IntegrationSpec(name="x", type="REST_API", endpoint=HOOK, auth={"type": "API_KEY", "api_key": MASK}),
        )
