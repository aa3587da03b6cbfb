"""Your data: download everything, or close the account."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import EventSpec

from portal.domain import privacy
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, request_info_of
from portal.state.session import backend_url, navigate_to


@access(Access.CUSTOMER)
class PrivacyState(PortalState, rx.State):
    loaded: bool = False
    export_url: str = ""
    close_error: str = ""

    @rx.event
    def load(self) -> None:
        self._me()
        self.export_url = backend_url(self, "/api/account/export")
        self.close_error = ""
        self.loaded = True

    @rx.event
    def close_account(self, form: dict[str, Any]) -> EventSpec | None:
        password = form.get("password", "") if isinstance(form, dict) else ""
        confirm = form.get("confirm", "") if isinstance(form, dict) else ""
        if not isinstance(password, str) or not isinstance(confirm, str):
            return None
        if self._call(privacy.close_account, into="close_error", password=password, confirm=confirm[:20],
                      request=request_info_of(self)) is FAILED:
            return None
        # Every session is over: a full page load lands on the sign-in page.
        return navigate_to("/login?closed=1")
