"""portal.state.tab reads the router fields Reflex stores, without its proxies: the answers must
be those of `state.router` (a Reflex upgrade that renames or reshapes the fields fails here)."""

from __future__ import annotations

import re
from typing import Any

import reflex as rx
from reflex.istate.data import RouterData
from reflex.istate.proxy import MutableProxy

import portal.portal  # registers every page and state
from portal.state import tab
from portal.state.order_detail import OrderDetailState

ROUTER_DATA = {
    "token": "tab-token-1", "ip": "192.0.2.7", "sid": "sid-1",
    "pathname": "/orders/[id]", "asPath": "/orders/42?x=1&y=two",
    "query": {"id": "42", "x": "1", "y": "two"},
    "headers": {"cookie": "portal_session=abc; portal_lang=de", "user-agent": "Bench/1.0",
                "accept-language": "de-CH,de;q=0.9", "origin": "http://portal.example", "host": "portal.example:8000"},
}


def _tree() -> tuple[Any, Any]:
    root: Any = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data(ROUTER_DATA)
    sub = root.get_substate(OrderDetailState.get_full_name().split(".")[1:])
    return root, sub


def test_the_tab_reads_answer_what_state_router_answers() -> None:
    _, sub = _tree()
    router = sub.router
    assert tab.token(sub) == router.session.client_token == "tab-token-1"
    assert tab.session(sub).client_ip == router.session.client_ip == "192.0.2.7"
    h = tab.headers(sub)
    assert (h.cookie, h.user_agent, h.accept_language, h.origin, h.host) == (
        router.headers.cookie, router.headers.user_agent, router.headers.accept_language, router.headers.origin,
        router.headers.host)
    assert h.cookie == "portal_session=abc; portal_lang=de"
    assert tab.path(sub) == router.url.path == "/orders/42"
    assert dict(tab.query_parameters(sub)) == dict(router.url.query_parameters) == {"x": "1", "y": "two"}
    assert tab.route_id(sub) == router.route_id == "/orders/[id]"


def test_the_tab_reads_are_not_proxied() -> None:
    # No change-tracking wrapper (the reason for the module), and nothing marked dirty by a read.
    root, sub = _tree()
    root._clean()
    for value in (tab.session(sub), tab.headers(sub), tab.url(sub)):
        assert not isinstance(value, MutableProxy)
    assert not root.dirty_vars and not root.dirty_substates


def test_detail_routes_share_one_argument_name() -> None:
    # Reflex keeps one computed value per distinct route-argument name on every tab, and recomputes
    # and sends them all on every change of page: the routes name their argument `id` (the help
    # article needs a second, its category), so a navigation carries two values, not eight.
    assert rx.State._dynamic_route_arg_types() == {"id": "arg_single", "category": "arg_single"}
    pages = list(portal.portal.app._unevaluated_pages)
    assert {n for route in pages for n in re.findall(r"\[(\w+)\]", route)} == {"id", "category"}
    assert "orders/[id]" in pages and "help/[category]/[id]" in pages  # the detail pages are registered
