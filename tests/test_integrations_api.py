"""The integrations REST API over real HTTP, with JWT users, on both stores: CRUD, the secret shown once,
credentials masked, admins only, RFC 9457 problem details that echo no secret, If-Match, the lifecycle, secret
rotation, test events, deliveries and their replay; the MCP tools for admins only; the whole API through
schemathesis against its own OpenAPI document."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from sqlalchemy import update

from integrations.models import MASK
from integrations.tools import IntegrationTools
from integrations.worker import DeliveryWorker
from store.tables import integration_deliveries
from tests.conftest import Served, connect, serve
from tests.helpers import audit_records, fails, ok
from tests.issuers import bearer, hs256, hs256_settings
from web.integrations import ENDPOINTS

pytestmark = pytest.mark.anyio

HOOK = "https://hooks.example.test/aws-ops"
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def deliveries_stay_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's view of the outbox, with no worker sending (tests/test_integrations_delivery.py sends)."""

    async def hold(
        self: DeliveryWorker, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        await anyio.sleep_forever()

    monkeypatch.setattr(DeliveryWorker, "run", hold)


@pytest.fixture
def api_served(make_settings, tmp_path: Path) -> Iterator[Served]:
    """An HS256 JWT server on a state database of its own (SQLite)."""
    url = f"sqlite:///{tmp_path / 'integrations.db'}"
    with serve(make_settings(**hs256_settings(AWS_MCP_DATABASE_URL=url))) as running:
        yield running


@pytest.fixture
def shared_served(make_settings, database_url: str) -> Iterator[Served]:
    """The same on SQLite, then on PostgreSQL."""
    with serve(make_settings(**hs256_settings(AWS_MCP_DATABASE_URL=database_url))) as running:
        yield running


def http(served: Served, role: str | None = "admin") -> httpx2.Client:
    headers = bearer(hs256(f"{role}-user", role)) if role else {}
    return httpx2.Client(base_url=f"{served.url}/api/v1", headers=headers, timeout=10)


def registry(served: Served):
    return served.server.app.provider(IntegrationTools).registry


def webhook(**changes) -> dict:
    """Listening to audit events only: its own state changes (a test event makes it TESTING) queue nothing."""
    return {"name": "slack", "type": "WEBHOOK", "endpoint": HOOK, "events": ["aws.write"], **changes}


def problem(response: httpx2.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


def test_crud_with_the_secret_shown_once_and_if_match(shared_served: Served) -> None:
    with http(shared_served) as api:
        created = api.post("/integrations", json=webhook())
        assert created.status_code == 201, created.text
        body = created.json()
        integration, secret = body["integration"], body["secret"]
        assert secret.startswith("whsec_") and integration["state"] == "CONFIGURING"
        assert created.headers["location"] == f"/api/v1/integrations/{integration['id']}"
        assert created.headers["etag"] == '"1"' and created.headers["cache-control"] == "no-store"
        one = f"/integrations/{integration['id']}"
        shown = api.get(one)
        assert shown.status_code == 200 and shown.headers["etag"] == '"1"'
        assert secret not in shown.text and secret not in api.get("/integrations").text
        assert [i["name"] for i in api.get("/integrations").json()["integrations"]] == ["slack"]

        replaced = api.put(one, json=webhook(description="to Slack"), headers={"If-Match": '"1"'})
        assert replaced.status_code == 200 and replaced.json()["revision"] == 2 and replaced.headers["etag"] == '"2"'
        stale = problem(api.put(one, json=webhook(description="late"), headers={"If-Match": '"1"'}), 412)
        assert "revision 2" in stale["detail"]
        assert api.put(one, json=webhook(description="any"), headers={"If-Match": "*"}).json()["revision"] == 3
        problem(api.post("/integrations", json=webhook()), 409)

        assert api.delete(one).status_code == 204
        problem(api.get(one), 404)
        problem(api.delete(one), 404)


def test_credentials_are_masked_and_kept_when_sent_back_masked(api_served: Served, audit_file: Path) -> None:
    auth = {"type": "BEARER_TOKEN", "token": "t0k3n-of-the-siem"}
    with http(api_served) as api:
        created = api.post("/integrations", json={"name": "siem", "type": "REST_API", "endpoint": HOOK, "auth": auth})
        assert created.json()["secret"] is None
        integration = created.json()["integration"]
        assert integration["auth"]["token"] == MASK and "t0k3n" not in created.text
        one = f"/integrations/{integration['id']}"
        shown = {k: v for k, v in api.get(one).json().items() if k in ("name", "type", "endpoint", "auth")}
        assert api.put(one, json={**shown, "description": "SIEM"}).status_code == 200
        assert registry(api_served).secrets(integration["id"]).auth == {"token": "t0k3n-of-the-siem"}
        refused = problem(api.post("/integrations", json={**shown, "name": "masked"}), 422)
        assert refused["errors"] == [{"pointer": "#/auth/token", "detail": refused["errors"][0]["detail"]}]
    changes = [r for r in audit_records(audit_file) if r.get("tool", "").startswith("api:")]
    assert all(r["principal"].endswith("|admin-user") and r["role"] == "admin" for r in changes)
    assert [(r["tool"], r["outcome"]) for r in changes] == [
        ("api:createIntegration", "ok"),
        ("api:replaceIntegration", "ok"),
        ("api:createIntegration", "http_422"),
    ]
    assert changes[1]["integration_id"] == integration["id"]
    assert "t0k3n" not in audit_file.read_text() and HOOK not in audit_file.read_text()


def test_only_admins_use_the_api(api_served: Served) -> None:
    with http(api_served, role=None) as anonymous:
        for path in ("/integrations", "/openapi.json"):
            refused = problem(anonymous.get(path), 401)
            assert refused["detail"] == "send Authorization: Bearer <token>"
            assert anonymous.get(path).headers["www-authenticate"].startswith("Bearer ")
    for role in ("viewer", "operator"):
        with http(api_served, role) as api:
            assert "admin" in problem(api.get("/integrations"), 403)["detail"]
            problem(api.post("/integrations", json=webhook()), 403)
            problem(api.get("/openapi.json"), 403)
    with http(api_served) as admin:
        assert admin.get("/integrations").json() == {"integrations": []}


@pytest.mark.parametrize(
    ("changes", "pointer", "message"),
    [
        ({"type": "GRPC"}, "#/type", "not supported yet"),
        ({"direction": "INBOUND"}, "#/direction", "not supported yet"),
        ({"direction": "BIDIRECTIONAL"}, "#/direction", "not supported yet"),
        ({"secret": "whsec_hunter2hunter2"}, "#/secret", "webhook secret"),
        ({"auth": {"type": "API_KEY", "api_key": "k3y-value-7", "password": "pa55-value-7"}}, "#/", "auth is for"),
        ({"surprise": 1}, "#/surprise", "Extra inputs"),
    ],
)
def test_invalid_definitions_are_problem_details_that_echo_no_secret(
    api_served: Served, changes: dict, pointer: str, message: str
) -> None:
    with http(api_served) as api:
        refused = problem(api.post("/integrations", json=webhook(**changes)), 422)
    assert refused["type"] == "urn:aws-ops-mcp:problem:validation"
    assert any(e["pointer"] == pointer and message in e["detail"] for e in refused["errors"]), refused
    for value in ("hunter2", "k3y-value-7", "pa55-value-7"):
        assert value not in json.dumps(refused)


@pytest.mark.parametrize(
    ("changes", "pointer", "reason"),
    [
        ({"endpoint": "http://169.254.169.254/latest/meta-data/"}, "#/endpoint", "always refused"),
        ({"endpoint": "http://[fd00:ec2::254]/"}, "#/endpoint", "always refused"),
        ({"endpoint": "http://[::ffff:169.254.169.254]/"}, "#/endpoint", "always refused"),
        ({"endpoint": "http://127.0.0.1:9000/hook"}, "#/endpoint", "AWS_MCP_WEBHOOK_ALLOW_PRIVATE"),
        ({"endpoint": "http://localhost:9000/hook"}, "#/endpoint", "AWS_MCP_WEBHOOK_ALLOW_PRIVATE"),
        ({"health_check": {"endpoint": "http://10.0.0.8/health"}}, "#/health_check/endpoint", "private"),
    ],
)
def test_endpoints_deliveries_would_refuse_are_refused_at_once(
    api_served: Served, changes: dict, pointer: str, reason: str
) -> None:
    with http(api_served) as api:
        refused = problem(api.post("/integrations", json=webhook(**changes)), 422)
        assert any(e["pointer"] == pointer and reason in e["detail"] for e in refused["errors"]), refused
        created = api.post("/integrations", json=webhook()).json()["integration"]
        problem(api.put(f"/integrations/{created['id']}", json=webhook(**changes)), 422)


def test_bodies_are_json_objects_of_at_most_64_kb(api_served: Served) -> None:
    with http(api_served) as api:
        problem(api.post("/integrations", content=b"name=slack", headers={"Content-Type": "text/plain"}), 415)
        problem(api.post("/integrations", content=b"{nope", headers={"Content-Type": "application/json"}), 400)
        problem(api.post("/integrations", json=["a list"]), 422)
        problem(api.post("/integrations", json=webhook(description="x" * 70_000)), 413)
        problem(api.patch("/integrations"), 405)
        problem(api.get("/nothing-here"), 404)
        problem(api.get("/integrations/%0A/health"), 404)  # outside the mount's pattern: the app's 404, as a problem


def test_the_lifecycle_a_person_drives(api_served: Served) -> None:
    with http(api_served) as api:
        integration = api.post("/integrations", json=webhook()).json()["integration"]
        one = f"/integrations/{integration['id']}"
        assert api.put(one, json=webhook(enabled=False)).json()["state"] == "INACTIVE"
        assert "enable it first" in problem(api.post(f"{one}/test"), 409)["detail"]
        assert api.put(one, json=webhook()).json()["state"] == "CONFIGURING"
        assert api.post(f"{one}/test").status_code == 202
        assert api.get(one).json()["state"] == "TESTING"
        deprecated = api.put(one, json=webhook(deprecated=True)).json()
        assert deprecated["state"] == "DEPRECATED" and deprecated["enabled"] is False
        assert "stays deprecated" in problem(api.put(one, json=webhook()), 409)["detail"]
        problem(api.post(f"{one}/test"), 409)
        assert api.post("/integrations", json=webhook(name="off", enabled=False)).json()["integration"]["state"] == (
            "INACTIVE"
        )


def test_a_rotated_secret_is_shown_once_and_the_old_one_still_signs(api_served: Served) -> None:
    with http(api_served) as api:
        created = api.post("/integrations", json=webhook()).json()
        one = f"/integrations/{created['integration']['id']}"
        rotated = api.post(f"{one}/rotate-secret")
        assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
        new = rotated.json()["secret"]
        assert new.startswith("whsec_") and new != created["secret"]
        assert registry(api_served).secrets(created["integration"]["id"]).signing == [new, created["secret"]]
        assert new not in api.get(one).text
        bus = {"name": "bus", "type": "EVENT_BUS", "endpoint": "arn:aws:events:us-east-1:111111111111:event-bus/ops"}
        other = api.post("/integrations", json=bus).json()["integration"]["id"]
        problem(api.post(f"/integrations/{other}/rotate-secret"), 409)


def test_test_events_are_queued_listed_paged_and_replayed(shared_served: Served) -> None:
    with http(shared_served) as api:
        integration_id = api.post("/integrations", json=webhook()).json()["integration"]["id"]
        one = f"/integrations/{integration_id}"
        queued = [api.post(f"{one}/test") for _ in range(3)]
        assert all(answer.status_code == 202 for answer in queued)
        first = queued[0].json()
        page = api.get(f"{one}/deliveries", params={"limit": 2}).json()
        assert [d["id"] for d in page["deliveries"]] == [q.json()["delivery_id"] for q in queued[:0:-1]]
        rest = api.get(f"{one}/deliveries", params={"limit": 2, "cursor": page["next_cursor"]}).json()
        assert [d["id"] for d in rest["deliveries"]] == [first["delivery_id"]] and rest["next_cursor"] is None
        delivery = rest["deliveries"][0]
        assert delivery["event_id"] == first["event_id"] and delivery["event_type"] == "integration.test"
        assert delivery["status"] == "pending" and delivery["attempts"] == 0

        replay = f"{one}/deliveries/{first['delivery_id']}/replay"
        assert "pending" in problem(api.post(replay), 409)["detail"]
        with shared_served.server.app.runtime.store.transaction() as connection:  # as the worker records a death
            connection.execute(
                update(integration_deliveries)
                .where(integration_deliveries.c.id == first["delivery_id"])
                .values(status="dead", attempts=8, last_status=503, next_attempt_at=time.time() + 3600)
            )
        assert [d["id"] for d in api.get(f"{one}/deliveries", params={"status": "dead"}).json()["deliveries"]] == [
            first["delivery_id"]
        ]
        replayed = api.post(replay)
        assert replayed.status_code == 202
        assert replayed.json()["status"] == "pending" and replayed.json()["attempts"] == 0
        assert replayed.json()["next_attempt_at"] <= time.time()
        assert api.get(f"{one}/deliveries", params={"status": "dead"}).json()["deliveries"] == []

        problem(api.get(f"{one}/deliveries", params={"status": "lost"}), 422)
        problem(api.get(f"{one}/deliveries", params={"cursor": "not-a-cursor"}), 422)
        problem(api.post(f"{one}/deliveries/{'0' * 32}/replay"), 404)


async def test_integration_tools_are_for_admins_only(api_served: Served) -> None:
    with http(api_served) as api:
        integration_id = api.post("/integrations", json=webhook()).json()["integration"]["id"]
    async with connect(api_served.url, headers=bearer(hs256("ada", "admin"))) as admin:
        names = {tool.name for tool in (await admin.list_tools()).tools}
        assert {"list_integrations", "integration_health"} <= names
        listed = await ok(admin, "list_integrations")
        assert [(i["id"], i["state"]) for i in listed["integrations"]] == [(integration_id, "CONFIGURING")]
        health = await ok(admin, "integration_health", integration_id=integration_id)
        assert health["state"] == "CONFIGURING" and health["results"] == []
        assert (await fails(admin, "integration_health", integration_id="nope"))["code"] == "not_found"
    for role in ("viewer", "operator"):
        async with connect(api_served.url, headers=bearer(hs256(role, role))) as caller:
            names = {tool.name for tool in (await caller.list_tools()).tools}
            assert not names & {"list_integrations", "integration_health"}
            refused = await fails(caller, "list_integrations")
            assert refused["code"] == "tool_not_allowed" and "admin" in refused["message"]
            health = await fails(caller, "integration_health", integration_id=integration_id)
            assert health["code"] == "tool_not_allowed"


def test_the_api_answers_as_its_openapi_document_says(shared_served: Served) -> None:
    """schemathesis over real HTTP, as an admin: every operation with valid and invalid data, then chains of calls
    along the document's links (create → get, replace, test, deliveries, delete). No 5xx, and every answer's
    status, content type, headers and body as documented."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation.stateful import run_state_machine_as_test
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    headers = bearer(hs256("ada", "admin"))
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    rejections = ["400", "401", "403", "404", "405", "409", "412", "413", "415", "422"]  # 412: If-Match comes first
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": rejections}}})
    schema = schemathesis.openapi.from_url(f"{shared_served.url}/api/v1/openapi.json", headers=headers, config=config)
    quick = settings(
        max_examples=15, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    served = {f"{e.method} {e.path}" for e in ENDPOINTS if e.operation_id != "getOpenApiDocument"}
    assert {operation.label for operation in operations} == served  # schemathesis leaves the document itself out

    def exercise(operation, mode, with_checks) -> None:
        @quick
        @given(case=operation.as_strategy(mode))
        def conforms(case) -> None:
            case.call_and_validate(base_url=shared_served.url, headers=headers, checks=with_checks)

        conforms()

    for operation in operations:
        exercise(operation, GenerationMode.POSITIVE, checks)
        exercise(operation, GenerationMode.NEGATIVE, [*checks, negative_data_rejection])

    answered: set[tuple[str, int]] = set()

    class Chains(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"base_url": shared_served.url, "headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            answered.add((case.operation.label, response.status_code))
            case.validate_response(response, checks=checks, headers=headers)

    run_state_machine_as_test(Chains, settings=settings(quick, max_examples=10, stateful_step_count=6))
    followed = {label for label, status in answered if "{id}" in label and status < 300}
    assert len(followed) >= 3, sorted(answered)  # the links led to integrations that exist
    assert time.monotonic() - started < 90
