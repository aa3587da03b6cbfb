"""Single sign-on in the UI: the button on the login page and the links on the account page.

The flow itself runs through API routes (portal.api.sso_routes) by full page loads; these
states only decide what to show and where to send the browser.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import sso
from portal.domain.errors import DomainError
from portal.format import day_time
from portal.i18n import N_, tr
from portal.settings import get_settings
from portal.state import tab
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, request_info_of
from portal.state.messages import message_for
from portal.state.session import backend_url, navigate_to

# The SSO routes send people back to the login page with an error code; LoginState words
# sso_unlinked and sso_failed, these are the others.
SSO_ERRORS = {
    "sso_cancelled": N_("Single sign-on was cancelled at the provider."),
    "sso_unavailable": N_("Single sign-on is not available right now. Please sign in with your password."),
}
LINK_RESULTS = {
    "linked": N_("Single sign-on is now linked to your account."),
    "conflict": N_("That sign-in is already linked to another account here, so it was not linked."),
    "refused": N_("Linking has to be started from this page. Please use the button below."),
}


def _clean_next(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return ""
    return value[:500]


@access(Access.PUBLIC)
class SsoLoginState(PortalState, rx.State):
    enabled: bool = False
    provider_name: str = ""
    error: str = ""

    @rx.event
    def on_load(self) -> None:
        s = get_settings()
        self.enabled = s.sso_enabled
        self.provider_name = s.oidc_display_name
        code = tab.query_parameters(self).get("error")
        self.error = tr(SSO_ERRORS.get(code, "")) if isinstance(code, str) else ""

    @rx.event
    def start(self) -> EventSpec | None:
        if not get_settings().sso_enabled:
            return None
        nxt = _clean_next(tab.query_parameters(self).get("next"))
        path = "/api/auth/sso/start" + (f"?next={quote(nxt, safe='')}" if nxt else "")
        return navigate_to(backend_url(self, path))


@dataclasses.dataclass
class IdentityRow:
    id: int
    issuer: str
    email: str
    linked: str
    last_used: str


@access(Access.SIGNED_IN)
class SsoAccountState(PortalState, rx.State):
    loaded: bool = False
    enabled: bool = False
    provider_name: str = ""
    identities: list[IdentityRow] = []
    notice: str = ""
    error: str = ""

    @rx.event
    def load(self) -> None:
        s = get_settings()
        self.enabled = s.sso_enabled
        self.provider_name = s.oidc_display_name
        result = tab.query_parameters(self).get("sso")
        self.notice = tr(LINK_RESULTS.get(result, "")) if result == "linked" else ""
        self.error = tr(LINK_RESULTS.get(result, "")) if result in ("conflict", "refused") else ""
        self._refresh()

    def _message(self, err: DomainError) -> str:
        return message_for(err.code)

    def _refresh(self) -> None:
        with session_scope() as db:
            rows = sso.identities_of(db, principal=self._me())
        self.identities = [IdentityRow(id=r.id, issuer=r.issuer, email=r.email or tr("Linked sign-in"),
                                       linked=day_time(r.created_at),
                                       last_used=day_time(r.last_login_at) or tr("never"))
                           for r in rows]
        self.loaded = True

    @rx.event
    def link(self) -> EventSpec | None:
        if not get_settings().sso_enabled:
            return None
        return navigate_to(backend_url(self, "/api/auth/sso/start?link=1"))

    @rx.event
    def unlink(self, identity_id: int) -> None:
        if not isinstance(identity_id, int) or isinstance(identity_id, bool) or not 0 < identity_id < 2**53:
            self.error = message_for("invalid")
            return
        self.notice = ""
        if self._call(sso.unlink_identity, identity_id=identity_id, request=request_info_of(self)) is FAILED:
            return
        self.error = ""
        self.notice = tr("Single sign-on link removed.")
        self._refresh()
