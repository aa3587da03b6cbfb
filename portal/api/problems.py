"""RFC 9457 problem details: the one error format of the integration API."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from portal.domain.errors import DomainError, ErrorCode

PROBLEM_TYPE_BASE = "https://portal.invalid/problems/"
CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
}

_STATUS_OF = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.INVALID: 422,
    ErrorCode.CONFLICT: 409,
    ErrorCode.NOT_ALLOWED: 409,
}


class ProblemResponse(JSONResponse):
    media_type = CONTENT_TYPE


def problem(status: int, *, kind: str = "", detail: str = "", instance: str = "",
            errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (kind or TITLES.get(status, "error").lower().replace(" ", "-")),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": errors or [],
    }
    return ProblemResponse(body, status_code=status, headers=headers)


def from_domain(err: DomainError, *, instance: str = "") -> ProblemResponse:
    status = _STATUS_OF.get(err.code, 422)
    field = str(err.data.get("field") or "")
    errors = [{"field": field, "message": err.detail or str(err.code)}] if field else []
    kind = "idempotency-key-reuse" if err.data.get("reuse") else str(err.code).replace("_", "-")
    return problem(status, kind=kind, detail=err.detail or str(err.code), instance=instance, errors=errors)


def from_validation(exc: ValidationError, *, instance: str = "", where: str = "body") -> ProblemResponse:
    errors = [{"field": ".".join([where, *(str(p) for p in e["loc"])]), "message": str(e["msg"])}
              for e in exc.errors(include_url=False, include_input=False)[:50]]
    return problem(422, kind="validation", detail="The request does not match the schema.", instance=instance,
                   errors=errors)
