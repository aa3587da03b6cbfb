"""One function per audit event kind keeps names consistent and searchable."""

from __future__ import annotations

import contextvars
import dataclasses
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain.principal import Principal
from portal.models import AuditEvent


@dataclasses.dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where a request came from, as far as the server can tell."""

    ip_address: str = ""
    user_agent: str = ""


NO_REQUEST = RequestInfo()
# Where the request being served came from (set by the websocket guard for each event, and
# carried into the worker pool with the context): rows recorded without an explicit `request`
# (order self-service, the assistant's actions, ...) still say from where and with what.
_serving: contextvars.ContextVar[RequestInfo] = contextvars.ContextVar("portal_request", default=NO_REQUEST)


def serving(request: RequestInfo) -> None:
    """The request the rest of this event's work is done for."""
    _serving.set(request)


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
    if request is NO_REQUEST:
        request = _serving.get()
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


# A stranger's denials from one address are one row per window, with a count and the last targets.
STRANGER_DENIALS_WINDOW = timedelta(minutes=10)
STRANGER_DENIALS_TARGETS = 20


def access_denied(session: Session, *, principal: Principal | None, target_type: str, target_id: str | int,
                  request: RequestInfo = NO_REQUEST) -> None:
    """A refused request for something. A signed-in person's refusal is a row of its own; a
    stranger probing ids (return labels, files) adds to one row per address and window instead,
    so a script cannot fill the audit log (and what it tried is still there, counted)."""
    if principal is not None:
        record(session, action="access.denied", principal=principal, target_type=target_type,
               target_id=target_id, outcome="denied", request=request)
        return
    since = utcnow() - STRANGER_DENIALS_WINDOW
    row = session.exec(select(AuditEvent).where(
        col(AuditEvent.action) == "access.denied", col(AuditEvent.actor_user_id).is_(None),
        col(AuditEvent.ip_address) == request.ip_address[:64], col(AuditEvent.created_at) >= since,
    ).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    target = f"{target_type}:{target_id}"
    if row is None:
        record(session, action="access.denied", target_type=target_type, target_id=target_id, outcome="denied",
               request=request, count=1, targets=[target])
        return
    data = dict(row.data or {})
    data["count"] = int(data.get("count", 1)) + 1
    data["targets"] = [*list(data.get("targets", []))[-(STRANGER_DENIALS_TARGETS - 1):], target]
    row.data = data  # a new dict: the JSON column sees the change
    session.add(row)
