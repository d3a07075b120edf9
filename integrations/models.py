"""An integration as the API takes and shows it, and what the outbox and health checks record about it.

`IntegrationSpec` is what a person sends (create, replace): every field checked here, so the store, the API and the
senders never see an unchecked value. `Integration` is what is shown back: the spec with its secrets masked, plus
its id, state and counters. Secrets (the webhook's signing secrets, auth credentials) are kept apart in
`IntegrationSecrets` and never shown after creation.
"""

import json
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog.classify import OpClass

MASK = "********"
SYSTEM_SUBJECT = "system:integrations"
"""The principal of integrations' own AWS calls (integrations/aws.py); its audit records make no events."""
SECRET_PREFIX = "whsec_"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$"
METADATA_BYTES = 8192


class IntegrationType(StrEnum):
    WEBHOOK = "WEBHOOK"
    REST_API = "REST_API"
    EVENT_BUS = "EVENT_BUS"
    MESSAGE_QUEUE = "MESSAGE_QUEUE"


class Direction(StrEnum):
    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"
    BIDIRECTIONAL = "BIDIRECTIONAL"


class State(StrEnum):
    CONFIGURING = "CONFIGURING"  # created, not yet tried
    TESTING = "TESTING"  # its first test or health check is under way
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"  # failure_threshold failures in a row; success_threshold good ones bring it back
    INACTIVE = "INACTIVE"  # disabled by a person, or by a receiver's 410 Gone
    DEPRECATED = "DEPRECATED"  # kept for its history, takes no events


RECEIVING = frozenset({State.CONFIGURING, State.TESTING, State.ACTIVE, State.ERROR})
"""States in which new events are queued for an integration."""


class AuthType(StrEnum):
    NONE = "NONE"
    API_KEY = "API_KEY"
    BASIC = "BASIC"
    BEARER_TOKEN = "BEARER_TOKEN"
    AWS_SIG_V4 = "AWS_SIG_V4"


class EventType(StrEnum):
    WRITE = "aws.write"
    DESTRUCTIVE = "aws.destructive"
    POLICY_DENIED = "policy.denied"
    CONFIRMATION_ISSUED = "confirmation.issued"
    CONFIRMATION_USED = "confirmation.used"
    CONFIRMATION_DECLINED = "confirmation.declined"
    CONFIRMATION_EXPIRED = "confirmation.expired"
    RATE_LIMITED = "call.rate_limited"
    CALL_FAILED = "call.failed"
    FLEET_QUERY = "fleet.query"
    STATE_CHANGED = "integration.state_changed"
    TEST = "integration.test"


