"""Your data: download everything, or close the account."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import privacy
from portal.domain.errors import DomainError
from portal.domain.principal import require_principal
from portal.state.guard import Access, access, current_principal, request_info_of
from portal.state.messages import message_for_error
from portal.state.session import backend_url, navigate_to


@access(Access.CUSTOMER)
class PrivacyState(rx.State):
    loaded: bool = False
    export_url: str = ""
    close_error: str = ""

    @rx.event
    def load(self) -> None:
        require_principal(current_principal())
        self.export_url = backend_url(self, "/api/account/export")
        self.close_error = ""
        self.loaded = True

    @rx.event
    def close_account(self, form: dict[str, Any]) -> EventSpec | None:
        p = require_principal(current_principal())
        password = form.get("password", "") if isinstance(form, dict) else ""
        confirm = form.get("confirm", "") if isinstance(form, dict) else ""
        if not isinstance(password, str) or not isinstance(confirm, str):
            return None
        try:
            with session_scope() as db:
                privacy.close_account(db, principal=p, password=password, confirm=confirm[:20],
                                      request=request_info_of(self))
        except DomainError as err:
            self.close_error = message_for_error(err)
            return None
        # Every session is over: a full page load lands on the sign-in page.
        return navigate_to("/login?closed=1")
