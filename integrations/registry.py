"""The integrations in the shared store: create, read, replace, delete, their secrets and their state machine.

Blocking (SQLAlchemy): worker threads only. Every change bumps `revision`. A state change is saved in the same
transaction as whatever `on_transition` writes for it (the outbox's `integration.state_changed` event), so a
transition is never lost or announced twice.
"""

import base64
import json
import secrets as random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from integrations.models import (
    MASK,
    RECEIVING,
    SECRET_PREFIX,
    Health,
    HealthResult,
    Integration,
    IntegrationSecrets,
    IntegrationSpec,
    IntegrationType,
    State,
)
from store.database import Store
from store.tables import integration_deliveries, integration_health, integrations

ROTATION_OVERLAP_SECONDS = 24 * 3600
HEALTH_KEPT = 50
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_SUCCESS_THRESHOLD = 1


class IntegrationNotFound(KeyError):
    def __str__(self) -> str:
        return f"no integration with id {self.args[0]!r}"


class NameTaken(ValueError):
    def __str__(self) -> str:
        return f"an integration named {self.args[0]!r} exists already"


class RevisionMismatch(ValueError):
    """The integration changed since the revision the caller read (If-Match)."""


class Conflict(ValueError):
    """The integration's type or state does not allow the change (a new type, a DEPRECATED one re-enabled)."""


