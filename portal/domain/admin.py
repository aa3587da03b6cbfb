"""What admins see of the portal's own security trail."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func
from sqlmodel import Session, col, select

from portal.domain.principal import Principal, require_admin
from portal.models import AuditEvent, User


@dataclasses.dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: object
    action: str
    actor: str
    actor_kind: str
    target: str
    outcome: str
    ip_address: str


def list_audit(session: Session, *, principal: Principal, action: str = "", outcome: str = "", actor: str = "",
               page: int = 1, page_size: int = 50) -> tuple[list[AuditRow], int]:
    require_admin(principal)
    page = max(1, min(int(page), 10_000))
    page_size = max(1, min(int(page_size), 200))
    q = select(AuditEvent, User.email).join(User, col(User.id) == col(AuditEvent.actor_user_id), isouter=True)
    count_q = select(func.count()).select_from(AuditEvent).join(
        User, col(User.id) == col(AuditEvent.actor_user_id), isouter=True)
    if action:
        q = q.where(col(AuditEvent.action).startswith(action[:64]))
        count_q = count_q.where(col(AuditEvent.action).startswith(action[:64]))
    if outcome:
        q = q.where(AuditEvent.outcome == outcome[:16])
        count_q = count_q.where(AuditEvent.outcome == outcome[:16])
    if actor:
        q = q.where(col(User.email).contains(actor.strip().lower()[:320]))
        count_q = count_q.where(col(User.email).contains(actor.strip().lower()[:320]))
    total = int(session.exec(count_q).one())
    rows = session.exec(q.order_by(col(AuditEvent.id).desc()).offset((page - 1) * page_size).limit(page_size)).all()
    out = [AuditRow(id=e.id or 0, at=e.created_at, action=e.action, actor=email or ("—" if not e.actor_user_id else
                    f"user {e.actor_user_id}"), actor_kind=e.actor_kind,
                    target=f"{e.target_type} {e.target_id}".strip(), outcome=e.outcome, ip_address=e.ip_address)
           for e, email in rows]
    return out, total


@dataclasses.dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    email: str
    name: str
    role: str
    mfa_enabled: bool
    active: bool
    has_customer: bool


def list_users(session: Session, *, principal: Principal, query: str = "", role: str = "",
               limit: int = 100) -> list[UserRow]:
    require_admin(principal)
    q = select(User)
    if query:
        like = f"%{query.strip().lower()[:100]}%"
        q = q.where(col(User.email).ilike(like) | col(User.full_name).ilike(like))
    if role in ("customer", "agent", "admin"):
        q = q.where(User.role == role)
    rows = session.exec(q.order_by(col(User.role).desc(), col(User.email)).limit(max(1, min(limit, 500)))).all()
    return [UserRow(id=u.id or 0, email=u.email, name=u.full_name, role=u.role, mfa_enabled=u.mfa_enabled,
                    active=u.is_active, has_customer=u.customer_id is not None) for u in rows]
