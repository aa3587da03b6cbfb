"""One function per audit event kind keeps names consistent and searchable."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlmodel import Session

from portal.domain.principal import Principal
from portal.models import AuditEvent


@dataclasses.dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where a request came from, as far as the server can tell."""

    ip_address: str = ""
    user_agent: str = ""


NO_REQUEST = RequestInfo()


def record(
    session: Session,
    *,
    action: str,
    principal: Principal | None = None,
    user_id: int | None = None,
    customer_id: int | None = None,
    target_type: str = "",
    target_id: str | int = "",
    outcome: str = "ok",
    request: RequestInfo = NO_REQUEST,
    **data: Any,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_user_id=principal.user_id if principal else user_id,
        actor_kind=principal.via if principal else ("user" if user_id else "system"),
        customer_id=customer_id if customer_id is not None else (principal.customer_id if principal else None),
        target_type=target_type,
        target_id=str(target_id),
        outcome=outcome,
        ip_address=request.ip_address[:64],
        user_agent=request.user_agent[:400],
        data=data,
    )
    session.add(event)
    return event


def login_succeeded(session: Session, *, user_id: int, customer_id: int | None, method: str,
                    request: RequestInfo) -> None:
    record(session, action="auth.login", user_id=user_id, customer_id=customer_id, request=request, method=method)


def login_failed(session: Session, *, user_id: int | None, email: str, reason: str, request: RequestInfo) -> None:
    record(session, action="auth.login_failed", user_id=user_id, outcome="failed", request=request,
           email=email[:320], reason=reason)


def logged_out(session: Session, *, principal: Principal, request: RequestInfo) -> None:
    record(session, action="auth.logout", principal=principal, target_type="session",
           target_id=principal.session_id or "", request=request)


def access_denied(session: Session, *, principal: Principal | None, target_type: str, target_id: str | int,
                  request: RequestInfo = NO_REQUEST) -> None:
    record(session, action="access.denied", principal=principal, target_type=target_type,
           target_id=target_id, outcome="denied", request=request)
