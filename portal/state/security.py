"""The signed-in person's security page: password, two-factor authentication, sessions."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import account, mfa
from portal.domain.errors import DomainError
from portal.domain.principal import Principal, require_principal
from portal.format import day_time
from portal.models import User
from portal.state.guard import Access, access, current_principal, mfa_setup_exempt, request_info_of
from portal.state.messages import message_for_error
from portal.state.session import SessionState, backend_url, navigate_to


@dataclasses.dataclass
class SessionRow:
    id: int
    device: str
    ip_address: str
    method: str
    started: str
    last_seen: str
    current: bool


@mfa_setup_exempt
@access(Access.SIGNED_IN)
class SecurityState(rx.State):
    loaded: bool = False
    mfa_enabled: bool = False
    mfa_required: bool = False
    enrolling: bool = False
    qr: str = ""
    secret: str = ""
    new_codes: list[str] = []
    codes_left: int = 0
    sessions: list[SessionRow] = []
    mfa_error: str = ""
    mfa_notice: str = ""
    pw_error: str = ""
    pw_notice: str = ""
    sessions_notice: str = ""
    # After a password or MFA change: offer to sign out everywhere else.
    offer_end_others: bool = False

    def _p(self) -> Principal:
        return require_principal(current_principal())

    def _refresh(self, p: Principal) -> None:
        with session_scope() as db:
            user = db.get(User, p.user_id)
            self.mfa_enabled = bool(user and user.mfa_enabled)
            self.mfa_required = mfa.mfa_required_for(db, role=p.role)
            self.codes_left = mfa.remaining_recovery_codes(db, principal=p) if self.mfa_enabled else 0
            rows = account.list_sessions(db, principal=p)
        self.sessions = [SessionRow(id=r.id or 0, device=account.describe_device(r.user_agent),
                                    ip_address=r.ip_address or "unknown", method=r.auth_method,
                                    started=day_time(r.created_at), last_seen=day_time(r.last_seen_at),
                                    current=r.id == p.session_id) for r in rows]
        self.loaded = True

    @rx.event
    def load(self) -> None:
        self.reset()
        p = self._p()
        self._refresh(p)
        if p.mfa_setup_required:
            self.mfa_notice = "Your role requires two-factor authentication. Set it up to continue."

    @rx.event
    def start_mfa(self) -> None:
        p = self._p()
        try:
            with session_scope() as db:
                enrollment = mfa.begin_enrollment(db, principal=p)
        except DomainError as err:
            self.mfa_error = message_for_error(err)
            return
        self.enrolling, self.qr, self.secret = True, enrollment.qr_svg_data_uri, enrollment.secret
        self.mfa_error = self.mfa_notice = ""

    @rx.event
    def cancel_enrollment(self) -> None:
        self.enrolling, self.qr, self.secret, self.mfa_error = False, "", "", ""

    @rx.event
    def confirm_mfa(self, form_data: dict) -> None:
        p = self._p()
        code = str(form_data.get("code") or "")[:16]
        try:
            with session_scope() as db:
                codes = mfa.confirm_enrollment(db, principal=p, code=code, request=request_info_of(self))
        except DomainError as err:
            self.mfa_error = message_for_error(err)
            return
        self.enrolling, self.qr, self.secret = False, "", ""
        self.new_codes = codes
        self.mfa_error = ""
        self.mfa_notice = "Two-factor authentication is on. Save these recovery codes somewhere safe: each works once."
        self.offer_end_others = len(self.sessions) > 1
        self._refresh(p)

    @rx.event
    def disable_mfa(self, form_data: dict) -> None:
        p = self._p()
        try:
            with session_scope() as db:
                mfa.disable(db, principal=p, password=str(form_data.get("password") or "")[:4096],
                            code=str(form_data.get("code") or "")[:32], request=request_info_of(self))
        except DomainError as err:
            self.mfa_error = message_for_error(err)
            return
        self.mfa_error, self.new_codes = "", []
        self.mfa_notice = "Two-factor authentication is off."
        self.offer_end_others = len(self.sessions) > 1
        self._refresh(p)

    @rx.event
    def regenerate_codes(self, form_data: dict) -> None:
        p = self._p()
        try:
            with session_scope() as db:
                code = str(form_data.get("code") or "")[:16]
                self.new_codes = mfa.regenerate_recovery_codes(db, principal=p, code=code,
                                                               request=request_info_of(self))
        except DomainError as err:
            self.mfa_error = message_for_error(err)
            return
        self.mfa_error = ""
        self.mfa_notice = "New recovery codes: the old ones no longer work."
        self._refresh(p)

    @rx.event
    def hide_codes(self) -> None:
        self.new_codes = []

    @rx.event
    def change_password(self, form_data: dict) -> None:
        p = self._p()
        new = str(form_data.get("new") or "")[:4096]
        if new != str(form_data.get("confirm") or "")[:4096]:
            self.pw_error = "The two new passwords are not the same."
            return
        end_others = bool(form_data.get("end_others"))
        try:
            with session_scope() as db:
                ended = account.change_password(db, principal=p, current=str(form_data.get("current") or "")[:4096],
                                                new=new, end_other_sessions=end_others,
                                                request=request_info_of(self))
        except DomainError as err:
            self.pw_error = message_for_error(err)
            return
        self.pw_error = ""
        self.pw_notice = "Your password was changed." + (f" {ended} other session(s) were signed out."
                                                         if ended else "")
        self._refresh(p)

    @rx.event
    def revoke(self, session_id: int) -> EventSpec | None:
        p = self._p()
        if not isinstance(session_id, int) or isinstance(session_id, bool):
            return None
        try:
            with session_scope() as db:
                account.revoke_session(db, principal=p, session_id=session_id, request=request_info_of(self))
        except DomainError as err:
            self.sessions_notice = message_for_error(err)
            return None
        if session_id == p.session_id:
            return navigate_to(backend_url(self, "/api/auth/logout"))
        self.sessions_notice = "That session was signed out."
        self._refresh(p)
        return None

    @rx.event
    def revoke_others(self) -> None:
        p = self._p()
        with session_scope() as db:
            n = account.revoke_other_sessions(db, principal=p, request=request_info_of(self))
        self.sessions_notice = f"Signed out {n} other session(s)." if n else "There were no other sessions."
        self.offer_end_others = False
        self._refresh(p)


__all__ = ["SecurityState", "SessionRow", "SessionState"]
