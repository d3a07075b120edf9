"""RFC 9457 problem details: every error of the REST API as `application/problem+json` (type, title, status, detail,
and `errors` for a body or parameter that failed validation).

Nothing a caller sent is echoed where it could be a secret: validation errors carry pydantic's messages and the
JSON pointer of the field, never the input, and any `secret`, `api_key`, `password` or `token` value of the body
that a message might still quote is replaced.
"""

from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.responses import JSONResponse

MEDIA_TYPE = "application/problem+json"
SECRET_KEYS = frozenset({"secret", "api_key", "password", "token"})
REDACTED = "<redacted>"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request",
    428: "Precondition required",
    500: "Internal error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    detail: str
    pointer: str | None = Field(None, description="JSON pointer into the body (RFC 6901), as #/path")
    parameter: str | None = Field(None, description="The query parameter or header")


class ProblemDetails(BaseModel):
    type: str = Field(description="A URI naming the problem; about:blank when the status says it all")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class Problem(Exception):
    """Raised by a handler; the API turns it into its response."""

    def __init__(
        self,
        status: int,
        detail: str,
        kind: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return problem_response(self.status, self.detail, self.kind, self.errors, self.headers)


def problem_response(
    status: int,
    detail: str,
    kind: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ProblemDetails(
        type=f"urn:aws-ops-mcp:problem:{kind}" if kind else "about:blank",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers, media_type=MEDIA_TYPE
    )


def invalid_body(error: ValidationError, body: Any) -> Problem:
    """422 for a body that failed the model: one entry per failure, with its pointer and pydantic's message."""
    secrets = sorted(_secret_values(body), key=len, reverse=True)
    errors = [
        FieldError(pointer=pointer(item["loc"]), detail=_scrubbed(item["msg"], secrets))
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    return Problem(422, f"the body has {len(errors)} invalid field(s); see errors", "validation", errors)


def pointer(location: tuple[Any, ...]) -> str:
    """A pydantic location as an RFC 6901 JSON pointer fragment."""
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in location)
    return "#/" + "/".join(parts)


def _secret_values(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SECRET_KEYS and isinstance(value, str) and value:
                found.add(value)
            found |= _secret_values(value)
    elif isinstance(node, list):
        for item in node:
            found |= _secret_values(item)
    return found


def _scrubbed(message: str, secrets: list[str]) -> str:
    for value in secrets:
        message = message.replace(value, REDACTED)
    return message
