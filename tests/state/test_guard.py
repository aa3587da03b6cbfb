"""Deny by default: every event handler the app registers belongs to a state class that
declares who may call it, and the access levels mean what they say."""

from __future__ import annotations

import pytest
import reflex as rx
from reflex.state import reload_state_module
from reflex_base.registry import RegistrationContext

import portal.portal  # noqa: F401 - registers every page and state
from portal.domain.principal import Principal
from portal.state.guard import Access, declared_access, is_allowed

# Adding a handler anyone may call, signed in or not, is a decision: list it here.
PUBLIC_HANDLERS = {
    "login_state.on_load", "login_state.submit", "login_state.submit_code", "login_state.toggle_recovery",
    "login_state.cancel_mfa", "session_state.logout", "session_state.set_language", "index_state.route",
    "forgot_state.on_load", "forgot_state.submit", "reset_state.on_load", "reset_state.submit",
    "register_state.on_load", "register_state.submit", "verify_state.on_load",
    # single sign-on: shows the button, and navigates to /api/auth/sso/start (area: sso)
    "sso_login_state.on_load", "sso_login_state.start",
    # The public help center (portal/state/help.py): every argument is validated there.
    "help_state.load", "help_state.search", "help_state.clear",
    "help_state.open_result", "help_category_state.load", "help_article_state.load", "help_article_state.vote",
}


def registered() -> dict[str, type]:
    return {name: reg.states[0] for name, reg in RegistrationContext.get().event_handlers.items()}


def test_every_portal_handler_belongs_to_a_declared_state() -> None:
    undeclared = [n for n, cls in registered().items() if not declared_access(cls)[0]]
    assert undeclared == []


def test_public_handlers_are_only_the_listed_ones() -> None:
    public = set()
    for name, cls in registered().items():
        _, level = declared_access(cls)
        short = name.rsplit("____", 1)[-1]
        if cls.__module__.startswith("portal.") and level == Access.PUBLIC and not short.endswith(".setvar"):
            public.add(short)
    assert public == PUBLIC_HANDLERS


def test_no_state_has_generated_setters() -> None:
    # setvar(name, value) calls set_<name>: every such handler must be one we wrote (and
    # validated), never a setter Reflex generated for a var.
    for name, cls in registered().items():
        if not (cls.__module__.startswith("portal.") and name.endswith(".setvar")):
            continue
        for handler in cls.event_handlers:
            if handler.startswith("set_"):
                assert any(handler in vars(k) for k in cls.__mro__ if k.__module__.startswith("portal.")), \
                    (cls, handler)


def test_internal_helpers_are_not_event_handlers() -> None:
    assert not any("apply_principal" in n for n in registered())


def test_a_state_without_a_declaration_is_refused() -> None:
    class Undeclared(rx.State):
        @rx.event
        def leak(self) -> None:
            pass

    try:
        declared, _ = declared_access(Undeclared)
        assert declared is False
        assert not is_allowed(None, None, declared=False)
    finally:
        # Out of the state tree again: a served app started later in this process (pytest-xdist
        # runs browser tests in the same workers) must have the tree its compiled pages were built from.
        # (Reflex moves a state defined in a function into `reflex.istate.dynamic`; the app has none there.)
        reload_state_module(module=Undeclared.__module__)
        assert Undeclared not in rx.State.get_substates()


CUSTOMER = Principal(user_id=1, role="customer", email="c@x", name="C", customer_id=7)
AGENT = Principal(user_id=2, role="agent", email="a@x", name="A")
ADMIN = Principal(user_id=3, role="admin", email="d@x", name="D")
ORPHAN = Principal(user_id=4, role="customer", email="o@x", name="O", customer_id=None)


@pytest.mark.parametrize(("level", "allowed"), [
    (Access.PUBLIC, {None, CUSTOMER, AGENT, ADMIN}),
    (Access.SIGNED_IN, {CUSTOMER, AGENT, ADMIN, ORPHAN}),
    (Access.CUSTOMER, {CUSTOMER}),
    (Access.STAFF, {AGENT, ADMIN}),
    (Access.ADMIN, {ADMIN}),
])
def test_access_levels(level: Access, allowed: set[Principal | None]) -> None:
    for who in (None, CUSTOMER, AGENT, ADMIN, ORPHAN):
        if level == Access.PUBLIC and who is ORPHAN:
            continue
        assert is_allowed(level, who) == (who in allowed), (level, who)
