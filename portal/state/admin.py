"""Admin: the audit trail and the staff MFA requirement."""

from __future__ import annotations

import dataclasses

import reflex as rx

from portal.db import session_scope
from portal.domain import admin, mfa
from portal.domain.principal import require_principal
from portal.state.format import day_time
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
