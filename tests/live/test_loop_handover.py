"""The guard reads a loop-first handler's counters with the session's epochs and hands them over
(`portal.live.loop`): only that handler of that tab gets them, once, and only in the event's own
context."""

from __future__ import annotations

import asyncio
import contextvars

from portal.live import loop
from tests.support.aio import run_async


def _load() -> None: ...


def _other() -> None: ...


def test_only_the_named_handler_takes_what_was_handed_over_and_only_once() -> None:
    def scenario() -> tuple[object, ...]:
        key = loop.handler_key("tab-1|state.a", _load)
        loop.hand_over_prefetched({key: {"v:c1:orders": 4}})
        other_tab = loop.take_prefetched(loop.handler_key("tab-2|state.a", _load))
        other_handler = loop.take_prefetched(loop.handler_key("tab-1|state.a", _other))
        first = loop.take_prefetched(key)
        again = loop.take_prefetched(key)
        return other_tab, other_handler, first, again

    assert contextvars.copy_context().run(scenario) == (None, None, {"v:c1:orders": 4}, None)


def test_each_handler_of_an_event_takes_its_own() -> None:
    """A navigation's event carries the bell's and the page load's counters (portal.state.arrival)."""
    def scenario() -> tuple[object, ...]:
        load, other = loop.handler_key("tab-1|state.a", _load), loop.handler_key("tab-1|state.b", _other)
        loop.hand_over_prefetched({load: {"v:c1:orders": 4}, other: {"v:c1:notifications": 2}})
        return loop.take_prefetched(other), loop.take_prefetched(load), loop.take_prefetched(load)

    assert contextvars.copy_context().run(scenario) == ({"v:c1:notifications": 2}, {"v:c1:orders": 4}, None)


def test_another_events_context_sees_nothing_handed_over() -> None:
    key = loop.handler_key("tab-1|state.a", _load)

    async def take() -> object:
        return loop.take_prefetched(key)

    async def scenario() -> tuple[object, object]:
        loop.hand_over_prefetched({key: {"v:c1:orders": 4}})
        # Reflex runs each event in a task of its own, made from the loop's context.
        elsewhere = await asyncio.get_running_loop().create_task(take(), context=contextvars.Context())
        return elsewhere, await take()

    assert run_async(scenario()) == (None, {"v:c1:orders": 4})
