"""Who is asking. Built from a verified server-side session, never from client input."""

from __future__ import annotations

import dataclasses

from portal.domain.errors import DomainError, ErrorCode, Forbidden
from portal.models import Role


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    role: str
    email: str
    name: str
    customer_id: int | None = None
    session_id: int | None = None
    # "user" for a person in the UI, "assistant" when the assistant acts on their behalf.
    via: str = "user"
    # Staff whose role requires MFA but who have not set it up may only reach that setup.
    mfa_setup_required: bool = False
    # Where they are (IANA name from their profile): times are shown to them in this zone.
    timezone: str = ""
    # Their language and region from their profile ("en", "de"): money is formatted for it.
    locale: str = ""

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.AGENT, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER


def require_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    return principal


def require_customer(principal: Principal | None) -> int:
    """The customer id a customer-facing use case is scoped to."""
    p = require_principal(principal)
    if p.role != Role.CUSTOMER or p.customer_id is None:
        raise Forbidden("customer only")
    return p.customer_id


def require_staff(principal: Principal | None) -> Principal:
    p = require_principal(principal)
    if not p.is_staff:
        raise Forbidden("staff only")
    return p


def require_admin(principal: Principal | None) -> Principal:
    p = require_principal(principal)
    if not p.is_admin:
        raise Forbidden("admin only")
    return p
