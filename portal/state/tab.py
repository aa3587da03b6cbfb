"""The tab's router data (who connected, from where, which page), read as Reflex stores it.

`state.router` is convenient but costly on the event path: each access assembles a new
`RouterData` from the root state's five router fields, and Reflex wraps each of them in a
change-tracking proxy on the way (they are dataclasses), so one read of `state.router.headers`
costs tens of microseconds, and the guard, the arrival and a page's load read it several times
per event. The stored values are frozen dataclasses (`SessionData`, `HeaderData`, `URLData`) and
a string, which nobody can change in place, so they are read here without a proxy
(`BaseState.get_value`, Reflex's read "without proxying"). `tests/state/test_tab.py` checks that
these answer what `state.router` answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reflex.istate.data import HeaderData, SessionData, URLData


def session(state: Any) -> SessionData:
    """`state.router.session`: client_token, client_ip, session_id."""
    return state.get_value("rx_router_session")  # type: ignore[no-any-return]


def headers(state: Any) -> HeaderData:
    """`state.router.headers` (cookie, user_agent, accept_language, origin, host, ...)."""
    return state.get_value("rx_router_headers")  # type: ignore[no-any-return]


def url(state: Any) -> URLData:
    """The parts of `state.router.url` (path, query, query_parameters, ...)."""
    return state.get_value("rx_router_url")  # type: ignore[no-any-return]


def token(state: Any) -> str:
    """`state.router.session.client_token`."""
    return session(state).client_token


def path(state: Any) -> str:
    """`state.router.url.path`."""
    return url(state).path


def last_segment(state: Any) -> str:
    """The URL path's last segment, the id of a detail page ("/orders/42/" -> "42"); not trusted:
    the page checks its form, and the domain who owns it."""
    return path(state).rstrip("/").rsplit("/", 1)[-1]


def query_parameters(state: Any) -> Mapping[str, str]:
    """`state.router.url.query_parameters`."""
    return url(state).query_parameters


def route_id(state: Any) -> str:
    """`state.router.route_id`: the page's route pattern, e.g. "/orders/[id]"."""
    return state.get_value("rx_router_route_id")  # type: ignore[no-any-return]
