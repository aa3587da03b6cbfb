"""Admin: the audit trail, the staff MFA requirement, and what became of the support mailbox's messages."""

from __future__ import annotations

import dataclasses

import reflex as rx

from portal.db import session_scope
from portal.domain import admin, mfa, support_mail
from portal.format import day_time
from portal.i18n import N_, tr
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, request_info_of

PAGE_SIZE = 50
# How a role is named in a sentence (the values stay English: they are compared in code).
ROLE_NAMES: dict[str, str] = {"customer": N_("customer"), "agent": N_("agent"), "admin": N_("admin")}


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
class AdminAuditState(PortalState, rx.State):
    loaded: bool = False
    rows: list[AuditView] = []
    total: int = 0
    page: int = 1
    action: str = ""
    outcome: str = ""
    actor: str = ""
    staff_mfa_required: bool = False

    def _load(self) -> None:
        with session_scope() as db:
            rows, self.total = admin.list_audit(db, principal=self._me(), action=self.action, outcome=self.outcome,
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
        with session_scope() as db:
            mfa.set_staff_mfa_requirement(db, principal=self._me(), enabled=bool(enabled) is True,
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
class AdminUsersState(PortalState, rx.State):
    loaded: bool = False
    users: list[UserView] = []
    query: str = ""
    role_filter: str = ""
    error: str = ""
    notice: str = ""
    # A role chosen but not yet confirmed: for whom (shown) and what (kept server-side).
    confirm_user_id: int = 0
    confirm_text: str = ""
    _pending_user_id: int | None = None
    _pending_role: str = ""

    def _load(self) -> None:
        with session_scope() as db:
            rows = admin.list_users(db, principal=self._me(), query=self.query, role=self.role_filter)
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
        """Choosing a role only asks: a role change signs the person out and changes what they
        may see, so it is applied once the admin confirms it."""
        self.error = self.notice = ""
        person = next((u for u in self.users if u.id == user_id), None) if isinstance(user_id, int) else None
        if person is None or isinstance(user_id, bool) or role not in ("customer", "agent", "admin"):
            self.error = tr("Choose a role.")
            return
        if role == person.role:
            self._forget_pending()
            return
        self._pending_user_id, self._pending_role = person.id, role
        self.confirm_user_id = person.id
        self.confirm_text = tr("Change {person} from {old_role} to {new_role}? Their open sessions will be signed "
                               "out.", person=person.name or person.email,
                               old_role=tr(ROLE_NAMES.get(person.role, person.role)), new_role=tr(ROLE_NAMES[role]))

    def _forget_pending(self) -> None:
        self._pending_user_id, self._pending_role = None, ""
        self.confirm_user_id, self.confirm_text = 0, ""

    @rx.event
    def cancel_role(self) -> None:
        self._forget_pending()

    @rx.event
    def confirm_role(self) -> None:
        from portal.domain import account
        from portal.models import Role

        user_id, role = self._pending_user_id, self._pending_role
        self._forget_pending()
        if user_id is None or role not in ("customer", "agent", "admin"):
            return
        if self._call(account.set_role, user_id=user_id, role=Role(role), request=request_info_of(self)) is FAILED:
            self.notice = ""
        else:
            self.error = ""
            self.notice = tr("Role changed. Their open sessions were signed out.")
        self._load()


@dataclasses.dataclass
class InboundView:
    id: int
    at: str
    sender: str
    subject: str
    status: str
    reason: str
    ticket: str


@access(Access.ADMIN)
class AdminMailState(PortalState, rx.State):
    """Every message read from the support mailbox; failures with the reason they were set aside."""

    loaded: bool = False
    failures_only: bool = False
    rows: list[InboundView] = []

    def _load(self) -> None:
        with session_scope() as db:
            rows = support_mail.inbound_log(db, principal=self._me(), failures_only=self.failures_only)
        self.rows = [InboundView(id=r.id, at=day_time(r.received_at), sender=r.from_address or tr("(unknown)"),
                                 subject=r.subject, status=r.status, reason=r.reason, ticket=r.ticket_number)
                     for r in rows]
        self.loaded = True

    @rx.event
    def load(self) -> None:
        self._load()

    @rx.event
    def update_failures_only(self, value: bool) -> None:
        if isinstance(value, bool):
            self.failures_only = value
            self._load()
