"""The integrations REST API under /api/v1, admin only: CRUD, health, a test event, secret rotation, deliveries
and their replay; and its OpenAPI document (web/openapi.py), generated from the same `ENDPOINTS` table and the
pydantic models, so it cannot drift from what is served.

Authentication is the app's (http_app.py: 401 with its `WWW-Authenticate` challenge); here the caller's role is
checked (403 for anyone but admin). Errors are RFC 9457 problem details (web/problems.py). Bodies are JSON only
(415 otherwise), at most BODY_LIMIT bytes (413). PUT honours `If-Match` on the integration's `ETag` (its
`revision`): 412 when it changed since. Registry and outbox calls block: they run in worker threads.
"""

import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import httpcore2
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.invocation import Principal
from integrations.models import (
    Created,
    Delivery,
    Health,
    Integration,
    IntegrationList,
    IntegrationReplacement,
    IntegrationSpec,
    SecretRotated,
    TestQueued,
)
from integrations.network import AddressRefused, check_endpoint
from integrations.outbox import BadCursor, DeliveryNotFound, DeliveryPage, NotReplayable, Outbox
from integrations.registry import (
    ROTATION_OVERLAP_SECONDS,
    Conflict,
    IntegrationNotFound,
    IntegrationRegistry,
    Invalid,
    NameTaken,
    RevisionMismatch,
)
from observability.logs import get_logger
from store import StoreUnavailable
from web.problems import FieldError, Problem, invalid_body, problem_response

log = get_logger("aws_ops_mcp")

PREFIX = "/api/v1"
ADMIN = "admin"
BODY_LIMIT = 64 * 1024
DELIVERY_STATUSES = ("pending", "delivered", "dead")
ENTITY_TAG = re.compile(r'^(?:W/)?"(\d{1,9})"$')

