"""Secrets shown once (a new API key, a webhook signing secret, the TOTP seed and its QR code,
recovery codes) never enter Reflex state.

Every frontend var is state, and state is pickled (Redis when scaled out, the state manager's
memory otherwise) and sent again on every reload. So the handler that creates such a secret hands
it to the browser in a one-time event instead: a message, sent once over the tab's websocket to the
page's mailbox (`portal.components.mailbox`, no eval), on which assets/portal-actions.js writes it
into elements the page renders empty, inside a hidden panel
(`portal.components.common.secret_panel`), and shows the panel. Only the page in front of the
person holds it; a reload, another tab or the server's state never sees it again.
"""

from __future__ import annotations

from reflex_base.event import EventSpec

from portal.components import mailbox

# assets/portal-actions.js writes each value into the element with that id (an image's src,
# otherwise its text) and shows the panel around it. The elements may not exist yet (the same
# update may be what renders them), and React may mount them afresh (a websocket reconnect
# re-hydrates the page), so the script keeps the values while the page shows the same path, and
# fills any empty slot again. A reload or another page forgets them.


def reveal(values: dict[str, str]) -> EventSpec:
    """Show these values (element id: value) in this tab's page, once; nothing is kept."""
    return mailbox.send({"reveal": values})


def conceal(*ids: str) -> EventSpec:
    """Empty these elements and hide their panel (the person has copied what they showed)."""
    return mailbox.send({"conceal": list(ids)})
