"""What every signed-in page needs when a tab arrives on it, riding the navigation's own first
event instead of sending events of its own.

A client-side navigation already sends one event that reaches the server before the page's
own load: Reflex's `on_load_internal` (a fresh connection sends `hydrate_and_load`). The shell's
needs ride on it: the bell's count and list, loaded once per connection (afterwards the live
push keeps them current), and the page view for insights. A navigation then costs the same
number of events as in a bare Reflex app: that event, the page's load, the hydrated flag.

This is Reflex middleware placed after the guard (`portal.state.guard.AuthGuard`): it runs only
for an event the guard let through, with the tab's principal already entered.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from reflex.app_mixins.middleware import Middleware
from reflex.state import OnLoadInternalState
from reflex_base.utils.format import format_event_handler

from portal import metrics
from portal.state import tab
from portal.state.base import run_sync
from portal.state.guard import HYDRATE_EVENTS, current_principal, note_on_screen

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.state import BaseState, StateUpdate
    from reflex_base.event import Event

ON_LOAD_INTERNAL = format_event_handler(OnLoadInternalState.on_load_internal)  # type: ignore[arg-type]
# A connection's hydrate and the on_load_internal that follows it on a page with its own load are
# one arrival: the second one within this many seconds on the same page is not a second view.
SAME_ARRIVAL_SECONDS = 5.0


class Arrival(Middleware):
    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        metrics.count_event(app, event.name)  # after the guard: only events it let through
        fresh = event.name in HYDRATE_EVENTS
        if not fresh and event.name != ON_LOAD_INTERNAL:
            return None
        principal = current_principal()
        if principal is None:
            return None
        from portal.state.notifications import NotificationState

        bell: Any = await state.get_state(NotificationState)
        page = tab.route_id(state) or "/"
        now = time.monotonic()
        page_view = not (bell._arrived_page == page and now - bell._arrived_at < SAME_ARRIVAL_SECONDS)
        bell._arrived_page, bell._arrived_at = page, now
        await run_sync(bell, NotificationState._arrive, fresh=fresh, page_view=page_view, first_on_loop=True)
        await note_on_screen(state, NotificationState)  # the live push keeps it current from now on
        return None