Handler = Callable[["Api", Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One operation: what it serves and what the OpenAPI document says of it."""

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    responses: Mapping[int, type[BaseModel] | None]
    """Success statuses and their bodies (None: no body)."""
    errors: tuple[int, ...]
    body: type[BaseModel] | None = None
    query: tuple[dict[str, Any], ...] = ()
    headers: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """Response headers always sent on a status: Location, ETag."""
    links: Mapping[int, Mapping[str, tuple[str, str]]] = field(default_factory=dict)
    """OpenAPI links per status: name → (operationId, runtime expression of the id)."""


@dataclass
class Api:
    registry: IntegrationRegistry
    outbox: Outbox
    principal_of: Callable[[Mapping[str, Any]], Principal]
    document: dict[str, Any] = field(default_factory=dict)
    wake: Callable[[], None] = lambda: None
    """Tells the delivery worker something is due now (a test event, a replay)."""
    allow_private: bool = False
    """AWS_MCP_WEBHOOK_ALLOW_PRIVATE: endpoints on private and loopback addresses."""
    audit: Callable[..., None] = lambda **record: None
    """The server's audit log (AuditLog.write): one line per request that changes something."""


async def blocking(fn: Callable[..., Any], *args: Any) -> Any:
    return await anyio.to_thread.run_sync(fn, *args)


def integration_response(integration: Integration, status: int = 200, **extra: str) -> JSONResponse:
    return JSONResponse(
        integration.model_dump(mode="json"), status_code=status, headers={"ETag": etag(integration), **extra}
    )


def etag(integration: Integration) -> str:
    return f'"{integration.revision}"'


def model_response(model: BaseModel, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers or None)


async def read_json(request: Request, model: type[BaseModel]) -> Any:
    """The body as `model`: JSON only, at most BODY_LIMIT bytes, read no further than that."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise Problem(415, "the body must be JSON (Content-Type: application/json)", "unsupported-media-type")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise Problem(413, f"the body is limited to {BODY_LIMIT} bytes", "too-large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise Problem(413, f"the body is limited to {BODY_LIMIT} bytes", "too-large")
    try:
        data = json.loads(body)
    except ValueError as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise Problem(400, f"the body is not valid JSON{where}", "malformed-json") from None
    if not isinstance(data, dict):
        raise Problem(422, "the body must be a JSON object", "validation")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_body(error, data) from None


def path_id(request: Request, name: str = "id") -> str:
    value = request.path_params[name]
    if not re.fullmatch(r"[0-9a-f]{32}", value):
        what = "integration" if name == "id" else "delivery"
        raise Problem(404, f"no {what} with that id", "not-found")
    return value


def expected_revision(request: Request) -> set[int] | None:
    """The revisions `If-Match` accepts (None: no precondition, or `*`)."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    tags = [ENTITY_TAG.match(tag.strip()) for tag in header.split(",")]
    revisions = {int(match.group(1)) for match in tags if match}
    if not revisions:
        raise Problem(412, 'If-Match: no entity tag this API issues (ETag values look like "3")', "precondition")
    return revisions


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Problem(
            422,
            f"{name} must be an integer from {low} to {high}",
            "validation",
            [FieldError(parameter=name, detail=f"an integer from {low} to {high}")],
        )
    return int(raw)


# --- handlers -------------------------------------------------------------------------------------------------


async def list_integrations(api: Api, request: Request) -> Response:
    found = await blocking(api.registry.all)
    return model_response(IntegrationList(integrations=found))


RESOLVE_SECONDS = 2.0


async def refuse_unreachable(api: Api, spec: IntegrationSpec) -> None:
    """An HTTP endpoint whose address deliveries would refuse (metadata, link-local; private without
    AWS_MCP_WEBHOOK_ALLOW_PRIVATE) is refused now, with the reason. A name that does not resolve (yet), or not
    within RESOLVE_SECONDS, is accepted: deliveries and health checks check again on every connection."""
    urls = [("/endpoint", spec.endpoint)] if spec.endpoint.startswith(("http://", "https://")) else []
    if spec.health_check is not None and spec.health_check.endpoint:
        urls.append(("/health_check/endpoint", spec.health_check.endpoint))
    for pointer, url in urls:
        try:
            with anyio.move_on_after(RESOLVE_SECONDS):
                await check_endpoint(url, api.allow_private)
        except AddressRefused as refused:
            error = FieldError(pointer=f"#{pointer}", detail=str(refused))
            raise Problem(422, str(refused), "validation", [error]) from None
        except httpcore2.ConnectError:
            continue


async def create_integration(api: Api, request: Request) -> Response:
    spec: IntegrationSpec = await read_json(request, IntegrationSpec)
    await refuse_unreachable(api, spec)
    integration, secret = await blocking(api.registry.create, spec)
    body = Created(integration=integration, secret=secret)
    location = f"{PREFIX}/integrations/{integration.id}"
    return model_response(body, 201, Location=location, ETag=etag(integration), **{"Cache-Control": "no-store"})


async def get_integration(api: Api, request: Request) -> Response:
    return integration_response(await blocking(api.registry.get, path_id(request)))


async def replace_integration(api: Api, request: Request) -> Response:
    """Preconditions before the body (RFC 9110 §13.2.1), after what would refuse the request without them."""
    integration_id = path_id(request)
    expected = None
    if request.headers.get("if-match") is not None:
        current = (await blocking(api.registry.get, integration_id)).revision
        revisions = expected_revision(request)
        if revisions is not None and current not in revisions:
            raise RevisionMismatch(f"the integration is at revision {current}")
        expected = current if revisions is not None else None  # checked again under the row's lock
    body: IntegrationReplacement = await read_json(request, IntegrationReplacement)
    await refuse_unreachable(api, body.spec())
    replaced = await blocking(api.registry.replace, integration_id, body.spec(), expected, body.deprecated)
    return integration_response(replaced)


async def delete_integration(api: Api, request: Request) -> Response:
    await blocking(api.registry.delete, path_id(request))
    return Response(status_code=204)


async def integration_health(api: Api, request: Request) -> Response:
    limit = query_int(request, "limit", 10, 1, 50)
    return model_response(await blocking(api.registry.health, path_id(request), limit))


async def send_test_event(api: Api, request: Request) -> Response:
    integration_id = path_id(request)
    await blocking(api.registry.start_test, integration_id)
    subject = api.principal_of(request.scope).subject
    event_id, delivery_id = await blocking(api.outbox.test, integration_id, subject)
    api.wake()
    return model_response(TestQueued(event_id=event_id, delivery_id=delivery_id), 202)


async def rotate_secret(api: Api, request: Request) -> Response:
    secret = await blocking(api.registry.rotate_secret, path_id(request))
    body = SecretRotated(secret=secret, overlap_seconds=ROTATION_OVERLAP_SECONDS)
    return model_response(body, **{"Cache-Control": "no-store"})


async def list_deliveries(api: Api, request: Request) -> Response:
    integration_id = path_id(request)
    status = request.query_params.get("status")
    if status is not None and status not in DELIVERY_STATUSES:
        detail = f"one of {', '.join(DELIVERY_STATUSES)}"
        raise Problem(422, f"status must be {detail}", "validation", [FieldError(parameter="status", detail=detail)])
    limit = query_int(request, "limit", 50, 1, 200)
    cursor = request.query_params.get("cursor")
    if cursor is not None and len(cursor) > 512:
        raise BadCursor(cursor)
    return model_response(await blocking(api.outbox.deliveries, integration_id, status, limit, cursor))


async def replay_delivery(api: Api, request: Request) -> Response:
    integration_id, delivery_id = path_id(request), path_id(request, "delivery_id")
    replayed = await blocking(api.outbox.replay, integration_id, delivery_id)
    api.wake()
    return model_response(replayed, 202)


async def openapi_document(api: Api, request: Request) -> Response:
    return JSONResponse(api.document)


# --- the table ------------------------------------------------------------------------------------------------

COLLECTION = f"{PREFIX}/integrations"
ONE = f"{COLLECTION}/{{id}}"
AUTH = (401, 403)
BODY = (400, 413, 415, 422)
ID_LINKS = {
    "GetIntegration": ("getIntegration", "$response.body#/id"),
    "ReplaceIntegration": ("replaceIntegration", "$response.body#/id"),
    "IntegrationHealth": ("getIntegrationHealth", "$response.body#/id"),
    "SendTestEvent": ("sendTestEvent", "$response.body#/id"),
    "ListDeliveries": ("listDeliveries", "$response.body#/id"),
    "DeleteIntegration": ("deleteIntegration", "$response.body#/id"),
}
CREATED_LINKS = {name: (operation, "$response.body#/integration/id") for name, (operation, _) in ID_LINKS.items()}
PAGE = (
    {"name": "status", "schema": {"type": "string", "enum": list(DELIVERY_STATUSES)}},
    {"name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
    {"name": "cursor", "schema": {"type": "string", "maxLength": 512}, "description": "next_cursor of a page"},
)
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET", COLLECTION, list_integrations, "listIntegrations", "List integrations", {200: IntegrationList}, AUTH
    ),
    Endpoint(
        "POST",
        COLLECTION,
        create_integration,
        "createIntegration",
        "Create an integration (a WEBHOOK's secret is shown in this answer only)",
        {201: Created},
        (*AUTH, *BODY, 409),
        body=IntegrationSpec,
        headers={201: ("Location", "ETag")},
        links={201: CREATED_LINKS},
    ),
    Endpoint(
        "GET",
        ONE,
        get_integration,
        "getIntegration",
        "Get an integration",
        {200: Integration},
        (*AUTH, 404),
        headers={200: ("ETag",)},
    ),
    Endpoint(
        "PUT",
        ONE,
        replace_integration,
        "replaceIntegration",
        "Replace an integration's definition (If-Match: its ETag)",
        {200: Integration},
        (*AUTH, *BODY, 404, 409, 412),
        body=IntegrationReplacement,
        headers={200: ("ETag",)},
        links={200: ID_LINKS},
    ),
    Endpoint(
        "DELETE",
        ONE,
        delete_integration,
        "deleteIntegration",
        "Delete an integration and its deliveries",
        {204: None},
        (*AUTH, 404),
    ),
    Endpoint(
        "GET",
        f"{ONE}/health",
        integration_health,
        "getIntegrationHealth",
        "An integration's state and latest health check results",
        {200: Health},
        (*AUTH, 404, 422),
        query=({"name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}},),
    ),
    Endpoint(
        "POST",
        f"{ONE}/test",
        send_test_event,
        "sendTestEvent",
        "Queue a signed integration.test event for it",
        {202: TestQueued},
        (*AUTH, 404, 409),
    ),
    Endpoint(
        "POST",
        f"{ONE}/rotate-secret",
        rotate_secret,
        "rotateSecret",
        "A new webhook signing secret, shown once; the old one signs too for a day",
        {200: SecretRotated},
        (*AUTH, 404, 409),
    ),
    Endpoint(
        "GET",
        f"{ONE}/deliveries",
        list_deliveries,
        "listDeliveries",
        "An integration's deliveries, newest first",
        {200: DeliveryPage},
        (*AUTH, 404, 422),
        query=PAGE,
    ),
    Endpoint(
        "POST",
        f"{ONE}/deliveries/{{delivery_id}}/replay",
        replay_delivery,
        "replayDelivery",
        "Deliver a delivered or dead delivery again (same event id)",
        {202: Delivery},
        (*AUTH, 404, 409),
    ),
    Endpoint(
        "GET", f"{PREFIX}/openapi.json", openapi_document, "getOpenApiDocument", "This document", {200: None}, AUTH
    ),
)


# --- the app --------------------------------------------------------------------------------------------------


def problem_of(error: Exception) -> Problem:
    """A failure below the handlers as the problem a caller can act on; anything unforeseen is a 500 whose
    detail says nothing (the server log has it)."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, IntegrationNotFound | DeliveryNotFound):
        return Problem(404, str(error), "not-found")
    if isinstance(error, NameTaken):
        return Problem(409, str(error), "name-taken")
    if isinstance(error, RevisionMismatch):
        return Problem(412, f"{error}; GET it again and resend with its ETag", "revision-mismatch")
    if isinstance(error, Conflict | NotReplayable):
        return Problem(409, str(error), "conflict")
    if isinstance(error, Invalid):
        return Problem(
            422,
            str(error),
            "validation",
            [FieldError(pointer=f"#/{error.field.replace('.', '/')}", detail=error.message)],
        )
    if isinstance(error, BadCursor):
        return Problem(422, str(error), "validation", [FieldError(parameter="cursor", detail=str(error))])
    if isinstance(error, StoreUnavailable):
        return Problem(
            503, "the state database did not answer; nothing was changed", "unavailable", headers={"Retry-After": "5"}
        )
    log.error("integrations API: %s failed unexpectedly", type(error).__name__)
    return Problem(500, "the server failed; its log has the details", "internal")


def route(api: Api, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        principal = api.principal_of(request.scope)
        started = time.perf_counter()
        if principal.role != ADMIN:
            response = problem_response(403, "the integrations API is for the admin role", "forbidden")
        else:
            try:
                response = await endpoint.handler(api, request)
            except Exception as error:  # noqa: BLE001 - every failure becomes a problem response, never a traceback
                response = problem_of(error).response()
        if endpoint.method != "GET":
            api.audit(**change_record(principal, endpoint, request, response, time.perf_counter() - started))
        return response

    return serve


def change_record(
    principal: Principal, endpoint: Endpoint, request: Request, response: Response, seconds: float
) -> dict[str, Any]:
    """The audit line of a request that changes integrations: who, which operation on which ids, how it ended.
    Never the body: it holds endpoints (often credentials themselves) and secrets."""
    status = response.status_code
    return {
        "transaction_id": uuid.uuid4().hex,
        "principal": principal.subject,
        "auth": principal.auth,
        "role": principal.role,
        "tool": f"api:{endpoint.operation_id}",
        "integration_id": request.path_params.get("id"),
        "delivery_id": request.path_params.get("delivery_id"),
        "status": status,
        "outcome": "ok" if status < 400 else f"http_{status}",
        "duration_ms": round(seconds * 1000, 2),
    }


async def http_problem(request: Request, error: Exception) -> Response:
    """Starlette's 404 and 405 as problem details under PREFIX (the app's own handler too: a path the mount's
    pattern does not match, one with an encoded line break, is refused by the outer router); as Starlette
    answers elsewhere."""
    assert isinstance(error, HTTPException)
    if request.url.path.startswith(PREFIX + "/"):
        return problem_response(error.status_code, error.detail, headers=error.headers)
    if error.status_code in (204, 304):
        return Response(status_code=error.status_code, headers=error.headers)
    return PlainTextResponse(error.detail, status_code=error.status_code, headers=error.headers)


def integrations_app(
    registry: IntegrationRegistry,
    outbox: Outbox,
    principal_of: Callable[[Mapping[str, Any]], Principal],
    wake: Callable[[], None] = lambda: None,
    allow_private: bool = False,
    audit: Callable[..., None] = lambda **record: None,
) -> Starlette:
    """The API as an ASGI app to mount at PREFIX: unknown paths and methods answer problem details too."""
    from web.openapi import document

    api = Api(registry, outbox, principal_of, document(ENDPOINTS), wake, allow_private, audit)
    paths: dict[str, list[Endpoint]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path.removeprefix(PREFIX), []).append(endpoint)
    routes = []
    for path, endpoints in paths.items():
        by_method = {endpoint.method: route(api, endpoint) for endpoint in endpoints}

        async def dispatch(request: Request, by_method: dict[str, Any] = by_method) -> Response:
            return await by_method["GET" if request.method == "HEAD" else request.method](request)

        routes.append(Route(path, dispatch, methods=list(by_method)))
    return Starlette(routes=routes, exception_handlers={HTTPException: http_problem})
