"""What a page needs when a tab arrives on it, riding the navigation's own event instead of
sending events of its own.

A client-side navigation sends one event: Reflex's `on_load_internal` (a fresh connection sends
`hydrate_and_load`). What the page needs rides on it:
- the shell's: the bell's count and list, loaded once per connection (afterwards the live push
  keeps them current), and the page view for insights, for a signed-in person;
- the page's own loads (`portal.state.page_loads`), each admitted by the guard's rule for its
  state as if it were an event of its own, for anyone.
Reflex then marks the page hydrated in the same event, so a navigation is one event and one
message to the browser, where Reflex's own on_load chain takes three.

This is Reflex middleware placed after the guard (`portal.state.guard.AuthGuard`): it runs only
for an event the guard let through, with the tab's principal already entered.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from reflex.app_mixins.middleware import Middleware
from reflex_base.event.processor.base_state_processor import chain_updates
from reflex_base.registry import RegistrationContext

from portal import logs, metrics
from portal.state import tab
from portal.state.base import run_sync
from portal.state.guard import (
    HYDRATE_EVENTS,
    NAVIGATION_EVENTS,
    ON_LOAD_INTERNAL,
    current_principal,
    note_on_screen,
    permitted,
)
from portal.state.page_loads import page_loads

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.state import BaseState, StateUpdate
    from reflex_base.event import Event

# A connection's hydrate and the on_load_internal that follows it on a page with its own load are
# one arrival: the second one within this many seconds on the same page is not a second view.
SAME_ARRIVAL_SECONDS = 5.0


class Arrival(Middleware):
    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        metrics.count_event(app, event.name)  # after the guard: only events it let through
        fresh = event.name in HYDRATE_EVENTS
        if not fresh and event.name != ON_LOAD_INTERNAL:
            return None
        if current_principal() is not None:
            await _shell_arrives(state, fresh=fresh)
        if event.name in NAVIGATION_EVENTS:  # (Reflex's plain `hydrate` runs no page load)
            await _page_loads(app, state)
        return None


async def _shell_arrives(state: BaseState, *, fresh: bool) -> None:
    from portal.state.notifications import NotificationState

    bell: Any = await state.get_state(NotificationState)
    page = tab.route_id(state) or "/"
    now = time.monotonic()
    page_view = not (bell._arrived_page == page and now - bell._arrived_at < SAME_ARRIVAL_SECONDS)
    bell._arrived_page, bell._arrived_at = page, now
    await run_sync(bell, NotificationState._arrive, fresh=fresh, page_view=page_view, first_on_loop=True)
    await note_on_screen(state, NotificationState)  # the live push keeps it current from now on


async def _page_loads(app: App, state: BaseState) -> None:
    """The page's folded loads, in their order, each run as if its own event had passed the guard.
    One the guard would refuse is sent on as an event of its own instead, after this one (as
    Reflex chains a page's loads), for the guard to refuse with its usual redirect; the loads
    after it wait for it there too. A load's returned events go out as Reflex sends a handler's;
    an unexpected error is reported as Reflex reports one, and the page is still marked
    hydrated."""
    loads = page_loads(tab.route_id(state))
    if not loads:
        return
    principal = current_principal()
    context = RegistrationContext.get()
    for at, (name, owner) in enumerate(loads):
        if not permitted(owner, principal):
            await chain_updates([context.event_handlers[n].handler for n, _owner in loads[at:]],
                                handler_name=name, root_state=None)
            return
        if principal is not None:
            await note_on_screen(state, owner)
        logs.bind(handler=name)
        metrics.count_event(app, name)
        try:
            returned = await context.event_handlers[name].handler.fn(await state.get_state(owner))
            if returned is not None:
                await chain_updates(returned, handler_name=name, root_state=None)
        except Exception as error:  # noqa: BLE001 - as Reflex does for an event's handler
            await chain_updates(app.backend_exception_handler(error), handler_name=name, root_state=None)