HTTP_URL = re.compile(r"^https?://[^\s/?#@]+(/[^\s]*)?$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
FORBIDDEN_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    if len(headers) > 20:
        raise ValueError("at most 20 headers")
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            raise ValueError(f"header name {name[:64]!r} is not a valid HTTP token")
        if name.lower() in FORBIDDEN_HEADERS:
            raise ValueError(f"header {name!r} is set by the server")
        if len(value) > 1024 or any(ch in value for ch in "\r\n\0"):
            raise ValueError(f"header {name!r}: at most 1024 characters, no line breaks")
    return headers


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class Auth(Strict):
    """How a REST_API integration authenticates; credentials are write-only (masked when shown)."""

    type: AuthType = AuthType.NONE
    header_name: Annotated[str, Field(pattern=HEADER_NAME.pattern)] = Field(
        "X-API-Key", description="API_KEY: the header that carries the key"
    )
    api_key: str | None = Field(None, max_length=4096)
    username: str | None = Field(None, max_length=256)
    password: str | None = Field(None, max_length=4096)
    token: str | None = Field(None, max_length=8192)
    aws_account: str | None = Field(None, max_length=64, description="AWS_SIG_V4: the alias whose credentials sign")
    aws_region: str | None = Field(None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    aws_service: str = Field("execute-api", pattern=r"^[a-z0-9-]{1,64}$")

    @model_validator(mode="after")
    def _complete(self) -> "Auth":
        needed = {
            AuthType.API_KEY: ("api_key",),
            AuthType.BASIC: ("username", "password"),
            AuthType.BEARER_TOKEN: ("token",),
            AuthType.AWS_SIG_V4: ("aws_region",),
        }.get(self.type, ())
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth type {self.type.value} needs {', '.join(missing)}")
        return self

    def secret_fields(self) -> dict[str, str]:
        return {name: value for name in ("api_key", "password", "token") if (value := getattr(self, name))}

    def masked(self) -> "Auth":
        return self.model_copy(update={name: MASK for name in self.secret_fields()})


class HealthCheck(Strict):
    enabled: bool = True
    interval_seconds: int = Field(60, ge=10, le=86400)
    timeout_seconds: float = Field(5, gt=0, le=60)
    failure_threshold: int = Field(3, ge=1, le=100)
    success_threshold: int = Field(1, ge=1, le=100)
    endpoint: str | None = Field(None, max_length=2048, description="Default: the integration's endpoint")
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expected_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(
        default_factory=lambda: [200], min_length=1, max_length=20
    )
    body: str | None = Field(None, max_length=65536)
    headers: dict[str, str] = Field(default_factory=dict)

    _headers = field_validator("headers")(_check_headers)

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not HTTP_URL.match(value):
            raise ValueError("a health check endpoint is an http:// or https:// URL without credentials")
        return value


class Retry(Strict):
    """Exponential back-off with full jitter: attempt n waits a random time in [0, min(max, initial × factorⁿ)]."""

    max_attempts: int = Field(8, ge=1, le=50)
    initial_delay_seconds: float = Field(1, gt=0, le=3600)
    max_delay_seconds: float = Field(300, gt=0, le=86400)
    multiplier: float = Field(2, ge=1, le=10)


class IntegrationSpec(Strict):
    """What a person sends to create or replace an integration. `type` and `direction` are plain strings here (the
    schema lists the supported values) so that a seed's other types are refused with "not supported yet"."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "slack-relay", "type": "WEBHOOK", "endpoint": "https://hooks.example.com/aws-ops"},
                {
                    "name": "ops-bus",
                    "type": "EVENT_BUS",
                    "endpoint": "arn:aws:events:us-east-1:111111111111:event-bus/ops",
                    "events": ["aws.destructive", "policy.denied"],
                },
            ]
        }
    )

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str = Field("", max_length=1024)
    type: str = Field(
        description="WEBHOOK, REST_API, EVENT_BUS or MESSAGE_QUEUE",
        json_schema_extra={"enum": [kind.value for kind in IntegrationType]},
    )
    direction: str = Field("OUTBOUND", json_schema_extra={"enum": [Direction.OUTBOUND.value]})
    version: str = Field("1.0.0", pattern=r"^[0-9A-Za-z.+-]{1,32}$")
    endpoint: str = Field(
        max_length=2048, description="A URL; an EventBridge bus ARN; an SQS queue URL or SNS topic ARN"
    )
    secret: str | None = Field(
        None, description="WEBHOOK: a whsec_ signing secret; generated when not given, shown once"
    )
    auth: Auth = Field(default_factory=Auth)
    health_check: HealthCheck | None = None
    retry: Retry = Field(default_factory=Retry)
    timeout_seconds: float = Field(10, gt=0, le=60)
    rate_limit_per_minute: int = Field(60, ge=1, le=6000)
    concurrency: int = Field(2, ge=1, le=4, description="Deliveries to this integration in flight at once, per server")
    events: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=len(EventType) + 1)
    min_class: OpClass = Field(OpClass.WRITE, description="AWS-call events below this class are not sent")
    accounts: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=1000, description="Account ids or aliases; empty: every account"
    )
    aws_account: str | None = Field(
        None, max_length=64, description="EVENT_BUS, MESSAGE_QUEUE: the alias whose credentials send"
    )
    tags: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=256)]] = Field(
        default_factory=dict, max_length=50
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("type")
    @classmethod
    def _supported_type(cls, value: str) -> str:
        if value not in IntegrationType.__members__:
            supported = ", ".join(IntegrationType)
            raise ValueError(f"integration type {value[:64]!r} is not supported yet; supported: {supported}")
        return value

    @field_validator("direction")
    @classmethod
    def _outbound_only(cls, value: str) -> str:
        if value != Direction.OUTBOUND:
            known = value in Direction.__members__
            raise ValueError(
                f"direction {value[:64]!r} is {'not supported yet' if known else 'unknown'}; only OUTBOUND is"
            )
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        known = {event.value for event in EventType} | {"*"}
        unknown = [event[:64] for event in value if event not in known]
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {sorted(known)}")
        return list(dict.fromkeys(value))

    @field_validator("secret")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(rf"{SECRET_PREFIX}[A-Za-z0-9+/]{{32,128}}={{0,2}}", value):
            raise ValueError(f"a webhook secret is {SECRET_PREFIX} followed by 24 to 96 base64-encoded bytes")
        return value

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > METADATA_BYTES:
            raise ValueError(f"metadata is limited to {METADATA_BYTES} bytes of JSON")
        return value

    @model_validator(mode="after")
    def _endpoint_fits_type(self) -> "IntegrationSpec":
        kind = IntegrationType(self.type)
        if kind in (IntegrationType.WEBHOOK, IntegrationType.REST_API):
            if not HTTP_URL.match(self.endpoint):
                raise ValueError(f"a {kind.value} endpoint is an http:// or https:// URL without credentials")
        elif kind is IntegrationType.EVENT_BUS:
            if not re.fullmatch(
                r"arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[A-Za-z0-9._/-]{1,256}", self.endpoint
            ):
                raise ValueError("an EVENT_BUS endpoint is an EventBridge event bus ARN")
        elif not (
            re.fullmatch(
                r"https://sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?", self.endpoint
            )
            or re.fullmatch(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?", self.endpoint)
        ):
            raise ValueError("a MESSAGE_QUEUE endpoint is an SQS queue URL or an SNS topic ARN")
        if self.secret is not None and kind is not IntegrationType.WEBHOOK:
            raise ValueError("secret is for WEBHOOK integrations (REST_API authenticates with auth)")
        if self.auth.type is not AuthType.NONE and kind is not IntegrationType.REST_API:
            raise ValueError("auth is for REST_API integrations")
        if self.aws_account is not None and kind not in (IntegrationType.EVENT_BUS, IntegrationType.MESSAGE_QUEUE):
            raise ValueError("aws_account is for EVENT_BUS and MESSAGE_QUEUE integrations")
        return self

    @property
    def kind(self) -> IntegrationType:
        return IntegrationType(self.type)


class IntegrationReplacement(IntegrationSpec):
    """What PUT takes: the whole spec, and the one-way `deprecated` switch (the lifecycle: registry.replace)."""

    deprecated: bool = Field(
        False, description="true: DEPRECATED, kept for its history, takes no events; cannot be undone"
    )

    def spec(self) -> IntegrationSpec:
        return IntegrationSpec.model_validate(self.model_dump(exclude={"deprecated"}))


class IntegrationSecrets(BaseModel):
    """Kept apart from the definition; never shown after creation and never logged."""

    signing: list[str] = Field(default_factory=list, description="WEBHOOK: the current secret first")
    retiring_until: float | None = None  # the secrets after the first are dropped after this time
    auth: dict[str, str] = Field(default_factory=dict)


class Integration(BaseModel):
    """An integration as shown: its spec with credentials masked, its id, state and counters."""

    id: str
    name: str
    description: str
    type: IntegrationType
    direction: Direction
    version: str
    endpoint: str
    auth: Auth
    health_check: HealthCheck | None
    retry: Retry
    timeout_seconds: float
    rate_limit_per_minute: int
    concurrency: int = 2
    events: list[str]
    min_class: OpClass
    accounts: list[str]
    aws_account: str | None
    tags: dict[str, str]
    metadata: dict[str, Any]
    enabled: bool
    state: State
    state_reason: str | None
    revision: int
    consecutive_failures: int
    consecutive_successes: int
    created_at: float
    updated_at: float

    def spec(self, secrets: IntegrationSecrets) -> IntegrationSpec:
        """The spec again, credentials restored: what a sender works from."""
        fields = self.model_dump(mode="json", include=set(IntegrationSpec.model_fields) - {"secret", "auth"})
        auth = self.auth.model_copy(update=secrets.auth)
        return IntegrationSpec(**fields, auth=auth)


class Created(BaseModel):
    integration: Integration
    secret: str | None = Field(None, description="WEBHOOK: the signing secret; shown this once")


class IntegrationList(BaseModel):
    integrations: list[Integration] = Field(description="By name")


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret, shown this once; it signs from now on")
    overlap_seconds: float = Field(description="How long the previous secrets also sign (several signatures)")


class TestQueued(BaseModel):
    event_id: str = Field(description="The webhook-id receivers see")
    delivery_id: str


class Delivery(BaseModel):
    id: str
    integration_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None


class HealthResult(BaseModel):
    checked_at: float
    healthy: bool
    status: int | None = None
    latency_ms: float | None = None
    error: str | None = None


class Health(BaseModel):
    integration_id: str
    state: State
    consecutive_failures: int
    consecutive_successes: int
    next_check_at: float | None
    results: list[HealthResult] = Field(description="The latest first")
