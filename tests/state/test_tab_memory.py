"""What a tab's state tree keeps (portal.state.base.PortalState): the hydrate snapshot reads
every field of every state without storing the defaults in each tab (and answers an untouched
state's defaults from a template made once per class), leaf states share one empty
`dirty_substates`, a state has a `dirty_vars` set only while something is dirty, and none of it
changes what the browser is sent or what a handler sees."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace
from typing import Any

import pytest
import reflex as rx
from reflex.istate.delta import _resolve_delta
from reflex.istate.manager import _release_state_tree
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken

import portal.portal  # noqa: F401 - registers every page and state
from portal.state import tab_states
from portal.state.base import PortalState
from portal.state.dashboard import DashboardState
from portal.state.order_detail import OrderDetailState
from portal.state.orders import OrderListState
from portal.state.session import SessionState
from tests.support.aio import run_async


def _tree() -> Any:
    return rx.State(_reflex_internal_init=True)


def _states(root: Any) -> list[Any]:
    out = [root]
    for sub in root.substates.values():
        out.extend(_states(sub))
    return out


def _stock_snapshot(root: Any) -> dict[str, dict[str, Any]]:
    """The snapshot as Reflex's own `get_value` reads it (storing every default)."""
    snap: dict[str, dict[str, Any]] = {}
    for st in _states(root):
        values = {name: rx.State.get_value(st, name) for name in st.base_vars}
        values.update({name: getattr(st, name) for name, cv in st.computed_vars.items() if not cv._backend})
        snap[st.get_full_name()] = {k + "_rx_state_": values[k] for k in sorted(values)}
    return snap


def test_the_snapshot_is_the_same_and_keeps_no_defaults() -> None:
    root = _tree()
    snap = run_async(_resolve_delta(root.dict()))
    portal_states = [st for st in _states(root) if isinstance(st, PortalState)]
    assert len(portal_states) > 40
    fields = sum(len(type(st).__fields__) for st in portal_states)
    stored = {st.get_full_name(): set(vars(st)) & set(type(st).__fields__) for st in portal_states}
    for st in portal_states:
        if not st.computed_vars:  # a computed var reads its fields as a handler does (stored)
            assert stored[st.get_full_name()] == set(), st.get_full_name()
    assert fields > 500 and sum(map(len, stored.values())) < 20
    assert snap == run_async(_resolve_delta(_stock_snapshot(_tree())))


def test_a_read_or_write_in_a_handler_is_kept_and_sent() -> None:
    root = _tree()
    root.dict()
    root._clean()
    orders = root.get_substate(OrderListState._get_substate_path())
    rows = orders.rows  # a handler's read: stored, and changes through it are tracked
    assert "rows" in vars(orders)
    rows.append({"id": 1})
    orders.error = "x"
    delta = orders.get_delta()
    mine = delta[orders.get_full_name()]
    assert mine["rows_rx_state_"] == [{"id": 1}] and mine["error_rx_state_"] == "x"
    assert root.dict()[orders.get_full_name()]["rows_rx_state_"] == [{"id": 1}]
    # Another tab's tree still starts from the default.
    other = _tree().get_substate(OrderListState._get_substate_path())
    assert other.get_value("rows") == [] and other.rows == []


def test_a_snapshot_from_the_template_is_never_what_a_handler_changes() -> None:
    # OrderDetailState.order's default is a dataclass Reflex deep-copies for each read: the template
    # holds one copy for every snapshot, and a handler's read gets (and changes) a copy of its own.
    root = _tree()
    detail = root.get_substate(OrderDetailState._get_substate_path())
    key = detail.get_full_name()
    before = root.dict()[key]["order_rx_state_"]
    assert before == detail.get_value("order") and "order" not in vars(detail)  # from the template
    mine = detail.order  # a handler's read: its own copy, stored
    assert "order" in vars(detail) and mine is not before
    detail.order.number = "SO-1"
    assert root.dict()[key]["order_rx_state_"].number == "SO-1"  # this tab: its own value
    root._clean()  # as between two events: nothing dirty, the value stays this tab's (a reconnect's hydrate)
    assert not detail.dirty_vars and root.dict()[key]["order_rx_state_"].number == "SO-1"
    assert before.number == "" and _tree().dict()[key]["order_rx_state_"].number == ""  # others: the default


def test_hydrate_puts_the_fields_kept_in_the_browser_back_to_their_defaults_only() -> None:
    root = _tree()
    session = root.get_substate(SessionState._get_substate_path())
    kept = [(st, name) for st in _states(root) for name in st.base_vars
            if type(st)._is_client_storage(type(st).get_fields()[name])]
    assert (session, "lang_cookie") in kept  # control: the tree has such a field
    for st, name in kept:
        setattr(st, name, "set by the browser")
    session.lang = "de"  # a field of the same state that is not kept in the browser
    root._reset_client_storage()
    assert all(getattr(st, name) == type(st).get_fields()[name].default_value() for st, name in kept)
    assert session.lang_cookie != "set by the browser" and session.lang == "de"


