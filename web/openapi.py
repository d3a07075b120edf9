"""The integrations API's OpenAPI 3.1 document, generated from `web.integrations.ENDPOINTS` and the pydantic models
(their JSON Schemas, draft 2020-12 as OpenAPI 3.1 uses): what is served and what is documented are one table.

Served at /api/v1/openapi.json behind the same rule as the API (admin only): it describes an API only admins can
call, and one rule for the whole prefix adds no unauthenticated path to a server that holds AWS credentials.
"""

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from config import package_version
from web.problems import MEDIA_TYPE, TITLES, ProblemDetails

if TYPE_CHECKING:
    from web.integrations import Endpoint

REF = "#/components/schemas/{model}"
SERVER_STATUSES = (503,)
HEADERS = {
    "Location": {"description": "The new integration's URL", "schema": {"type": "string"}},
    "ETag": {"description": 'The revision, quoted ("3"): send it back in If-Match', "schema": {"type": "string"}},
}


def document(endpoints: "tuple[Endpoint, ...]") -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ProblemDetails, "serialization")]
    for endpoint in endpoints:
        if endpoint.body is not None:
            models.append((endpoint.body, "validation"))
        models += [(model, "serialization") for model in endpoint.responses.values() if model is not None]
    refs, schemas = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    problem = refs[(ProblemDetails, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs, problem)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AWS Ops MCP integrations API",
            "version": package_version(),
            "description": "Where the audit stream's events go. Admin role only; errors are RFC 9457 problem details.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(endpoint: "Endpoint", refs: dict[Any, Any], problem: dict[str, str]) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
        for name in ("id", "delivery_id")
        if f"{{{name}}}" in endpoint.path
    ]
    parameters += [{"in": "query", "required": False, **query} for query in endpoint.query]
    if endpoint.method == "PUT":
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": "The ETag of the revision this replaces: 412 if the integration changed since",
                "schema": {"type": "string"},
            }
        )
    responses: dict[str, Any] = {}
    for status, model in endpoint.responses.items():
        response: dict[str, Any] = {"description": endpoint.summary}
        if model is not None:
            response["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
        elif endpoint.operation_id == "getOpenApiDocument":
            response["content"] = {"application/json": {"schema": {"type": "object"}}}
        if status in endpoint.headers:
            response["headers"] = {name: HEADERS[name] for name in endpoint.headers[status]}
        if status in endpoint.links:
            response["links"] = {
                name: {"operationId": operation, "parameters": {"id": expression}}
                for name, (operation, expression) in endpoint.links[status].items()
            }
        responses[str(status)] = response
    for status in (*endpoint.errors, *SERVER_STATUSES):
        responses[str(status)] = {"description": TITLES[status], "content": {MEDIA_TYPE: {"schema": problem}}}
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "parameters": parameters,
        "responses": responses,
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
        }
    return operation
