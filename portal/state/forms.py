"""Forms whose page fills them in on load, without losing what someone types first.

Reflex runs a page's on_load handlers as events chained after the navigation, in the same
per-tab queue as the events of the page's inputs. Someone (or a script) who types as soon as
the form appears could therefore have their first keystrokes processed *before* the page's load,
and a load that starts by resetting the form wipes them. The portal's loads now ride the
navigation's own event (``portal.state.page_loads``), which the browser sends before any
keystroke, so that window is closed for them; what follows still keeps a form's unsaved typing
when someone leaves its page and comes back, and holds for any load left to Reflex's chain.

So a form state remembers which page (path and query) its contents belong to and whether
anything was typed since:

- every input handler first calls ``enter(self)``: when the form still holds another page's
  contents it is refilled for this page (``_fresh``) before the keystroke is applied; actions
  (save, publish, send) call ``here(self)``, which does the same without marking it typed in;
- ``load`` calls ``arrive(self)``, which refills the form unless it already belongs to this
  page and holds unsaved typing. That also keeps an unsaved draft when someone leaves the page
  and comes back, which an editor should do anyway.

The state declares ``_page_key: str = ""``, ``_dirty: bool = False`` and ``form_path: str = ""``
and a ``_fresh()`` method that resets the form and fills it for the current page (and sets
``_page_key`` and ``form_path`` through ``mark_fresh``). ``form_path`` is the path whose contents
the form holds, for the browser: the page shows the form only where it equals the address bar
(``portal.components.common.for_this_page``), so a detail page opened after another one (the
next ticket, a new article after an existing one) never shows the previous one's contents
while its load is on its way.
"""

from __future__ import annotations

from typing import Any, Protocol

from portal.state import tab


class FormState(Protocol):
    _page_key: str
    _dirty: bool
    form_path: str

    def _fresh(self) -> None: ...


def page_key(state: Any) -> str:
    url = tab.url(state)  # every keystroke asks: read without Reflex's router proxies
    return f"{url.path.rstrip('/')}?{url.query}"


def mark_fresh(state: FormState) -> None:
    """Called by ``_fresh`` after its reset: the form now belongs to this page, untouched."""
    state._page_key, state._dirty = page_key(state), False
    state.form_path = tab.path(state).rstrip("/") or "/"


def here(state: FormState) -> None:
    """Before acting on the form (save, send): make sure it is this page's, refilled if it still
    holds another page's (a save before the page's load then saves what is stored, nothing else).
    The form now counts as used on this page: a load that arrives after the action keeps what
    the action left (its error message, what was typed)."""
    if state._page_key != page_key(state):
        state._fresh()
    state._dirty = True


def enter(state: FormState) -> None:
    """Before an input changes the form: make sure it is this page's form, then mark it typed in."""
    here(state)
    state._dirty = True


def arrive(state: FormState) -> bool:
    """The page's load: refill unless the form is this page's and holds unsaved typing.
    Returns True when the typing was kept."""
    if state._page_key == page_key(state) and state._dirty:
        return True
    state._fresh()
    return False
