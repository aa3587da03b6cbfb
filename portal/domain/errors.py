"""Coded errors: the domain says what went wrong, the UI owns the wording."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    UNAUTHENTICATED = "unauthenticated"
    INVALID = "invalid"
    CONFLICT = "conflict"
    NOT_ALLOWED = "not_allowed"  # the policy forbids this action now
    AUTH_FAILED = "auth_failed"
    THROTTLED = "throttled"
    WEAK_PASSWORD = "weak_password"
    MFA_REQUIRED = "mfa_required"
    TOKEN_INVALID = "token_invalid"


class DomainError(Exception):
    def __init__(self, code: ErrorCode, detail: str = "", **data: Any) -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail
        self.data = data


class NotFound(DomainError):
    """Also what a caller gets for someone else's object: existence is not revealed."""

    def __init__(self, what: str = "", **data: Any) -> None:
        super().__init__(ErrorCode.NOT_FOUND, what, **data)


class Forbidden(DomainError):
    def __init__(self, detail: str = "", **data: Any) -> None:
        super().__init__(ErrorCode.FORBIDDEN, detail, **data)


class Invalid(DomainError):
    def __init__(self, detail: str = "", *, field: str = "", **data: Any) -> None:
        super().__init__(ErrorCode.INVALID, detail, field=field, **data)
        self.field = field
