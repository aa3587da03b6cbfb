"""Admin: the audit trail and the staff MFA requirement."""

from __future__ import annotations

import dataclasses

import reflex as rx

from portal.db import session_scope
from portal.domain import admin, mfa
from portal.domain.principal import require_principal
from portal.format import day_time
from portal.state.guard import Access, access, current_principal, request_info_of

PAGE_SIZE = 50


@dataclasses.dataclass
class AuditView:
    id: int
    at: str
    action: str
    actor: str
    actor_kind: str
    target: str
    outcome: str
    ip_address: str


@access(Access.ADMIN)
class AdminAuditState(rx.State):
    loaded: bool = False
    rows: list[AuditView] = []
    total: int = 0
    page: int = 1
    action: str = ""
    outcome: str = ""
    actor: str = ""
    staff_mfa_required: bool = False

    def _load(self) -> None:
        p = require_principal(current_principal())
        with session_scope() as db:
            rows, self.total = admin.list_audit(db, principal=p, action=self.action, outcome=self.outcome,
                                                actor=self.actor, page=self.page, page_size=PAGE_SIZE)
            self.staff_mfa_required = mfa.mfa_required_for(db, role="admin")
        self.rows = [AuditView(id=r.id, at=day_time(r.at), action=r.action, actor=r.actor,  # type: ignore[arg-type]
                               actor_kind=r.actor_kind, target=r.target, outcome=r.outcome,
                               ip_address=r.ip_address) for r in rows]
        self.loaded = True

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.event
    def load(self) -> None:
        self.page = 1
        self._load()

    @rx.event
    def filter(self, form_data: dict) -> None:
        self.action = str(form_data.get("action") or "").strip()[:64]
        self.outcome = str(form_data.get("outcome") or "").strip()[:16]
        if self.outcome == "any":
            self.outcome = ""
        self.actor = str(form_data.get("actor") or "").strip()[:320]
        self.page = 1
        self._load()

    @rx.event
    def go(self, page: int) -> None:
        if isinstance(page, int) and not isinstance(page, bool):
            self.page = max(1, min(page, self.pages))
            self._load()

    @rx.event
    def set_staff_mfa(self, enabled: bool) -> None:
        p = require_principal(current_principal())
        with session_scope() as db:
            mfa.set_staff_mfa_requirement(db, principal=p, enabled=bool(enabled) is True,
                                          request=request_info_of(self))
        self._load()


@dataclasses.dataclass
class UserView:
    id: int
    email: str
    name: str
    role: str
    mfa: bool
    can_be_customer: bool


@access(Access.ADMIN)
class AdminUsersState(rx.State):
    loaded: bool = False
    users: list[UserView] = []
    query: str = ""
    role_filter: str = ""
    error: str = ""
    notice: str = ""

    def _load(self) -> None:
        p = require_principal(current_principal())
        with session_scope() as db:
            rows = admin.list_users(db, principal=p, query=self.query, role=self.role_filter)
        self.users = [UserView(id=u.id, email=u.email, name=u.name, role=u.role, mfa=u.mfa_enabled,
                               can_be_customer=u.has_customer) for u in rows]
        self.loaded = True

    @rx.event
    def load(self) -> None:
        self.error = self.notice = ""
        self._load()

    @rx.event
    def search(self, form_data: dict) -> None:
        self.query = str(form_data.get("query") or "").strip()[:100]
        role = str(form_data.get("role") or "")
        self.role_filter = role if role in ("customer", "agent", "admin") else ""
        self._load()

    @rx.event
    def change_role(self, user_id: int, role: str) -> None:
        from portal.domain import account
        from portal.domain.errors import DomainError
        from portal.models import Role
        from portal.state.messages import message_for_error

        if not isinstance(user_id, int) or isinstance(user_id, bool) or role not in ("customer", "agent", "admin"):
            self.error = "Choose a role."
            return
        p = require_principal(current_principal())
        try:
            with session_scope() as db:
                account.set_role(db, principal=p, user_id=user_id, role=Role(role), request=request_info_of(self))
        except DomainError as err:
            self.error = message_for_error(err)
            self.notice = ""
        else:
            self.error = ""
            self.notice = "Role changed. Their open sessions were signed out."
        self._load()