class Invalid(ValueError):
    """A definition the spec's own checks cannot refuse alone (a masked credential with nothing stored behind it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Transition:
    integration_id: str
    name: str
    old: State
    new: State
    reason: str | None


OnTransition = Callable[[Connection, Transition], None]


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(24)).decode()


def new_id() -> str:
    return uuid.uuid4().hex


class IntegrationRegistry:
    def __init__(
        self, store: Store, clock: Callable[[], float] = time.time, on_transition: OnTransition | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self.on_transition = on_transition

    def create(self, spec: IntegrationSpec) -> tuple[Integration, str | None]:
        """The integration, and its webhook secret (generated when the spec had none): the only time it is shown."""
        for name, value in spec.auth.secret_fields().items():
            if value == MASK:
                raise Invalid(f"auth.{name}", "send the credential itself; the mask stands for a stored one")
        now = self._clock()
        secret = (spec.secret or new_secret()) if spec.kind is IntegrationType.WEBHOOK else None
        keys = IntegrationSecrets(signing=[secret] if secret else [], auth=spec.auth.secret_fields())
        integration_id = new_id()
        row = {
            "id": integration_id,
            "name": spec.name,
            "type": spec.type,
            "state": State.CONFIGURING if spec.enabled else State.INACTIVE,
            "state_reason": None if spec.enabled else "created disabled",
            "enabled": spec.enabled,
            "definition": _definition(spec),
            "secrets": keys.model_dump_json(),
            "revision": 1,
            "failures": 0,
            "successes": 0,
            "created_at": now,
            "updated_at": now,
            "next_check_at": _first_check(spec, now),
            "check_claimed_until": None,
        }
        with self._store.transaction() as connection:
            if not self._store.insert_new(connection, integrations, row):
                raise NameTaken(spec.name)
        return self.get(integration_id), secret

    def get(self, integration_id: str) -> Integration:
        with self._store.reading() as connection:
            row = connection.execute(select(integrations).where(integrations.c.id == integration_id)).mappings().first()
        if row is None:
            raise IntegrationNotFound(integration_id)
        return _integration(row)

    def all(self) -> list[Integration]:
        with self._store.reading() as connection:
            rows = connection.execute(select(integrations).order_by(integrations.c.name)).mappings().all()
        return [_integration(row) for row in rows]

    def receiving(self) -> list[tuple[Integration, IntegrationSecrets]]:
        """Integrations that take new events, with their secrets: for the outbox and the senders."""
        with self._store.reading() as connection:
            return receiving_in(connection, self._clock())

    def secrets(self, integration_id: str) -> IntegrationSecrets:
        """The live secrets; a rotated-out signing secret is dropped once its overlap has passed."""
        with self._store.reading() as connection:
            row = connection.execute(select(integrations).where(integrations.c.id == integration_id)).mappings().first()
        if row is None:
            raise IntegrationNotFound(integration_id)
        return _secrets(row, self._clock())

    def replace(
        self,
        integration_id: str,
        spec: IntegrationSpec,
        expected_revision: int | None = None,
        deprecated: bool = False,
    ) -> Integration:
        """A new definition. Credentials sent as the mask keep their stored values; a new webhook `secret` in the
        spec replaces the signing secrets at once (use rotate_secret for an overlap).

        The person's lifecycle: `deprecated` → DEPRECATED (no events, no checks; one way: a deprecated integration
        is kept for its history, a new one replaces it); else `enabled: false` → INACTIVE; else an INACTIVE one
        is enabled again → CONFIGURING (tried anew). Otherwise the state stays: a definition is not a result."""
        now = self._clock()
        with self._store.transaction() as connection:
            row = self._locked(connection, integration_id, expected_revision)
            named = select(integrations.c.id).where(
                integrations.c.name == spec.name, integrations.c.id != integration_id
            )
            if connection.execute(named).first() is not None:
                raise NameTaken(spec.name)
            kept = _secrets(row, now)
            if spec.type != row["type"]:
                raise Conflict(f"type cannot change ({row['type']} → {spec.type}); create a new integration")
            old = State(row["state"])
            if old is State.DEPRECATED and not deprecated:
                raise Conflict("a DEPRECATED integration stays deprecated (send deprecated: true); create a new one")
            auth = {}
            for name, value in spec.auth.secret_fields().items():
                if value == MASK and name not in kept.auth:
                    raise Invalid(f"auth.{name}", "no stored credential to keep: send the credential itself")
                auth[name] = kept.auth[name] if value == MASK else value
            signing = [spec.secret] if spec.secret else kept.signing
            enabled = spec.enabled and not deprecated
            values: dict[str, Any] = {
                "name": spec.name,
                "definition": _definition(spec),
                "secrets": kept.model_copy(update={"signing": signing, "auth": auth}).model_dump_json(),
                "enabled": enabled,
                "revision": row["revision"] + 1,
                "updated_at": now,
                "next_check_at": _first_check(spec, now) if enabled else None,
            }
            if deprecated:
                target, reason = State.DEPRECATED, "deprecated by a person"
            elif not enabled:
                target, reason = State.INACTIVE, "disabled by a person"
            elif old is State.INACTIVE:
                target, reason = State.CONFIGURING, "enabled by a person"
            else:
                target, reason = old, None
            if target is not old:
                values.update(failures=0, successes=0)
            connection.execute(update(integrations).where(integrations.c.id == integration_id).values(**values))
            self._transition(connection, row, target, reason)
        return self.get(integration_id)

    def start_test(self, integration_id: str) -> Integration:
        """Before a test event is queued: a CONFIGURING integration is TESTING from now on; one that takes no
        events (INACTIVE, DEPRECATED) is refused, since nothing would deliver the test."""
        with self._store.transaction() as connection:
            row = self._locked(connection, integration_id)
            state = State(row["state"])
            if state not in RECEIVING:
                raise Conflict(f"the integration is {state.value}: it takes no events; enable it first")
            if state is State.CONFIGURING:
                self._transition(connection, row, State.TESTING, "test event queued")
        return self.get(integration_id)

    def delete(self, integration_id: str) -> None:
        with self._store.transaction() as connection:
            self._locked(connection, integration_id)
            connection.execute(
                delete(integration_deliveries).where(integration_deliveries.c.integration_id == integration_id)
            )
            connection.execute(delete(integration_health).where(integration_health.c.integration_id == integration_id))
            connection.execute(delete(integrations).where(integrations.c.id == integration_id))

    def rotate_secret(self, integration_id: str, overlap_seconds: float = ROTATION_OVERLAP_SECONDS) -> str:
        """A new signing secret, first; the old ones still sign (several signatures) for `overlap_seconds`."""
        now = self._clock()
        secret = new_secret()
        with self._store.transaction() as connection:
            row = self._locked(connection, integration_id)
            if row["type"] != IntegrationType.WEBHOOK:
                raise Conflict("only WEBHOOK integrations have a signing secret")
            kept = _secrets(row, now)
            rotated = kept.model_copy(
                update={"signing": [secret, *kept.signing[:2]], "retiring_until": now + overlap_seconds}
            )
            connection.execute(
                update(integrations)
                .where(integrations.c.id == integration_id)
                .values(secrets=rotated.model_dump_json(), revision=row["revision"] + 1, updated_at=now)
            )
        return secret

    def set_state(self, integration_id: str, state: State, reason: str | None) -> Transition | None:
        """A person's or a receiver's decision (INACTIVE after 410 Gone, DEPRECATED); `enabled` follows."""
        with self._store.transaction() as connection:
            row = self._locked(connection, integration_id)
            enabled = state not in (State.INACTIVE, State.DEPRECATED)
            connection.execute(
                update(integrations)
                .where(integrations.c.id == integration_id)
                .values(
                    enabled=enabled, failures=0, successes=0, revision=row["revision"] + 1, updated_at=self._clock()
                )
            )
            return self._transition(connection, row, state, reason)

    def record_outcome(self, integration_id: str, ok: bool, reason: str | None = None) -> Transition | None:
        """A delivery's or a health check's outcome: counters, and the ACTIVE ⇄ ERROR transitions they cross."""
        with self._store.transaction() as connection:
            row = self._locked(connection, integration_id)
            state = State(row["state"])
            if state not in RECEIVING:
                return None
            failures, successes = (0, row["successes"] + 1) if ok else (row["failures"] + 1, 0)
            connection.execute(
                update(integrations)
                .where(integrations.c.id == integration_id)
                .values(failures=failures, successes=successes, updated_at=self._clock())
            )
            failure_threshold, success_threshold = _thresholds(row)
            if ok and (
                state in (State.CONFIGURING, State.TESTING) or (state is State.ERROR and successes >= success_threshold)
            ):
                return self._transition(connection, row, State.ACTIVE, reason)
            if not ok and state is not State.ERROR and failures >= failure_threshold:
                return self._transition(connection, row, State.ERROR, reason)
            if state is State.CONFIGURING:
                return self._transition(connection, row, State.TESTING, reason)
            return None

    def claim_due_checks(self, holder_seconds: float, limit: int = 20) -> list[tuple[Integration, IntegrationSecrets]]:
        """Health checks due now that no other replica holds: each claimed by a conditional update, so with
        several replicas one runs each check."""
        now = self._clock()
        claimed = []
        with self._store.reading() as connection:
            due = (
                connection.execute(
                    select(integrations.c.id)
                    .where(integrations.c.enabled.is_(True), integrations.c.next_check_at <= now)
                    .where((integrations.c.check_claimed_until.is_(None)) | (integrations.c.check_claimed_until < now))
                    .order_by(integrations.c.next_check_at)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        for integration_id in due:
            with self._store.transaction() as connection:
                taken = connection.execute(
                    update(integrations)
                    .where(integrations.c.id == integration_id, integrations.c.next_check_at <= now)
                    .where((integrations.c.check_claimed_until.is_(None)) | (integrations.c.check_claimed_until < now))
                    .values(check_claimed_until=now + holder_seconds)
                ).rowcount
            if taken:
                claimed.append((self.get(integration_id), self.secrets(integration_id)))
        return claimed

    def record_health(self, integration_id: str, result: HealthResult) -> Transition | None:
        """A health check's result, kept (the latest HEALTH_KEPT), the next check scheduled, the claim released."""
        with self._store.transaction() as connection:
            row = self._locked(connection, integration_id)
            connection.execute(insert(integration_health).values(integration_id=integration_id, **result.model_dump()))
            stale = (
                select(integration_health.c.id)
                .where(integration_health.c.integration_id == integration_id)
                .order_by(integration_health.c.checked_at.desc())
                .offset(HEALTH_KEPT)
            )
            connection.execute(delete(integration_health).where(integration_health.c.id.in_(stale.scalar_subquery())))
            interval = json.loads(row["definition"]).get("health_check") or {}
            connection.execute(
                update(integrations)
                .where(integrations.c.id == integration_id)
                .values(
                    next_check_at=result.checked_at + interval.get("interval_seconds", 60) if interval else None,
                    check_claimed_until=None,
                )
            )
        return self.record_outcome(integration_id, result.healthy, result.error)

    def health(self, integration_id: str, limit: int = 10) -> Health:
        with self._store.reading() as connection:
            row = connection.execute(select(integrations).where(integrations.c.id == integration_id)).mappings().first()
            if row is None:
                raise IntegrationNotFound(integration_id)
            results = (
                connection.execute(
                    select(integration_health)
                    .where(integration_health.c.integration_id == integration_id)
                    .order_by(integration_health.c.checked_at.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return Health(
            integration_id=integration_id,
            state=State(row["state"]),
            consecutive_failures=row["failures"],
            consecutive_successes=row["successes"],
            next_check_at=row["next_check_at"],
            results=[HealthResult(**{k: r[k] for k in HealthResult.model_fields}) for r in results],
        )

    def _locked(self, connection: Connection, integration_id: str, expected_revision: int | None = None) -> Any:
        """The row, locked for this transaction on PostgreSQL (SQLite's BEGIN IMMEDIATE holds the whole file)."""
        statement = select(integrations).where(integrations.c.id == integration_id)
        if self._store.backend == "postgresql":
            statement = statement.with_for_update()
        row = connection.execute(statement).mappings().first()
        if row is None:
            raise IntegrationNotFound(integration_id)
        if expected_revision is not None and row["revision"] != expected_revision:
            raise RevisionMismatch(
                f"integration {integration_id} is at revision {row['revision']}, not {expected_revision}"
            )
        return row

    def _transition(self, connection: Connection, row: Any, state: State, reason: str | None) -> Transition | None:
        old = State(row["state"])
        if old is state:
            return None
        connection.execute(
            update(integrations).where(integrations.c.id == row["id"]).values(state=state, state_reason=reason)
        )
        transition = Transition(row["id"], row["name"], old, state, reason)
        if self.on_transition is not None:
            self.on_transition(connection, transition)
        return transition


def receiving_in(connection: Connection, now: float) -> list[tuple[Integration, IntegrationSecrets]]:
    """`IntegrationRegistry.receiving` on a connection the caller holds: what the outbox reads in the transaction
    that writes an event, so an integration's state change and the events it may take never cross."""
    rows = connection.execute(select(integrations).where(integrations.c.enabled.is_(True))).mappings().all()
    return [(_integration(row), _secrets(row, now)) for row in rows if State(row["state"]) in RECEIVING]


def _definition(spec: IntegrationSpec) -> str:
    """The spec as stored and shown: no webhook secret, credentials masked (they live in the secrets column)."""
    return json.dumps(
        {**spec.model_dump(mode="json", exclude={"secret"}), "auth": spec.auth.masked().model_dump(mode="json")}
    )


def _first_check(spec: IntegrationSpec, now: float) -> float | None:
    return now if spec.health_check is not None and spec.health_check.enabled and spec.enabled else None


def _thresholds(row: Any) -> tuple[int, int]:
    check = json.loads(row["definition"]).get("health_check") or {}
    return (
        check.get("failure_threshold", DEFAULT_FAILURE_THRESHOLD),
        check.get("success_threshold", DEFAULT_SUCCESS_THRESHOLD),
    )


def _secrets(row: Any, now: float | None = None) -> IntegrationSecrets:
    kept = IntegrationSecrets.model_validate_json(row["secrets"])
    if now is not None and kept.retiring_until is not None and now > kept.retiring_until:
        kept = kept.model_copy(update={"signing": kept.signing[:1], "retiring_until": None})
    return kept


def _integration(row: Any) -> Integration:
    definition = json.loads(row["definition"])
    definition["enabled"] = row["enabled"]  # a receiver's 410 or a person's decision may have changed it since
    return Integration(
        **definition,
        id=row["id"],
        state=State(row["state"]),
        state_reason=row["state_reason"],
        revision=row["revision"],
        consecutive_failures=row["failures"],
        consecutive_successes=row["successes"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
