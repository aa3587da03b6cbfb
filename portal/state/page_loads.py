"""A page's load rides the navigation's own event instead of being chained after it.

Reflex runs a page's `on_load` handlers as events of their own, chained after the event that
announces the navigation (`on_load_internal`, or `hydrate_and_load` on a fresh connection), and
then one more event to mark the page hydrated: three events for one click, each paying the
guard, the state lock, the router's variables and a message of its own to the browser. For a
page with no `on_load`, Reflex marks the page hydrated inside that first event.

So the portal takes its pages' loads out of Reflex's table once every page is added
(`fold_page_loads`) and runs them itself inside the navigation's event (`portal.state.arrival`),
each admitted by the guard's own rule for its state, as if it were an event of its own. A
navigation is one event and one message, which carries the page's data together with the
hydrated flag.

Only a load that runs to its end in one call is taken (a portal state's plain or `async`
handler, with no arguments): a generator that streams several deltas, a background task or a
handler given arguments stays in Reflex's chain, as does every load of a page that has one of
those. The handlers stay events of their own too: a client may still send one, and the guard
decides on it as on any event.
"""

from __future__ import annotations

import inspect
from typing import Any

from reflex_base.event import EventHandler, EventSpec
from reflex_base.registry import RegistrationContext
from reflex_base.utils.format import format_event_handler

# Reflex's route key ("orders/[id]", "index") -> the page's loads: (handler name, owner state class).
_FOLDED: dict[str, tuple[tuple[str, type], ...]] = {}


def _handler_of(spec: Any) -> EventHandler | None:
    if isinstance(spec, EventHandler):
        return spec
    if isinstance(spec, EventSpec) and not spec.args:
        return spec.handler
    return None


def _foldable(spec: Any) -> tuple[str, type] | None:
    """(name, owner) of a load that can run inside the navigation's event, or None."""
    from portal.state.guard import declared_access

    handler = _handler_of(spec)
    if handler is None or handler.is_background:
        return None
    name = format_event_handler(handler)
    registered = RegistrationContext.get().event_handlers.get(name)
    if registered is None or not inspect.iscoroutinefunction(registered.handler.fn):
        return None  # a plain Reflex handler, a generator: left to Reflex
    owner = registered.states[0]
    declared, level = declared_access(owner)
    if not declared or level is None:
        return None  # only the portal's own states, whose access the guard knows
    return name, owner


def fold_page_loads(app: Any) -> list[str]:
    """Take the loads of every page whose loads can all ride the navigation's event out of Reflex's
    table. Call once, after every page is added. Returns the routes folded."""
    folded = []
    for route, loads in list(app._load_events.items()):
        if route == "404" or not loads:
            continue
        found = [_foldable(spec) for spec in loads]
        if all(f is not None for f in found):
            _FOLDED[route] = tuple(f for f in found if f is not None)
            app._load_events[route] = []
            folded.append(route)
    return folded


def page_loads(route_id: str | None) -> tuple[tuple[str, type], ...]:
    """The folded loads of the page with this route pattern ("/orders/[id]", as the router's
    `route_id` says), in their order; empty for a page whose loads Reflex runs, or that has none."""
    if not route_id:
        return ()
    return _FOLDED.get(route_id) or _FOLDED.get(route_id.strip("/") or "index") or ()
