"""The signed-in person's security page: password, two-factor authentication, sessions."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope, utcnow
from portal.domain import account, mfa
from portal.format import ago, day_time
from portal.i18n import tr, tr_n
from portal.models import User
from portal.state.base import FAILED, PortalState, on_loop
from portal.state.guard import Access, access, mfa_setup_exempt, request_info_of
from portal.state.session import SessionState, backend_url, post_to
from portal.state.shown_once import conceal, reveal

# Where the page shows the TOTP seed, its QR code and recovery codes, once (portal.state.shown_once).
TOTP_QR, TOTP_SECRET, RECOVERY_CODES = "totp-qr", "totp-secret", "recovery-codes"

RECENT_SESSIONS = 5


@dataclasses.dataclass
class SessionRow:
    id: int
    device: str
    ip_address: str
    method: str
    started: str
    last_seen: str
    last_active: str
    current: bool


@mfa_setup_exempt
@access(Access.SIGNED_IN)
class SecurityState(PortalState, rx.State):
    loaded: bool = False
    mfa_enabled: bool = False
    mfa_required: bool = False
    enrolling: bool = False
    # The seed, its QR code and new recovery codes reach only the page, once (reveal); never state.
    codes_left: int = 0
    # This device first, then the others by last use; only the most recent few are shown at once.
    sessions: list[SessionRow] = []
    older_sessions: list[SessionRow] = []
    show_older: bool = False
    mfa_error: str = ""
    mfa_notice: str = ""
    pw_error: str = ""
    pw_notice: str = ""
    sessions_notice: str = ""
    # After a password or MFA change: offer to sign out everywhere else.
    offer_end_others: bool = False

    def _refresh(self) -> None:
        p = self._me()
        with session_scope() as db:
            user = db.get(User, p.user_id)
            self.mfa_enabled = bool(user and user.mfa_enabled)
            self.mfa_required = mfa.mfa_required_for(db, role=p.role)
            self.codes_left = mfa.remaining_recovery_codes(db, principal=p) if self.mfa_enabled else 0
            rows = account.list_sessions(db, principal=p)
        now = utcnow()
        shown = [SessionRow(id=r.id or 0, device=account.describe_device(r.user_agent),
                            ip_address=r.ip_address or tr("unknown"), method=r.auth_method,
                            started=day_time(r.created_at), last_seen=day_time(r.last_seen_at),
                            last_active=tr("Now") if r.id == p.session_id else ago(r.last_seen_at, now),
                            current=r.id == p.session_id) for r in rows]
        shown.sort(key=lambda row: not row.current)  # stable: the others stay newest first
        self.sessions, self.older_sessions = shown[:RECENT_SESSIONS], shown[RECENT_SESSIONS:]
        self.loaded = True

    @rx.event
    @on_loop
    def toggle_older(self) -> None:
        self.show_older = not self.show_older

    @rx.event
    def load(self) -> None:
        self.reset()
        p = self._me()
        self._refresh()
        if p.mfa_setup_required:
            self.mfa_notice = tr("Your role requires two-factor authentication. Set it up to continue.")

    @rx.event
    def start_mfa(self) -> EventSpec | None:
        enrollment = self._call(mfa.begin_enrollment, into="mfa_error")
        if enrollment is FAILED:  # FAILED (the type narrows enrollment)
            return None
        self.enrolling = True
        self.mfa_error = self.mfa_notice = ""
        return reveal({TOTP_QR: enrollment.qr_svg_data_uri, TOTP_SECRET: enrollment.secret})

    @rx.event
    def cancel_enrollment(self) -> EventSpec:
        self.enrolling, self.mfa_error = False, ""
        return conceal(TOTP_QR, TOTP_SECRET)

    @rx.event
    def confirm_mfa(self, form_data: dict) -> list[EventSpec] | None:
        code = str(form_data.get("code") or "")[:16]
        codes = self._call(mfa.confirm_enrollment, into="mfa_error", code=code, request=request_info_of(self))
        if codes is FAILED:  # FAILED (the type narrows codes)
            return None
        self.enrolling = False
        self.mfa_error = ""
        self.mfa_notice = tr("Two-factor authentication is on. Save these recovery codes somewhere safe: each works "
                             "once.")
        self.offer_end_others = len(self.sessions) > 1
        self._refresh()
        return [conceal(TOTP_QR, TOTP_SECRET), reveal({RECOVERY_CODES: "\n".join(codes)})]

    @rx.event
    def disable_mfa(self, form_data: dict) -> EventSpec | None:
        if self._call(mfa.disable, into="mfa_error", password=str(form_data.get("password") or "")[:4096],
                      code=str(form_data.get("code") or "")[:32], request=request_info_of(self)) is FAILED:
            return None
        self.mfa_error = ""
        self.mfa_notice = tr("Two-factor authentication is off.")
        self.offer_end_others = len(self.sessions) > 1
        self._refresh()
        return conceal(RECOVERY_CODES)

    @rx.event
    def regenerate_codes(self, form_data: dict) -> EventSpec | None:
        code = str(form_data.get("code") or "")[:16]
        codes = self._call(mfa.regenerate_recovery_codes, into="mfa_error", code=code, request=request_info_of(self))
        if codes is FAILED:  # FAILED (the type narrows codes)
            return None
        self.mfa_error = ""
        self.mfa_notice = tr("New recovery codes: the old ones no longer work.")
        self._refresh()
        return reveal({RECOVERY_CODES: "\n".join(codes)})

    @rx.event
    def change_password(self, form_data: dict) -> None:
        new = str(form_data.get("new") or "")[:4096]
        if new != str(form_data.get("confirm") or "")[:4096]:
            self.pw_error = tr("The two new passwords are not the same.")
            return
        end_others = bool(form_data.get("end_others"))
        ended = self._call(account.change_password, into="pw_error", current=str(form_data.get("current") or "")[:4096],
                           new=new, end_other_sessions=end_others, request=request_info_of(self))
        if ended is FAILED:  # FAILED (the type narrows ended)
            return
        self.pw_error = ""
        self.pw_notice = tr_n("Your password was changed. {n} other session signed out.",
                              "Your password was changed. {n} other sessions signed out.", ended) if ended \
            else tr("Your password was changed.")
        self._refresh()

    @rx.event
    def revoke(self, session_id: int) -> EventSpec | None:
        p = self._me()
        if not isinstance(session_id, int) or isinstance(session_id, bool):
            return None
        if self._call(account.revoke_session, into="sessions_notice", session_id=session_id,
                      request=request_info_of(self)) is FAILED:
            return None
        if session_id == p.session_id:
            return post_to(backend_url(self, "/api/auth/logout"))
        self.sessions_notice = tr("That session was signed out.")
        self._refresh()
        return None

    @rx.event
    def revoke_others(self) -> None:
        with session_scope() as db:
            n = account.revoke_other_sessions(db, principal=self._me(), request=request_info_of(self))
        self.sessions_notice = tr_n("Signed out {n} other session.", "Signed out {n} other sessions.", n) if n \
            else tr("There were no other sessions.")
        self.offer_end_others = False
        self._refresh()


__all__ = ["SecurityState", "SessionRow", "SessionState"]
