"""Public account pages: forgotten password, reset, registration, email verification."""

from __future__ import annotations

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import account
from portal.domain.errors import DomainError, ErrorCode
from portal.i18n import tr
from portal.settings import get_settings
from portal.state import tab
from portal.state.base import PortalState
from portal.state.guard import Access, access, request_info_of
from portal.state.messages import message_for, message_for_error


@access(Access.PUBLIC)
class ForgotState(PortalState, rx.State):
    sent: bool = False
    error: str = ""

    @rx.event
    def on_load(self) -> None:
        self.sent = False
        self.error = ""

    @rx.event
    def submit(self, form_data: dict) -> None:
        email = str(form_data.get("email") or "").strip()[:320]
        if "@" not in email:
            self.error = tr("Enter the email address of your account.")
            return
        with session_scope() as db:
            account.request_password_reset(db, email=email, request=request_info_of(self))
        # The same answer whether or not an account exists for this address.
        self.error = ""
        self.sent = True


@access(Access.PUBLIC)
class ResetState(PortalState, rx.State):
    valid: bool = False
    checked: bool = False
    error: str = ""
    _token: str = ""

    @rx.event
    def on_load(self) -> None:
        self.error = ""
        self._token = (tab.query_parameters(self).get("token") or "")[:200]
        with session_scope() as db:
            self.valid = account.reset_token_is_valid(db, token=self._token)
        self.checked = True

    @rx.event
    def submit(self, form_data: dict) -> EventSpec | None:
        new = str(form_data.get("password") or "")[:4096]
        confirm = str(form_data.get("confirm") or "")[:4096]
        if new != confirm:
            self.error = tr("The two passwords are not the same.")
            return None
        try:
            with session_scope() as db:
                account.complete_password_reset(db, token=self._token, new_password=new,
                                                request=request_info_of(self))
        except DomainError as err:
            if err.code == ErrorCode.TOKEN_INVALID:
                self.valid = False
            self.error = message_for_error(err) if err.code == ErrorCode.WEAK_PASSWORD else message_for(err.code)
            return None
        # No automatic sign-in: the person signs in with the new password (and their code).
        return rx.redirect("/login?reset=1", replace=True)


@access(Access.PUBLIC)
class RegisterState(PortalState, rx.State):
    enabled: bool = False
    error: str = ""
    error_field: str = ""

    @rx.event
    def on_load(self) -> None:
        self.enabled = get_settings().registration_enabled
        self.error = ""

    @rx.event
    def submit(self, form_data: dict) -> EventSpec | None:
        name = str(form_data.get("name") or "")[:200]
        email = str(form_data.get("email") or "")[:320]
        password = str(form_data.get("password") or "")[:4096]
        try:
            with session_scope() as db:
                account.register_customer(db, name=name, email=email, password=password,
                                          request=request_info_of(self))
        except DomainError as err:
            self.error = message_for_error(err)
            self.error_field = str(err.data.get("field", ""))
            return None
        return rx.redirect("/login?registered=1", replace=True)


@access(Access.PUBLIC)
class VerifyState(PortalState, rx.State):
    ok: bool = False
    done: bool = False

    @rx.event
    def on_load(self) -> None:
        token = (tab.query_parameters(self).get("token") or "")[:200]
        try:
            with session_scope() as db:
                account.verify_email(db, token=token, request=request_info_of(self))
            self.ok = True
        except DomainError:
            self.ok = False
        self.done = True