def test_leaf_states_share_an_empty_dirty_substates_and_still_clean() -> None:
    root = _tree()
    dash = root.get_substate(DashboardState._get_substate_path())
    assert not type(dash).get_substates()
    assert isinstance(dash.dirty_substates, frozenset) and not dash.dirty_substates
    assert isinstance(root.dirty_substates, set)  # the root has substates: a set of its own
    assert dict(dash.substates) == {} and dash.substates is root.get_substate(
        OrderListState._get_substate_path()).substates  # one read-only empty mapping for every leaf
    with pytest.raises(TypeError):
        dash.substates["x"] = root  # type: ignore[index]
    assert dash.get_name() in root.substates  # the root's own dict holds its substates
    dash.error = "changed"
    assert dash.get_name() in root.dirty_substates
    delta = root.get_delta()
    assert delta[dash.get_full_name()]["error_rx_state_"] == "changed"
    root._clean()
    assert not root.dirty_substates and not dash.dirty_vars and not dash.dirty_substates
    dash.error = "again"
    assert root.get_delta()[dash.get_full_name()] == {"error_rx_state_": "again"}


def test_a_state_gets_a_dirty_vars_set_only_when_something_is_dirty() -> None:
    root = _tree()
    dash = root.get_substate(DashboardState._get_substate_path())
    lazy = dash.dirty_vars
    # Nothing dirty: no set of its own, yet it answers as an empty one wherever Reflex reads it
    assert not isinstance(lazy, set) and lazy == set() and not lazy and len(lazy) == 0
    assert (lazy & {"error"}) == set() and list(lazy) == [] and "error" not in lazy
    assert dash.get_full_name() not in root.get_delta()
    # An assignment puts a real set in its place, and the change is sent
    dash.error = "changed"
    assert isinstance(dash.dirty_vars, set) and dash.dirty_vars == {"error"}
    assert root.get_delta()[dash.get_full_name()]["error_rx_state_"] == "changed"
    # Cleaning gives the lazy one back, and the next change is seen again
    root._clean()
    assert not isinstance(dash.dirty_vars, set) and not dash.dirty_vars
    dash.error = "again"
    assert root.get_delta()[dash.get_full_name()] == {"error_rx_state_": "again"}
    # An `update` (Reflex's way for computed and router vars) makes it real too
    root._clean()
    assert not isinstance(dash.dirty_vars, set)
    dash.dirty_vars.update(["error"])
    assert dash.dirty_vars == {"error"}
    # A caller that keeps the stand-in and adds twice loses neither name
    dash._clean()
    kept = dash.dirty_vars
    assert not isinstance(kept, set)
    kept.add("error")
    kept.add("editing")
    assert dash.dirty_vars == {"error", "editing"}


def test_a_purged_tabs_tree_is_released_with_its_leaves_shared_substates() -> None:
    # Reflex's memory manager, when a tab expires, unlinks its whole tree (`_release_state_tree`,
    # which clears every state's `substates`): that must go through the leaves' shared mapping.
    root = _tree()
    dash = root.get_substate(DashboardState._get_substate_path())
    states = _states(root)
    assert len(states) > 10 and any(s.substates is dash.substates for s in states if s is not dash)
    _release_state_tree(root)
    assert all(len(s.substates) == 0 for s in states)  # the root's and every parent's own dicts too
    assert dict(_tree().get_substate(DashboardState._get_substate_path()).substates) == {}  # still empty


def _purged_leaf_outlives_refcounting(manager: Any) -> bool:
    """Purge one tab's tree through `manager` with the cyclic collector off: is its leaf still alive?"""
    root = _tree()
    dash = root.get_substate(DashboardState._get_substate_path())
    dash.error = "seen"
    root._clean()  # the dashboard is back to its dirty-vars stand-in, as between two events
    token = BaseStateToken(ident="tab-1", cls=rx.State)
    manager.states[token.cache_key] = root
    leaf = weakref.ref(dash)
    del root, dash
    gc.collect()
    gc.disable()
    try:
        manager._purge_token(token)
        return leaf() is not None
    finally:
        gc.enable()


def test_a_purged_tabs_tree_is_freed_at_once() -> None:
    # Reflex's purge alone leaves the tree to the cyclic collector (the stand-in points at its state)
    assert _purged_leaf_outlives_refcounting(StateManagerMemory())
    # The portal's manager (as tab_states.install makes it) lets reference counting free it
    manager = StateManagerMemory()
    tab_states.install(SimpleNamespace(_state_manager=manager))
    assert isinstance(manager, tab_states.StrangerMemory)
    assert not _purged_leaf_outlives_refcounting(manager)

