"""Handlers marked `@on_loop` run on the event loop with no thread hop; each may only change its
state's own fields, which is checked here from its source, and one that reaches blocking work
raises instead of blocking the loop."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

import pytest

import portal.portal  # noqa: F401 - every page's state is defined
from portal.db import session_scope
from portal.state.base import ON_LOOP, PortalState, _in_worker, on_loop
from tests.support.aio import run_async as run

# What an on-loop handler may call: builtins and the pure helpers of the states' modules (each
# checks or converts a client's argument, nothing else).
ALLOWED_CALLS = {"isinstance", "len", "next", "any", "str", "int", "bool", "setattr", "_int",
                 "_DATE_INPUT.fullmatch"}


def _portal_states() -> list[type]:
    seen: list[type] = []
    todo = list(PortalState.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.append(cls)
            todo.extend(cls.__subclasses__())
    return seen


def _marked() -> list[tuple[type, str, Any]]:
    found = []
    for cls in _portal_states():
        for name, fn in vars(cls).items():
            original = getattr(getattr(fn, "fn", fn), "__wrapped__", None)
            if original is not None and getattr(original, ON_LOOP, False):
                found.append((cls, name, original))
    return found


def _calls(fn: Any) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)} - {"rx.event", "on_loop"}


def test_the_marked_handlers_are_found() -> None:
    names = {f"{cls.__name__}.{name}" for cls, name, _ in _marked()}
    assert {"LoginState.toggle_recovery", "OrderDetailState.update_return_note", "BillingState.update_statement_from",
            "DashboardState.toggle_edit"} <= names  # positive control of the walk below
    assert len(names) >= 20


def test_a_handler_on_the_loop_calls_nothing_that_could_block() -> None:
    from portal.state.order_detail import OrderDetailState

    # Positive control: a handler that writes to the database is caught by the same check.
    assert not _calls(OrderDetailState.cancel_order.fn.__wrapped__) <= ALLOWED_CALLS
    for cls, name, fn in _marked():
        assert _calls(fn) <= ALLOWED_CALLS, f"{cls.__name__}.{name} calls {_calls(fn) - ALLOWED_CALLS}"


class _Tab:
    """What the wrapper reads of a state: its tab's token and its name."""

    def get_value(self, name: str) -> Any:
        from reflex.istate.data import SessionData

        return SessionData(client_token="t-1")

    @classmethod
    def get_full_name(cls) -> str:
        return "tests.tab"


def _writes_to_the_database(state: Any) -> None:
    with session_scope():
        pass


def _flips(state: Any) -> str:
    import threading

    return threading.current_thread().name


async def _loop_and_handler_threads(handler: Any) -> tuple[str, str]:
    import threading

    return threading.current_thread().name, await handler(_Tab())


def test_it_runs_on_the_loop_and_blocking_work_there_is_an_error_not_a_stall() -> None:
    loop, ran = run(_loop_and_handler_threads(_in_worker(_flips)))
    assert ran != loop  # control: unmarked, it runs in the worker pool
    loop, ran = run(_loop_and_handler_threads(_in_worker(on_loop(_flips))))
    assert ran == loop
    _writes_to_the_database(None)  # control: the same work runs anywhere else
    with pytest.raises(RuntimeError, match="marked on_loop but reached blocking work: database"):
        run(_in_worker(on_loop(_writes_to_the_database))(_Tab()))
